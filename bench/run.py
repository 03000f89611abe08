"""The benchmark: how fast, how far from the ceiling, how it grows. Prints tables; asserts nothing.

    ./dev bench [--events N] [--rate R] [--duration S] [--rates 100,500,1000] [--rising-duration S]
                [--growth 10000,100000,1000000] [--growth-duration S]
                [--sections throughput,latency,rising,growth,scale-out] [--plaintext]

Everything runs on one machine against one real broker and one real PostgreSQL server that the
command starts itself, secured as deployed (SASL/SCRAM over TLS, ACLs; ``--plaintext`` for an open broker,
to measure what that costs). The services run as their own processes (``python -m <service>``, logging at
INFO to files, as deployed), each section on a fresh database and fresh topics:

1. ceiling: raw aiokafka consume -> produce passthrough, in this process;
2. throughput of expenses and notification over a backlog, each as a ratio to the ceiling;
3. end-to-end latency at a fixed offered rate, MSP approval published -> work item raised;
3b. latency under rising load (100, 500, 1,000/s by default), and the rate at which the two-hop p99 passes 1 s;
3c. a rolling release under load: two instances each of notification and workitems, one of each stopped (SIGTERM,
    then SIGKILL) and started again while approvals flow at 100/s: the two-hop p99 during the rolls;
4. growth: restart-to-ready, latency and throughput of expenses with N open retry windows;
5. scale-out: one and two expenses instances on a six-partition topic.

Rates are steady-state: outputs between the first and the last output record's broker timestamp,
so a service's start-up is not counted against its throughput (it is reported on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.stages import STAGES, Profile, Sampler, py_spy_available, tree_cpu_seconds
from contracts.catalogue import (
    EXPENSE_EVENTS,
    MSP_APPROVALS,
    MSP_NOTIFICATION_EVENTS,
    PAYMENT_ATTEMPTS,
    WORKITEM_EVENTS,
)
from contracts.envelope import Event
from devstack import LocalKafka, LocalPostgres
from devstack.processes import ServiceProcess
from devstack.procs import free_port
from devstack.synthetic import failed_weekly_attempt, medicare_approval
from devstack.system import SERVICES
from servicekit.broker import ensure_topics
from servicekit.db import ServiceRole, provision_roles
from servicekit.logs import configure_logging

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
PARTITIONS = 6


def attempt(i: int, series: str = "B") -> Event:
    return failed_weekly_attempt(f"EXP-{series}{i:07d}", f"CRN-{series}{i:07d}", T0)


def approval(i: int, series: str = "B") -> Event:
    return medicare_approval(f"MSP-{series}{i:07d}", f"CRN-{series}{i:07d}", T0)


# --------------------------------------------------------------------------- infrastructure


@dataclass
class Bench:
    kafka: LocalKafka
    pg: LocalPostgres
    log_dir: Path
    profiles: Path
    """Where the stage profile keeps py-spy's collapsed stacks (``--profiles``; the log folder by default)."""
    loop: str
    """The services' event loop (and the bench's own): ``uvloop`` or ``asyncio``."""

    @property
    def client(self) -> dict[str, Any]:
        """aiokafka options of the bench's own clients (the load and the readers): the broker's admin."""
        return self.kafka.access.client()

    async def fresh(self, extra: Sequence[str] = ()) -> tuple[str, dict[str, str]]:
        """A new topic prefix with the catalogue's topics and ACLs (and ``extra`` topics, for the ceiling), and a
        new database with a role per service. Returns the prefix and the services' environment."""
        prefix, db = f"b{uuid.uuid4().hex[:6]}.", f"bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(self.pg.url)
        try:
            await conn.execute(f'CREATE DATABASE "{db}"')
        finally:
            await conn.close()
        db_url = f"{self.pg.url.rpartition('/')[0]}/{db}"
        roles = [ServiceRole(name, name, uuid.uuid4().hex) for name in SERVICES]
        await provision_roles(db_url, roles)
        address = db_url.partition("@")[2]
        await self.kafka.access.provision(
            attempts=3, topic_prefix=prefix, topic_partitions=PARTITIONS
        )
        if extra:
            await ensure_topics(
                self.kafka.access.admin_settings(),
                [(prefix + name, 1) for name in extra],
                partitions=PARTITIONS,
                replication=1,
            )
        return prefix, {
            **self.kafka.access.env(SERVICES),
            "TOPIC_PREFIX": prefix,
            **{
                f"{r.role.upper()}_DATABASE_URL": f"postgresql://{r.role}:{r.password}@{address}"
                for r in roles
            },
            "TOPIC_PARTITIONS": str(PARTITIONS),
            "CLOCK": "simulated",
            "CLOCK_START": T0.isoformat(),
            "EVENT_LOOP": self.loop,
        }

    async def backlog(self, topic: str, events: Sequence[Event]) -> tuple[str, dict[str, str]]:
        """:meth:`fresh`, with ``events`` already waiting on ``topic`` (under the new prefix)."""
        prefix, env = await self.fresh()
        await produce(self.client, prefix + topic, events)
        return prefix, env

    def service(self, name: str, env: dict[str, str], instance: str = "") -> ServiceProcess:
        return ServiceProcess(name, env, self.log_dir, instance or f"{name}-{uuid.uuid4().hex[:4]}")

    @contextlib.asynccontextmanager
    async def running(self, *services: ServiceProcess) -> AsyncIterator[float]:
        """Start ``services``; yields the seconds until the last was ready; stops them on the way out."""
        started = time.perf_counter()
        try:
            for s in services:
                s.start()
            for s in services:
                await s.ready(interval=0.05)
            yield time.perf_counter() - started
        finally:
            for s in services:
                s.stop()


