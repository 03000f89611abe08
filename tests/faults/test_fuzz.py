"""Property-based fuzzing of every input topic of all three services, on the real broker and database.

Issue "Nothing lost, nothing stuck", item 7. Hypothesis draws interleaved sequences of records for the
seven topics the services consume: valid events (some with junk in headers the services do not read),
exact repeats, reused event ids with other content, and records with exactly one fault each: a header
name that is not UTF-8, a lying content type, a wrong or null key, a body that is not JSON, nested
deeper than the limit, a number longer than the limit, a body over the size limit or near the broker's
1 MiB, a body that breaks the schema, an unknown event type, a null value, a NUL character. Every
record is written as raw bytes (no client-side check), then the system drains, and:

- every valid record was handled: its id is in its consumer's inbox, and no output was published twice;
- every repeat was a duplicate (the services' duplicate counts add up to the repeats sent);
- every faulty record, and nothing else, is on its topic's dead-letter topic, with the fault's reason;
- every consumer group committed every offset, no consumer crashed, and every service is ready.

``FUZZ_EXAMPLES`` sets how many sequences are drawn (default 8; each is 20 to 40 records). A body over the
broker's own limit (1 MiB) never reaches a consumer: the broker refuses it to the producer (tested last).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.catalogue import (
    CATALOGUE,
    EXPENSE_ACTIONS,
    EXPENSE_EVENTS,
    MSP_APPROVALS,
    MSP_NOTIFICATION_EVENTS,
    MSP_STAFF_ACTIONS,
    PAYMENT_ATTEMPTS,
    WORKITEM_COMMANDS,
)
from contracts.envelope import Event
from contracts.notification import RiskFact, Step
from contracts.outcomes import InputOutcomes, Outcome
from contracts.topics import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, Topic
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from notification.app import NotificationSettings
from notification.app import create_runtime as notification_runtime
from servicekit.service import ServiceRuntime
from tests.conftest import KafkaInfo
from tests.expenses import builders as expenses
from tests.notification import builders as notification
from tests.support.bus import provisioned
from tests.support.drain import drained
from tests.support.kafka_tools import (
    RawPublisher,
    RawRecord,
    eventually,
    metric_sum,
    partition_of,
    publish_raw,
    read_all,
)
from tests.workitems import builders as workitems
from workitems.app import WorkitemsSettings
from workitems.app import create_runtime as workitems_runtime

pytestmark = pytest.mark.integration
PARTITIONS = 3
MAX_RECORD_BYTES = 256 * 1024  # the services' default limit
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
T = TypeVar("T")


def _valid(topic: str, aggregate: str) -> Event:
    """A fresh valid event for ``topic`` about ``aggregate`` (most are refused by the procedure with a reason)."""
    when = datetime(2027, 3, 10, 10, tzinfo=UTC)
    builders: dict[str, Callable[[], Event]] = {
        MSP_APPROVALS.name: lambda: notification.approval(msp_id=aggregate),
        MSP_STAFF_ACTIONS.name: lambda: notification.risk(
            RiskFact.SUICIDE_SELF_HARM, msp_id=aggregate
        ),
        PAYMENT_ATTEMPTS.name: lambda: expenses.attempt(when=when, expense_id=aggregate),
        EXPENSE_ACTIONS.name: lambda: expenses.cease(when, expense_id=aggregate),
        EXPENSE_EVENTS.name: lambda: workitems.period_closed(expense_id=aggregate),
        MSP_NOTIFICATION_EVENTS.name: lambda: workitems.step_required(Step.PHONE, msp_id=aggregate),
        WORKITEM_COMMANDS.name: lambda: workitems.tick_off(aggregate),
    }
    return builders[topic]()


TOPICS = sorted(
    [
        MSP_APPROVALS.name,
        MSP_STAFF_ACTIONS.name,
        PAYMENT_ATTEMPTS.name,
        EXPENSE_ACTIONS.name,
        EXPENSE_EVENTS.name,
        MSP_NOTIFICATION_EVENTS.name,
        WORKITEM_COMMANDS.name,
    ]
)
CONSUMER = {
    MSP_APPROVALS.name: "notification",
    MSP_STAFF_ACTIONS.name: "notification",
    PAYMENT_ATTEMPTS.name: "expenses",
    EXPENSE_ACTIONS.name: "expenses",
    EXPENSE_EVENTS.name: "workitems",
    MSP_NOTIFICATION_EVENTS.name: "workitems",
    WORKITEM_COMMANDS.name: "workitems",
}

FAULTS = {  # the fault drawn -> the reason its dead letter must give
    "bad-header-name": "header-name-not-utf8",
    "lying-content-type": "content-type-not-json",
    "wrong-key": "key-mismatch",
    "not-json": "not-json",
    "deep": "too-deep",
    "long-number": "number-too-long",
    "too-large": "too-large",
    "near-broker-limit": "too-large",
    "schema-invalid": "schema-invalid",
    "unknown-type": "unknown-event-type",
    "null-value": "empty-message",
    "nul-character": "nul-character",
    "reused-id": "event-id-reused",
}
KINDS = ["valid", "valid-junk-headers", "repeat", *FAULTS]

header_names = (
    st.text(min_size=1, max_size=30).filter(lambda t: t.lower() != "content-type").map(str.encode)
)
"""Valid UTF-8 (NUL included): a name the services do not read."""
header_values = st.none() | st.binary(max_size=200)


def _not_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return True
    return False


@st.composite
def plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """What to send, in order: a topic, a kind and what the kind needs, per record."""
    steps = []
    for _ in range(draw(st.integers(min_value=20, max_value=40))):
        kind = draw(st.sampled_from(KINDS))
        step: dict[str, Any] = {
            "topic": draw(st.sampled_from(TOPICS)),
            "kind": kind,
            "seed": draw(st.integers(0, 2**32)),
        }
        if kind == "valid-junk-headers":
            step["headers"] = draw(
                st.lists(st.tuples(header_names, header_values), min_size=1, max_size=4)
            )
        if kind == "bad-header-name":
            step["headers"] = [(b"\xff" + draw(st.binary(max_size=30)), draw(header_values))]
        if kind == "lying-content-type":
            step["content_type"] = draw(
                st.one_of(
                    st.none(),
                    st.sampled_from([b"text/plain", b"application/xml"]),
                    st.binary(max_size=30).filter(lambda b: b"json" not in b.lower()),
                )
            )
        if kind == "not-json":
            step["body"] = draw(st.binary(min_size=1, max_size=2000).filter(_not_json))
        if kind == "deep":
            step["depth"] = draw(st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=6000))
        if kind == "long-number":
            step["digits"] = draw(st.integers(min_value=MAX_NUMBER_CHARS + 1, max_value=6000))
        if kind == "too-large":
            step["size"] = draw(
                st.integers(min_value=MAX_RECORD_BYTES + 1, max_value=MAX_RECORD_BYTES + 4096)
            )
        if kind == "near-broker-limit":
            step["size"] = draw(st.integers(min_value=1_000_000, max_value=1_040_000))
        if kind == "unknown-type":
            step["event_type"] = draw(st.text(max_size=80).filter(lambda t: "\x00" not in t))
        steps.append(step)
    return steps


@dataclass
class Sent:
    topic: str  # without the prefix
    partition: int
    offset: int
    kind: str
    event: Event | None  # the valid event, where the record is one


def _materialise(
    plan: list[dict[str, Any]], salt: str
) -> Iterator[tuple[str, RawRecord, str, Event | None]]:
    """(topic, record, kind, valid event) per step; a repeat or a reuse without an earlier valid event is valid."""
    earlier: dict[str, list[tuple[RawRecord, Event]]] = collections.defaultdict(list)
    json_type = ((b"content-type", b"application/json"),)
    for n, step in enumerate(plan):
        topic, kind, seed = step["topic"], step["kind"], step["seed"]
        if kind in ("repeat", "reused-id") and not earlier[topic]:
            kind = "valid"
        event = _valid(topic, f"Z{salt}-{n}")
        body, key = event.to_json(), event.key.encode()
        data = json.loads(body)
        record = RawRecord(body, key=key, headers=json_type)
        if kind == "valid-junk-headers":
            record = RawRecord(body, key=key, headers=tuple(step["headers"]))
        elif kind == "repeat":
            record, event = earlier[topic][seed % len(earlier[topic])]
        elif kind == "reused-id":
            first, original = earlier[topic][seed % len(earlier[topic])]
            event = original.model_copy(update={"correlation_id": uuid.uuid4()})
            record = RawRecord(event.to_json(), key=first.key, headers=json_type)
        elif kind == "bad-header-name":
            record = RawRecord(body, key=key, headers=tuple(step["headers"]))
        elif kind == "lying-content-type":
            record = RawRecord(body, key=key, headers=((b"content-type", step["content_type"]),))
        elif kind == "wrong-key":
            record = RawRecord(body, key=[None, b"", key + b"x"][seed % 3], headers=json_type)
        elif kind == "not-json":
            record = RawRecord(step["body"], key=key)
        elif kind == "deep":
            record = RawRecord(
                b'{"a": ' + b"[" * step["depth"] + b"]" * step["depth"] + b"}", key=key
            )
        elif kind == "long-number":
            record = RawRecord(
                body.replace(b'"event_id"', b'"n": ' + b"7" * step["digits"] + b', "event_id"', 1),
                key=key,
            )
        elif kind in ("too-large", "near-broker-limit"):
            record = RawRecord(
                body[:-1] + b', "pad": "' + b"p" * step["size"] + b'"}', key=key, headers=json_type
            )
        elif kind == "schema-invalid":
            record = RawRecord(json.dumps({**data, "producer": "p" * 65}).encode(), key=key)
        elif kind == "unknown-type":
            record = RawRecord(
                json.dumps({**data, "event_type": "X" + step["event_type"]}).encode(), key=key
            )
        elif kind == "null-value":
            record = RawRecord(None, key=key)
        elif kind == "nul-character":
            record = RawRecord(json.dumps({**data, "producer": "up\x00stream"}).encode(), key=key)
        valid = kind in (
            "valid",
            "valid-junk-headers",
        )  # a reused id's event is not one: its dead letter is
        if valid:
            earlier[topic].append((record, event))
        yield topic, record, kind, event if valid or kind == "repeat" else None


class Loop:
    """An event loop in a thread of its own: the services run on it across hypothesis's examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class System:
    def __init__(self, kafka: KafkaInfo, database_url: str, prefix: str) -> None:
        common: dict[str, Any] = {
            "database_url": database_url,
            "topic_prefix": prefix,
            "topic_partitions": PARTITIONS,
        }
        self.kafka, self.prefix = kafka, prefix
        self.services: dict[str, ServiceRuntime] = {
            "notification": notification_runtime(
                NotificationSettings(**common, **kafka.settings("notification"))
            ),
            "expenses": expenses_runtime(ExpensesSettings(**common, **kafka.settings("expenses"))),
            "workitems": workitems_runtime(
                WorkitemsSettings(**common, **kafka.settings("workitems"))
            ),
        }

    async def start(self) -> None:
        for runtime in self.services.values():
            await provisioned(runtime)
            await runtime.start()
        self.publisher = await RawPublisher(self.kafka.bootstrap_servers).start()

    async def stop(self) -> None:
        await self.publisher.close()
        for runtime in self.services.values():
            await runtime.stop()

    async def publish(self, topic: str, record: RawRecord) -> Sent:
        partition = partition_of(record.key, PARTITIONS) if record.key else 0
        offset = await self.publisher.publish(self.prefix + topic, [record], partition=partition)
        return Sent(topic, partition, offset, "", None)

    async def quiet(self) -> bool:
        """Every service has committed every offset of its topics and published every row of its outbox."""
        for runtime in self.services.values():
            if not await drained(runtime):
                return False
        return True

    async def handled(self, service: str, event_ids: list[str]) -> set[str]:
        conn = await asyncpg.connect(
            self.services[service].settings.database_url, server_settings={"search_path": service}
        )
        try:
            rows = await conn.fetch(
                "SELECT message_id FROM inbox WHERE message_id = ANY($1::text[])", event_ids
            )
        finally:
            await conn.close()
        return {r["message_id"] for r in rows}

    def metric(self, name: str, **labels: str) -> float:
        return sum(
            metric_sum(runtime.metrics.registry, name, **labels)
            for runtime in self.services.values()
        )


