"""What the console learns from the services' events: the outcome of each command it issued (an event caused by
it, or its rejection with the reason) and, from workitems, each item's queue (whose roles may act on it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from console import store
from contracts.envelope import Event
from contracts.workitems import WorkItemRaised
from servicekit.logs import get_logger

log = get_logger("console")


async def on_outcome(conn: asyncpg.Connection, event: Event, now: datetime) -> Sequence[Event]:  # noqa: ARG001
    if isinstance(event, WorkItemRaised):
        await store.work_item_raised(conn, event.work_item_id, event.queue.value, event.code.value)
    rejected_id = getattr(event, "rejected_event_id", None)
    if rejected_id is not None:
        try:
            command_id = uuid.UUID(str(rejected_id))
        except ValueError:
            return []  # a request not issued here (a test's, an older client's): nobody here waits for it
        await store.rejected(conn, command_id, str(getattr(event, "reason_code", "")), str(getattr(event, "reason", "")),
                             getattr(event, "way_out", None))
        log.info("command rejected", event_type=event.event_type, reason_code=getattr(event, "reason_code", None))
    elif event.causation_id is not None:
        await store.accepted(conn, event.causation_id, {"event_type": event.event_type,
                                                        "event_id": str(event.event_id)})
    return []
