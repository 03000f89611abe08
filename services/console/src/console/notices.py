"""The overdue notices as the scheduler fires them (:class:`servicekit.timers.scheduler.Timers`): a notice planned
when its item was raised is due when the item is (its own deadline, or the agency's service level), and is sent
then if the item is still open. Instances share the work (rows locked, ``SKIP LOCKED``); a notice is sent once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from console import store
from console.desk.live import Change
from console.desk.notices import on_falling_due
from servicekit.timers.scheduler import Due, Fired


class Handled(NamedTuple):
    """What became of one due notice: sent to its team (its item still open) or not, and when."""

    work_item_id: str
    reason: str
    sent: bool
    queue: str
    at: datetime


class Notices:
    def __init__(self, levels: Mapping[str, float]) -> None:
        self.levels = dict(levels)

    async def claim(self, conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
        rows = await store.due_notices(conn, self.levels, now, limit)
        return [Due(f"{store.NOTICE_KEY}{r['work_item_id']}", r) for r in rows]

    def fire(self, due: Due, now: datetime) -> Fired:
        row: Any = due.row
        item = (row["queue"], row["code"], row["title"], row["status"], row["due"])
        events = on_falling_due(
            row["work_item_id"], row["cause_id"], row["correlation_id"], item, now
        )
        return Fired(
            Handled(row["work_item_id"], row["reason"], bool(events), row["queue"], now), events
        )

    async def save(self, conn: asyncpg.Connection, changes: Sequence[Handled]) -> None:
        await store.notices_done(conn, [(c.work_item_id, c.reason, c.sent, c.at) for c in changes])
        for c in changes:
            if c.sent:  # the team's page lists it: tell the pages that watch the queue
                await store.announce(
                    conn, Change(0.0, "work-item", c.work_item_id, c.queue).payload()
                )

    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None:
        return await store.oldest_due_notice(conn, self.levels, now)
