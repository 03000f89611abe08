"""The consume path every subscriber shares: validate → one DB transaction → commit the offset.

For each polled batch, in one transaction: contract-invalid messages are written to the outbox
addressed to the topic's dead-letter topic; valid ones are claimed in the inbox (a duplicate is
skipped) and handed to the service's handler inside a savepoint; the handler's output events go
to the outbox. Only after the transaction commits is the Kafka offset committed. A transient
failure (database or broker away) rolls back, rewinds the consumer to the batch's first record
and retries with backoff: nothing is committed past a record that was not handled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

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


class BatchPipeline:
    def __init__(self, *, topic: Topic, handler: Handler, catalogue: Catalogue, settings: ServiceSettings,
                 pool: Callable[[], asyncpg.Pool], clock: Clock, metrics: Metrics,
                 on_committed: Callable[[], None]) -> None:
        self.topic, self.handler, self.catalogue, self.settings = topic, handler, catalogue, settings
        self._pool, self.clock, self.metrics, self.on_committed = pool, clock, metrics, on_committed
        self.name = settings.topic(topic.name)
        self.dlq = settings.topic(topic.dlq)
        self.backoff = Backoff()

    async def on_message(self, message: KafkaMessage) -> None:
        """faststream entry point (manual acknowledgement). Never raises: an exception here would
        let the consumer move past records that were not handled."""
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        if not records:
            return
        started = time.perf_counter()
        try:
            counts = await self.handle(records)
        except Exception as exc:  # noqa: BLE001 - every failure here is retried, none is skipped
            delay = self.backoff.next()
            self.metrics.transient_failures(stage="consume").inc()
            log.warning("batch not handled; rewinding to retry", topic=self.name, count=len(records),
                        error_type=type(exc).__name__, transient=is_transient(exc), retry_in_s=round(delay, 2))
            await message.nack()
            await asyncio.sleep(delay)
            return
        self.backoff.reset()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        for outcome, n in counts.items():
            if n:
                self.metrics.consumed(topic=self.name, outcome=outcome).inc(n)
        self.on_committed()
        try:
            await message.ack()
        except Exception as exc:  # noqa: BLE001 - e.g. a rebalance; the inbox absorbs the redelivery
            log.warning("offset commit failed; the batch will be redelivered and skipped as duplicates",
                        topic=self.name, error_type=type(exc).__name__)

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> dict[str, int]:
        parsed: list[tuple[ConsumerRecord[Any, Any], Event | ContractError]] = []
        for record in records:
            try:
                parsed.append((record, self.topic.parse(record.value)))
            except ContractError as exc:
                parsed.append((record, exc))
        counts = {"handled": 0, "duplicate": 0, "dead_lettered": 0}
        now = self.clock.now()
        async with self._pool().acquire() as conn, conn.transaction():
            for record, item in parsed:
                if isinstance(item, ContractError):
                    counts["dead_lettered"] += await self._dead_letter(conn, record, item.reason, item.detail)
                    continue
                if not await claim(conn, str(item.event_id), record.topic):
                    counts["duplicate"] += 1
                    continue
                try:
                    async with conn.transaction():  # a savepoint: one message's failure is its own
                        outputs = await self.handler(conn, item, now)
                        await enqueue(conn, [to_outbound(e, self.catalogue, self.settings) for e in outputs])
                    counts["handled"] += 1
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    reason = exc.reason if isinstance(exc, ContractError) else "handler-failed"
                    detail = exc.detail if isinstance(exc, ContractError) else type(exc).__name__
                    log.error("message could not be handled; dead-lettered", topic=record.topic,
                              partition=record.partition, offset=record.offset, event_id=str(item.event_id),
                              reason=reason, error_type=type(exc).__name__)
                    counts["dead_lettered"] += await self._dead_letter(conn, record, reason, detail, claimed=True)
        return counts

    async def _dead_letter(self, conn: asyncpg.Connection, record: ConsumerRecord[Any, Any], reason: str,
                           detail: str, *, claimed: bool = False) -> int:
        message = dead_letter(record, self.dlq, reason=reason, detail=detail, consumer=self.settings.service_name)
        if not claimed and not await claim(conn, message.event_id, record.topic):
            return 0  # this very record was dead-lettered before (a redelivery)
        await enqueue(conn, [message])
        log.warning("message dead-lettered", topic=record.topic, partition=record.partition, offset=record.offset,
                    reason=reason)
        return 1