# The services run in another thread while hypothesis generates: their clients and backoff jitter use `random`.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_hostile_records_on_every_input_topic_are_each_accounted_for_and_the_valid_ones_handled_once(
    kafka, database_url, topic_prefix, report
):
    loop = Loop()
    system = System(kafka, database_url, topic_prefix)
    loop.run(system.start())
    sent: list[Sent] = []
    repeats = 0
    try:

        @settings(  # type: ignore[untyped-decorator]
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[
                Phase.explicit,
                Phase.generate,
            ],  # no shrinking: each example adds to one running system
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )
        @given(plan=plans())  # type: ignore[untyped-decorator]
        def example(plan: list[dict[str, Any]]) -> None:
            nonlocal repeats
            for topic, record, kind, event in _materialise(plan, uuid.uuid4().hex[:8]):
                outcome = loop.run(system.publish(topic, record))
                outcome.kind, outcome.event = kind, event
                sent.append(outcome)
                repeats += kind == "repeat"
            loop.run(eventually(system.quiet, timeout=120, what="the system quiet"), timeout=180)
            check(loop, system, sent, repeats)

        example()
    finally:
        loop.run(system.stop())
        loop.close()
    kinds = collections.Counter(s.kind for s in sent)
    report(
        f"fuzz: {len(sent)} records over {EXAMPLES} sequences on {len(TOPICS)} topics, every one accounted for: "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )


