"""Hostile records on the real broker: each class the outside world tried is accounted for by name.

Architecture §3, "The project owns every byte": every record ends handled, dead-lettered with a reason, or a
duplicate; none is dropped by a framework, none stops the records behind it, and the consumer never crashes.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from contracts.roles import OPERATIONS
from servicekit.delivery.outbox import OutboundMessage, enqueue
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.conftest import KafkaInfo
from tests.runtime.probe import SPEC, TIMED_SPEC, ProbeCounted
from tests.runtime.test_runtime_on_real_broker import recorded
from tests.support.bus import running
from tests.support.drain import drained
from tests.support.kafka_tools import (
    RawRecord,
    configure_topic,
    eventually,
    header,
    metric_sum,
    partition_of,
    publish,
    publish_raw,
    read_topic,
)

pytestmark = pytest.mark.integration
PARTITIONS = 3


def settings(kafka: KafkaInfo, database_url: str, prefix: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(
        service_name="probe",
        **kafka.settings("probe"),
        database_url=database_url,
        topic_prefix=prefix,
        topic_partitions=PARTITIONS,
        **overrides,
    )


def metric(runtime: ServiceRuntime, name: str, **labels: str) -> float:
    return metric_sum(runtime.metrics.registry, name, **labels)


def valid(probe_id: str, value: int) -> RawRecord:
    return RawRecord(
        recorded(probe_id, value),
        key=probe_id.encode(),
        headers=((b"content-type", b"application/json"),),
    )


async def test_hostile_headers_bodies_content_types_and_keys_are_dead_lettered_by_reason_and_nothing_is_lost(
    kafka, database_url, topic_prefix
):
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    topic = f"{topic_prefix}probe.in"
    probe_event = json.loads(recorded("h1", 9))
    hostile = [
        valid("h1", 1),
        # Headers the service does not read cannot hurt it: a value that is not UTF-8, and Kafka's null value.
        RawRecord(
            recorded("h1", 2), key=b"h1", headers=((b"trace", b"\xff\xfe\x00"), (b"x-null", None))
        ),
        RawRecord(
            b"\x00not json", key=b"h1", headers=((b"content-type", b"application/json"),)
        ),  # a lying type
        valid("h1", 3),
        RawRecord(b"\xff\xfe\xfd", key=b"h1", headers=((b"content-type", b"text/plain"),)),
        RawRecord(b"[" * 5000 + b"]" * 5000, key=b"h1"),
        valid("h1", 4),
        RawRecord(b'{"n": ' + b"9" * 5000 + b"}", key=b"h1"),
        RawRecord(recorded("h1", 100), key=b"h1", headers=((b"\xc3\x28bad-name", b"v"),)),
        RawRecord(
            b'{"event_type": "ProbeRecorded"}',
            key=b"h1",
            headers=((b"nul\x00name", b"nul\x00value"),),
        ),
        RawRecord(json.dumps({**probe_event, "probe_id": "h\u00001"}).encode(), key=b"h1"),
        RawRecord(recorded("h1", 200), key=b"not-h1"),
        RawRecord(None, key=b"h1"),
        valid("h1", 5),
    ]
    async with running(runtime):
        await publish_raw(
            kafka.bootstrap_servers, topic, hostile, partition=partition_of(b"h1", PARTITIONS)
        )
        outputs = await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=5)
        dead = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq", at_least=9)
        await eventually(lambda: drained(runtime), what="every offset committed, outbox empty")
    dead.sort(
        key=lambda r: int(header(r, "dlq.origin.offset") or -1)
    )  # dead letters keep the original key
    crashes = metric(runtime, "consumer_crashes_total")
    assert [ProbeCounted.model_validate_json(r.value).total for r in outputs] == [
        1,
        3,
        6,
        10,
        15,
    ], "every valid record handled once, in order, whatever its neighbours"
    assert [header(r, "dlq.reason") for r in dead] == [
        "not-json",
        "content-type-not-json",
        "too-deep",
        "number-too-long",
        "header-name-not-utf8",
        "schema-invalid",
        "nul-character",
        "key-mismatch",
        "empty-message",
    ]
    assert [int(header(r, "dlq.origin.offset") or -1) for r in dead] == [
        2,
        4,
        5,
        7,
        8,
        9,
        10,
        11,
        12,
    ]
    bad_name = dead[4]
    assert (b"dlq.original-header-hex." + b"\xc3\x28bad-name".hex().encode(), b"v") in [
        (k.encode(), v) for k, v in bad_name.headers
    ], "a name that is not UTF-8 is carried, recoverably"
    nul = dead[5]
    assert ("nul\x00name", b"nul\x00value") in nul.headers, (
        "headers are kept as bytes: a NUL neither stops the dead letter nor is lost"
    )
    assert dead[0].value == b"\x00not json", "originals kept whole"
    assert dead[2].value == b"[" * 5000 + b"]" * 5000
    assert dead[8].value is None, "a null value stays null"
    assert crashes == 0, "no record made the consumer crash"


async def test_a_dead_letter_larger_than_the_bound_is_cut_and_still_published_with_its_origin(
    kafka, database_url, topic_prefix
):
    # Screening would refuse a record this size first; raised here so the contract is what fails, as in the report.
    runtime = ServiceRuntime(
        SPEC,
        settings(
            kafka,
            database_url,
            topic_prefix,
            max_record_bytes=2 * 1024 * 1024,
            dlq_max_bytes=256 * 1024,
        ),
    )
    topic = f"{topic_prefix}probe.in"
    big = b'{"event_type": "ProbeRecorded", "note": "' + b"a" * 1_000_000 + b'"}'
    async with running(runtime):
        await publish(
            kafka.bootstrap_servers,
            topic,
            [big, recorded("s1", 4)],
            key=b"s1",
            headers=[("x-big", b"b" * 40_000)],
        )
        [dead] = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq", at_least=1)
        [after] = await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=1)
    assert header(dead, "dlq.reason") == "schema-invalid"
    assert header(dead, "dlq.truncated.value") == str(len(big)), "the original size is said"
    assert len(dead.value) < 256 * 1024, "bounded"
    assert big.startswith(dead.value), "a prefix of the original"
    assert header(dead, "x-big") == "b" * 40_000, "headers that fit are kept"
    assert (header(dead, "dlq.origin.topic"), header(dead, "dlq.origin.offset")) == (topic, "0")
    assert ProbeCounted.model_validate_json(after.value).total == 4, (
        "the record behind it was not blocked"
    )


async def test_a_record_over_the_size_limit_is_dead_lettered_as_too_large(
    kafka, database_url, topic_prefix
):
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    topic = f"{topic_prefix}probe.in"
    async with running(runtime):
        await publish(
            kafka.bootstrap_servers, topic, [b"x" * 1_000_000, recorded("s2", 1)], key=b"s2"
        )
        [dead] = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq", at_least=1)
        await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=1)
    assert header(dead, "dlq.reason") == "too-large"
    assert header(dead, "dlq.truncated.value") == "1000000"


async def test_a_reused_event_id_with_other_content_is_dead_lettered_and_an_exact_repeat_is_a_duplicate(
    kafka, database_url, topic_prefix
):
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    topic, same_id = f"{topic_prefix}probe.in", uuid.uuid4()
    first, other = recorded("r1", 1, same_id), recorded("r1", 50, same_id)
    async with running(runtime):
        await publish(
            kafka.bootstrap_servers, topic, [first, first, other], key=b"r1"
        )  # within one poll
        await eventually(lambda: drained(runtime), what="first load handled")
        await publish(kafka.bootstrap_servers, topic, [other, first], key=b"r1")  # and across polls
        await eventually(lambda: drained(runtime), what="second load handled")
        dead = await read_topic(kafka.bootstrap_servers, f"{topic}.dlq", at_least=2)
        [out] = await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=1)
    assert [header(r, "dlq.reason") for r in dead] == ["event-id-reused", "event-id-reused"]
    assert [header(r, "dlq.origin.offset") for r in dead] == ["2", "3"]
    assert ProbeCounted.model_validate_json(out.value).total == 1, "the first content stands"
    # Each exact repeat (offsets 1 and 4) is a duplicate. Once, with the machine saturated, the first poll was
    # delivered again (as after a rebalance while it was handled): 5, its copies absorbed as duplicates too, and
    # nothing dead-lettered twice. So never fewer than two.
    assert metric(runtime, "messages_consumed_total", outcome="duplicate") >= 2


@pytest.mark.parametrize(
    ("size", "topic_limit"),
    [
        # over the producer's largest request: refused before it leaves
        pytest.param(2 * 1024 * 1024, None, id="over-the-client-limit"),
        # over the topic's own limit: the broker refuses the batch holding it, whole
        pytest.param(5_000, 2_000, id="over-the-topic-limit"),
    ],
)
async def test_an_output_the_broker_refuses_for_good_is_parked_and_the_outputs_behind_it_are_published(
    kafka, database_url, topic_prefix, size, topic_limit
):
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    topic = f"{topic_prefix}probe.out"
    async with running(runtime):
        if topic_limit is not None:  # its retention as provisioned, and the limit
            await configure_topic(
                kafka.bootstrap_servers,
                topic,
                {"retention.ms": str(30 * 86_400_000), "max.message.bytes": str(topic_limit)},
            )
        async with runtime.pool.acquire() as conn:
            queued = await enqueue(
                conn,
                [
                    OutboundMessage("e1", topic, b"k", b"1"),
                    OutboundMessage("huge", topic, b"k", b"x" * size),
                    OutboundMessage("e3", topic, b"k", b"3"),
                ],
            )
        runtime.hand_to_relay(
            queued
        )  # as a committed transaction does: the refusal sends them to the table's path
        records = await read_topic(kafka.bootstrap_servers, topic, at_least=2)

        async def parked() -> bool:
            async with runtime.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox") == 0

        await eventually(parked, what="outbox empty")
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT event_id, reason, length(value) AS size FROM outbox_parked"
            )
        await runtime.refresh_gauges()
    assert [r.value for r in records] == [b"1", b"3"], "the rows after it went on, in order"
    assert [(r["event_id"], r["reason"], r["size"]) for r in rows] == [("huge", "too-large", size)]
    assert metric(runtime, "outbox_parked_total", reason="too-large") == 1
    assert metric(runtime, "outbox_parked_rows") == 1


async def test_a_timer_that_cannot_fire_is_quarantined_alone_and_the_others_fire(
    kafka, database_url, topic_prefix
):
    runtime = ServiceRuntime(
        TIMED_SPEC, settings(kafka, database_url, topic_prefix, scheduler_interval_s=3600)
    )
    async with running(runtime):
        now = runtime.clock.now()
        async with runtime.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO alarms (alarm_id, due_at, payload) VALUES ($1, $2, $3)",
                [
                    ("a1", now - timedelta(minutes=5), "1"),
                    ("a2", now - timedelta(minutes=4), "explode"),
                    ("a3", now - timedelta(minutes=3), "unreadable"),
                    ("a4", now - timedelta(minutes=2), "2147483648"),
                    ("a5", now - timedelta(minutes=1), "7"),
                    ("a6", now + timedelta(hours=1), "9"),
                ],
            )
        await (
            runtime.fire_timers()
        )  # the scheduler's own first pass may take some of them: both count alike

        async def settled() -> bool:
            async with runtime.pool.acquire() as conn:
                return (
                    await conn.fetchval(
                        "SELECT (SELECT count(*) FROM alarms WHERE rang) + (SELECT count(*) FROM timer_quarantine)"
                    )
                    == 5
                )

        await eventually(settled, what="every due alarm rang or quarantined")
        again = await runtime.fire_timers()
        outputs = await read_topic(kafka.bootstrap_servers, f"{topic_prefix}probe.out", at_least=2)
        async with runtime.pool.acquire() as conn:
            quarantined = await conn.fetch(
                "SELECT timer_key, reason, error_type FROM timer_quarantine ORDER BY 1"
            )
            rang = await conn.fetch("SELECT alarm_id FROM alarms WHERE rang ORDER BY 1")
        assert runtime.scheduler is not None
        overdue = await runtime.scheduler.oldest_overdue_s()
    assert metric(runtime, "timers_fired_total") == 2, (
        "passes count what fired, not what they claimed"
    )
    assert again == 0, "a quarantined timer is never claimed again"
    assert [(r["timer_key"], r["error_type"]) for r in quarantined] == [
        ("a2", "UnluckyError"),
        ("a3", "ValueError"),
        ("a4", "DataError"),
    ]
    assert {r["reason"] for r in quarantined} == {"timer-failed"}
    assert [r["alarm_id"] for r in rang] == ["a1", "a5"]
    assert sorted(ProbeCounted.model_validate_json(r.value).probe_id for r in outputs) == [
        "a1",
        "a5",
    ]
    assert metric(runtime, "timers_quarantined_total") == 3
    assert overdue == 0, "quarantined timers are counted apart, not as overdue"


async def test_readiness_names_a_stalled_consumer_a_crash_loop_a_stuck_outbox_and_overdue_timers(
    kafka, database_url, topic_prefix
):
    from devstack.procs import free_port
    from devstack.tokens import Signer
    from tests.support.http import served

    signer = Signer(audience="probe")
    runtime = ServiceRuntime(
        TIMED_SPEC,
        settings(
            kafka,
            database_url,
            topic_prefix,
            http_port=free_port(),
            ready_stall_s=1.0,
            ready_outbox_age_s=1.0,
            ready_timer_overdue_s=1.0,
            scheduler_interval_s=3600,
            jwt_public_keys=[signer.public_pem],
            jwt_issuer=signer.issuer,
        ),
    )
    topic = f"{topic_prefix}probe.in"
    async with served(runtime) as http:

        async def failing(check: str) -> bool:
            response = await http.get("/ready")
            return response.status_code == 503 and response.json()["checks"][check] is False

        async def ready() -> bool:
            return (await http.get("/ready")).status_code == 200

        assert runtime.consumer is not None
        pipeline = runtime.consumer.pipeline
        handle = pipeline.handle

        async def database_away(records: Any) -> Any:
            raise OSError("the database is away")

        pipeline.handle = database_away  # type: ignore[method-assign]
        await publish(kafka.bootstrap_servers, topic, [recorded("q1", 1)], key=b"q1")
        await eventually(lambda: failing("consumer_progressing"), what="a stalled consumer named")
        pipeline.handle = handle  # type: ignore[method-assign]
        await eventually(ready, what="ready again once it progresses")

        async def defect(records: Any) -> Any:
            raise RuntimeError("a defect")

        pipeline.handle = defect  # type: ignore[method-assign]
        await publish(kafka.bootstrap_servers, topic, [recorded("q1", 2)], key=b"q1")
        await eventually(lambda: failing("consumer_not_crashing"), what="a crash loop named")
        crashes = metric(runtime, "consumer_crashes_total")
        assert 3 <= crashes < 10, "a crash loop backs off instead of spinning"
        pipeline.handle = handle  # type: ignore[method-assign]
        await eventually(ready, what="ready again once the poll is handled")

        relay_lock = await asyncpg.connect(runtime.settings.database_url)
        try:
            assert runtime.relay is not None
            await relay_lock.execute("SELECT pg_advisory_lock($1)", runtime.relay._lock_key)
            await publish(kafka.bootstrap_servers, topic, [recorded("q1", 3)], key=b"q1")
            await eventually(
                lambda: failing("outbox_flowing"), what="an outbox that does not drain named"
            )
            assert metric(runtime, "outbox_oldest_age_seconds") >= 1.0
        finally:
            await relay_lock.close()
        await eventually(ready, what="ready again once the relay publishes")

        async with (
            runtime.pool.acquire() as conn
        ):  # the scheduler's pass is hours away: this timer waits
            await conn.execute(
                "INSERT INTO alarms (alarm_id, due_at, payload) VALUES ('late', now(), '1')"
            )
        await eventually(lambda: failing("timers_on_time"), what="an overdue timer named")
        assert await runtime.fire_timers() == 1
        await eventually(ready, what="ready again once the timer fired")
        metrics = (
            await http.get("/metrics", headers=signer.bearer("OPS-1", roles=[OPERATIONS]))
        ).text
    for gauge in (
        "consumer_progress_age_seconds",
        "outbox_oldest_age_seconds",
        "timers_oldest_overdue_seconds",
        "timers_quarantined_rows",
        "outbox_parked_rows",
    ):
        assert f"\n{gauge} " in metrics, f"{gauge} is exported"
