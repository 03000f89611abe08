"""Fires due deadlines, each timer isolated like a message.

A service supplies :class:`Timers`: ``claim`` locks its due rows (``FOR UPDATE SKIP LOCKED``, so
instances share the work, and never a quarantined one), ``fire`` turns one stored row into what
changes and which events follow (pure: reading the stored state and deciding), ``save`` writes the
changes. In one transaction per pass the scheduler fires every claimed timer, saves, and puts the
events in the outbox. A timer whose row cannot be read or whose decision raises, or whose save is
refused, is *quarantined* alone (``timer_quarantine``: key, reason, error type), counted and logged;
the others fire. A transient failure (database away) rolls the pass back and it is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
from opentelemetry.trace import Span

from contracts.envelope import Event
from servicekit import tracing
from servicekit.backoff import Backoff
from servicekit.clock import Clock
from servicekit.db import is_transient
from servicekit.delivery.outbox import OutboundMessage, Queued, enqueue
from servicekit.logs import get_logger
from servicekit.metrics import Metrics

log = get_logger("servicekit.timers.scheduler")


@dataclass(frozen=True)
class Due:
    """One claimed timer: its key (what quarantine names) and its stored row, not yet read into state."""

    key: str
    row: Any
    trace: str | None = None
    """The stored trace context of the message that set the deadline (``servicekit.tracing.cause``)."""


@dataclass(frozen=True)
class Fired:
    """What firing one timer changes (the service's own value, for its ``save``) and the events that follow."""

    change: Any
    events: Sequence[Event]


class Timers(Protocol):
    async def claim(self, conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
        """Lock up to ``limit`` due timers, oldest first, none quarantined (see :func:`not_quarantined`)."""
        ...

    def fire(self, due: Due, now: datetime) -> Fired:
        """Read the row and decide; no I/O. May raise: the timer is then quarantined."""
        ...

    async def save(self, conn: asyncpg.Connection, changes: Sequence[Any]) -> None: ...

    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None:
        """When the oldest timer that is due and not quarantined fell due; ``None`` if none is."""
        ...


def not_quarantined(key_sql: str) -> str:
    """The condition a service's claim adds, with the SQL expression of its timer key."""
    return f"NOT EXISTS (SELECT 1 FROM timer_quarantine q WHERE q.timer_key = {key_sql})"


async def quarantined(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM timer_quarantine"))


class Scheduler:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        timers: Timers,
        clock: Clock,
        metrics: Metrics,
        route: Callable[[Event], OutboundMessage],
        on_committed: Callable[[Sequence[Queued]], None],
        interval_s: float = 0.25,
        batch: int = 500,
    ) -> None:
        self.pool, self.timers, self.clock, self.metrics = pool, timers, clock, metrics
        self.route, self.on_committed, self.interval_s, self.batch = (
            route,
            on_committed,
            interval_s,
            batch,
        )

    async def fire_due(self) -> int:
        """Fire every deadline that has passed; returns how many fired (quarantined ones are not counted). Each
        firing is a ``fire`` span of a trace of its own, linked to the message that set the deadline."""
        total = 0
        while True:
            now = self.clock.now()
            spans: dict[str, Span] = {}
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    due = await self.timers.claim(conn, now, self.batch)
                    spans = {t.key: tracing.fire_span(t.key, t.trace) for t in due}
                    decided, failed = self._fire(due, now, spans)
                    fired = await self._save(conn, decided, failed)
                    if failed:
                        await conn.execute(
                            "INSERT INTO timer_quarantine (timer_key, reason, error_type) "
                            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
                            list(failed),
                            ["timer-failed"] * len(failed),
                            [type(e).__name__ for e in failed.values()],
                        )
                    queued = await enqueue(conn, self._routed(fired, spans))
            except BaseException as exc:
                for span in spans.values():
                    tracing.failed(span, type(exc).__name__)
                    span.end()
                raise
            for key, error in failed.items():
                with tracing.current(spans[key]):
                    log.error(
                        "timer could not be fired; quarantined",
                        timer_key=key,
                        reason="timer-failed",
                        error_type=type(error).__name__,
                    )
                tracing.failed(spans[key], "timer-failed")
            for span in spans.values():
                span.end()
            self.metrics.timers_quarantined.inc(len(failed))
            if fired:
                total += len(fired)
                self.metrics.timers_fired.inc(len(fired))
                self.on_committed(queued)
            if len(due) < self.batch:
                return total

    def _routed(
        self, fired: Sequence[tuple[Due, Fired]], spans: Mapping[str, Span]
    ) -> list[OutboundMessage]:
        """Each fired timer's events, in its ``fire`` span's trace."""
        routed = []
        for timer, f in fired:
            with tracing.current(spans[timer.key]):
                routed += [self.route(e) for e in f.events]
        return routed

    def _fire(
        self, due: Sequence[Due], now: datetime, spans: Mapping[str, Span]
    ) -> tuple[list[tuple[Due, Fired]], dict[str, Exception]]:
        fired: list[tuple[Due, Fired]] = []
        failed: dict[str, Exception] = {}
        for timer in due:
            try:
                with tracing.decision(spans[timer.key], "timer") as decided:
                    outcome = self.timers.fire(timer, now)
                    tracing.decided(decided, outcome.events)
                fired.append((timer, outcome))
            except Exception as exc:  # noqa: BLE001 - pure code: the row or the decision is at fault, not the database
                failed[timer.key] = exc
        return fired, failed

    async def _save(
        self, conn: asyncpg.Connection, fired: list[tuple[Due, Fired]], failed: dict[str, Exception]
    ) -> list[tuple[Due, Fired]]:
        """Save all at once; if that is refused, one at a time, quarantining each one refused."""
        try:
            async with conn.transaction():
                await self.timers.save(conn, [f.change for _, f in fired])
            return list(fired)
        except Exception as exc:
            if is_transient(exc):
                raise
        saved = []
        for timer, f in fired:
            try:
                async with conn.transaction():
                    await self.timers.save(conn, [f.change])
                saved.append((timer, f))
            except Exception as exc:
                if is_transient(exc):
                    raise
                failed[timer.key] = exc
        return saved

    async def oldest_overdue_s(self) -> float:
        """Seconds since the oldest due, unquarantined timer fell due (0 if none is)."""
        now = self.clock.now()
        async with self.pool.acquire() as conn:
            oldest = await self.timers.oldest_due(conn, now)
        return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0

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
                log.warning(
                    "scheduler pass failed; retrying",
                    error_type=type(exc).__name__,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
