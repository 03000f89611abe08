"""Faults on the real broker and database, with the services as real processes and over a thousand events in
flight: kill -9 of each service mid-stream, the broker and the database stopped and started mid-stream, poison
messages interleaved; then two instances of a service sharing a topic's partitions, one killed.

After each fault: no event lost, no work item raised twice, every due window closed exactly once, and every
poison message on its dead-letter topic with its reason. Outputs are counted by ``event_id``: a re-published
output keeps its id (it derives from its cause), so consumers drop the copy; two different ids for one fact
would be a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.catalogue import (
    CATALOGUE,
    EXPENSE_ACTIONS,
    EXPENSE_EVENTS,
    MSP_APPROVALS,
    PAYMENT_ATTEMPTS,
)
from contracts.envelope import Event
from contracts.expenses import PaymentAttempted
from contracts.notification import MspApproved
from contracts.roles import OPERATIONS
from devstack import backup
from devstack.processes import ServiceProcess
from devstack.scenarios import Runner, SystemUnderTest
from devstack.synthetic import failed_weekly_attempt, medicare_approval
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer
from tests.expenses.builders import code
from tests.support.bus import provision_catalogue, start_processes, stop_processes
from tests.support.kafka_tools import client, eventually

pytestmark = pytest.mark.e2e

SYDNEY = ZoneInfo("Australia/Sydney")
T0 = datetime(
    2027, 3, 1, 10, 0, tzinfo=SYDNEY
)  # a Monday: every weekly window closes at 00:00 on 8 March
SERVICES = ("notification", "expenses", "workitems")
PER_PHASE = 120  # payment attempts and as many MSP approvals per phase; five phases


def attempt(i: int) -> PaymentAttempted:
    return failed_weekly_attempt(f"EXP-F{i:05d}", f"CRN-F{i:05d}", T0)


def approval(i: int) -> MspApproved:
    return medicare_approval(f"MSP-F{i:05d}", f"CRN-F{i:05d}", T0)


class Load:
    """Publishes numbered attempts and approvals with a poison message every 40th, and knows what must follow."""

    def __init__(self, bootstrap: str, prefix: str, *, msp: bool = True) -> None:
        self.bootstrap, self.prefix, self.msp = bootstrap, prefix, msp
        self.sent = 0
        self.poison = 0

    async def publish(self, count: int) -> None:
        # An upstream system waits out a paused or failing-over leader: a send may wait for its batch to drain for
        # longer than a 30 s pause on a busy machine (the default 40 s is not enough there).
        producer = AIOKafkaProducer(
            **client(self.bootstrap),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=180_000,
        )
        await producer.start()
        try:
            for i in range(self.sent, self.sent + count):
                events: list[tuple[str, Event]] = [(PAYMENT_ATTEMPTS.name, attempt(i))]
                if self.msp:
                    events.append((MSP_APPROVALS.name, approval(i)))
                for topic, event in events:
                    await producer.send(
                        self.prefix + topic, event.to_json(), key=event.key.encode()
                    )
                if i % 40 == 0 and self.msp:
                    await producer.send(
                        self.prefix + PAYMENT_ATTEMPTS.name, b"{not json", key=b"poison"
                    )
                    await producer.send(
                        self.prefix + MSP_APPROVALS.name,
                        b'{"event_type": "MspApproved"}',
                        key=b"poison",
                    )
                    self.poison += 2
            await producer.flush()
        finally:
            await producer.stop()
        self.sent += count


def distinct(
    runner: Runner, event_type: str, key: Callable[[Event], str]
) -> dict[str, set[uuid.UUID]]:
    """For each aggregate, the distinct event ids of ``event_type`` read back from the output topics."""
    found: dict[str, set[uuid.UUID]] = defaultdict(set)
    prefix = runner.system.topic_prefix
    for record in runner.outputs:
        name = record.topic[len(prefix) :]
        if name.endswith(".dlq"):
            continue
        event = CATALOGUE[name].parse(record.value)
        if event.event_type == event_type:
            found[key(event)].add(event.event_id)
    return found


def assert_exactly_once(found: dict[str, set[uuid.UUID]], expected: set[str], what: str) -> None:
    missing = expected - set(found)
    extra = set(found) - expected
    twice = {k: len(v) for k, v in found.items() if len(v) != 1}
    assert not missing, f"{what}: {len(missing)} lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{what}: unexpected {sorted(extra)[:3]}"
    assert not twice, f"{what}: more than one distinct event for {dict(list(twice.items())[:3])}"


def dead_letters(runner: Runner) -> dict[tuple[str, str], str]:
    """(origin topic, origin offset) -> reason, over every dead-letter topic."""
    found = {}
    for record in runner.outputs:
        if record.topic.endswith(".dlq"):
            headers = {k: bytes(v).decode() for k, v in record.headers or ()}
            found[(headers["dlq.origin.topic"], headers["dlq.origin.offset"])] = headers[
                "dlq.reason"
            ]
    return found


class Stack:
    def __init__(
        self,
        kafka,
        database_url: str,
        prefix: str,
        log_dir: Path,
        services: Sequence[str] = SERVICES,
    ) -> None:
        self.signer = Signer(audience=SYSTEM_AUDIENCES)
        env = {
            **kafka.access.env(services),
            "DATABASE_URL": database_url,
            "TOPIC_PREFIX": prefix,
            "CLOCK": "simulated",
            "CLOCK_START": T0.isoformat(),
            **self.signer.env(),
        }
        self.kafka, self.prefix = kafka, prefix
        self.services = {n: ServiceProcess(n, env, log_dir) for n in services}
        self.token = self.signer.token("OFF-FAULTS", expires_in=3600, roles=EVERY_ROLE)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self) -> None:
        await start_processes(self.prefix, self.services.values(), self.auth)

    def stop(self) -> None:
        stop_processes(self.services.values())

    async def metric(self, name: str, metric: str) -> float:
        """The sum of ``metric``'s samples on service ``name``'s /metrics."""
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"{self.services[name].url}/metrics", headers=self.auth)).text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(metric)
        )

    async def busy(self, name: str, before: float) -> None:
        """Until service ``name`` has handled some of what was just published (so a fault lands mid-stream)."""

        async def moved() -> bool:
            return await self.metric(name, "messages_consumed_total{") > before

        await eventually(moved, timeout=60, what=f"{name} busy")

    async def notices(self, check: str) -> None:
        """Until a service's /ready reports ``check`` failing: the outage is felt, not assumed."""

        async def failing() -> bool:
            async with httpx.AsyncClient(timeout=10) as http:
                try:
                    body = (await http.get(f"{self.services['expenses'].url}/ready")).json()
                except httpx.HTTPError:
                    return False
            return body["checks"].get(check) is False

        await eventually(failing, timeout=60, what=f"/ready reporting {check} down")

    def runner(self) -> Runner:
        urls = {n: s.url for n, s in self.services.items()}
        # A bound, not a wait: after a broker restart on a busy machine the single broker reloads every partition the
        # run has created (thousands) before it leads them all again; once quiet, the check goes on at once.
        return Runner(
            SystemUnderTest(self.kafka.access, self.prefix, urls, self.token), settle_timeout=600
        )

    async def check(self, load: Load, *, closed: bool = False) -> None:
        async with self.runner() as runner:
            await runner.settle()
            expenses = {f"EXP-F{i:05d}" for i in range(load.sent)}
            msps = {f"MSP-F{i:05d}" for i in range(load.sent)}
            assert_exactly_once(
                distinct(runner, "ExpenseUndelivered", lambda e: e.key), expenses, "UNDLVD RI"
            )
            assert_exactly_once(
                distinct(runner, "MspNotificationPlanned", lambda e: e.key), msps, "MSP planned"
            )
            raised = distinct(runner, "WorkItemRaised", lambda e: e.key)
            assert_exactly_once(
                {k: v for k, v in raised.items() if k.startswith("MSP-PHONE")},
                {f"MSP-PHONE:{m}" for m in msps},
                "MSP phone task",
            )
            if closed:
                assert_exactly_once(
                    distinct(runner, "UndeliveredExpensePeriodClosed", lambda e: e.key),
                    expenses,
                    "window closed",
                )
                assert_exactly_once(
                    {k: v for k, v in raised.items() if k.startswith("I059PL")},
                    {f"I059PL:{e}:{T0.date()}" for e in expenses},
                    "I059PL",
                )
            dead = dead_letters(runner)
            assert len(dead) == load.poison, (
                f"{len(dead)} dead letters for {load.poison} poison messages"
            )
            assert set(dead.values()) == {"not-json", "schema-invalid"}


