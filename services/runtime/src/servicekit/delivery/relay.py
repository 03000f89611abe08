"""Publishes outbox rows to Kafka, in order, and deletes them once the broker has acknowledged them.

Safe with several instances: each pass holds a transaction-scoped advisory lock, so one relay
publishes at a time (keeping per-key order) and the others wait their turn. A crash between the
broker's acknowledgement and the delete republishes the same event ids: at-least-once, and
recognisably the same events downstream.

A row the broker refuses for good (too large, an invalid topic, no authorisation) is *parked*: moved
to ``outbox_parked`` with its reason, counted and logged, so it never blocks the rows after it. A
retriable failure (broker away, leader moving) publishes nothing new: the pass is retried with
backoff. Per-key order therefore holds among the published rows; a parked row is out of the sequence.

A transaction that wrote outbox rows hands them to the relay once it has committed (:meth:`OutboxRelay.hand`),
and the next pass sends them from memory, with no second read of the table: it deletes the handed rows that
are still there, in the same locked transaction as the send, but only if no older row waits (which would
otherwise be overtaken). Whenever that cannot be done (an older row, the broker away, another relay's turn),
the table is read as before, oldest first: memory only saves work, the table decides.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    InvalidTopicError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from opentelemetry.trace import Span

from contracts.topics import DLQ_SUFFIX
from servicekit import tracing
from servicekit.backoff import Backoff
from servicekit.broker import MAX_REQUEST_BYTES, keyed_partitioner
from servicekit.db import advisory_key
from servicekit.delivery.outbox import Header, Queued, park, park_messages, stored_headers
from servicekit.logs import get_logger
from servicekit.metrics import Metrics

log = get_logger("servicekit.delivery.relay")

Row = tuple[str, bytes | None, bytes | None, list[Header], str | None, str]
"""What the relay sends of an outbox row: topic, key, value, headers, stored trace context, event id."""

Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
"""A record as the producer takes it: topic, key, value, headers (their names as text)."""

PERMANENT: dict[type[BaseException], str] = {
    MessageSizeTooLargeError: "too-large",
    RecordTooLargeError: "too-large",
    RecordListTooLargeError: "too-large",
    InvalidTopicError: "invalid-topic",
    TopicAuthorizationFailedError: "not-authorised",
    TypeError: "unsendable",
    ValueError: "unsendable",  # the client refuses the arguments themselves
}
"""Broker or client answers that sending again can never change: the row is parked with this reason."""


PRODUCER_SPENT = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
    ProducerClosed,
)
"""The idempotent producer's own state is no longer accepted (seen after a broker outage under load): retrying
with it fails forever; a new producer (a new producer id) is the way on."""


HANDED_BATCHES = 2
"""Most handed rows kept in memory, in batches: past it they are published from the table."""


class _Batch:
    """The records of one pass for one partition, in a batch the producer sends whole."""

    __slots__ = ("builder", "partition", "rows", "topic")

    def __init__(self, builder: Any, topic: str, partition: int) -> None:
        self.builder, self.topic, self.partition = builder, topic, partition
        self.rows: list[int] = []
        """Which of the pass's records it holds, in their order."""

    def add(
        self,
        n: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]],
    ) -> bool:
        """Record ``n`` appended; False when the batch is full (it is closed then)."""
        if self.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            return False
        self.rows.append(n)
        return True


def _record_bytes(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]]
) -> int:
    """The record's size in a batch, as the client estimates it for its own size check."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers))


class _Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The handed rows cannot be sent from memory: the table's path takes them."""


async def _acknowledgement(sent: asyncio.Future[Any]) -> BaseException | None:
    """How a batch handed to the producer fared: None once acknowledged, else why not. Awaited in turn, batch by
    batch: ``gather`` cost a callback and a wrapper for each (issue 42)."""
    if not sent.done():
        await asyncio.wait((sent,))
    return asyncio.CancelledError() if sent.cancelled() else sent.exception()


