"""The consume path alone, in this process: a service's polls handled one after another against a real PostgreSQL.

    .venv/bin/python -m bench.pipeline [expenses|notification] [--polls N] [--rounds R] [--profile FILE]

Each poll is 500 new records (payment attempts or MSP approvals, as the bench's backlog) handed to the service's own
``BatchPipeline`` (screening, the inbox, the decision, the state, the outbox, the positions, one transaction), with
no broker: no fetch, no relay, no TLS. It prints the process's CPU per event (the client side: PostgreSQL is another
process), each round on fresh records after three polls of warm-up. The full service under ``./dev bench`` moves by
10 to 50% from hour to hour here; this moves far less, so a change to the consume path is measured by running the
code before it and after it alternately with this (issue 42). ``--profile`` keeps a cProfile of the last round.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import uvloop
from aiokafka import ConsumerRecord

from bench.run import PARTITIONS, T0, approval, attempt
from contracts.catalogue import MSP_APPROVALS, PAYMENT_ATTEMPTS
from contracts.envelope import Event
from devstack import LocalPostgres
from servicekit.db import create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS
from servicekit.logs import configure_logging
from servicekit.main import tune_collector
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings

POLL = 500
"""Records a poll: the services' ``max_batch``, which a backlog fills."""
WARM_UP = 3


def _service(name: str) -> tuple[ServiceSpec, ServiceSettings, str, Callable[[int], Event]]:
    """The service's spec and settings (from the environment set by :func:`main`), its input topic and its input."""
    if name == "expenses":
        from expenses.app import SPEC, ExpensesSettings

        return (
            SPEC,
            ExpensesSettings(),
            PAYMENT_ATTEMPTS.name,
            lambda i: attempt(i, "P"),
        )
    from notification.app import NotificationSettings, spec

    settings = NotificationSettings()
    return (
        spec(settings),
        settings,
        MSP_APPROVALS.name,
        lambda i: approval(i, "P"),
    )


def _records(topic: str, events: list[Event], first_offset: int) -> list[ConsumerRecord[Any, Any]]:
    """The events as a fetch hands them over: bytes, with the headers a publisher following the docs sends."""
    records: list[ConsumerRecord[Any, Any]] = []
    for n, event in enumerate(events):
        key, value = event.key.encode(), event.to_json()
        headers = [("content-type", b"application/json"), ("event_type", event.event_type.encode())]
        offset = first_offset + n
        records.append(
            ConsumerRecord(
                topic,
                offset % PARTITIONS,
                offset,
                0,
                0,
                key,
                value,
                None,
                len(key),
                len(value),
                headers,
            )
        )
    return records


async def _measure(name: str, polls: int, rounds: int, profile: str) -> list[float]:
    """The CPU per event of each round; with ``profile`` (a file), the last round's cProfile kept there."""
    spec, settings, topic, make = _service(name)
    runtime = ServiceRuntime(spec, settings)
    pool = await create_pool(settings.database_dsn(), settings.schema_name, 4)
    try:
        await migrate(pool, settings.schema_name, (*RUNTIME_MIGRATIONS, *spec.migrations))
        # the runtime's pool, as its start would set it; nothing else of it starts
        runtime._pool = pool
        assert runtime.consumer is not None
        pipeline = runtime.consumer.pipeline
        where, made = settings.topic(topic), 0
        per_event: list[float] = []
        for round_ in range(rounds):
            batches = []
            for _ in range(WARM_UP + polls):
                batches.append(_records(where, [make(made + i) for i in range(POLL)], made))
                made += POLL
            tune_collector()  # as the service does once it is loaded: what was made so far is left alone
            for batch in batches[:WARM_UP]:
                await pipeline.handle(batch)
            profiler = cProfile.Profile() if profile and round_ == rounds - 1 else None
            cpu = time.process_time()
            if profiler:
                profiler.enable()
            for batch in batches[WARM_UP:]:
                await pipeline.handle(batch)
            if profiler:
                profiler.disable()
                profiler.dump_stats(profile)
            per_event.append((time.process_time() - cpu) / (polls * POLL) * 1e6)
        return per_event
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "service", choices=("expenses", "notification"), nargs="?", default="expenses"
    )
    parser.add_argument("--polls", type=int, default=20, help="polls of 500 records a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", default="", help="keep a cProfile of the last round in this file"
    )
    args = parser.parse_args()
    pg = LocalPostgres.start(durable=False)
    prefix = args.service.upper()
    os.environ.update(
        {
            f"{prefix}_DATABASE_URL": pg.url,
            f"{prefix}_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",  # no broker is reached: nothing to secure
            f"{prefix}_CLOCK": "simulated",
            f"{prefix}_CLOCK_START": T0.isoformat(),
        }
    )
    # the log lines are written, as in the service, and let go
    with open(os.devnull, "w") as devnull:
        configure_logging(
            service=args.service, level="INFO", pseudonym_key=os.urandom(32), stream=devnull
        )
        try:
            per_event = uvloop.run(_measure(args.service, args.polls, args.rounds, args.profile))
        finally:
            pg.stop()
    shown = ", ".join(f"{us:.0f}" for us in per_event)
    print(
        f"{args.service}: the consume path's CPU per event {statistics.median(per_event):.0f} us "
        f"(median of {args.rounds} rounds of {args.polls} polls of {POLL}: {shown})"
    )


if __name__ == "__main__":
    main()