async def produce(kafka: dict[str, Any], topic: str, events: Sequence[Event]) -> None:
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, e.to_json(), key=e.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def stamps(
    kafka: dict[str, Any], topic: str, expected: int, timeout: float = 300.0
) -> list[int]:
    """The broker timestamps (ms) of the first ``expected`` records on ``topic``, sorted, once they are there."""
    consumer = AIOKafkaConsumer(
        topic, **kafka, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: list[int] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {expected} records on {topic} after {timeout:.0f}s"
                )
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            found += [r.timestamp for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return sorted(found)


async def steady_rate(
    kafka: dict[str, Any],
    topic: str,
    expected: int,
    newest: int | None = None,
    timeout: float = 300.0,
) -> float:
    """Records per second on ``topic`` between its first and last record's timestamp, once ``expected``
    arrived (of the ``newest`` only, if given). Records stamped with the first millisecond are not counted:
    the rate is of what followed."""
    return rate_of((await stamps(kafka, topic, expected, timeout))[-(newest or expected) :])


def rate_of(times: Sequence[int]) -> float:
    """Records per second between the first and the last timestamp (ms), not counting the first millisecond's."""
    first, last = times[0], times[-1]
    return sum(1 for s in times if s > first) / max((last - first) / 1000, 1e-3)


@dataclass(frozen=True)
class Latency:
    offered: float
    received: int
    sent: int
    p50: float
    p95: float
    p99: float
    worst: float

    def cells(self) -> str:
        return (
            f"{self.p50 * 1000:.0f} | {self.p95 * 1000:.0f} | {self.p99 * 1000:.0f} | {self.worst * 1000:.0f} | "
            f"{self.received:,}/{self.sent:,}"
        )


async def latency(
    kafka: dict[str, Any],
    in_topic: str,
    make: Callable[[int], Event],
    checkpoints: Sequence[tuple[str, str]],
    rate: float,
    duration: float,
    *,
    during: Callable[[], Coroutine[Any, Any, list[tuple[float, float]]]] | None = None,
) -> list[Latency]:
    """Publish ``make(i)`` at ``rate`` per second for ``duration`` seconds; for each event and each (topic, event
    type) checkpoint, the time until the first record of that type with the event's correlation id is read.

    ``during``: something done while the load runs (a rolling release), which returns the spans of time
    (``time.perf_counter()``) it disturbed; each checkpoint then also gets a row of the events sent inside them."""
    sent: dict[str, float] = {}
    seen: list[dict[str, float]] = [{} for _ in checkpoints]
    wanted = {
        topic: {t: i for i, (top, t) in enumerate(checkpoints) if top == topic}
        for topic, _ in checkpoints
    }
    consumer = AIOKafkaConsumer(
        *wanted,
        **kafka,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True, linger_ms=0)
    await consumer.start()
    await producer.start()
    total = int(rate * duration)
    events = [make(i) for i in range(total)]

    async def receive() -> None:
        while any(len(s) < total for s in seen):
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    body = json.loads(r.value)
                    if (i := wanted[r.topic].get(body["event_type"])) is not None:
                        seen[i].setdefault(body["correlation_id"], now)

    receiver = asyncio.create_task(receive())
    disturbing = asyncio.create_task(during()) if during is not None else None
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, e in enumerate(events):
            if (delay := start + i / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            sent[str(e.correlation_id)] = time.perf_counter()
            await producer.send(in_topic, e.to_json(), key=e.key.encode())
        offered = total / (loop.time() - start)
        spans = await disturbing if disturbing is not None else []
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(receiver), timeout=30)
    finally:
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
        if disturbing is not None and not disturbing.done():
            disturbing.cancel()
        await producer.stop()
        await consumer.stop()
    measured = [_summary(sent, arrivals, offered) for arrivals in seen]
    if spans:
        inside = {c: t for c, t in sent.items() if any(a <= t <= b for a, b in spans)}
        measured += [_summary(inside, arrivals, offered) for arrivals in seen]
    return measured


def _summary(sent: dict[str, float], arrivals: dict[str, float], offered: float) -> Latency:
    waits = sorted(arrivals[c] - t for c, t in sent.items() if c in arrivals)
    q = statistics.quantiles(waits, n=100, method="inclusive")
    return Latency(offered, len(waits), len(sent), q[49], q[94], q[98], waits[-1])


# --------------------------------------------------------------------------- the sections


async def ceiling(bench: Bench, n: int) -> float:
    """Raw aiokafka: consume a batch, produce each record to another topic, commit."""
    prefix, _ = await bench.fresh(["in", "out"])
    await produce(bench.client, prefix + "in", [attempt(i) for i in range(n)])
    consumer = AIOKafkaConsumer(
        prefix + "in",
        **bench.client,
        group_id=prefix + "g",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(**bench.client, acks="all", enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        while done < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [
                await producer.send(prefix + "out", r.value, key=r.key)
                for rs in batch.values()
                for r in rs
            ]
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)
    finally:
        await producer.stop()
        await consumer.stop()
    return await steady_rate(bench.client, prefix + "out", n)


async def throughput(
    bench: Bench,
    service: str,
    n: int,
    make: Callable[[int], Event],
    in_topic: str,
    out_topic: str,
    outputs_per_input: int,
    *,
    instances: int = 1,
) -> tuple[float, float, int]:
    """A backlog of ``n`` through ``instances`` of ``service``: (events/s, seconds to ready, peak RSS bytes)."""
    prefix, env = await bench.backlog(in_topic, [make(i) for i in range(n)])
    processes = [bench.service(service, env) for _ in range(instances)]
    async with bench.running(*processes) as ready_s:
        rate = await steady_rate(bench.client, prefix + out_topic, n * outputs_per_input)
        rss = max(p.rss_bytes() for p in processes)
    return rate / outputs_per_input, ready_s, rss


async def peer_throughput(bench: Bench, n: int) -> float:
    """The same backlog of payment attempts through the peer (``bench/peer.py``): events/s."""
    prefix, env = await bench.backlog(PAYMENT_ATTEMPTS.name, [attempt(i) for i in range(n)])
    peer = bench.service("bench.peer", env, instance=f"peer-{uuid.uuid4().hex[:4]}")
    peer.start()
    try:
        deadline = time.monotonic() + 90
        while b"ready" not in peer.log_path.read_bytes():
            if peer.process is not None and peer.process.poll() is not None:
                raise RuntimeError(f"the peer exited; see {peer.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the peer did not start; see {peer.log_path}")
            await asyncio.sleep(0.05)
        return await steady_rate(bench.client, prefix + EXPENSE_EVENTS.name, n)
    finally:
        peer.stop()


async def two_hops(
    bench: Bench,
    prefix: str,
    series: str,
    rate: float,
    duration: float,
    during: Callable[[], Coroutine[Any, Any, list[tuple[float, float]]]] | None = None,
) -> list[Latency]:
    """:func:`latency` of MSP approvals: published -> MspStepRequired (notification), and -> WorkItemRaised (then
    workitems)."""
    return await latency(
        bench.client,
        prefix + MSP_APPROVALS.name,
        lambda i: approval(i, series),
        [
            (prefix + MSP_NOTIFICATION_EVENTS.name, "MspStepRequired"),
            (prefix + WORKITEM_EVENTS.name, "WorkItemRaised"),
        ],
        rate,
        duration,
        during=during,
    )


async def end_to_end(
    bench: Bench, rate: float, duration: float
) -> tuple[list[Latency], dict[str, tuple[int, float]]]:
    """MSP approvals at a fixed rate through notification and workitems: publish -> MspStepRequired (the first
    hop) and -> WorkItemRaised (the whole way)."""
    prefix, env = await bench.fresh()
    services = [bench.service(name, env) for name in ("notification", "workitems", "expenses")]
    servers = {"broker": bench.kafka.process.pid, "PostgreSQL": bench.pg.process.pid}
    async with bench.running(*services):
        cpu = {s.name: s.cpu_seconds() for s in services} | {
            n: tree_cpu_seconds(p) for n, p in servers.items()
        }
        cpu["bench"] = time.process_time()
        started = time.perf_counter()
        measured = await two_hops(bench, prefix, "L", rate, duration)
        elapsed = time.perf_counter() - started
        usage = {
            s.name: (s.rss_bytes(), (s.cpu_seconds() - cpu[s.name]) / elapsed) for s in services
        }
        usage |= {n: (0, (tree_cpu_seconds(p) - cpu[n]) / elapsed) for n, p in servers.items()}
        usage["bench"] = (0, (time.process_time() - cpu["bench"]) / elapsed)
    return measured, usage


PRELOAD_EXPENSES = """
INSERT INTO expenses (expense_id, customer_ref, payee_id, kind, amount, state, coded_at, status)
SELECT 'EXP-G' || g, 'CRN-G' || g, 'PAYEE-1', 'regular-weekly', 50.00, NULL, NULL, 'active'
FROM generate_series(1, $1) g"""
PRELOAD_WINDOWS = """
INSERT INTO windows (expense_id, period_start, status, closes_at, calendar, failure_reason, opened_by, correlation_id)
SELECT 'EXP-G' || g, DATE '2027-03-01', 'open', $2::timestamptz + (g % 86400) * interval '1 second', 'calendar-days',
       'insufficient-funds-not-reported-by-due-date', NULL, NULL
FROM generate_series(1, $1) g"""


@dataclass(frozen=True)
class Growth:
    windows: int
    preload_s: float
    ready_s: float
    latency: Latency
    rate: float
    rss: int


async def growth(bench: Bench, windows: int, n: int, rate: float, duration: float) -> Growth:
    """Expenses with ``windows`` open retry windows (closing a week on, so none fires): restart-to-ready,
    latency at ``rate`` (attempt -> ExpenseUndelivered), then a backlog's throughput."""
    prefix, env = await bench.fresh()
    expenses = bench.service("expenses", env)
    async with bench.running(expenses):  # migrate
        pass
    started = time.perf_counter()
    conn = await asyncpg.connect(
        env["EXPENSES_DATABASE_URL"], server_settings={"search_path": "expenses"}
    )
    try:
        await conn.execute(PRELOAD_EXPENSES, windows)
        await conn.execute(PRELOAD_WINDOWS, windows, T0 + timedelta(days=6))
        await conn.execute("ANALYZE expenses; ANALYZE windows")
    finally:
        await conn.close()
    preload_s = time.perf_counter() - started
    async with bench.running(expenses) as ready_s:
        [measured] = await latency(
            bench.client,
            prefix + PAYMENT_ATTEMPTS.name,
            lambda i: attempt(i, "L"),
            [(prefix + EXPENSE_EVENTS.name, "ExpenseUndelivered")],
            rate,
            duration,
        )
    await produce(bench.client, prefix + PAYMENT_ATTEMPTS.name, [attempt(i, "T") for i in range(n)])
    async with bench.running(expenses):
        # the topic already holds the latency run's outputs: count them too, the rate is of the newest
        total = measured.sent + n
        throughput_rate = await steady_rate(
            bench.client, prefix + EXPENSE_EVENTS.name, total, newest=n
        )
        rss = expenses.rss_bytes()
    return Growth(windows, preload_s, ready_s, measured, throughput_rate, rss)


@dataclass(frozen=True)
class Sampled:
    """One service's stage profile, and what every process on the machine spent meanwhile."""

    service: str
    events: int
    profile: Profile
    rate: float
    cpu_s: dict[str, float]
    """CPU seconds by process while the events went through: the service, the broker, PostgreSQL, the bench."""

    def us(self, process: str) -> float:
        return self.cpu_s[process] / self.events * 1e6


async def stage_profile(
    bench: Bench,
    service: str,
    n: int,
    make: Callable[[int], Event],
    in_topic: str,
    out_topic: str,
    outputs_per_input: int,
) -> Sampled:
    """A backlog of ``n`` events through ``service``, as in the throughput table, under py-spy from the moment the
    service is ready; only the outputs written from then on are counted, so start-up is not in it."""
    prefix, env = await bench.backlog(in_topic, [make(i) for i in range(n)])
    process = bench.service(service, env)
    async with bench.running(process):
        sampler = Sampler(process.pid, bench.profiles / f"{service}.spy")
        pids = {
            service: process.pid,
            "broker": bench.kafka.process.pid,
            "PostgreSQL": bench.pg.process.pid,
        }
        before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()} | {
            "bench": time.process_time()
        }
        since_ms = time.time() * 1000
        try:
            written = await stamps(bench.client, prefix + out_topic, n * outputs_per_input)
        finally:
            profile = sampler.stop()
        after = {name: tree_cpu_seconds(pid) for name, pid in pids.items()} | {
            "bench": time.process_time()
        }
    sampled = [t for t in written if t >= since_ms]
    return Sampled(
        service,
        len(sampled) // outputs_per_input,
        profile,
        rate_of(sampled) / outputs_per_input,
        {k: after[k] - before[k] for k in before},
    )


# --------------------------------------------------------------------------- the report


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


SECTIONS = ("stages", "throughput", "tracing", "latency", "rising", "roll", "growth", "scale-out")
KNEE_S = 1.0
"""The rising-load table names the first offered rate at which the two-hop p99 passes this."""


async def main(args: argparse.Namespace) -> None:
    # The bench's own provisioning logs nothing an operator of the bench needs; the services log to files.
    configure_logging(service="bench", level="WARNING", pseudonym_key=secrets.token_bytes(32))
    log_dir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    kafka, pg = LocalKafka.start(secured=not args.plaintext), LocalPostgres.start(durable=False)
    profiles = Path(args.profiles) if args.profiles else log_dir
    profiles.mkdir(parents=True, exist_ok=True)
    bench = Bench(kafka, pg, log_dir, profiles, args.loop)
    n, sections = args.events, set(args.sections)
    security = (
        "broker PLAINTEXT, no authoriser (--plaintext: for comparison only)"
        if args.plaintext
        else "broker SASL_SSL (SCRAM-SHA-512 over TLS) with the catalogue's ACLs, every client included"
    )
    print(
        f"\nmachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
        f"Kafka {kafka.version}, PostgreSQL {pg.version}, aiokafka {version('aiokafka')}, "
        f"faststream {version('faststream')}, asyncpg {version('asyncpg')}; {PARTITIONS} partitions; services "
        f"as processes logging at INFO; {args.loop} event loop (services and bench); {security}",
        flush=True,
    )
    try:
        await warm_up(bench)
        if "stages" in sections:
            await stages_table(bench, args.stage_events)
        if "throughput" in sections:
            await throughput_table(bench, n)
        if "tracing" in sections:
            await tracing_table(bench, args.stage_events)
        if "latency" in sections:
            await latency_table(bench, args.rate, args.duration)
        if "rising" in sections:
            await rising_table(bench, args.rates, args.rising_duration)
        if "roll" in sections:
            await roll_table(bench, args.roll_rate, args.roll_duration)
        if "growth" in sections:
            await growth_table(bench, n, args.growth, args.rate, args.growth_duration)
        if "scale-out" in sections:
            await scale_out_table(bench, n)
    finally:
        kafka.stop()
        pg.stop()
        shutil.rmtree(log_dir, ignore_errors=True)


WARM_UP = 20_000
"""Records through the broker before any section measures: the broker's JVM compiles its hot paths fully (as the
deploy image's does) in the first seconds of load, and a section that ran in them would be charged for it."""


async def warm_up(bench: Bench) -> None:
    say(f"warming the broker up: {WARM_UP:,} records through it, not counted")
    await ceiling(bench, WARM_UP)


async def throughput_table(bench: Bench, n: int) -> None:
    say("ceiling ...")
    top = await ceiling(bench, n)
    say("expenses ...")
    exp, exp_ready, exp_rss = await throughput(
        bench, "expenses", n, attempt, PAYMENT_ATTEMPTS.name, EXPENSE_EVENTS.name, 1
    )
    say("notification ...")
    msp, msp_ready, msp_rss = await throughput(
        bench, "notification", n, approval, MSP_APPROVALS.name, MSP_NOTIFICATION_EVENTS.name, 3
    )
    say("peer: expenses as a typical FastStream service ...")
    peer = await peer_throughput(bench, n)
    print(
        f"\nThroughput, a backlog of {n:,} events, one instance (steady state; ready = process start to /ready)\n"
    )
    print("| what | events/s | ratio to ceiling | ready | RSS |\n|---|---:|---:|---:|---:|")
    print(f"| ceiling: raw aiokafka consume -> produce passthrough | {top:,.0f} | 1.00 | | |")
    print(
        f"| expenses: payment attempts (decided, committed, published) | {exp:,.0f} | {exp / top:.2f} | "
        f"{exp_ready:.1f} s | {mib(exp_rss)} |"
    )
    print(
        f"| notification: MSP approvals (3 outputs each) | {msp:,.0f} | {msp / top:.2f} | {msp_ready:.1f} s | "
        f"{mib(msp_rss)} |"
    )
    print(
        f"| peer: the expenses decision as a typical FastStream service (a transaction and a publish per message) | "
        f"{peer:,.0f} | {peer / top:.2f} | | |",
        flush=True,
    )


async def stages_table(bench: Bench, n: int) -> None:
    if not py_spy_available():
        raise SystemExit(
            "the stage profile needs py-spy beside this Python (it is in requirements.lock)"
        )
    rows: list[Sampled] = []
    for service, make, in_topic, out_topic, per in (
        ("expenses", attempt, PAYMENT_ATTEMPTS.name, EXPENSE_EVENTS.name, 1),
        ("notification", approval, MSP_APPROVALS.name, MSP_NOTIFICATION_EVENTS.name, 3),
    ):
        say(f"stage profile: {service} ...")
        rows.append(await stage_profile(bench, service, n, make, in_topic, out_topic, per))
    print(
        f"\nCPU per event by stage: a backlog of {n:,} events through each service under py-spy from the moment it "
        "is ready (250 samples/s, on-CPU stacks only; the events whose outputs were written meanwhile: "
        + ", ".join(f"{r.service} {r.events:,}" for r in rows)
        + "), each stack given to the first stage whose rule "
        "it matches (bench/stages.py)\n"
    )
    print(
        "| stage | what | "
        + " | ".join(f"{r.service} µs/event" for r in rows)
        + " |\n|---|---|"
        + "---:|" * len(rows)
    )
    shares = [r.profile.per_event_us(r.events) for r in rows]
    for stage, what, _ in STAGES:
        print(
            f"| {stage} | {what} | "
            + " | ".join(
                f"{us[stage]:,.0f} ({us[stage] / max(sum(us.values()), 1e-9):.0%})" for us in shares
            )
            + " |"
        )
    print(
        "| **sampled, all stages** | | "
        + " | ".join(f"**{sum(us.values()):,.0f}**" for us in shares)
        + " |"
    )
    print(
        "| the service's CPU (/proc) | | "
        + " | ".join(f"{r.us(r.service):,.0f}" for r in rows)
        + " |"
    )
    print("| events/s while sampled | | " + " | ".join(f"{r.rate:,.0f}" for r in rows) + " |")
    cores = os.cpu_count() or 1
    print(
        f"\nThe machine's budget: CPU per event of every process in those runs ({cores} cores, shared)\n"
    )
    print(
        "| process | "
        + " | ".join(f"{r.service} µs/event" for r in rows)
        + " |\n|---|"
        + "---:|" * len(rows)
    )
    print("| the service | " + " | ".join(f"{r.us(r.service):,.0f}" for r in rows) + " |")
    for process, what in (
        ("broker", "the Kafka broker (JVM)"),
        ("PostgreSQL", "PostgreSQL (every backend)"),
        ("bench", "the bench: load and the reader of the outputs"),
    ):
        print(f"| {what} | " + " | ".join(f"{r.us(process):,.0f}" for r in rows) + " |")
    print(
        "| **all of them** | "
        + " | ".join(f"**{sum(r.cpu_s.values()) / r.events * 1e6:,.0f}**" for r in rows)
        + " |"
    )
    print(
        f"| events/s at which the {cores} cores are used up | "
        + " | ".join(f"{cores / (sum(r.cpu_s.values()) / r.events):,.0f}" for r in rows)
        + " |"
    )
    print(
        "| events/s one core of the service's own would allow | "
        + " | ".join(f"{r.events / r.cpu_s[r.service]:,.0f}" for r in rows)
        + " |",
        flush=True,
    )


TRACING: tuple[tuple[str, dict[str, str]], ...] = (
    ("off", {}),
    ("on, 10% sampled", {"OTEL_TRACES_SAMPLER_ARG": "0.1"}),
    ("on, every trace", {"OTEL_TRACES_SAMPLER_ARG": "1.0"}),
)
"""The tracing settings the tracing table compares: off (no endpoint), and parent-based ratio sampling at 10% and
100% exporting OTLP to a receiver of the bench's own (``servicekit.tools.otlp``, a process of its own)."""


async def traced_backlog(
    bench: Bench,
    service: str,
    n: int,
    make: Callable[[int], Event],
    in_topic: str,
    out_topic: str,
    per: int,
    otel: dict[str, str],
    collector: subprocess.Popen[bytes],
    endpoint: str,
) -> tuple[int, float, float, float]:
    """A backlog of ``n`` events through ``service`` with tracing set as ``otel``: (events counted, events/s, the
    service's CPU seconds, the collector's CPU seconds) from the moment the service is ready."""
    prefix, env = await bench.backlog(in_topic, [make(i) for i in range(n)])
    if otel:
        env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "500", **otel}
    process = bench.service(service, env)
    async with bench.running(process):
        before = (process.cpu_seconds(), tree_cpu_seconds(collector.pid))
        since_ms = time.time() * 1000
        written = await stamps(bench.client, prefix + out_topic, n * per)
        await asyncio.sleep(1.0)  # the exporter's last batch (500 ms) reaches the collector
        after = (process.cpu_seconds(), tree_cpu_seconds(collector.pid))
    sampled = [t for t in written if t >= since_ms]
    return len(sampled) // per, rate_of(sampled) / per, after[0] - before[0], after[1] - before[1]