@contextlib.asynccontextmanager
async def running(
    kafka, postgres, database_url: str, prefix: str, log_dir: Path, services: Sequence[str]
) -> AsyncIterator[Stack]:
    if kafka.local is None or postgres.local is None:
        pytest.fail(
            "the fault tests stop and restart the broker and the database: they need the local servers "
            "(unset KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL)"
        )
    system = Stack(kafka, database_url, prefix, log_dir, services)
    await system.start()
    try:
        yield system
    finally:
        system.stop()


@pytest.fixture
async def stack(kafka, postgres, database_url, topic_prefix, tmp_path) -> AsyncIterator[Stack]:
    async with running(kafka, postgres, database_url, topic_prefix, tmp_path, SERVICES) as system:
        yield system


@pytest.fixture
async def stack_with_console(
    kafka, postgres, database_url, topic_prefix, tmp_path
) -> AsyncIterator[Stack]:
    """The three services and the officers' console, which reads their outcomes and keeps its own schema."""
    services = (*SERVICES, "console")
    async with running(kafka, postgres, database_url, topic_prefix, tmp_path, services) as system:
        yield system


@pytest.mark.own_servers  # it stops the run's broker and database
async def test_kills_outages_and_poison_lose_nothing_and_duplicate_nothing(
    stack: Stack, kafka, postgres
) -> None:
    load = Load(kafka.bootstrap_servers, stack.prefix)

    for name in (
        "expenses",
        "notification",
        "workitems",
    ):  # kill -9 of each service mid-stream, then restart
        before = await stack.metric(name, "messages_consumed_total{")
        await load.publish(PER_PHASE // 2)
        await stack.busy(name, before)
        stack.services[name].kill()
        await load.publish(PER_PHASE // 2)  # while it is down
        await stack.services[name].start().ready(stack.auth)
        await stack.check(load)

    for server, check in (
        (kafka.local, "broker"),
        (postgres.local, "database"),
    ):  # stopped with events in flight
        before = await stack.metric("expenses", "messages_consumed_total{")
        await load.publish(PER_PHASE)
        await stack.busy("expenses", before)
        server.stop(keep_data=True)
        await stack.notices(check)
        server.restart()
        await stack.check(load)
    assert 2 * load.sent + load.poison >= 1000, "at least a thousand events went through the faults"

    # Eight days on, every window is due: expenses is killed while it closes them, and restarted.
    later = T0 + timedelta(days=8)
    async with stack.runner() as runner:
        moving = asyncio.create_task(
            runner.http.post(
                f"{stack.services['expenses'].url}/clock",
                params={"to": later.isoformat()},
                headers=stack.auth,
            )
        )

        async def firing() -> bool:
            return await stack.metric("expenses", "timers_fired_total") > 0 or moving.done()

        await eventually(firing, timeout=60, what="expenses closing windows")
        stack.services["expenses"].kill()
        await asyncio.gather(moving, return_exceptions=True)
    await stack.services["expenses"].start(CLOCK_START=later.isoformat()).ready(stack.auth)
    async with stack.runner() as runner:
        await runner.move_clocks(
            later
        )  # the restarted instance has fired what was due by the time this answers
    await stack.check(load, closed=True)


async def _six_partitions(
    kafka, database_url: str, topic_prefix: str, signer: Signer
) -> dict[str, str]:
    """The catalogue's topics with six partitions, and the environment of service instances that share them."""
    await provision_catalogue(topic_prefix, partitions=6)
    return {
        **kafka.access.env(SERVICES),
        "DATABASE_URL": database_url,
        "TOPIC_PREFIX": topic_prefix,
        "TOPIC_PARTITIONS": "6",
        "CLOCK": "simulated",
        "CLOCK_START": T0.isoformat(),
        **signer.env(),
    }


async def test_two_instances_share_the_partitions_and_one_takes_over_when_the_other_is_killed(
    kafka, database_url, topic_prefix, tmp_path
) -> None:
    signer = Signer(audience=SYSTEM_AUDIENCES)
    auth = signer.bearer("OFF-FAULTS", roles=[OPERATIONS])
    env = await _six_partitions(kafka, database_url, topic_prefix, signer)
    first = ServiceProcess("expenses", env, tmp_path, "expenses-a").start()
    await first.ready()
    second = ServiceProcess("expenses", env, tmp_path, "expenses-b").start()
    try:
        await second.ready()
        load = Load(kafka.bootstrap_servers, topic_prefix, msp=False)
        await load.publish(300)

        async def consumed(service: ServiceProcess) -> float:
            async with httpx.AsyncClient(timeout=5) as http:
                text = (await http.get(f"{service.url}/metrics", headers=auth)).text
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("messages_consumed_total{") and "payment-attempts" in line
            )

        deadline = asyncio.get_running_loop().time() + 60
        while min(await consumed(first), await consumed(second)) == 0:
            assert asyncio.get_running_loop().time() < deadline, (
                "both instances should get partitions"
            )
            await asyncio.sleep(0.2)
        shares = (await consumed(first), await consumed(second))

        first.kill()  # mid-stream: the survivor takes its partitions over
        await load.publish(300)
        urls = {"expenses": second.url}
        system = SystemUnderTest(
            kafka.access,
            topic_prefix,
            urls,
            signer.token("OFF-FAULTS", expires_in=600, roles=EVERY_ROLE),
        )
        async with Runner(system, services=("expenses",)) as runner:
            await runner.settle()
            await runner.move_clocks(T0 + timedelta(days=8))
            await runner.settle()
            expenses = {f"EXP-F{i:05d}" for i in range(load.sent)}
            assert_exactly_once(
                distinct(runner, "ExpenseUndelivered", lambda e: e.key), expenses, "UNDLVD RI"
            )
            assert_exactly_once(
                distinct(runner, "UndeliveredExpensePeriodClosed", lambda e: e.key),
                expenses,
                "window closed",
            )
        assert all(s > 0 for s in shares), f"work shared: {shares}"
    finally:
        first.stop()
        second.stop()


async def code_one_offs(bootstrap: str, prefix: str, count: int) -> list[str]:
    """``count`` officers' requests to code a one-off, each for a customer of its own, as the console writes them
    (stamped when the officer made them: before now, as a request waits on the bus)."""
    producer = AIOKafkaProducer(**client(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    ids = [f"EXP-C{i:03d}" for i in range(count)]
    try:
        for i, expense_id in enumerate(ids):
            request = code(T0 - timedelta(minutes=count - i), expense_id).model_copy(
                update={"customer_ref": f"CRN-CODED-{i:03d}"}
            )
            await producer.send_and_wait(
                prefix + EXPENSE_ACTIONS.name, request.to_json(), key=request.key.encode()
            )
    finally:
        await producer.stop()
    return ids


async def coded_one_offs(stack: Stack, ids: list[str]) -> dict[str, str]:
    """Each coded one-off's OneOffExpenseCoded as published (one per id), by expense id."""
    async with stack.runner() as runner:
        await runner.settle()
        found: dict[str, set[str]] = defaultdict(set)
        for record in runner.outputs:
            if record.topic == stack.prefix + EXPENSE_EVENTS.name:
                event = EXPENSE_EVENTS.parse(record.value)
                if event.event_type == "OneOffExpenseCoded":
                    found[event.key].add(event.model_dump_json(exclude={"occurred_at"}))
    assert set(found) == set(ids), "every coding answered"
    assert all(len(v) == 1 for v in found.values()), "one coding per request, whenever decided"
    return {k: next(iter(v)) for k, v in found.items()}


async def known_expenses(database_url: str, ids: list[str]) -> set[str]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "expenses"})
    try:
        rows = await conn.fetch(
            "SELECT expense_id FROM expenses WHERE expense_id = ANY($1::text[])", ids
        )
    finally:
        await conn.close()
    return {r["expense_id"] for r in rows}


async def test_a_database_restored_from_a_backup_rereads_what_it_no_longer_knows(
    stack_with_console: Stack, kafka, postgres, database_url, tmp_path
) -> None:
    """Issue 39: the four schemas (the console's too) are backed up (``./dev backup``'s ``pg_dump``), more events
    and officers' requests are handled, and the backup is restored. Each service re-reads from the position its
    restored database holds (consumer positions are kept with the state), so what the backup does not know is
    handled again: every expense's window exists and closes once, every I059PL is raised once, every coding is
    known again with the same content, and no reader dead-letters an output as an id reused. With the positions
    in Kafka only, the events after the backup were never read again: their windows were gone."""
    stack = stack_with_console
    load = Load(kafka.bootstrap_servers, stack.prefix)
    await load.publish(PER_PHASE // 2)
    await stack.check(load)
    dump = tmp_path / "services.dump"
    backup.backup(dump, database_url)  # what `./dev backup` runs
    await load.publish(PER_PHASE // 2)  # handled, then forgotten by the restore
    coded = await code_one_offs(
        kafka.bootstrap_servers, stack.prefix, 10
    )  # officers' requests, likewise
    await stack.check(load)
    first = await coded_one_offs(stack, coded)
    stack.stop()
    backup.restore(dump, database_url)  # what `./dev restore` runs
    await stack.start()
    # The officers' requests are decided again, later: at the officers' time, the same coding (its time, day 1
    # and day 2); decided at the handling time, every reader dead-lettered the second as an id reused (check).
    await stack.check(load)
    assert await coded_one_offs(stack, coded) == first
    assert await known_expenses(database_url, coded) == set(coded), (
        "the codings handled again, not skipped"
    )
    later = T0 + timedelta(days=8)
    async with stack.runner() as runner:
        await runner.move_clocks(later)
    await stack.check(load, closed=True)


async def test_a_rolling_release_under_load_answers_every_input_exactly_once(
    kafka, database_url, topic_prefix, tmp_path, report
) -> None:
    """Issue 39: two instances each of expenses and notification share their groups' partitions while inputs flow.
    One instance of each is released in turn: expenses' stopped with SIGTERM (a release) and started again, then
    notification's killed with SIGKILL (a crash mid-release) and started again. Every input is answered exactly
    once, and the longest pause in either service's outputs while it rolled is reported."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    env = await _six_partitions(kafka, database_url, topic_prefix, signer)
    instances = {
        (name, n): ServiceProcess(name, env, tmp_path, f"{name}-{n}")
        for name in ("expenses", "notification")
        for n in ("a", "b")
    }
    for process in instances.values():
        process.start()
    try:
        for process in instances.values():
            await process.ready()
        load = Load(kafka.bootstrap_servers, topic_prefix)
        await load.publish(60)
        rolled = asyncio.Event()
        flowing = asyncio.create_task(_keep_publishing(load, until=rolled, size=20))
        rolls: list[tuple[str, float, float]] = []
        for (name, n), how in ((("expenses", "a"), "stop"), (("notification", "b"), "kill")):
            process = instances[(name, n)]
            began = asyncio.get_running_loop().time()
            getattr(process, how)()  # SIGTERM, or SIGKILL
            await asyncio.sleep(1.0)  # the group rebalances onto the other instance meanwhile
            await process.start().ready()
            rolls.append((name, began, asyncio.get_running_loop().time()))
        await asyncio.sleep(2.0)  # inputs flow on a little after the last roll
        rolled.set()
        await flowing
        urls = {
            "expenses": instances[("expenses", "a")].url,
            "notification": instances[("notification", "a")].url,
        }
        system = SystemUnderTest(
            kafka.access,
            topic_prefix,
            urls,
            signer.token("OFF-FAULTS", expires_in=600, roles=EVERY_ROLE),
        )
        async with Runner(system, services=("expenses", "notification")) as runner:
            await runner.settle()
            assert_exactly_once(
                distinct(runner, "ExpenseUndelivered", lambda e: e.key),
                {f"EXP-F{i:05d}" for i in range(load.sent)},
                "UNDLVD RI",
            )
            assert_exactly_once(
                distinct(runner, "MspNotificationPlanned", lambda e: e.key),
                {f"MSP-F{i:05d}" for i in range(load.sent)},
                "MSP planned",
            )
            gaps = {
                topic: _longest_gap(runner, topic)
                for topic in ("im.expense-events", "msp.notification-events")
            }
        report(
            f"rolling release under load: {2 * load.sent + load.poison} inputs, each answered once; longest pause in "
            f"outputs: expenses {gaps['im.expense-events']:.1f} s (SIGTERM), notification "
            f"{gaps['msp.notification-events']:.1f} s (SIGKILL); roll durations "
            + ", ".join(f"{name} {end - began:.1f} s" for name, began, end in rolls)
        )
    finally:
        for process in instances.values():
            process.stop()


async def _keep_publishing(load: Load, *, until: asyncio.Event, size: int) -> None:
    """Inputs every half second until ``until`` is set: the outputs' pauses then measure the rolls, not idleness."""
    while not until.is_set():
        await load.publish(size)
        await asyncio.sleep(0.5)


def _longest_gap(runner: Runner, topic: str) -> float:
    """The longest time between two successive outputs on ``topic`` (by the broker's timestamps), in seconds."""
    name = runner.system.topic_prefix + topic
    stamps = sorted(r.timestamp for r in runner.outputs if r.topic == name)
    return max((b - a for a, b in itertools.pairwise(stamps)), default=0) / 1000
