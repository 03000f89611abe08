"""The consume path every subscriber shares: validate → one DB transaction → commit the offset.

For each polled batch, in one transaction: every message id is claimed in the inbox with one
statement (a duplicate is skipped); contract-invalid messages are addressed to the topic's
dead-letter topic; valid ones go to the service's handler; every output goes to the outbox with one
statement. Only after the transaction commits is the Kafka offset committed. A transient failure
(database or broker away) rolls back, rewinds the consumer to the batch's first record and retries
with backoff: nothing is committed past a record that was not handled.

A handler comes in one of two forms:

* :data:`Handler`, one message at a time, each in its own savepoint;
* :class:`Batched`, a whole run of messages at once: one ``load`` locks and reads every aggregate
  the run concerns, ``step`` decides each message in memory, in order, and one ``save`` writes what
  changed. The database round trips are per poll, not per message. If ``load`` or ``save`` fails
  with an error that is not transient, the run is handled again one message at a time (a run of
  one), so a single bad message is dead-lettered alone.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage

from contracts.envelope import Event
from contracts.topics import Catalogue, ContractError, Topic
from servicekit.backoff import Backoff
from servicekit.clock import Clock
from servicekit.db import is_transient
from servicekit.logs import get_logger
from servicekit.metrics import Metrics
from servicekit.outbox import OutboundMessage, claim, enqueue
from servicekit.settings import ServiceSettings

Handler = Callable[[asyncpg.Connection, Any, datetime], Awaitable[Sequence[Event]]]
"""A service's handler: (connection in the open transaction, validated event, now) -> output events."""


class Batch(Protocol):
    """The working set of one run of messages: loaded (and locked) once, stepped through, saved once."""

    def step(self, message: Any, now: datetime) -> Sequence[Event]:
        """Decide one message against the working set and apply the outcome to it; no I/O."""
        ...

    async def save(self, conn: asyncpg.Connection) -> None:
        """Write everything the steps changed."""
        ...


@dataclass(frozen=True)
class Batched:
    """A handler in batch form. ``load(conn, messages)`` reads and locks what ``messages`` concern."""

    load: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[Batch]]

    async def one(self, conn: asyncpg.Connection, message: Any, now: datetime) -> Sequence[Event]:
        """The same handler for a single message (a run of one)."""
        batch = await self.load(conn, [message])
        outputs = batch.step(message, now)
        await batch.save(conn)
        return outputs

log = get_logger("servicekit.consumer")


def to_outbound(event: Event, catalogue: Catalogue, settings: ServiceSettings) -> OutboundMessage:
    topic = catalogue.topic_of(event)
    return OutboundMessage(
        event_id=str(event.event_id),
        topic=settings.topic(topic.name),
        key=event.key.encode(),
        value=event.to_json(),
        headers=(("content-type", "application/json"), ("event_type", event.event_type),
                 ("correlation_id", str(event.correlation_id))),
    )


def dead_letter(record: ConsumerRecord[Any, Any], dlq_topic: str, *, reason: str, detail: str,
                consumer: str) -> OutboundMessage:
    """The original bytes, key and headers, plus why and where from."""
    original = tuple((k, v.decode(errors="replace")) for k, v in (record.headers or ()))
    origin = f"{record.topic}/{record.partition}/{record.offset}"
    return OutboundMessage(
        event_id=f"dlq:{origin}",
        topic=dlq_topic,
        key=record.key,
        value=record.value or b"",
        headers=(*original, ("dlq.reason", reason), ("dlq.detail", detail[:2000]), ("dlq.consumer", consumer),
                 ("dlq.origin.topic", record.topic), ("dlq.origin.partition", str(record.partition)),
                 ("dlq.origin.offset", str(record.offset))),
    )


@dataclass(frozen=True)
class Route:
    """One subscribed topic: its contract, its handler and its dead-letter topic (names as on the broker)."""

    topic: Topic
    handler: Handler
    batched: Batched | None
    dlq: str

    @classmethod
    def of(cls, topic: Topic, handler: Handler | Batched, settings: ServiceSettings) -> Route:
        if isinstance(handler, Batched):
            return cls(topic, handler.one, handler, settings.topic(topic.dlq))
        return cls(topic, handler, None, settings.topic(topic.dlq))


Counts = collections.Counter[tuple[str, str]]
"""(topic, outcome) -> messages."""