async def tracing_table(bench: Bench, n: int) -> None:
    port = free_port()
    collector = subprocess.Popen(  # noqa: ASYNC220 - a start, not a wait
        [sys.executable, "-m", "servicekit.tools.otlp", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        for service, make, in_topic, out_topic, per in (
            ("expenses", attempt, PAYMENT_ATTEMPTS.name, EXPENSE_EVENTS.name, 1),
            ("notification", approval, MSP_APPROVALS.name, MSP_NOTIFICATION_EVENTS.name, 3),
        ):
            for setting, otel in TRACING:
                say(f"tracing: {service}, {setting} ...")
                events, rate, own, collected = await traced_backlog(
                    bench,
                    service,
                    n,
                    make,
                    in_topic,
                    out_topic,
                    per,
                    otel,
                    collector,
                    f"http://127.0.0.1:{port}",
                )
                rows.append((service, setting, events, rate, own, collected))
    finally:
        collector.terminate()
        collector.wait()
    print(
        f"\nTracing's cost: a backlog of {n:,} events through each service, tracing off and on (OTLP over HTTP to "
        "a receiver process of the bench's own, `servicekit.tools.otlp`, which decodes every span); CPU from /proc from the "
        "moment the service is ready\n"
    )
    print(
        "| service | tracing | service µs/event | collector µs/event | events/s |\n|---|---|---:|---:|---:|"
    )
    for service, setting, events, rate, own, collected in rows:
        print(
            f"| {service} | {setting} | {own / events * 1e6:,.0f} | {collected / events * 1e6:,.0f} | {rate:,.0f} |",
            flush=True,
        )


async def latency_table(bench: Bench, rate: float, duration: float) -> None:
    say(f"end-to-end latency at {rate:g}/s for {duration:g}s ...")
    e2e, usage = await end_to_end(bench, rate, duration)
    print(
        f"\nEnd-to-end latency, MSP approvals offered at {e2e[0].offered:,.0f}/s for {duration:g} s; each "
        "checkpoint is read by a consumer, so it is after the commit and the outbox relay\n"
    )
    print(
        "| published -> | p50 ms | p95 ms | p99 ms | max ms | received |\n|---|---:|---:|---:|---:|---:|"
    )
    print(f"| MspStepRequired on msp.notification-events (notification) | {e2e[0].cells()} |")
    print(
        f"| WorkItemRaised on workitems.events (notification, then workitems) | {e2e[1].cells()} |"
    )
    print(
        "\nEach process during that run, CPU (share of one core) and the services' resident memory at the end: "
        + ", ".join(
            f"{name} {cpu:.0%}" + (f", {mib(rss)}" if rss else "")
            for name, (rss, cpu) in usage.items()
        )
        + f"; together {sum(cpu for _, cpu in usage.values()):.0%} (the machine's {os.cpu_count()} cores make "
        f"{(os.cpu_count() or 1) * 100}%)",
        flush=True,
    )


ROLL_SETTLE_S = 3.0
"""How long after a rolled instance is ready the roll still counts (its partitions moving back to it)."""


async def roll_table(bench: Bench, rate: float, duration: float) -> None:
    """Two instances each of notification and workitems share their groups while approvals flow at ``rate``; a
    third of the way in, one notification instance is stopped (SIGTERM, a release) and started again; two thirds
    in, one workitems instance is killed (SIGKILL, a crash mid-release) and started again. The two-hop latency of
    the events sent while either rolled, against the whole run's."""
    say(f"rolling release at {rate:g}/s for {duration:g}s ...")
    prefix, env = await bench.fresh()
    instances = {
        (name, n): bench.service(name, env, f"{name}-{n}")
        for name in ("notification", "workitems")
        for n in ("a", "b")
    }
    rolls: list[tuple[str, float, float]] = []

    async def roll() -> list[tuple[float, float]]:
        start = time.perf_counter()
        for (name, n), how, at in (
            (("notification", "a"), "stop", 1 / 3),
            (("workitems", "b"), "kill", 2 / 3),
        ):
            await asyncio.sleep(max(0.0, start + duration * at - time.perf_counter()))
            process = instances[(name, n)]
            began = time.perf_counter()
            getattr(process, how)()  # SIGTERM, or SIGKILL
            await process.start().ready(interval=0.05)
            rolls.append(
                (f"{name} {'SIGTERM' if how == 'stop' else 'SIGKILL'}", began, time.perf_counter())
            )
        return [(began, ready + ROLL_SETTLE_S) for _, began, ready in rolls]

    async with bench.running(bench.service("expenses", env), *instances.values()):
        measured = await two_hops(bench, prefix, "R", rate, duration, during=roll)
    print(
        f"\nA rolling release under load: approvals at {measured[0].offered:,.0f}/s for {duration:g} s, two "
        "instances each of notification and workitems; "
        + "; ".join(
            f"{what} and started again ({ready - began:.1f} s to ready)"
            for what, began, ready in rolls
        )
        + f". 'During the rolls': events sent from each stop until {ROLL_SETTLE_S:g} s after its restart was "
        "ready\n"
    )
    print(
        "| published -> | events | p50 ms | p95 ms | p99 ms | max ms | received |\n|---|---|---:|---:|---:|---:|---:|"
    )
    for label, row in zip(
        ("MspStepRequired", "WorkItemRaised", "MspStepRequired", "WorkItemRaised"),
        measured,
        strict=True,
    ):
        which = "all" if row is measured[0] or row is measured[1] else "during the rolls"
        print(f"| {label} | {which} | {row.cells()} |", flush=True)


def knee(rows: Sequence[tuple[float, Latency]]) -> str:
    """Where the two-hop p99 first passes ``KNEE_S``, in words."""
    past = next((rate for rate, two_hop in rows if two_hop.p99 > KNEE_S), None)
    if past is None:
        return f"the two-hop p99 stays under {KNEE_S:g} s up to {max(r for r, _ in rows):,.0f}/s"
    return f"the two-hop p99 passes {KNEE_S:g} s at {past:,.0f}/s"


async def rising_table(bench: Bench, rates: Sequence[float], duration: float) -> None:
    rows: list[tuple[float, Latency, Latency]] = []
    for rate in rates:
        say(f"rising load: {rate:g}/s for {duration:g}s ...")
        (one_hop, two_hop), _ = await end_to_end(bench, rate, duration)
        rows.append((rate, one_hop, two_hop))
    print(
        f"\nLatency under rising load: MSP approvals at each rate for {duration:g} s, fresh topics and services per "
        "row; one hop = published -> MspStepRequired read, two hops = published -> WorkItemRaised read\n"
    )
    print(
        "| offered/s | one hop p50 ms | one hop p99 ms | two hops p50 ms | p95 ms | p99 ms | max ms | received |"
        "\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for rate, one_hop, two_hop in rows:
        print(
            f"| {rate:,.0f} | {one_hop.p50 * 1000:.0f} | {one_hop.p99 * 1000:.0f} | {two_hop.cells()} |"
        )
    print(f"\nThe knee: {knee([(rate, two_hop) for rate, _, two_hop in rows])}.", flush=True)


async def growth_table(
    bench: Bench, n: int, sizes: Sequence[int], rate: float, duration: float
) -> None:
    grown = []
    for windows in sizes:
        say(f"growth: {windows:,} open windows ...")
        grown.append(await growth(bench, windows, n, rate, duration))
    print(
        f"\nGrowth: expenses with N open retry windows; latency is attempt published -> ExpenseUndelivered read, "
        f"at {rate:g}/s for {duration:g} s; throughput over a backlog of {n:,}\n"
    )
    print(
        "| open windows | loaded in | restart to ready | p50 ms | p95 ms | p99 ms | max ms | received | events/s | RSS |"
        "\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for g in grown:
        print(
            f"| {g.windows:,} | {g.preload_s:.1f} s | {g.ready_s:.1f} s | {g.latency.cells()} | {g.rate:,.0f} | "
            f"{mib(g.rss)} |",
            flush=True,
        )


async def scale_out_table(bench: Bench, n: int) -> None:
    say("scale-out ...")
    one, two = [
        (
            await throughput(
                bench,
                "expenses",
                n,
                attempt,
                PAYMENT_ATTEMPTS.name,
                EXPENSE_EVENTS.name,
                1,
                instances=i,
            )
        )[0]
        for i in (1, 2)
    ]
    print(f"\nScale-out: expenses over a backlog of {n:,} on {PARTITIONS} partitions\n")
    print("| instances | events/s | ratio to one |\n|---:|---:|---:|")
    print(f"| 1 | {one:,.0f} | 1.00 |\n| 2 | {two:,.0f} | {two / one:.2f} |", flush=True)


def say(line: str) -> None:
    print(f"[bench] {line}", flush=True)


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=20000, help="backlog size for the throughput rows"
    )
    parser.add_argument(
        "--stage-events", type=int, default=20000, help="events per service in the stage profile"
    )
    parser.add_argument(
        "--profiles", default="", help="keep the stage profile's py-spy stacks in this folder"
    )
    parser.add_argument(
        "--rate", type=float, default=500.0, help="offered events per second for latency"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of end-to-end latency load"
    )
    parser.add_argument(
        "--rates",
        type=lambda t: [float(r) for r in t.split(",")],
        default=[100.0, 500.0, 1000.0],
        help="offered events per second for the rising-load table, comma separated",
    )
    parser.add_argument(
        "--rising-duration", type=float, default=30.0, help="seconds of load per rising-load row"
    )
    parser.add_argument(
        "--roll-rate",
        type=float,
        default=100.0,
        help="offered events per second during the rolling release",
    )
    parser.add_argument(
        "--roll-duration", type=float, default=45.0, help="seconds of load for the rolling release"
    )
    parser.add_argument(
        "--growth",
        type=sizes,
        default=[10_000, 100_000, 1_000_000],
        help="open windows, comma separated",
    )
    parser.add_argument(
        "--growth-duration", type=float, default=20.0, help="seconds of latency load per growth row"
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop of the services and of the bench itself (the ceiling's)",
    )
    parser.add_argument(
        "--plaintext",
        action="store_true",
        help="an open broker (no TLS, no SASL, no ACLs), to measure what security costs",
    )
    parser.add_argument(
        "--sections",
        type=lambda t: t.split(","),
        default=list(SECTIONS),
        help=f"which tables, comma separated (default all: {','.join(SECTIONS)})",
    )
    arguments = parser.parse_args()
    with asyncio.Runner(
        loop_factory=uvloop.new_event_loop if arguments.loop == "uvloop" else None
    ) as runner:
        runner.run(main(arguments))
