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
from aiokafka.errors import MessageSizeTooLargeError, OutOfOrderSequenceNumber

from servicekit.db import create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS, OutboundMessage, enqueue
from servicekit.delivery.relay import OutboxRelay
from servicekit.metrics import Metrics
from tests.support.kafka_tools import eventually, metric_sum

pytestmark = pytest.mark.integration


class Batch:
    """What a stand-in producer's ``create_batch`` gives: the values appended, in order."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes, headers: Any) -> object:
        self.values.append(value)
        return object()  # the record's metadata: it was taken

    def close(self) -> None:
        pass


class StandIn:
    """The producer's batch surface, one partition per topic; what the broker answers is the subclass's."""

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        raise NotImplementedError


class SlowBroker(StandIn):
    """A producer whose acknowledgements wait until the test releases them; it records every value sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.release = asyncio.Event()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.sent.extend(batch.values)
        return asyncio.ensure_future(self.release.wait())


async def test_a_stop_during_a_pass_lets_it_finish_and_publishes_each_row_once(database_url):
    pool = await create_pool(database_url, "relaystop", 4)
    try:
        await migrate(pool, "relaystop", RUNTIME_MIGRATIONS)
        async with pool.acquire() as conn:
            await enqueue(
                conn, [OutboundMessage(f"e{i}", "t", b"k", f"{i}".encode()) for i in range(5)]
            )
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
            await enqueue(
                conn, [OutboundMessage("e", "t", b"k", b"v")]
            )  # the missing producer fails the pass
        task = asyncio.create_task(relay.run())
        await eventually(lambda: _failed_once(relay), what="a failed pass")
        await asyncio.wait_for(relay.stop(task, timeout=30), 5)
    finally:
        await pool.close()
    assert not task.cancelled(), (
        "it left its backoff when asked to stop, rather than being cancelled"
    )


async def _failed_once(relay: OutboxRelay) -> bool:
    return metric_sum(relay.metrics.registry, "transient_failures_total", stage="relay") >= 1


class SpentProducer(StandIn):
    """A producer the broker answers with OutOfOrderSequenceNumber, whatever it sends."""

    def __init__(self) -> None:
        self.stopped = False

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(OutOfOrderSequenceNumber())
        return future

    async def stop(self) -> None:
        self.stopped = True


async def test_a_producer_whose_sequence_state_the_broker_refuses_is_replaced_and_the_rows_go_out(
    database_url,
):
    pool = await create_pool(database_url, "relayrenew", 2)
    spent, fresh = SpentProducer(), SlowBroker()
    fresh.release.set()

    async def renew() -> Any:
        return fresh

    try:
        await migrate(pool, "relayrenew", RUNTIME_MIGRATIONS)
        async with pool.acquire() as conn:
            await enqueue(
                conn, [OutboundMessage(f"e{i}", "t", b"k", f"{i}".encode()) for i in range(3)]
            )
        relay = OutboxRelay(
            pool=pool,
            producer=spent,
            schema="relayrenew",
            metrics=Metrics("t"),  # type: ignore[arg-type]
            renew=renew,
        )
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


class RefusingBroker(SlowBroker):
    """Acknowledges at once, but refuses for good, whole, any batch holding the value it is told to (as a broker
    refuses a batch with a record over its topic's limit); it records the values it wrote."""

    def __init__(self, refused: bytes = b"") -> None:
        super().__init__()
        self.release.set()
        self.refused = refused

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if self.refused in batch.values:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(MessageSizeTooLargeError())
            return future
        return await super().send_batch(batch, topic, partition=partition)


async def _relay(database_url: str, schema: str, broker: SlowBroker) -> tuple[Any, OutboxRelay]:
    pool = await create_pool(database_url, schema, 2)
    await migrate(pool, schema, RUNTIME_MIGRATIONS)
    return pool, OutboxRelay(pool=pool, producer=broker, schema=schema, metrics=Metrics("t"))  # type: ignore[arg-type]


async def test_rows_handed_over_after_their_commit_are_sent_as_handed_without_reading_the_table(
    database_url,
):
    broker = RefusingBroker()
    pool, relay = await _relay(database_url, "relayhand", broker)
    try:
        async with pool.acquire() as conn:
            queued = await enqueue(
                conn, [OutboundMessage(f"e{i}", "t", b"k", b"table") for i in range(3)]
            )
        # what the transaction wrote, as it handed it over (the table's copy says otherwise: the path shows)
        relay.hand(
            [
                (row_id, OutboundMessage(m.event_id, m.topic, m.key, f"memory {n}".encode()))
                for n, (row_id, m) in enumerate(queued)
            ]
        )
        assert await relay.publish_once() == 3
        async with pool.acquire() as conn:
            left = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await pool.close()
    assert broker.sent == [b"memory 0", b"memory 1", b"memory 2"], "from memory, in order"
    assert left == 0, "and deleted from the table in the same transaction"


async def test_handed_rows_never_overtake_an_older_row_still_waiting_in_the_table(database_url):
    broker = RefusingBroker()
    pool, relay = await _relay(database_url, "relayolder", broker)
    try:
        async with pool.acquire() as conn:
            await enqueue(
                conn, [OutboundMessage("old", "t", b"k", b"older")]
            )  # e.g. left by the last run
            queued = await enqueue(conn, [OutboundMessage("new", "t", b"k", b"newer")])
        relay.hand(queued)
        while await relay.publish_once():
            pass
    finally:
        await pool.close()
    assert broker.sent == [b"older", b"newer"], "the table's order, each once"


async def test_a_handed_row_the_broker_refuses_is_parked_and_the_rest_go_out_once(database_url):
    """The broker refuses the batch holding it, whole: its rows go again one by one, and only that one is parked."""
    broker = RefusingBroker(refused=b"too large")
    pool, relay = await _relay(database_url, "relayrefuse", broker)
    try:
        async with pool.acquire() as conn:
            queued = await enqueue(
                conn,
                [
                    OutboundMessage(f"e{i}", "t", b"k", v)
                    for i, v in enumerate((b"first", b"too large", b"last"))
                ],
            )
        relay.hand(queued)
        while await relay.publish_once():
            pass
        async with pool.acquire() as conn:
            parked = await conn.fetch("SELECT event_id, reason FROM outbox_parked")
            left = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await pool.close()
    assert [(r["event_id"], r["reason"]) for r in parked] == [("e1", "too-large")]
    assert left == 0
    assert broker.sent == [b"first", b"last"], "in order, each once"
