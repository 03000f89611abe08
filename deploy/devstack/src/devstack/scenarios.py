"""Sample scenarios (``scenarios/*.json``) replayed through the real services, checked and summarised.

A scenario is a story in absolute time: each step moves every service's simulated clock to its
instant (firing what fell due), optionally publishes one upstream or officer message, and waits
until the whole system is quiet (no consumer lag, empty outboxes, every output read back). Then the
outputs of the scenario (matched by its correlation id) are compared with what the file expects,
and the work items' final statuses are read from the workitems API.

The demo (``./dev demo``) and the end-to-end tests use this same runner on the same files.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.phones import e164
from contracts.procedures import BY_ID
from contracts.topics import ContractError
from devstack.kafka import KafkaAccess

SCENARIO_DIR = Path(__file__).resolve().parents[4] / "scenarios"
OFFICERS_FRONT_DOOR = "console"
SYDNEY = ZoneInfo("Australia/Sydney")
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "phone",
        "customer_mobile",
        "doc_note",
        "behaviours",
        "what",
        "reasons",
        "duration_reasons",
        "service_access",
        "urgent_query_voicemail",
        "fact",
        "customer_ref",
        "msp_note",
    }
)
"""Fields of the sample data whose values must never reach a log line (customer_ref: only as a pseudonym)."""
PHONE_FIELDS = frozenset({"phone", "customer_mobile", "urgent_query_voicemail"})


class ScenarioError(ValueError):
    """A scenario file that cannot be run (bad JSON, an event its topic's contract refuses, time going back)."""


@dataclass(frozen=True)
class Step:
    at: datetime
    say: str
    topic: str | None = None
    event: dict[str, Any] | None = None
    raw: str | None = None
    """A deliberately malformed message (for the dead-letter branch), published as these bytes."""
    key: str | None = None


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    procedure: str
    branch: str
    steps: tuple[Step, ...]
    expect: dict[str, Any]
    rules: tuple[str, ...] = ()
    """The procedures' rules (``contracts.procedures`` ids) this scenario exercises."""
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def starts_at(self) -> datetime:
        return self.steps[0].at

    @property
    def ends_at(self) -> datetime:
        return self.steps[-1].at

    def keys(self) -> set[str]:
        return {s.key for s in self.steps if s.key}


def load(path: Path) -> Scenario:
    try:
        data = json.loads(path.read_text())
        steps = tuple(_step(s) for s in data["steps"])
        scenario = Scenario(
            path=path,
            name=data["name"],
            procedure=data["procedure"],
            branch=data["branch"],
            steps=steps,
            expect=data["expect"],
            rules=tuple(data.get("rules", ())),
        )
        if unknown := [r for r in scenario.rules if r not in BY_ID]:
            raise ValueError(f"no such rule: {', '.join(unknown)} (see contracts.procedures)")
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{path.name}: {exc}") from exc
    if any(b.at < a.at for a, b in itertools.pairwise(steps)):
        raise ScenarioError(f"{path.name}: steps must be in time order")
    for step in steps:
        if step.event is not None:
            build(scenario, step)  # refuse a file whose events the contracts would dead-letter
    return scenario


def _step(data: dict[str, Any]) -> Step:
    at = datetime.fromisoformat(data["at"])
    if at.tzinfo is None:
        raise ValueError(f"{data['at']} has no timezone offset")
    topic, event, raw = data.get("send"), data.get("event"), data.get("raw")
    if (event is not None or raw is not None) and topic not in {t.name for t in CATALOGUE.topics}:
        raise ValueError(f"unknown topic {topic!r}")
    key = None
    if event is not None:
        key = str(event.get(CATALOGUE[str(topic)].key, ""))
    elif raw is not None:
        key = data["key"]
    return Step(at=at, say=data["say"], topic=topic, event=event, raw=raw, key=key)


def load_all(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario, in time order; they may run one after another on one clock only if none overlaps."""
    scenarios = sorted(
        (load(p) for p in sorted(directory.glob("*.json"))), key=lambda s: s.starts_at
    )
    for a, b in itertools.pairwise(scenarios):
        if b.starts_at <= a.ends_at:
            raise ScenarioError(f"{b.id} starts before {a.id} ends: give it a later time")
    return scenarios


def message(scenario: Scenario, step: Step) -> dict[str, Any]:
    """The step's message as its producer sends it: the envelope (a fresh id, the step's time, the scenario's
    correlation id, the topic's producer) and the step's event."""
    assert step.topic is not None
    assert step.event is not None
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": step.at.isoformat(),
        "correlation_id": str(scenario.correlation_id),
        "producer": CATALOGUE[step.topic].producer,
        **step.event,
    }


def build(scenario: Scenario, step: Step) -> Event:
    """The step's message read by its topic's contract."""
    assert step.topic is not None
    topic = CATALOGUE[step.topic]
    data = message(scenario, step)
    try:
        return topic.parse(json.dumps(data).encode())
    except ContractError as exc:
        raise ScenarioError(f"{scenario.id}: {step.say}: {exc}") from exc


def personal_strings(scenarios: Iterable[Scenario]) -> set[str]:
    """Every name, phone number, note, behaviour, risk fact and customer reference in the sample data."""
    found: set[str] = set()

    def walk(value: Any, name: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, name)
        elif isinstance(value, str) and name in PERSONAL_FIELDS and len(value) >= 4:
            found.add(value)
            if name in PHONE_FIELDS:
                found.add(e164(value))  # as the services keep it

    for scenario in scenarios:
        for step in scenario.steps:
            walk(step.event or {}, None)
    return found


# --------------------------------------------------------------------------- what a run shows


def label(e: Event) -> str:
    """A compact, comparable name for an output: its type and what distinguishes it."""
    t = e.event_type
    step, code = getattr(e, "step", None), getattr(e, "code", None)
    reason_code, outcome, status = (
        getattr(e, "reason_code", None),
        getattr(e, "outcome", None),
        getattr(e, "status", None),
    )
    if t == "MspStepDone":
        return f"{t}:{step}={outcome}"
    if step is not None:
        return f"{t}:{step}"
    if code is not None:
        return f"{t}:{code}" + (f"={reason_code}" if reason_code else "")
    if reason_code is not None:
        return f"{t}:{reason_code}"
    if isinstance(status, str):
        return f"{t}:{status}"
    return t


def _local(moment: Any) -> str:
    return (
        moment.astimezone(SYDNEY).strftime("%a %d %b %Y %H:%M")
        if isinstance(moment, datetime)
        else str(moment)
    )


def describe(e: Event) -> str:
    """One line of the demo's summary for an output (synthetic data only: reason codes are shown)."""

    def g(name: str) -> Any:
        return getattr(e, name, None)

    match e.event_type:
        case "ExpenseUndelivered":
            return f"{g('expense_id')} {g('status')}: retried until {_local(g('window_closes_at'))} (step {g('procedure_step')})"
        case "UndeliveredExpensePeriodClosed":
            return (
                f"{g('expense_id')} window closed unpaid for the period starting {g('period_start')} "
                f"(step {g('procedure_step')})"
            )
        case "ExpenseDelivered":
            late = " after failing" if g("was_undelivered") else ""
            return f"{g('expense_id')} delivered{late} (period starting {g('period_start')})"
        case "ExpenseClosureReversed":
            return f"{g('expense_id')} closure reversed: the period starting {g('period_start')} was paid after all"
        case "ExpenseCeased":
            return f"{g('expense_id')} ceased by {g('officer_id')}: no further payments, this period included"
        case "OneOffExpenseCoded":
            return f"{g('expense_id')} coded as a one-off: day 1 {g('day_1')}, day 2 {g('day_2')}"
        case "ExpenseRemovalEscalationRequested":
            return f"{g('expense_id')} removal escalation: " + " ".join(g("steps") or [])
        case "ExpenseRemoved":
            return (
                f"{g('expense_id')} removed by the ICT Service Desk; another expense can be coded"
            )
        case "MspNotificationCompleted":
            return (
                f"notification complete: phone {g('phone')}; SMS {g('sms')}; letter {g('letter')}"
            )
        case "SmsDispatchRequested":
            return f"SMS sent to the gateway ({g('fragments')} fragment(s), {g('encoding')})"
        case "MspSmsWithheld":
            return f"SMS withheld: {g('reason_code')}"
        case "MspStepDone":
            return f"step {g('step')} done: {g('outcome')}" + (
                f" ({g('reason_code')})" if g("reason_code") else ""
            )
        case "MspStepRequired":
            return f"step {g('step')} required"
        case "WorkItemRaised":
            return f"work item raised: {g('work_item_id')} on {g('queue')}"
        case "WorkItemTickedOff":
            how = "with a DOC note" if g("doc_recorded") else f"automatically ({g('outcome')})"
            return f"work item ticked off: {g('work_item_id')} by {g('actor')} {how}"
        case "WorkItemCancelled":
            return f"work item cancelled: {g('work_item_id')} ({g('reason_code')})"
        case "WorkItemAssigned":
            return f"work item assigned: {g('work_item_id')} to {g('assignee_id')}"
    if g("reason_code") is not None and e.event_type.endswith("Rejected"):
        return f"REJECTED {g('action')}: {g('reason_code')} - {g('reason')}"
    return label(e)


@dataclass
class Outcome:
    scenario: Scenario
    outputs: list[tuple[str, Event]]
    dead_letters: list[str]
    work_items: dict[str, str]
    mismatches: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> list[str]:
        s = self.scenario
        lines = [
            f"{'PASS' if self.ok else 'FAIL'}  {s.id}: {s.name}",
            f"      procedure {s.procedure}: {s.branch}",
        ]
        for step in s.steps:
            lines.append(f"      {_local(step.at)}  > {step.say}")
        for _, e in sorted(
            self.outputs, key=lambda o: o[1].occurred_at
        ):  # stable: topic order within an instant
            if e.event_type not in (
                "MspStepRequired",
                "MspNotificationPlanned",
                "MspSmsAuthorised",
                "MspLetterAccepted",
            ):
                lines.append(f"        - {describe(e)}")
        lines += [f"        - dead-lettered: {reason}" for reason in self.dead_letters]
        if self.work_items:
            lines.append(
                "      work items now: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.work_items.items()))
            )
        lines += [f"      MISMATCH {m}" for m in self.mismatches]
        return lines


# --------------------------------------------------------------------------- the runner


@dataclass(frozen=True)
class SystemUnderTest:
    kafka: KafkaAccess
    """The broker. The runner publishes each input as the upstream principal the catalogue names for its topic,
    and reads outputs, dead letters and group offsets as the admin (an operator's view)."""
    topic_prefix: str
    urls: dict[str, str]
    """service name -> base URL of its HTTP port."""
    token: str
    """A bearer token the workitems API accepts."""


class Runner:
    """Replays scenarios through a running system. Use as ``async with Runner(system) as runner``."""

    def __init__(
        self,
        system: SystemUnderTest,
        *,
        settle_timeout: float = 60.0,
        services: Sequence[str] | None = None,
    ) -> None:
        self.system = system
        self.settle_timeout = settle_timeout
        services = (
            tuple(system.urls) if services is None else services
        )  # the ones running: whose groups to wait on
        self.outputs: list[ConsumerRecord[Any, Any]] = []
        p = system.topic_prefix
        # The runner plays the officers: their staff actions (what the console writes) are the scenario's inputs.
        # An upstream system's outcomes are its answers, not the procedure's outputs (tests/faults/test_fuzz.py holds
        # that every record is answered once).
        self._output_topics = [
            p + t.name
            for s in services
            if s != OFFICERS_FRONT_DOOR
            for t in CATALOGUE.produced_by(s)
            if t.answers is None
        ]
        self._dlq_topics = [p + t.dlq for s in services for t in CATALOGUE.consumed_by(s)]
        self._groups = {f"{p}{s}": [p + t.name for t in CATALOGUE.consumed_by(s)] for s in services}
        self._inputs = sorted(
            {t for topics in self._groups.values() for t in topics} - set(self._output_topics)
        )
        self._kept = set(self._output_topics) | set(self._dlq_topics)

    async def __aenter__(self) -> Runner:
        kafka = self.system.kafka.client()
        self.producers: dict[str, AIOKafkaProducer] = {}
        # Every topic in play is assigned, so that each fetch (every 20 ms when idle) brings its high watermark.
        self.reader = AIOKafkaConsumer(
            **kafka, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=20
        )
        self.admin = AIOKafkaAdminClient(**kafka)
        self.http = httpx.AsyncClient(timeout=30)
        await self.reader.start()
        await self.admin.start()
        self._partitions = await self._assign(self._output_topics + self._dlq_topics + self._inputs)
        self._reading = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)
        await self.http.aclose()
        await self.admin.close()
        await self.reader.stop()
        for producer in self.producers.values():
            await producer.stop()

    async def _assign(self, topics: Sequence[str]) -> list[TopicPartition]:
        deadline = time.monotonic() + 60
        while True:
            await self.reader._client.force_metadata_update()
            found = {t: self.reader.partitions_for_topic(t) for t in topics}
            if all(found.values()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"topics never appeared: {[t for t, p in found.items() if not p]}"
                )
            await asyncio.sleep(0.2)
        partitions = [TopicPartition(t, p) for t, ps in found.items() for p in ps or ()]
        self.reader.assign(partitions)
        await self.reader.seek_to_beginning(*partitions)
        return partitions

    async def _read(self) -> None:
        while True:
            batch = await self.reader.getmany(timeout_ms=100)
            for tp, records in batch.items():
                if tp.topic in self._kept:
                    self.outputs.extend(records)

    # -- time and quiet -------------------------------------------------------------------------

    async def move_clocks(self, to: datetime) -> None:
        async def move(url: str) -> None:
            response = await self.http.post(
                f"{url}/clock", params={"to": to.isoformat()}, headers=self._auth
            )
            if response.status_code != 200:
                raise RuntimeError(f"{url}/clock answered {response.status_code}: {response.text}")

        await asyncio.gather(*(move(u) for u in self.system.urls.values()))

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.token}"}

    async def settle(self) -> None:
        """Wait until nothing is in flight: every group caught up, every outbox empty, every output read."""
        deadline, quiet = time.monotonic() + self.settle_timeout, 0
        while quiet < 2:
            quiet = quiet + 1 if await self._quiet() else 0
            if time.monotonic() > deadline:
                raise TimeoutError("the system did not settle")
            await asyncio.sleep(0.04)

    def _end(self, tp: TopicPartition) -> int | None:
        end: int | None = self.reader.highwater(
            tp
        )  # from the latest fetch response; None until the first one
        return end

    async def _quiet(self) -> bool:
        for url in self.system.urls.values():
            metrics = (await self.http.get(f"{url}/metrics", headers=self._auth)).text
            if "\noutbox_pending 0.0" not in metrics:
                return False
        for group, topics in self._groups.items():
            committed = await self.admin.list_consumer_group_offsets(group)
            for tp in (tp for tp in self._partitions if tp.topic in topics):
                meta, end = committed.get(tp), self._end(tp)
                if end is None or end > (
                    meta.offset if meta is not None and meta.offset >= 0 else 0
                ):
                    return False
        for tp in self._partitions:
            end = self._end(tp)
            if tp.topic in self._kept and (end is None or await self.reader.position(tp) < end):
                return False
        return True

    async def _producer(self, topic: str) -> AIOKafkaProducer:
        """A producer that connects as the topic's producer in the catalogue (``payments-system``,
        ``msp-approvals``, ``staff-ui``): what an upstream system may do, and nothing more."""
        principal = CATALOGUE[topic].producer
        if principal not in self.producers:
            producer = AIOKafkaProducer(
                **self.system.kafka.client(principal), acks="all", enable_idempotence=True
            )
            await producer.start()
            self.producers[principal] = producer
        return self.producers[principal]

    async def _publish(self, topic: str, value: bytes, key: bytes) -> None:
        """Publish and wait until the reader has seen it, so that the next quiet check counts it."""
        sent = await (await self._producer(topic)).send_and_wait(
            self.system.topic_prefix + topic, value, key=key
        )
        tp = TopicPartition(sent.topic, sent.partition)
        deadline = time.monotonic() + 30
        while (self._end(tp) or 0) <= sent.offset:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{tp} never showed offset {sent.offset}")
            await asyncio.sleep(0.01)

    # -- scenarios ------------------------------------------------------------------------------

    async def run(self, scenario: Scenario) -> Outcome:
        started = time.perf_counter()
        for step in scenario.steps:
            await self.move_clocks(step.at)
            await self.settle()
            if step.event is not None:
                event = build(scenario, step)
                await self._publish(step.topic or "", event.to_json(), event.key.encode())
            elif step.raw is not None:
                await self._publish(step.topic or "", step.raw.encode(), (step.key or "").encode())
            await self.settle()
        outputs, dead = self._outputs_of(scenario)
        work_items = await self._work_items(outputs)
        mismatches = check(scenario, outputs, dead, work_items)
        return Outcome(
            scenario, outputs, dead, work_items, mismatches, time.perf_counter() - started
        )

    def _outputs_of(self, scenario: Scenario) -> tuple[list[tuple[str, Event]], list[str]]:
        prefix, keys = self.system.topic_prefix, scenario.keys()
        outputs: list[tuple[str, Event]] = []
        dead: list[str] = []
        for record in self.outputs:
            name = record.topic[len(prefix) :]
            if name.endswith(".dlq"):
                if record.key is not None and record.key.decode() in keys:
                    headers = {k: bytes(v).decode() for k, v in record.headers or ()}
                    dead.append(
                        f"{name}: {headers.get('dlq.reason')} ({headers.get('dlq.detail')})"
                    )
                continue
            event = CATALOGUE[name].parse(record.value)
            if event.correlation_id == scenario.correlation_id:
                outputs.append((name, event))
        return outputs, dead

    async def _work_items(self, outputs: list[tuple[str, Event]]) -> dict[str, str]:
        ids = {e.key for _, e in outputs if e.event_type == "WorkItemRaised"}
        statuses: dict[str, str] = {}
        for work_item_id in sorted(ids):
            response = await self.http.get(
                f"{self.system.urls['workitems']}/work-items/{work_item_id}", headers=self._auth
            )
            response.raise_for_status()
            statuses[work_item_id] = response.json()["item"]["status"]
        return statuses


def check(
    scenario: Scenario,
    outputs: list[tuple[str, Event]],
    dead: list[str],
    work_items: dict[str, str],
) -> list[str]:
    """What differs from the file's ``expect``: outputs per topic (as multisets of labels), dead letters
    (by reason), and each work item's final status."""
    expect, problems = scenario.expect, []
    for topic, labels in expect.get("events", {}).items():
        got = Counter(label(e) for t, e in outputs if t == topic)
        want = Counter(labels)
        if got != want:
            missing, extra = sorted((want - got).elements()), sorted((got - want).elements())
            problems.append(f"{topic}: missing {missing or '-'}; unexpected {extra or '-'}")
    silent = {t for t, _ in outputs} - set(expect.get("events", {}))
    problems += [f"{t}: outputs where none were expected" for t in sorted(silent)]
    want_dead = sorted(expect.get("dead_letters", []))
    got_dead = sorted(d.split(" (", 1)[0] for d in dead)
    if got_dead != want_dead:
        problems.append(f"dead letters: expected {want_dead}, got {got_dead}")
    if work_items != expect.get("work_items", {}):
        problems.append(f"work items: expected {expect.get('work_items', {})}, got {work_items}")
    return problems