def check(loop: Loop, system: System, sent: list[Sent], repeats: int) -> None:
    valid = [s for s in sent if s.event is not None and s.kind != "repeat"]
    for service in ("notification", "expenses", "workitems"):
        ids = [
            str(s.event.event_id)
            for s in valid
            if CONSUMER[s.topic] == service and s.event is not None
        ]
        assert loop.run(system.handled(service, ids)) == set(ids), (
            f"{service} handled every valid record"
        )
    faulty = {
        (system.prefix + s.topic, s.partition, s.offset): FAULTS[s.kind]
        for s in sent
        if s.kind in FAULTS
    }
    dead = {}
    for topic in TOPICS:
        for r in loop.run(read_all(system.kafka.bootstrap_servers, system.prefix + topic + ".dlq")):
            headers = {
                k: bytes(v).decode()
                for k, v in r.headers
                if k
                in ("dlq.reason", "dlq.origin.topic", "dlq.origin.partition", "dlq.origin.offset")
                and v is not None
            }
            origin = (
                headers["dlq.origin.topic"],
                int(headers["dlq.origin.partition"]),
                int(headers["dlq.origin.offset"]),
            )
            assert origin not in dead, f"one dead letter per record: {origin}"
            dead[origin] = headers["dlq.reason"]
    assert dead == faulty, (
        "every faulty record, and nothing else, dead-lettered with its fault's reason"
    )
    assert system.metric("messages_consumed_total", outcome="duplicate") == repeats, (
        "every repeat a duplicate"
    )
    ours = {(system.prefix + s.topic, s.partition, s.offset) for s in sent}
    for topic in (
        EXPENSE_EVENTS.name,
        MSP_NOTIFICATION_EVENTS.name,
        "workitems.events",
        "msp.sms-dispatch",
    ):
        records = loop.run(read_all(system.kafka.bootstrap_servers, system.prefix + topic))
        outputs = [
            json.loads(r.value)["event_id"]
            for r in records
            if (r.topic, r.partition, r.offset) not in ours
        ]
        assert len(outputs) == len(set(outputs)), f"no output published twice on {topic}"
    for upstream in (PAYMENT_ATTEMPTS, MSP_APPROVALS):
        answered(loop, system, sent, upstream)
    assert system.metric("consumer_crashes_total") == 0, "no consumer crashed"
    for name, runtime in system.services.items():
        checks = loop.run(runtime.readiness())
        assert all(checks.values()), f"{name} ready: {checks}"


