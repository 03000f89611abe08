"""Operational HTTP endpoints: /health, /ready, /metrics, /asyncapi.json (and /clock when simulated)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from faststream.asgi import AsgiResponse, get, post
from faststream.asgi.types import ASGIApp, Scope
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from servicekit.clock import SimulatedClock

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime


def json_response(body: Any, status: int = 200) -> AsgiResponse:
    return AsgiResponse(
        json.dumps(body, default=str).encode(), status, headers={"content-type": "application/json"}
    )


def operational_routes(runtime: ServiceRuntime) -> Sequence[tuple[str, ASGIApp]]:
    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        """Alive: the process answers."""
        return json_response({"status": "alive", "service": runtime.settings.service_name})

    @get(include_in_schema=False)
    async def ready(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        """Ready: broker reachable, database reachable, partitions assigned."""
        checks = await runtime.readiness()
        return json_response(
            {"ready": all(checks.values()), "checks": checks}, 200 if all(checks.values()) else 503
        )

    @get(include_in_schema=False)
    async def metrics(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        await runtime.readiness()  # the gauges, and the readiness an alert rule can read
        return AsgiResponse(
            generate_latest(runtime.metrics.registry),
            200,
            headers={"content-type": CONTENT_TYPE_LATEST},
        )

    @get(include_in_schema=False)
    async def asyncapi(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        return json_response(runtime.asyncapi())

    routes: list[tuple[str, ASGIApp]] = [
        ("/health", health),
        ("/ready", ready),
        ("/metrics", metrics),
        ("/asyncapi.json", asyncapi),
    ]
    clock = runtime.clock
    if isinstance(clock, SimulatedClock):

        @post(include_in_schema=False)
        async def advance_clock(scope: Scope) -> AsgiResponse:
            """Simulated clock only: ``POST /clock?advance_s=N`` or ``POST /clock?to=<ISO 8601 instant>`` moves time
            forward (to an instant already passed: no change), then fires every timer now due before answering."""
            query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
            try:
                if "to" in query:
                    target = datetime.fromisoformat(
                        query["to"].replace(" ", "+")
                    )  # an unencoded "+11:00"
                    if target.tzinfo is None:
                        raise ValueError("`to` needs a timezone offset")
                    now = clock.set(
                        target
                    )  # an instant already passed leaves the clock as it is: never back
                else:
                    now = clock.advance(timedelta(seconds=float(query.get("advance_s", "0"))))
            except ValueError as exc:
                return json_response({"error": "bad-request", "detail": str(exc)}, 400)
            fired = await runtime.fire_timers()
            return json_response({"now": now.isoformat(), "fired": fired})

        routes.append(("/clock", advance_clock))
    return routes


async def with_timeout(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> bool:
    try:
        return await asyncio.wait_for(check(), seconds)
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
