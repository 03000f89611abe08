"""The outbox relay against the real database, with stand-in producers for states a broker cannot be asked for.

A clean stop never publishes a row twice: the relay's current pass finishes before the final drain (cancelling
a pass after the broker acknowledged its rows but before their delete committed rolled the delete back, and
the drain sent them again). A producer whose sequence state the broker refuses is replaced (after a broker
outage under load the expenses relay failed with OutOfOrderSequenceNumber forever).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from servicekit.db import create_pool, migrate
from servicekit.metrics import Metrics
from servicekit.outbox import RUNTIME_MIGRATIONS, OutboundMessage, enqueue
from servicekit.relay import OutboxRelay
from tests.support.kafka_tools import eventually, metric_sum

pytestmark = pytest.mark.integration


class SlowBroker:
    """A producer whose acknowledgements wait until the test releases them; it records every send."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.release = asyncio.Event()

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        self.sent.append(value)
        return asyncio.ensure_future(self.release.wait())  # type: ignore[arg-type]


async def test_a_stop_during_a_pass_lets_it_finish_and_publishes_each_row_once(database_url):
    pool = await create_pool(database_url, "relaystop", 4)
    try:
        await migrate(pool, "relaystop", RUNTIME_MIGRATIONS)
        async with pool.acquire() as conn:
            await enqueue(conn, [OutboundMessage(f"e{i}", "t", b"k", f"{i}".encode()) for i in range(5)])
        broker = SlowBroker()
        relay = OutboxRelay(pool=pool, producer=broker, schema="relaystop", metrics=Metrics("t"))  # type: ignore[arg-type]
        task = asyncio.create_task(relay.run())

        async def handed_over() -> bool:
            return len(broker.sent) == 5
        await eventually(handed_over, what="the pass waiting for its acknowledgements")
        stopping = asyncio.create_task(relay.stop(task))
        broker.release.set()  # the broker answers while the service is stopping
        await stopping
        await relay.drain()
        async with pool.acquire() as conn:
            left: int = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await pool.close()
    assert broker.sent == [f"{i}".encode() for i in range(5)], "each row sent once, in order"
    assert left == 0, "the pass that was under way committed its delete"
    assert task.done()
    assert not task.cancelled()


async def test_a_relay_waiting_out_a_failure_stops_at_once(database_url):
    pool = await create_pool(database_url, "relaywait", 2)
    try:
        await migrate(pool, "relaywait", RUNTIME_MIGRATIONS)
        relay = OutboxRelay(pool=pool, producer=None, schema="relaywait", metrics=Metrics("t"))  # type: ignore[arg-type]
        async with pool.acquire() as conn:
            await enqueue(conn, [OutboundMessage("e", "t", b"k", b"v")])  # the missing producer fails the pass
        task = asyncio.create_task(relay.run())
        await eventually(lambda: _failed_once(relay), what="a failed pass")
        await asyncio.wait_for(relay.stop(task, timeout=30), 5)
    finally:
        await pool.close()
    assert not task.cancelled(), "it left its backoff when asked to stop, rather than being cancelled"


async def _failed_once(relay: OutboxRelay) -> bool:
    return metric_sum(relay.metrics.registry, "transient_failures_total", stage="relay") >= 1


class SpentProducer:
    """A producer the broker answers with OutOfOrderSequenceNumber, whatever it sends."""

    def __init__(self) -> None:
        self.stopped = False

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(OutOfOrderSequenceNumber())
        return future

    async def stop(self) -> None:
        self.stopped = True


async def test_a_producer_whose_sequence_state_the_broker_refuses_is_replaced_and_the_rows_go_out(database_url):
    pool = await create_pool(database_url, "relayrenew", 2)
    spent, fresh = SpentProducer(), SlowBroker()
    fresh.release.set()

    async def renew() -> Any:
        return fresh

    try:
        await migrate(pool, "relayrenew", RUNTIME_MIGRATIONS)
        async with pool.acquire() as conn:
            await enqueue(conn, [OutboundMessage(f"e{i}", "t", b"k", f"{i}".encode()) for i in range(3)])
        relay = OutboxRelay(pool=pool, producer=spent, schema="relayrenew", metrics=Metrics("t"),  # type: ignore[arg-type]
                            renew=renew)
        task = asyncio.create_task(relay.run())

        async def published() -> bool:
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox") == 0
        await eventually(published, what="the rows published by the new producer")
        await relay.stop(task)
    finally:
        await pool.close()
    assert spent.stopped, "the spent producer was closed"
    assert fresh.sent == [b"0", b"1", b"2"], "in order, by the new producer"
    assert relay.metrics.producers_renewed._value.get() == 1
