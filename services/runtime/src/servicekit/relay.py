"""Publishes outbox rows to Kafka, in order, and deletes them once the broker has acknowledged them.

Safe with several instances: each pass holds a transaction-scoped advisory lock, so one relay
publishes at a time (keeping per-key order) and the others wait their turn. A crash between the
broker's acknowledgement and the delete republishes the same event ids: at-least-once, and
recognisably the same events downstream.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaProducer

from servicekit.backoff import Backoff
from servicekit.db import advisory_key
from servicekit.logs import get_logger
from servicekit.metrics import Metrics
from servicekit.outbox import decode_headers

log = get_logger("servicekit.relay")


class OutboxRelay:
    def __init__(self, *, pool: asyncpg.Pool, producer: AIOKafkaProducer, schema: str, metrics: Metrics,
                 batch: int = 1000, interval_s: float = 0.05) -> None:
        self.pool, self.producer, self.metrics = pool, producer, metrics
        self.batch, self.interval_s = batch, interval_s
        self._lock_key = advisory_key(f"outbox-relay:{schema}")
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def publish_once(self) -> int:
        """One pass: publish up to ``batch`` rows. Returns how many were published (0 if another relay holds the lock)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._lock_key):
                return 0
            rows = await conn.fetch("SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1", self.batch)
            if not rows:
                return 0
            futures = [await self.producer.send(r["topic"], r["value"], key=r["key"], headers=decode_headers(r["headers"]))
                       for r in rows]
            await asyncio.gather(*futures)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        for r in rows:
            self.metrics.published(topic=r["topic"]).inc()
        return len(rows)

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
                log.warning("outbox relay failed; retrying", error_type=type(exc).__name__, retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            if published < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)

    async def drain(self, timeout: float = 10.0) -> None:
        """On shutdown: publish what is left, within ``timeout``; the rest waits for the next start."""
        self._stopping = True
        deadline = asyncio.get_running_loop().time() + timeout
        with contextlib.suppress(Exception):
            while asyncio.get_running_loop().time() < deadline and await self.publish_once():
                pass
