"""Dead letters sealed by the consumer that wrote them.

Every consumer of a topic may write that topic's dead-letter topic (the broker cannot say which one wrote a given
record), so a dead letter's headers, its ``dlq.consumer`` included, are only its writer's word. A consumer that has a
seal key signs each dead letter it writes (Ed25519, its own private key): the dead-letter topic, the key, the value
and every header before the seal. The operators' replay holds the consumers' *public* keys only: it can tell which
consumer wrote a dead letter, and that nothing of it was changed since, but it can forge none.

The seal is the ``dlq.seal`` header (the signature, base64), the last header the consumer writes; a header after it
(the relay's ``traceparent``) is not sealed and not read. An original header named ``dlq.…`` is carried renamed
(``dlq.original-header.…``), so no record can bring a seal of its own.

Keys: ``python -m servicekit.tools.localsecrets`` makes a pair per principal (``kafka/seals/<principal>.key`` and
``.pub``); a service reads its own from ``DLQ_SEAL_KEY_FILE``, the replay the public ones from ``DLQ_SEAL_KEYS_DIR``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEAL = b"dlq.seal"
Header = tuple[bytes, bytes | None]
Sealer = Callable[[str, bytes | None, bytes | None, Sequence[Header]], Header]


def _field(data: bytes | None) -> bytes:
    """Length-prefixed, so that no two different records give the same bytes (``None`` is not empty)."""
    return b"\xff\xff\xff\xff" if data is None else struct.pack(">I", len(data)) + data


def sealed_bytes(
    topic: str, key: bytes | None, value: bytes | None, headers: Iterable[Header]
) -> bytes:
    """What a seal signs: the topic the dead letter is written to, its key, its value and its headers in order."""
    parts = [b"msp-im dead letter v1", _field(topic.encode()), _field(key), _field(value)]
    parts += [_field(name) + _field(v) for name, v in headers]
    return b"".join(parts)


def new_key_pair() -> tuple[bytes, bytes]:
    """(private key, public key), PEM."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


@functools.cache
def sealer(key_file: Path) -> Sealer:
    """The function that seals a dead letter with the private key in ``key_file``: it returns the ``dlq.seal``
    header to append."""
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{key_file} does not hold an Ed25519 private key")

    def seal(
        topic: str, key: bytes | None, value: bytes | None, headers: Sequence[Header]
    ) -> Header:
        signature = private.sign(sealed_bytes(topic, key, value, headers))
        return SEAL, base64.b64encode(signature)

    return seal


class Seals:
    """The consumers' public keys (``<principal>.pub`` in one folder): who wrote a dead letter, if anyone can say."""

    def __init__(self, directory: Path | None) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {}
        for path in sorted(directory.glob("*.pub")) if directory is not None else ():
            public = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(public, Ed25519PublicKey):
                self.keys[path.stem] = public

    def writer(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        claimed: str,
    ) -> str | None:
        """The principal whose seal the dead letter carries, when it is ``claimed`` (its ``dlq.consumer``) and the
        seal holds over everything before it; ``None`` when it is unsealed, sealed by another, or changed."""
        public = self.keys.get(claimed)
        at = next((i for i, (name, _) in enumerate(headers) if name == SEAL), None)
        if public is None or at is None:
            return None
        try:
            signature = base64.b64decode(headers[at][1] or b"", validate=True)
            public.verify(signature, sealed_bytes(topic, key, value, headers[:at]))
        except (InvalidSignature, binascii.Error, ValueError):
            return None
        return claimed
