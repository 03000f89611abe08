"""Where a consumer group is in each partition, kept with the state (issue 39): the next offset to read is written in
the transaction that handled the records before it, with the state, the inbox and the outbox; on assignment the
consumer seeks to it. A database restored from a backup therefore re-reads what it no longer knows, and the inbox
absorbs what it still does; Kafka's committed offsets stay a copy, for lag and monitoring.

A partition with no stored position (a new group, or a database from before positions were kept) starts from the
group's committed offset, as before, and that start is stored at once, before its first record is read: a backup
taken from then on holds a position for every partition the group was given. A stored position older than the
partition's earliest record (a restore further back than the topic keeps records) is never skipped past: the
partition stays paused, the consumer reports it and crashes on every poll until an operator acts
(``consumer_positions_lost``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from servicekit.logs import get_logger
from servicekit.metrics import Metrics

log = get_logger("servicekit.consume")


def next_offsets(records: Iterable[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    """The next offset to read in each partition, once ``records`` are handled."""
    after: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        after[tp] = max(after.get(tp, 0), r.offset + 1)
    return after


async def keep(
    conn: asyncpg.Connection, group_id: str, after: Mapping[TopicPartition, int]
) -> None:
    """Store ``after`` in the open transaction; a position never moves back (a zombie member that handled a
    partition already handed on cannot rewind it)."""
    ordered = sorted(after.items())
    await conn.execute(
        "INSERT INTO consumer_positions (group_id, topic, partition, next_offset) "
        "SELECT $1, t, p, o FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, o) "
        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
        "next_offset = GREATEST(consumer_positions.next_offset, EXCLUDED.next_offset), updated_at = now()",
        group_id,
        [tp.topic for tp, _ in ordered],
        [tp.partition for tp, _ in ordered],
        [offset for _, offset in ordered],
    )


async def stored(
    pool: asyncpg.Pool, group_id: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The stored next offset of each of ``partitions`` that has one."""
    wanted = sorted(set(partitions))
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM consumer_positions WHERE group_id = $1 "
        "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int4[]))",
        group_id,
        [tp.topic for tp in wanted],
        [tp.partition for tp in wanted],
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def starts(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Where the group starts in partitions it has no stored position for: its committed offset, else the earliest
    (the consumer's reset policy)."""
    earliest = await consumer.beginning_offsets(partitions)
    out = {}
    for tp in partitions:
        committed = await consumer.committed(tp)
        out[tp] = earliest[tp] if committed is None else committed
    return out


class PositionLostError(RuntimeError):
    """A stored position is older than its partition's earliest record: what lies between is gone from Kafka."""


class Positions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each assigned partition to its stored position before it is read. Partitions are paused until placed;
    one that could not be placed (the database away, a position lost) stays paused and is tried again at the
    consume loop's next poll (:meth:`place_pending`)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pool: Callable[[], asyncpg.Pool],
        group_id: str,
        metrics: Metrics,
    ) -> None:
        self.consumer, self._pool, self.group_id, self.metrics = consumer, pool, group_id, metrics
        self.pending: set[TopicPartition] = set()

    async def _record_starts(self, partitions: list[TopicPartition]) -> None:
        """Store where the group starts in each partition without a stored position, before reading it: a backup
        taken from then on holds a position for it, even before its first record (else a restore would start it
        from Kafka's committed offset, past what the backup never saw)."""
        if not partitions:
            return
        begun = await starts(self.consumer, partitions)
        for tp, offset in begun.items():
            self.consumer.seek(tp, offset)
        async with self._pool().acquire() as conn, conn.transaction():
            await keep(conn, self.group_id, begun)

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.pending -= set(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        if not assigned:
            return
        self.consumer.pause(*assigned)
        self.pending |= set(assigned)
        try:
            await self.place_pending()
        except Exception as exc:  # noqa: BLE001 - kept paused; the consume loop tries again and reports it
            log.warning(
                "partitions not yet placed at their stored positions", error_type=type(exc).__name__
            )

    async def place_pending(self) -> None:
        """Seek every pending partition to its stored position (those without one keep the group's committed
        offset) and resume it; raise :class:`PositionLostError` for one whose position is gone from the topic."""
        if not self.pending:
            return
        assigned = self.consumer.assignment()
        pending = sorted(tp for tp in self.pending if tp in assigned)
        positions = await stored(self._pool(), self.group_id, pending)
        earliest = await self.consumer.beginning_offsets(list(positions)) if positions else {}
        lost = sorted(tp for tp, offset in positions.items() if offset < earliest[tp])
        for tp in lost:
            self.metrics.positions_lost(topic=tp.topic).inc()
            log.error(
                "stored position is older than the topic's earliest record: nothing is skipped; restore a newer "
                "backup, or move the position on purpose (docs/operations.md)",
                topic=tp.topic,
                partition=tp.partition,
                stored_offset=positions[tp],
                earliest_offset=earliest[tp],
            )
        placed = [tp for tp in pending if tp not in lost]
        for tp in placed:
            if tp in positions:
                self.consumer.seek(tp, positions[tp])
        await self._record_starts([tp for tp in placed if tp not in positions])
        self.consumer.resume(*placed)
        self.pending = set(lost) | (self.pending - set(pending))
        if lost:
            raise PositionLostError(
                f"{len(lost)} partition(s) behind their topic's earliest record"
            )
