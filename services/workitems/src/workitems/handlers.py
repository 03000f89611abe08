"""The one thin handler of all three inbound topics: lock the items the event concerns, decide, save, log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from contracts.envelope import Event
from contracts.workitems import WorkItemActionRejected, WorkItemEvent
from servicekit.logs import get_logger, log_transition
from workitems import store
from workitems.domain.decide import decide, keys_of
from workitems.domain.model import HistoryEntry, WorkItem, evolve, history_entry

log = get_logger("workitems")


async def on_event(conn: asyncpg.Connection, event: Event, now: datetime) -> Sequence[Event]:
    keys = keys_of(event)
    if not keys:
        return []  # an event no work item depends on (most expense and notification events)
    items = await store.load(conn, keys)
    outputs = decide(items, event, now)
    changed: dict[str, WorkItem] = {}
    history: list[HistoryEntry] = []
    for output in outputs:
        assert isinstance(output, WorkItemEvent)
        work_item_id = output.work_item_id
        after = evolve(changed.get(work_item_id) or items.get(work_item_id), output)
        if after is not None and after != items.get(work_item_id):
            changed[work_item_id] = after
        if (entry := history_entry(output, event)) is not None:
            history.append(entry)
        if isinstance(output, WorkItemActionRejected):
            log_transition(log, output, "work_item_id", "reason_code")
        else:
            log_transition(log, output, "work_item_id", "code", "queue", "customer_ref", "tick_off")
    await store.save(conn, changed, history)
    return outputs
