"""A service served on a free loopback port for the duration of a test, and bearer tokens for its API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from servicekit.service import ServiceRuntime
from tests.support.kafka_tools import eventually


@contextlib.asynccontextmanager
async def served(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``runtime`` behind its HTTP server (as ``python -m <service>`` does) and yield a client once /ready
    answers 200; shut it down in order afterwards."""
    server = runtime.http_server()
    serving = asyncio.create_task(server.serve())
    base = f"http://{runtime.settings.http_host}:{runtime.settings.http_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            async def ready() -> bool:
                try:
                    return (await http.get("/ready")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, what="ready (partitions assigned)")
            yield http
    finally:
        server.should_exit = True
        await serving


class Signer:
    """An identity provider's signing key (ES256): its public half is what the service is configured with."""

    def __init__(self, issuer: str = "https://login.test/officers", audience: str = "workitems") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.issuer, self.audience = issuer, audience

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, sub: str = "OFF-5", *, expires_in: float = 300, **claims: Any) -> str:
        now = time.time()
        payload = {"sub": sub, "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + expires_in, **claims}
        return jwt.encode(payload, self.key, algorithm="ES256")

    def bearer(self, sub: str = "OFF-5", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **kwargs)}"}
