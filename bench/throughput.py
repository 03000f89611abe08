"""Throughput benchmark: raw aiokafka passthrough (the ceiling) against expenses and notification, same broker,
same machine, same run. Prints a table; asserts nothing.

    ./dev bench [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.catalogue import EXPENSE_EVENTS, MSP_APPROVALS, MSP_NOTIFICATION_EVENTS, PAYMENT_ATTEMPTS
from contracts.envelope import Event
from contracts.expenses import PaymentAttempted
from contracts.notification import MspApproved
from devstack import LocalKafka, LocalPostgres
from devstack.synthetic import failed_weekly_attempt, medicare_approval
from servicekit.clock import Clock, SimulatedClock
from servicekit.logs import configure_logging
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
PARTITIONS = 6


def attempt(i: int) -> PaymentAttempted:
    return failed_weekly_attempt(f"EXP-B{i:07d}", f"CRN-B{i:07d}", T0)


def approval(i: int) -> MspApproved:
    return medicare_approval(f"MSP-B{i:07d}", f"CRN-B{i:07d}", T0)


async def produce(bootstrap: str, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, e.to_json(), key=e.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def count_until(bootstrap: str, topic: str, expected: int, started: float) -> float:
    """Seconds from ``started`` until ``topic`` holds ``expected`` records."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        seen = 0
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            seen += sum(len(r) for r in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def ceiling(bootstrap: str, n: int) -> float:
    """Raw aiokafka: consume a batch, produce each record to another topic, commit; events per second."""
    prefix = f"b{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, [prefix + "in", prefix + "out"])
    await produce(bootstrap, prefix + "in", [attempt(i) for i in range(n)])
    consumer = AIOKafkaConsumer(prefix + "in", bootstrap_servers=bootstrap, group_id=prefix + "g",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=500)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        started, done = time.perf_counter(), 0
        while done < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [await producer.send(prefix + "out", r.value, key=r.key) for rs in batch.values() for r in rs]
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def service(bootstrap: str, pg_url: str, n: int, make: Callable[[int], Event], input_topic: str,
                  output_topic: str, outputs_per_input: int, create: Callable[[Any, Clock], ServiceRuntime],
                  settings_cls: type[ServiceSettings]) -> float:
    prefix = f"b{uuid.uuid4().hex[:6]}."
    db = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_url)
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    settings = settings_cls(kafka_bootstrap_servers=bootstrap, database_url=f"{pg_url.rpartition('/')[0]}/{db}",
                            topic_prefix=prefix, topic_partitions=PARTITIONS, http_port=0)
    runtime = create(settings, SimulatedClock.starting_at(T0))
    # Topics exist before the load arrives: start once (provisioning), stop, load, then time a fresh start.
    async with runtime.running():
        pass
    await produce(bootstrap, prefix + input_topic, [make(i) for i in range(n)])
    started = time.perf_counter()
    async with runtime.running():
        elapsed = await count_until(bootstrap, prefix + output_topic, n * outputs_per_input, started)
    return n / elapsed


async def main(n: int) -> None:
    from expenses.app import ExpensesSettings
    from expenses.app import create_runtime as expenses_runtime
    from notification.app import NotificationSettings
    from notification.app import create_runtime as notification_runtime

    configure_logging(service="bench", level="WARNING", pseudonym_key=b"bench")
    kafka, pg = LocalKafka.start(), LocalPostgres.start(durable=False)
    try:
        top = await ceiling(kafka.bootstrap_servers, n)
        exp = await service(kafka.bootstrap_servers, pg.url, n, attempt, PAYMENT_ATTEMPTS.name, EXPENSE_EVENTS.name, 1,
                            expenses_runtime, ExpensesSettings)
        msp = await service(kafka.bootstrap_servers, pg.url, n, approval, MSP_APPROVALS.name,
                            MSP_NOTIFICATION_EVENTS.name, 3, notification_runtime, NotificationSettings)
    finally:
        kafka.stop()
        pg.stop()
    print(f"\nmachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
          f"Kafka {kafka.version}, PostgreSQL {pg.version}, aiokafka {version('aiokafka')}, "
          f"faststream {version('faststream')}; {n} events per row, {PARTITIONS} partitions, one instance\n")
    print("| what | events/s | ratio to ceiling |\n|---|---:|---:|")
    print(f"| ceiling: raw aiokafka consume -> produce passthrough | {top:,.0f} | 1.00 |")
    print(f"| expenses: payment attempts (decided, committed, published) | {exp:,.0f} | {exp / top:.2f} |")
    print(f"| notification: MSP approvals (3 outputs each) | {msp:,.0f} | {msp / top:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    asyncio.run(main(parser.parse_args().events))
