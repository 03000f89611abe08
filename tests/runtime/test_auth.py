"""Bearer-token checks for APIs that hold personal information: signature, issuer, audience, expiry."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.tokens import Signer
from servicekit.http.auth import BearerAuth, UnauthorizedError

pytestmark = pytest.mark.unit

SIGNER = Signer()
AUTH = BearerAuth(public_keys=[SIGNER.public_pem], issuer=SIGNER.issuer, audience="workitems")


def refused(header: str | None, auth: BearerAuth = AUTH) -> str:
    with pytest.raises(UnauthorizedError) as caught:
        auth.verify(header)
    return caught.value.code


def test_a_token_signed_by_a_configured_key_for_this_issuer_and_audience_is_accepted():
    assert AUTH.verify(f"Bearer {SIGNER.token('OFF-5')}")["sub"] == "OFF-5"


def test_no_header_or_no_bearer_scheme_is_refused():
    assert refused(None) == "missing-token"
    assert refused("") == "missing-token"
    assert refused(f"Basic {SIGNER.token()}") == "malformed-token"
    assert refused("Bearer ") == "malformed-token"
    assert refused("Bearer not.a.jwt") == "malformed-token"


def test_an_expired_token_is_refused_beyond_the_leeway():
    assert refused(f"Bearer {SIGNER.token(expires_in=-31)}") == "expired-token"
    assert AUTH.verify(f"Bearer {SIGNER.token(expires_in=-5)}")["sub"], (
        "30 s of clock skew is tolerated"
    )


def test_a_token_signed_by_another_key_is_refused():
    assert refused(f"Bearer {Signer().token()}") == "invalid-token"
    other_type = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": "x", "iss": SIGNER.issuer, "aud": SIGNER.audience, "exp": time.time() + 60},
        other_type,
        algorithm="RS256",
    )
    assert refused(f"Bearer {forged}") == "invalid-token"


def test_a_token_for_another_issuer_or_audience_is_refused():
    assert refused(f"Bearer {SIGNER.token(iss='https://elsewhere')}") == "invalid-token"
    assert refused(f"Bearer {SIGNER.token(aud='expenses')}") == "invalid-token"


def test_an_unsigned_or_shared_secret_token_is_refused():
    claims = {"sub": "x", "iss": SIGNER.issuer, "aud": SIGNER.audience, "exp": time.time() + 60}
    assert refused(f"Bearer {jwt.encode(claims, None, algorithm='none')}") == "invalid-token"
    assert (
        refused(
            f"Bearer {jwt.encode(claims, 'a-shared-secret-of-32-bytes-or-more!', algorithm='HS256')}"
        )
        == "invalid-token"
    )


def test_a_token_without_a_subject_is_refused():
    claims = {"iss": SIGNER.issuer, "aud": SIGNER.audience, "exp": time.time() + 60}
    assert refused(f"Bearer {jwt.encode(claims, SIGNER.key, algorithm='ES256')}") == "invalid-token"


def test_with_no_key_configured_everything_is_refused():
    closed = BearerAuth(public_keys=[], issuer="i", audience="a")
    assert refused(f"Bearer {SIGNER.token()}", closed) == "no-keys-configured"


def test_shared_secret_algorithms_cannot_be_configured():
    with pytest.raises(ValueError, match="asymmetric"):
        BearerAuth(public_keys=[SIGNER.public_pem], issuer="i", audience="a", algorithms=["HS256"])


def test_any_of_several_configured_keys_is_accepted(tmp_path):
    old, new = Signer(), Signer()
    path = tmp_path / "new.pem"
    path.write_text(new.public_pem)
    rotating = BearerAuth(
        public_keys=[old.public_pem, str(path)], issuer=old.issuer, audience=old.audience
    )
    assert rotating.verify(f"Bearer {old.token('a')}")["sub"] == "a"
    assert rotating.verify(f"Bearer {new.token('b')}")["sub"] == "b"


def test_a_subject_that_is_empty_padded_too_long_or_not_printable_is_refused():
    """The subject is the officer: it is logged and recorded with what they did."""
    for sub in ("", " OFF-5", "OFF-5 ", "x" * 65, "OFF\x005", "OFF\n5"):
        assert refused(f"Bearer {SIGNER.token(sub)}") == "invalid-subject", repr(sub)
    assert AUTH.verify(f"Bearer {SIGNER.token('OFF-5')}")["sub"] == "OFF-5"


def test_roles_are_a_short_list_of_short_names_or_the_token_is_refused():
    assert AUTH.verify(f"Bearer {SIGNER.token('OFF-5', roles=['im-trained'])}")["roles"] == [
        "im-trained"
    ]
    assert "roles" not in AUTH.verify(f"Bearer {SIGNER.token('OFF-5')}"), "no claim: no role"
    for claim in (
        "im-trained",
        {"im-trained": True},
        [""],
        ["x" * 65],
        ["im\ntrained"],
        ["r"] * 33,
        [None],
    ):
        assert refused(f"Bearer {SIGNER.token(roles=claim)}") == "invalid-roles", repr(claim)
