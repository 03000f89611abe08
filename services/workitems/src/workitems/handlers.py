"""The shell around the work items' decider: load (and lock) the items a run of events concerns, save what changed
with its history, log the transitions. The runtime steps each event (:mod:`servicekit.decider`), and does the
inbox, the outbox and the commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from contracts.envelope import Event
from contracts.workitems import WorkItemActionRejected
from servicekit.decider import Change, published
from servicekit.logs import log_transition
from servicekit.shell import batched
from workitems import store
from workitems.domain.decide import keys_of
from workitems.domain.decider import WorkItems
from workitems.domain.model import WorkItem, history_entry

COMPONENT = "workitems"


class Shell:
    decider = WorkItems()

    @staticmethod
    async def load(conn: asyncpg.Connection, events: Sequence[Event]) -> dict[str, WorkItem | None]:
        return dict(await store.load(conn, (key for e in events for key in keys_of(e))))

    @staticmethod
    async def save(
        conn: asyncpg.Connection,
        changes: Sequence[Change[WorkItem]],
        handled: Sequence[tuple[Any, list[Any]]],
    ) -> None:
        history = [
            entry
            for cause, outputs in handled
            for output in outputs
            if (entry := history_entry(output, cause)) is not None
        ]
        await store.save(conn, {c.key: c.after for c in changes if c.after is not None}, history)
        for _, outputs in handled:
            for output in published(outputs):
                if isinstance(output, WorkItemActionRejected):
                    log_transition(COMPONENT, output, "work_item_id", "reason_code")
                else:
                    log_transition(
                        COMPONENT,
                        output,
                        "work_item_id",
                        "code",
                        "queue",
                        "customer_ref",
                        "tick_off",
                    )


on_events = batched(Shell())