class BatchPipeline:
    """One consumer's batches, whatever topics they mix: one transaction, one offset commit, per poll."""

    def __init__(self, *, routes: Mapping[str, Route], catalogue: Catalogue, settings: ServiceSettings,
                 pool: Callable[[], asyncpg.Pool], clock: Clock, metrics: Metrics,
                 on_committed: Callable[[], None]) -> None:
        self.routes, self.catalogue, self.settings = routes, catalogue, settings
        self._pool, self.clock, self.metrics, self.on_committed = pool, clock, metrics, on_committed
        self.backoff = Backoff()

    async def on_message(self, message: KafkaMessage) -> None:
        """faststream entry point (manual acknowledgement). Never raises: an exception here would
        let the consumer move past records that were not handled."""
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        if not records:
            return
        started = time.perf_counter()
        topics = sorted({r.topic for r in records})
        try:
            counts = await self.handle(records)
        except Exception as exc:  # noqa: BLE001 - every failure here is retried, none is skipped
            delay = self.backoff.next()
            self.metrics.transient_failures(stage="consume").inc()
            log.warning("batch not handled; rewinding to retry", topics=topics, count=len(records),
                        error_type=type(exc).__name__, transient=is_transient(exc), retry_in_s=round(delay, 2))
            await message.nack()
            await asyncio.sleep(delay)
            return
        self.backoff.reset()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        for (topic, outcome), n in counts.items():
            self.metrics.consumed(topic=topic, outcome=outcome).inc(n)
        self.on_committed()
        try:
            await message.ack()
        except Exception as exc:  # noqa: BLE001 - e.g. a rebalance; the inbox absorbs the redelivery
            log.warning("offset commit failed; the batch will be redelivered and skipped as duplicates",
                        topics=topics, error_type=type(exc).__name__)

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> Counts:
        parsed: list[tuple[ConsumerRecord[Any, Any], Event | ContractError]] = []
        for record in records:
            try:
                parsed.append((record, self.routes[record.topic].topic.parse(record.value)))
            except ContractError as exc:
                parsed.append((record, exc))
        counts: Counts = collections.Counter()
        now = self.clock.now()
        outbox: list[list[OutboundMessage]] = [[] for _ in parsed]  # what each record sends, dead letters included
        async with self._pool().acquire() as conn, conn.transaction():
            ids = [self._inbox_id(record, item) for record, item in parsed]
            fresh = await claim(conn, [(i, record.topic) for i, (record, _) in zip(ids, parsed, strict=True)])
            runs: dict[str, list[tuple[int, ConsumerRecord[Any, Any], Event]]] = collections.defaultdict(list)
            for n, (message_id, (record, item)) in enumerate(zip(ids, parsed, strict=True)):
                if message_id not in fresh:  # handled before (a redelivery or a replay), or twice in this batch
                    if isinstance(item, Event):
                        counts[record.topic, "duplicate"] += 1
                    continue
                fresh.discard(message_id)
                if isinstance(item, ContractError):
                    outbox[n].append(self._dead_letter(record, item.reason, item.detail))
                    counts[record.topic, "dead_lettered"] += 1
                else:
                    runs[record.topic].append((n, record, item))
            for topic, run in runs.items():  # topics are independent; each topic's messages stay in order
                route = self.routes[topic]
                if route.batched is not None and len(run) > 1:
                    await self._handle_run(conn, route, run, now, outbox, counts)
                else:
                    for n, record, event in run:
                        await self._handle_one(conn, route, record, event, now, outbox[n], counts)
            await enqueue(conn, (m for sent in outbox for m in sent))
        return counts

    @staticmethod
    def _inbox_id(record: ConsumerRecord[Any, Any], item: Event | ContractError) -> str:
        return str(item.event_id) if isinstance(item, Event) else f"dlq:{record.topic}/{record.partition}/{record.offset}"

    async def _handle_run(self, conn: asyncpg.Connection, route: Route,
                          run: Sequence[tuple[int, ConsumerRecord[Any, Any], Event]], now: datetime,
                          outbox: list[list[OutboundMessage]], counts: Counts) -> None:
        assert route.batched is not None
        topic = run[0][1].topic
        try:
            async with conn.transaction():  # a savepoint: a failed load or save is retried one by one
                batch = await route.batched.load(conn, [event for _, _, event in run])
                failed = 0
                for n, record, event in run:
                    try:
                        outputs = batch.step(event, now)
                    except Exception as exc:  # noqa: BLE001 - pure code: a defect, never transient
                        outbox[n].append(self._failed(route, record, event, exc))
                        failed += 1
                        continue
                    outbox[n].extend(to_outbound(e, self.catalogue, self.settings) for e in outputs)
                await batch.save(conn)
            counts[topic, "handled"] += len(run) - failed
            counts[topic, "dead_lettered"] += failed
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("batch could not be handled as one; handling its messages one by one", topic=topic,
                        count=len(run), error_type=type(exc).__name__)
            for n, record, event in run:
                outbox[n].clear()
                await self._handle_one(conn, route, record, event, now, outbox[n], counts)

    async def _handle_one(self, conn: asyncpg.Connection, route: Route, record: ConsumerRecord[Any, Any],
                          event: Event, now: datetime, outbox: list[OutboundMessage], counts: Counts) -> None:
        try:
            async with conn.transaction():  # a savepoint: one message's failure is its own
                outputs = await route.handler(conn, event, now)
            outbox.extend(to_outbound(e, self.catalogue, self.settings) for e in outputs)
            counts[record.topic, "handled"] += 1
        except Exception as exc:
            if is_transient(exc):
                raise
            outbox.append(self._failed(route, record, event, exc))
            counts[record.topic, "dead_lettered"] += 1

    def _failed(self, route: Route, record: ConsumerRecord[Any, Any], event: Event, exc: Exception) -> OutboundMessage:
        reason = exc.reason if isinstance(exc, ContractError) else "handler-failed"
        detail = exc.detail if isinstance(exc, ContractError) else type(exc).__name__
        log.error("message could not be handled; dead-lettered", topic=record.topic, partition=record.partition,
                  offset=record.offset, event_id=str(event.event_id), reason=reason, error_type=type(exc).__name__)
        return self._dead_letter(record, reason, detail, route)

    def _dead_letter(self, record: ConsumerRecord[Any, Any], reason: str, detail: str,
                     route: Route | None = None) -> OutboundMessage:
        log.warning("message dead-lettered", topic=record.topic, partition=record.partition, offset=record.offset,
                    reason=reason)
        dlq = (route or self.routes[record.topic]).dlq
        return dead_letter(record, dlq, reason=reason, detail=detail, consumer=self.settings.service_name)
