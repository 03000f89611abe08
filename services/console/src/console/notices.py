"""The overdue notices as the scheduler fires them (:class:`servicekit.timers.scheduler.Timers`): a notice planned
when its item was raised is due when the item is (its own deadline, or the agency's service level), and is sent
then if the item is still open. Instances share the work (rows locked, ``SKIP LOCKED``); a notice is sent once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from console import store
from console.desk.live import Change
from console.desk.notices import on_falling_due
from servicekit.timers.scheduler import Due, Fired


class Notices:
    def __init__(self, levels: Mapping[str, float]) -> None:
        self.levels = dict(levels)

    async def claim(self, conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
        rows = await store.due_notices(conn, self.levels, now, limit)
        return [Due(f"notice:{r['work_item_id']}", r) for r in rows]

    def fire(self, due: Due, now: datetime) -> Fired:
        row: Any = due.row
        item = (row["queue"], row["code"], row["title"], row["status"], row["due"])
        events = on_falling_due(
            row["work_item_id"], row["cause_id"], row["correlation_id"], item, now
        )
        return Fired((row["work_item_id"], row["reason"], bool(events), row["queue"], now), events)

    async def save(self, conn: asyncpg.Connection, changes: Sequence[Any]) -> None:
        await store.notices_done(conn, [(c[0], c[1], c[2], c[4]) for c in changes])
        for work_item_id, _, sent, queue, _ in changes:
            if sent:  # the team's page lists it: tell the pages that watch the queue
                await store.announce(conn, Change(0.0, "work-item", work_item_id, queue).payload())

    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None:
        return await store.oldest_due_notice(conn, self.levels, now)