def permanent_reason(exc: BaseException) -> str | None:
    return next((reason for kind, reason in PERMANENT.items() if isinstance(exc, kind)), None)


class OutboxRelay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        metrics: Metrics,
        batch: int = 1000,
        interval_s: float = 0.05,
        renew: Callable[[], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self.pool, self.producer, self.metrics, self.renew = pool, producer, metrics, renew
        self.batch, self.interval_s = batch, interval_s
        self._lock_key = advisory_key(f"outbox-relay:{schema}")
        self._handed: list[Queued] = []
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def hand(self, queued: Sequence[Queued]) -> None:
        """Rows a transaction has just committed, handed over as they are: the next pass publishes them from memory
        unless older rows wait. Past ``HANDED_BATCHES`` batches the memory is let go (the table has every row)."""
        self._handed.extend(queued)
        if len(self._handed) > self.batch * HANDED_BATCHES:
            self._handed.clear()
        self.wake()

    async def publish_once(self) -> int:
        """One pass: publish up to ``batch`` rows. Returns how many left the outbox (published or parked;
        0 if another relay holds the lock). A retriable failure is raised after parking what must be."""
        handed, self._handed = sorted(self._handed, key=lambda q: q[0]), []
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    if not await self._turn(conn):
                        self._handed[:0] = (
                            handed  # another relay's turn; they may be theirs to publish by then
                        )
                        return 0
                    if (
                        handed
                        and (published := await self._publish_handed(conn, handed[: self.batch]))
                        is not None
                    ):
                        self._handed[:0] = handed[self.batch :]
                        return published
                    published, retriable = await self._publish_stored(conn)
            except _Fallback:
                # the handed rows' deletion went back with the pass: the table's path takes them, in a pass of its own
                async with conn.transaction():
                    if not await self._turn(conn):
                        return 0
                    published, retriable = await self._publish_stored(conn)
        if retriable is not None:  # raised once the parking committed: the pass is retried
            raise retriable
        return published

    async def _turn(self, conn: asyncpg.Connection) -> bool:
        """Whether this relay holds the pass's lock (in the transaction): one relay publishes at a time."""
        return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._lock_key))

    async def _publish_handed(
        self, conn: asyncpg.Connection, handed: Sequence[Queued]
    ) -> int | None:
        """The fast path: delete the handed rows still there, if no older row waits, and send them from memory; a row
        the broker refuses for good is parked from memory. ``None`` when an older row waits (nothing was changed);
        :class:`_Fallback` when the broker is away (the pass is rolled back, every row back in the table). Either way
        the rows are then read back from the table, as any other. No savepoint: two round trips a pass fewer
        (issue 42)."""
        created = {
            r["id"]: r["created_at"]
            for r in await conn.fetch(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND NOT EXISTS "
                "(SELECT 1 FROM outbox WHERE id < $2) RETURNING id, created_at",
                [i for i, _ in handed],
                handed[0][0],
            )
        }
        if not created:
            # nothing changed: the same pass goes on to the table's path, if anything waits there
            return None if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)") else 0
        kept = [(i, m) for i, m in handed if i in created]
        outcomes = await self._send(
            [(m.topic, m.key, m.value, list(m.headers), m.trace, m.event_id) for _, m in kept]
        )
        if any(o is not None and permanent_reason(o) is None for o in outcomes):
            raise _Fallback  # the broker away: the pass is rolled back, the table's path retries and backs off
        refused = [
            (i, m, created[i], self._refused(m.topic, o))
            for (i, m), o in zip(kept, outcomes, strict=True)
            if o is not None
        ]
        if refused:
            await park_messages(conn, refused)
        self._count_published(
            m.topic for (_, m), o in zip(kept, outcomes, strict=True) if o is None
        )
        return len(kept)

    def _refused(self, topic: str, outcome: BaseException) -> str:
        """Log and count a row the broker refused for good; its reason."""
        reason = permanent_reason(outcome)
        assert reason is not None
        log.error(
            "outbox row refused by the broker for good; parked",
            topic=topic,
            reason=reason,
            error_type=type(outcome).__name__,
        )
        self.metrics.parked(topic=topic, reason=reason).inc()
        return reason

    async def _publish_stored(self, conn: asyncpg.Connection) -> tuple[int, BaseException | None]:
        """The rows in the table, oldest first: (how many left it, a retriable failure that stopped the pass)."""
        parked: dict[int, str] = {}
        retriable: BaseException | None = None
        rows = await conn.fetch(
            "SELECT id, event_id, topic, key, value, header_bytes, headers, trace_context FROM outbox "
            "ORDER BY id LIMIT $1",
            self.batch,
        )
        if not rows:
            return 0, None
        outcomes = await self._send(
            [
                (
                    r["topic"],
                    r["key"],
                    r["value"],
                    stored_headers(r["header_bytes"], r["headers"]),
                    r["trace_context"],
                    r["event_id"],
                )
                for r in rows
            ]
        )
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is not None:
                if permanent_reason(outcome) is None:
                    retriable = retriable or outcome
                else:
                    parked[row["id"]] = self._refused(row["topic"], outcome)
        if parked:
            await park(conn, parked)
        if retriable is not None:
            return len(parked), retriable  # the parking commits, nothing else
        await conn.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
        self._count_published(r["topic"] for r in rows if r["id"] not in parked)
        return len(rows), None

    def _count_published(self, topics: Iterable[str]) -> None:
        for topic, n in collections.Counter(topics).items():
            self.metrics.published(topic=topic).inc(n)

    async def _send(self, rows: Sequence[Row]) -> list[BaseException | None]:
        """Send (topic, key, value, headers, stored trace context, event id) in order, and wait for the broker's
        answers; one outcome per row. A row with a trace context goes out in that trace: its ``send`` span's context
        (or, tracing off, the context itself) in the ``traceparent`` / ``tracestate`` headers, unless the row carries
        its own (a dead letter keeps the original record's)."""
        records: list[Record] = []
        spans: list[Span | None] = []
        for topic, key, value, headers, cause, event_id in rows:
            out = [(name.decode(), v) for name, v in headers]
            carrier, span = tracing.loaded(cause), None
            if carrier:
                if tracing.enabled() and tracing.sampled(carrier):
                    span = tracing.send_span(topic, carrier, event_id)
                    if key is not None and not topic.endswith(DLQ_SUFFIX):
                        # our own output's key: its aggregate's id (a dead letter keeps a stranger's key)
                        tracing.case_key(span, key.decode("utf-8", "replace"))
                    carrier = tracing.carrier_of(span)
                present = {name.lower() for name, _ in out}
                out += [(k, v.encode()) for k, v in carrier.items() if k not in present]
            spans.append(span)
            records.append((topic, key, value, out))
        try:
            outcomes = await self._deliver(records)
        except BaseException as exc:
            for span in spans:
                if span is not None:
                    tracing.failed(span, "broker-unavailable")
                    span.set_attribute("error.type", type(exc).__name__)
                    span.end()
            raise
        for span, outcome in zip(spans, outcomes, strict=True):
            if span is not None:
                if outcome is not None:
                    tracing.failed(span, permanent_reason(outcome) or "broker-unavailable")
                span.end()
        return outcomes

    async def _deliver(self, records: Sequence[Record]) -> list[BaseException | None]:
        """Hand the records to the producer as one batch per partition (a record too large for one batch starts
        the next), each closed so that it goes at once, and wait for the broker's answer to each batch: one
        outcome per record. A batch refused for good may owe that to one of its records: its records are then sent
        again one by one, so that only that one is parked (the broker writes a batch whole or not at all).

        Issue 42: the producer's ``send`` per record cost a future, a metadata wait, a partitioner call and a
        callback each; a batch costs them once."""
        outcomes: list[BaseException | None] = [None] * len(records)
        partitions: dict[str, list[int]] = {}
        filling: dict[tuple[str, int], _Batch] = {}
        batches: list[_Batch] = []
        for n, (topic, key, value, headers) in enumerate(records):
            if topic not in partitions:
                try:
                    partitions[topic] = sorted(await self.producer.partitions_for(topic))
                except Exception as exc:
                    if permanent_reason(exc) is None:
                        raise
                    outcomes[n] = exc
                    continue
            if _record_bytes(key, value, headers) > MAX_REQUEST_BYTES:
                outcomes[n] = MessageSizeTooLargeError(
                    f"the record is larger than the producer's largest request ({MAX_REQUEST_BYTES} bytes)"
                )
                continue
            where = (topic, keyed_partitioner(key, partitions[topic], partitions[topic]))
            batch = filling.get(where)
            try:
                if batch is None or not batch.add(n, key, value, headers):
                    batch = filling[where] = _Batch(self.producer.create_batch(), *where)
                    batches.append(batch)
                    batch.add(n, key, value, headers)  # an empty batch takes any record
            except (TypeError, ValueError) as exc:  # the client refuses the arguments themselves
                outcomes[n] = exc
        sent: list[tuple[_Batch, asyncio.Future[Any]]] = []
        # in the order they were begun: a partition's second batch waits for its first to be taken, never another's
        for batch in batches:
            batch.builder.close()
            sent.append(
                (
                    batch,
                    await self.producer.send_batch(
                        batch.builder, batch.topic, partition=batch.partition
                    ),
                )
            )
        refused: list[_Batch] = []
        for batch, future in sent:
            outcome = await _acknowledgement(future)
            for n in batch.rows:
                outcomes[n] = outcome
            if outcome is not None and permanent_reason(outcome):
                refused.append(batch)
        for batch in refused:
            if self.renew is not None:
                # the idempotent producer counted the refused records in the partition's sequence, the broker did
                # not: the next batch there would be out of sequence (and every one after it) under this producer
                await self._renew_producer("batch-refused")
            if len(batch.rows) > 1:
                for n in batch.rows:  # which of them: one at a time, in their order
                    [outcomes[n]] = await self._deliver([records[n]])
        return outcomes

    async def run(self) -> None:
        backoff = Backoff()
        while not self._stopping:
            self._wake.clear()  # before the pass: a commit during the pass wakes the next one at once
            try:
                published = await self.publish_once()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: retry, never drop
                delay = backoff.next()
                self.metrics.transient_failures(stage="relay").inc()
                log.warning(
                    "outbox relay failed; retrying",
                    error_type=type(exc).__name__,
                    retry_in_s=round(delay, 2),
                )
                if isinstance(exc, PRODUCER_SPENT) and self.renew is not None:
                    await self._renew_producer("sequence-refused")
                with contextlib.suppress(TimeoutError):  # a stop ends the wait
                    await asyncio.wait_for(self._stopped.wait(), delay)
                continue
            if published < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)

    async def _renew_producer(self, why: str) -> None:
        """Replace a producer whose sequence state the broker refuses, or will; what is left to send goes by the new
        one."""
        assert self.renew is not None
        old = self.producer
        with contextlib.suppress(Exception):
            await old.stop()
        try:
            self.producer = await self.renew()
        except Exception as exc:  # noqa: BLE001 - the broker may be away still: keep the old one, try again later
            log.warning(
                "a new producer could not be started; retrying", error_type=type(exc).__name__
            )
            return
        self.metrics.producers_renewed.inc()
        log.warning("producer renewed", reason=why)

    async def stop(self, task: asyncio.Task[None], timeout: float = 10.0) -> None:
        """End ``run`` (the task running it) after its current pass; cancel it only if that takes too long."""
        self._stopping = True
        self.wake()
        self._stopped.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def drain(self, timeout: float = 10.0) -> None:
        """On shutdown: publish what is left, within ``timeout``; the rest waits for the next start."""
        self._stopping = True
        deadline = asyncio.get_running_loop().time() + timeout
        with contextlib.suppress(Exception):
            while asyncio.get_running_loop().time() < deadline and await self.publish_once():
                pass
