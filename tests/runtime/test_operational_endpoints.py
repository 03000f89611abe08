"""/health, /ready, /metrics and /asyncapi.json, served by a running service on the real broker."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from devstack.procs import free_port
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.runtime.probe import SPEC
from tests.runtime.test_runtime_on_real_broker import recorded
from tests.support.kafka_tools import eventually, publish, read_topic

pytestmark = pytest.mark.integration


async def test_a_running_service_reports_health_readiness_metrics_and_its_asyncapi_document(
        kafka, database_url, topic_prefix):
    port = free_port()
    runtime = ServiceRuntime(SPEC, ServiceSettings(
        service_name="probe", kafka_bootstrap_servers=kafka.bootstrap_servers, database_url=database_url,
        topic_prefix=topic_prefix, http_port=port))
    server = runtime.http_server()
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            await eventually(lambda: _status(http, "/health", 200), what="alive")

            async def ready() -> bool:
                return await _status(http, "/ready", 200)

            await eventually(ready, what="ready (partitions assigned)")
            body = (await http.get("/ready")).json()
            assert body["checks"] == {"database": True, "broker": True, "partitions_assigned": True}

            await publish(kafka.bootstrap_servers, f"{topic_prefix}probe.in", [recorded("m", 1), recorded("m", 2)])
            await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=2)
            metrics = (await http.get("/metrics")).text
            assert f'messages_consumed_total{{outcome="handled",topic="{topic_prefix}probe.in"}} 2.0' in metrics
            assert f'consumer_lag{{partition="0",topic="{topic_prefix}probe.in"}} 0.0' in metrics
            assert "outbox_pending 0.0" in metrics

            doc = (await http.get("/asyncapi.json")).json()
            assert doc["info"]["title"] == "probe"
            assert doc["channels"]["probe_out"]["address"] == f"{topic_prefix}probe.out"
    finally:
        server.should_exit = True
        await serving
    assert runtime._pool is None, "shutdown closed the database pool"


async def _status(http: httpx.AsyncClient, path: str, code: int) -> bool:
    try:
        return (await http.get(path)).status_code == code
    except httpx.TransportError:
        return False


async def test_the_clock_endpoint_exists_only_with_the_simulated_clock_and_moves_time_forward(
        kafka, database_url, topic_prefix):
    for clock, expected in (("system", 404), ("simulated", 200)):
        port = free_port()
        runtime = ServiceRuntime(SPEC, ServiceSettings(
            service_name="probe", kafka_bootstrap_servers=kafka.bootstrap_servers, database_url=database_url,
            topic_prefix=topic_prefix, http_port=port, clock=clock))
        server = runtime.http_server()
        serving = asyncio.create_task(server.serve())
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                await eventually(lambda: _status(http, "/health", 200), what="alive")
                before = runtime.clock.now()
                response = await http.post("/clock?advance_s=1209600")
                assert response.status_code == expected
                if expected == 200:
                    moved = runtime.clock.now() - before
                    assert 14 * 86400 <= moved.total_seconds() < 14 * 86400 + 60, "14 days in one call"
        finally:
            server.should_exit = True
            await serving
