"""Fires due deadlines. The service supplies ``tick``: given a connection in an open transaction and
``now``, it claims its due rows (``FOR UPDATE SKIP LOCKED``, so instances share the work), decides,
and returns output events, which go to the outbox in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from contracts.envelope import Event
from servicekit.backoff import Backoff
from servicekit.clock import Clock
from servicekit.logs import get_logger
from servicekit.metrics import Metrics
from servicekit.outbox import OutboundMessage, enqueue

Tick = Callable[[asyncpg.Connection, datetime], Awaitable[tuple[int, Sequence[Event]]]]
"""(connection, now) -> (deadlines fired, output events)."""

log = get_logger("servicekit.scheduler")


class Scheduler:
    def __init__(self, *, pool: asyncpg.Pool, tick: Tick, clock: Clock, metrics: Metrics,
                 route: Callable[[Event], OutboundMessage], on_committed: Callable[[], None],
                 interval_s: float = 0.25) -> None:
        self.pool, self.tick, self.clock, self.metrics = pool, tick, clock, metrics
        self.route, self.on_committed, self.interval_s = route, on_committed, interval_s

    async def fire_due(self) -> int:
        """Fire every deadline that has passed; returns how many fired."""
        total = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                fired, outputs = await self.tick(conn, self.clock.now())
                await enqueue(conn, [self.route(e) for e in outputs])
            if not fired:
                return total
            total += fired
            self.metrics.timers_fired.inc(fired)
            self.on_committed()

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.fire_due()
                backoff.reset()
                await asyncio.sleep(self.interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried; a deadline is never skipped
                delay = backoff.next()
                self.metrics.transient_failures(stage="scheduler").inc()
                log.warning("scheduler pass failed; retrying", error_type=type(exc).__name__, retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
