"""Bearer-token authentication for HTTP APIs that hold personal information.

A request needs ``Authorization: Bearer <JWT>``; the token is checked for signature (against the
configured public keys), issuer, audience and expiry. Anything else gets 401 with no data. With no
key configured every request is refused: the API is closed by default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from faststream.asgi.types import ASGIApp, Receive, Scope, Send

from servicekit.logs import get_logger

log = get_logger("servicekit.http.auth")

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


MAX_SUBJECT_CHARS = 64
MAX_ROLES, MAX_ROLE_CHARS = 32, 64


class UnauthorizedError(Exception):
    """``code`` is one of missing-token, malformed-token, expired-token, invalid-token, invalid-subject,
    invalid-roles, lifetime-too-long, no-keys-configured."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def load_key(value: str) -> Any:
    """A PEM public key given inline or as the path of a PEM file; a bad one fails at start-up, not per request."""
    text = value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()
    return serialization.load_pem_public_key(text.encode())


@dataclass(frozen=True)
class BearerAuth:
    public_keys: Sequence[str]
    """PEM public keys (inline or file paths). Tokens signed by any of them are accepted."""
    issuer: str
    audience: str
    algorithms: Sequence[str] = ASYMMETRIC_ALGORITHMS
    leeway_s: float = 30.0
    max_lifetime_s: float = 12 * 3600
    """The longest a token may live (``exp`` - ``iat``): a token minted to last for years is refused."""

    _keys: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad:  # a shared secret would let anyone holding it mint tokens: public keys only
            raise ValueError(f"only asymmetric algorithms are accepted, not {', '.join(bad)}")
        object.__setattr__(self, "_keys", tuple(load_key(k) for k in self.public_keys))

    @property
    def configured(self) -> bool:
        return bool(self.public_keys)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or :class:`UnauthorizedError`."""
        keys = self._keys
        if not keys:
            raise UnauthorizedError("no-keys-configured")
        if not authorization:
            raise UnauthorizedError("missing-token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("malformed-token")
        expired = False
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token.strip(),
                    key,
                    algorithms=list(self.algorithms),
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway_s,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )
                return _with_valid_roles(_with_valid_subject(self._with_bounded_lifetime(claims)))
            except jwt.ExpiredSignatureError:
                expired = (
                    True  # right key, but too late; keep looking in case another key says otherwise
                )
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError, TypeError):
                continue  # signed by another key (or a key of another type): try the next
            except jwt.DecodeError:
                raise UnauthorizedError("malformed-token") from None
            except jwt.InvalidTokenError:
                raise UnauthorizedError("invalid-token") from None
        raise UnauthorizedError("expired-token" if expired else "invalid-token")

    def _with_bounded_lifetime(self, claims: dict[str, Any]) -> dict[str, Any]:
        """A token issued at ``iat`` (PyJWT refuses one from the future) that expires within the longest lifetime."""
        if float(claims["exp"]) - float(claims["iat"]) > self.max_lifetime_s + self.leeway_s:
            raise UnauthorizedError("lifetime-too-long")
        return claims


def _with_valid_subject(claims: dict[str, Any]) -> dict[str, Any]:
    """The officer is the subject: it is logged and recorded, so it is a short printable identifier."""
    sub = claims.get("sub")
    if (
        not isinstance(sub, str)
        or not 0 < len(sub) <= MAX_SUBJECT_CHARS
        or not sub.isprintable()
        or sub.strip() != sub
    ):
        raise UnauthorizedError("invalid-subject")
    return claims


def _with_valid_roles(claims: dict[str, Any]) -> dict[str, Any]:
    """The officer's authority is the token's ``roles`` claim (none: no role): a short list of short names."""
    roles = claims.get("roles", [])
    if (
        not isinstance(roles, list)
        or len(roles) > MAX_ROLES
        or not all(
            isinstance(r, str) and 0 < len(r) <= MAX_ROLE_CHARS and r.isprintable() for r in roles
        )
    ):
        raise UnauthorizedError("invalid-roles")
    return claims


def roles_of(scope: Scope) -> frozenset[str]:
    """The verified roles of the request's officer (what :func:`guarded` put in the scope)."""
    return frozenset(scope.get("principal", {}).get("roles", []))


def guarded(
    app: ASGIApp,
    auth: BearerAuth,
    open_paths: frozenset[str],
    own_auth: Callable[[str], bool] | None = None,
) -> ASGIApp:
    """``app`` behind ``auth`` for every HTTP path but ``open_paths`` and those ``own_auth`` says authenticate
    themselves (a console's pages, by session); the claims go to ``scope['principal']``."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if (
            scope["type"] != "http"
            or path in open_paths
            or (own_auth is not None and own_auth(path))
        ):
            await app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(b"authorization")
        try:
            claims = auth.verify(raw.decode("latin-1") if raw else None)
        except UnauthorizedError as exc:
            log.info("request refused", reason_code=exc.code, status=401)
            await unauthorized(send, exc.code)
            return
        scope["principal"] = (
            claims  # in place, as routing fills it: the request's span reads its route after
        )
        await app(scope, receive, send)

    return guard


def needs_role(app: ASGIApp, role: str, paths: frozenset[str]) -> ASGIApp:
    """``app`` (behind :func:`guarded`), with ``paths`` open only to a token holding ``role``: 403 for any other."""

    async def check(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in paths and role not in roles_of(scope):
            log.info("request refused", reason_code="needs-role", status=403)
            body = json.dumps(
                {
                    "error": "forbidden",
                    "reason_code": "needs-role",
                    "detail": f"This needs the {role!r} role, which the token does not hold.",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return check


async def unauthorized(send: Send, code: str) -> None:
    body = json.dumps({"error": "unauthorized", "reason_code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (
                    b"www-authenticate",
                    f'Bearer error="invalid_token", error_description="{code}"'.encode(),
                ),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