def answered(loop: Loop, system: System, sent: list[Sent], upstream: Topic) -> None:
    """Issue 41: every record an upstream system wrote is answered on its outcome channel, once (a repeat is not
    answered again), and dead-lettered there exactly when it was faulty."""
    answers = CATALOGUE.outcomes_of(upstream.name)
    assert answers is not None
    told: collections.Counter[tuple[str, int, int]] = collections.Counter()
    dead: set[tuple[str, int, int]] = set()
    for r in loop.run(read_all(system.kafka.bootstrap_servers, system.prefix + answers.name)):
        outcomes = cast(InputOutcomes, answers.parse(r.value))
        for answer in outcomes.answers:
            where = (outcomes.topic, outcomes.partition, answer.offset)
            told[where] += 1
            if answer.outcome is Outcome.DEAD_LETTERED:
                dead.add(where)
    mine = [s for s in sent if s.topic == upstream.name and s.kind != "repeat"]
    assert set(told) == {(system.prefix + s.topic, s.partition, s.offset) for s in mine}, (
        f"each record of {upstream.name} answered, a repeat not again"
    )
    assert set(told.values()) <= {1}, "answered once"
    assert dead == {
        (system.prefix + s.topic, s.partition, s.offset) for s in mine if s.kind in FAULTS
    }, "dead-lettered exactly when it was faulty"


async def test_a_record_over_the_brokers_limit_is_refused_to_its_producer_and_never_reaches_a_consumer(
    kafka, topic_prefix
):
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**kafka.access.client())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{topic_prefix}big", 1, 1)])
    finally:
        await admin.close()
    with pytest.raises(RuntimeError, match="error code 10"):  # MESSAGE_TOO_LARGE
        await publish_raw(
            kafka.bootstrap_servers, f"{topic_prefix}big", [RawRecord(b"x" * (1024 * 1024 + 1))]
        )
