"""/health, /ready, /metrics and /asyncapi.json, served by a running service on the real broker."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.access import Acl, Operation, Resource, acls
from contracts.roles import OPERATIONS, OfficerRole
from contracts.topics import Catalogue
from devstack.procs import free_port
from devstack.tokens import Signer
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.runtime.probe import SPEC
from tests.runtime.test_runtime_on_real_broker import recorded
from tests.support.bus import running
from tests.support.http import served
from tests.support.kafka_tools import client, eventually, partition_of, publish, read_topic

pytestmark = pytest.mark.integration


async def test_a_running_service_reports_health_readiness_metrics_and_its_asyncapi_document(
    kafka, database_url, topic_prefix, captured_logs
):
    signer = Signer(audience="probe")
    runtime = ServiceRuntime(
        SPEC,
        ServiceSettings(
            service_name="probe",
            **kafka.settings("probe"),
            database_url=database_url,
            topic_prefix=topic_prefix,
            http_port=free_port(),
            jwt_public_keys=[signer.public_pem],
            jwt_issuer=signer.issuer,
        ),
    )
    async with served(runtime) as http:
        http.headers.update(signer.bearer("OPS-1", roles=[OPERATIONS]))
        assert (await http.get("/health")).json()["status"] == "alive"
        body = (await http.get("/ready")).json()
        assert body["checks"] == {
            "database": True,
            "broker": True,
            "partitions_assigned": True,
            "consumer_progressing": True,
            "consumer_not_crashing": True,
            "outbox_flowing": True,
        }

        await publish(
            kafka.bootstrap_servers,
            f"{topic_prefix}probe.in",
            [recorded("m", 1), recorded("m", 2)],
            key=b"m",
        )
        await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=2)
        expected = (
            f'messages_consumed_total{{outcome="handled",topic="{topic_prefix}probe.in"}} 2.0',
            f'consumer_lag{{partition="{partition_of(b"m", 6)}",topic="{topic_prefix}probe.in"}} 0.0',
            "outbox_pending 0.0",
            "outbox_oldest_age_seconds 0.0",
            "outbox_parked_rows 0.0",
        )

        async def drained() -> (
            bool
        ):  # the relay deletes a row after the broker's acknowledgement, not before
            metrics = (await http.get("/metrics")).text
            return all(line in metrics for line in expected)

        await eventually(drained, what="the metrics of a drained service")

        doc = (await http.get("/asyncapi.json")).json()
        assert doc["info"]["title"] == "probe"
        assert doc["channels"]["probe_out"]["address"] == f"{topic_prefix}probe.out"
        exposed = (await http.get("/metrics")).text + json.dumps(doc) + captured_logs.getvalue()
    assert runtime._pool is None, "shutdown closed the database pool"
    password = runtime.settings.kafka_password()
    assert password, "the probe connects with a password"
    assert password not in exposed, "the Kafka password is in no metric, document or log line"


async def test_the_clock_endpoint_exists_only_with_the_simulated_clock_and_moves_time_forward(
    kafka, database_url, topic_prefix
):
    for clock, expected in (("system", 404), ("simulated", 200)):
        signer = Signer(audience="probe")
        runtime = ServiceRuntime(
            SPEC,
            ServiceSettings(
                service_name="probe",
                **kafka.settings("probe"),
                database_url=database_url,
                topic_prefix=topic_prefix,
                http_port=free_port(),
                clock=clock,
                jwt_public_keys=[signer.public_pem],
                jwt_issuer=signer.issuer,
            ),
        )
        async with served(runtime) as http:
            http.headers.update(signer.bearer("OPS-1", roles=[OPERATIONS]))
            before = runtime.clock.now()
            response = await http.post("/clock?advance_s=1209600")
            assert response.status_code == expected
            if expected == 200:
                moved = runtime.clock.now() - before
                assert 14 * 86400 <= moved.total_seconds() < 14 * 86400 + 60, "14 days in one call"
                target = runtime.clock.now() + timedelta(days=3)
                to = await http.post("/clock", params={"to": target.isoformat()})
                assert to.status_code == 200
                assert abs(runtime.clock.now() - target) < timedelta(seconds=5), (
                    "moved to the instant"
                )
                back = await http.post(
                    "/clock", params={"to": (target - timedelta(days=30)).isoformat()}
                )
                assert back.status_code == 200
                assert runtime.clock.now() >= target, (
                    "an instant already passed never moves the clock back"
                )
                naive = await http.post("/clock", params={"to": "2027-03-01T10:00:00"})
                assert naive.status_code == 400


async def test_every_path_but_health_and_ready_needs_a_token_in_every_service(
    kafka, database_url, topic_prefix
):
    signer = Signer(audience="probe")
    runtime = ServiceRuntime(
        SPEC,
        ServiceSettings(
            service_name="probe",
            **kafka.settings("probe"),
            database_url=database_url,
            topic_prefix=topic_prefix,
            http_port=free_port(),
            clock="simulated",
            jwt_public_keys=[signer.public_pem],
            jwt_issuer=signer.issuer,
        ),
    )
    async with served(runtime) as http:
        for path in ("/health", "/ready"):
            assert (await http.get(path)).status_code == 200, path
        for method, path in (
            ("GET", "/metrics"),
            ("GET", "/asyncapi.json"),
            ("POST", "/clock?advance_s=1"),
        ):
            refused = await http.request(method, path)
            assert refused.status_code == 401, path
            assert refused.json() == {"error": "unauthorized", "reason_code": "missing-token"}
            assert (
                await http.request(method, path, headers=signer.bearer("OPS-1", roles=[OPERATIONS]))
            ).status_code == 200, path
            officer = signer.bearer("OFF-1", roles=[r.value for r in OfficerRole])
            forbidden = await http.request(method, path, headers=officer)
            assert (forbidden.status_code, forbidden.json()["reason_code"]) == (
                403,
                "needs-role",
            ), path
        for sub in ("", " OPS-1", "x" * 65, "OPS\x001"):
            bad = await http.get("/metrics", headers=signer.bearer(sub))
            assert (bad.status_code, bad.json()["reason_code"]) == (401, "invalid-subject"), repr(
                sub
            )


async def test_a_producer_says_how_far_behind_a_downstream_system_is_from_its_groups_offsets(
    kafka, database_url, topic_prefix
):
    """Issue 29: "SMS dispatch requests not consumed by the gateway". A system that reads what a service writes and
    writes nothing back (here ``probe-reader`` on probe.out, as the desktop messaging gateway on the SMS dispatch
    topic) is watched through its consumer group's committed offsets, which the catalogue's ACLs let the producer
    describe, and nothing more."""
    [inbound, outbound] = SPEC.catalogue.topics
    catalogue = Catalogue(
        (inbound, replace(outbound, consumers=(*outbound.consumers, "probe-reader")))
    )
    assert Acl("probe", Resource.GROUP, f"{topic_prefix}probe-reader", Operation.DESCRIBE) in acls(
        catalogue, topic_prefix
    )
    runtime = ServiceRuntime(
        replace(SPEC, catalogue=catalogue),
        ServiceSettings(
            service_name="probe",
            **kafka.settings("probe"),
            database_url=database_url,
            topic_prefix=topic_prefix,
            http_port=free_port(),
            topic_partitions=1,
            downstream_interval_s=0.2,
        ),
    )
    labels = {"topic": f"{topic_prefix}probe.out", "group": f"{topic_prefix}probe-reader"}

    async def behind(n: int) -> bool:  # the watch reads the group every downstream_interval_s
        return runtime.metrics.registry.get_sample_value("downstream_lag", labels) == n

    async with running(runtime):
        await publish(
            kafka.bootstrap_servers,
            f"{topic_prefix}probe.in",
            [recorded("m", 1), recorded("m", 2), recorded("m", 3)],
            key=b"m",
        )
        await eventually(lambda: behind(3), what="three totals unread by probe-reader")
        reader = AIOKafkaConsumer(
            group_id=f"{topic_prefix}probe-reader",
            enable_auto_commit=False,
            **client(kafka.bootstrap_servers),
        )
        await reader.start()
        try:
            part = TopicPartition(f"{topic_prefix}probe.out", 0)
            reader.assign([part])
            await reader.commit({part: 2})
            await eventually(lambda: behind(1), what="one total unread after probe-reader read two")
            await reader.commit({part: 3})
            await eventually(lambda: behind(0), what="probe-reader caught up")
        finally:
            await reader.stop()
