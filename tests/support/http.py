"""A service served on a free loopback port for the duration of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from servicekit.service import ServiceRuntime
from tests.support.bus import provisioned
from tests.support.kafka_tools import eventually


@contextlib.asynccontextmanager
async def served(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``runtime`` behind its HTTP server (as ``python -m <service>`` does) and yield a client once /ready
    answers 200; shut it down in order afterwards."""
    await provisioned(runtime)
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
