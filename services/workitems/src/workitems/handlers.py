"""The one thin handler of all three inbound topics: lock the items the event concerns, decide, save, log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from contracts.envelope import Event
from contracts.workitems import WorkItemActionRejected, WorkItemEvent
from servicekit.consumer import Batched
from servicekit.logs import get_logger, log_transition
from workitems import store
from workitems.domain.decide import decide, keys_of
from workitems.domain.model import HistoryEntry, WorkItem, evolve, history_entry

log = get_logger("workitems")


@dataclass
class Items:
    """A run of events: every work item they concern loaded (and locked) at once, decided in order, saved at once."""

    before: dict[str, WorkItem]
    after: dict[str, WorkItem] = field(init=False)
    """The working set: ``before`` as the steps so far left it."""
    history: list[HistoryEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    @classmethod
    async def load(cls, conn: asyncpg.Connection, events: Sequence[Event]) -> Items:
        items = await store.load(conn, (key for e in events for key in keys_of(e)))
        return cls(items)

    def step(self, event: Event, now: datetime) -> Sequence[Event]:
        keys = keys_of(event)
        if not keys:
            return []  # an event no work item depends on (most expense and notification events)
        outputs = decide({k: self.after[k] for k in keys if k in self.after}, event, now)
        for output in outputs:
            assert isinstance(output, WorkItemEvent)
            after = evolve(self.after.get(output.work_item_id), output)
            if after is not None:
                self.after[output.work_item_id] = after
            if (entry := history_entry(output, event)) is not None:
                self.history.append(entry)
            if isinstance(output, WorkItemActionRejected):
                log_transition(log, output, "work_item_id", "reason_code")
            else:
                log_transition(log, output, "work_item_id", "code", "queue", "customer_ref", "tick_off")
        return outputs

    async def save(self, conn: asyncpg.Connection) -> None:
        changed = {k: item for k, item in self.after.items() if item != self.before.get(k)}
        await store.save(conn, changed, self.history)


on_events = Batched(Items.load)
