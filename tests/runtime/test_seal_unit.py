"""Dead-letter seals (issue 37, finding 3): a consumer's own key proves it wrote a dead letter, and that nothing of
it changed since; the replay, holding public keys only, can verify and never forge."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicekit.seal import SEAL, Seals, sealed_bytes, sealer
from servicekit.tools.localsecrets import write_private

pytestmark = pytest.mark.unit

TOPIC = "im.payment-attempts.dlq"
HEADERS = [
    (b"traceparent", b"00-x"),
    (b"dlq.reason", b"schema-invalid"),
    (b"dlq.consumer", b"expenses"),
]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    from servicekit.seal import new_key_pair

    for principal in ("expenses", "console"):
        private, public = new_key_pair()
        write_private(tmp_path / f"{principal}.key", private)
        write_private(tmp_path / f"{principal}.pub", public)
    return tmp_path


def sealed(
    keys: Path, principal: str, value: bytes = b'{"a": 1}'
) -> list[tuple[bytes, bytes | None]]:
    return [*HEADERS, sealer(keys / f"{principal}.key")(TOPIC, b"EXP-1", value, HEADERS)]


def test_a_seal_proves_its_consumer_and_holds_against_headers_added_after_it(keys):
    seals = Seals(keys)
    headers = sealed(keys, "expenses")
    assert headers[-1][0] == SEAL
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', headers, "expenses") == "expenses"
    relayed = [*headers, (b"traceparent", b"00-y")]  # the relay's trace header comes after the seal
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', relayed, "expenses") == "expenses"


def test_nothing_else_passes_for_the_consumers_word(keys):
    seals = Seals(keys)
    headers = sealed(keys, "expenses")
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 2}', headers, "expenses") is None, (
        "a changed value"
    )
    assert seals.writer(TOPIC, b"EXP-2", b'{"a": 1}', headers, "expenses") is None, "a changed key"
    assert seals.writer("other.dlq", b"EXP-1", b'{"a": 1}', headers, "expenses") is None, "moved"
    forged_cut = [(b"dlq.truncated.value", b"9"), *headers]
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', forged_cut, "expenses") is None
    by_console = sealed(keys, "console")
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', by_console, "expenses") is None, (
        "another consumer's seal does not vouch for the consumer the headers name"
    )
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', HEADERS, "expenses") is None, "unsealed"
    garbage = [*HEADERS, (SEAL, b"\xff not base64")]
    assert seals.writer(TOPIC, b"EXP-1", b'{"a": 1}', garbage, "expenses") is None
    assert Seals(None).writer(TOPIC, b"EXP-1", b'{"a": 1}', headers, "expenses") is None


def test_the_sealed_bytes_tell_apart_what_plain_concatenation_would_not():
    assert sealed_bytes("t", b"ab", b"c", []) != sealed_bytes("t", b"a", b"bc", [])
    assert sealed_bytes("t", None, b"", []) != sealed_bytes("t", b"", b"", [])
    assert sealed_bytes("t", b"k", b"v", [(b"h", None)]) != sealed_bytes(
        "t", b"k", b"v", [(b"h", b"")]
    )
