"""What the console learns from the services' events: the outcome of each command it issued (an event caused by
it, or its rejection with the reason), each work item (its queue says whose roles may act on it) and every event
by its subject, for the pages to show."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from console import store
from console.desk import notices
from console.desk.live import Change
from console.desk.records import refusal
from console.desk.views import said
from contracts.envelope import Event
from contracts.workitems import (
    NoticeReason,
    WorkItemAssigned,
    WorkItemCancelled,
    WorkItemRaised,
    WorkItemStatus,
    WorkItemTickedOff,
    WorkItemUnassigned,
)
from servicekit import tracing
from servicekit.logs import get_logger

log = get_logger("console")

SUBJECTS = store.SUBJECTS


async def on_outcome(conn: asyncpg.Connection, event: Event, now: datetime) -> Sequence[Event]:
    place = await _remember(conn, event)
    await store.announce(conn, (await _change(conn, event, place)).payload())
    told: Sequence[Event] = []
    if isinstance(event, WorkItemRaised):
        told = notices.on_raising(event, now)
        await store.plan_notice(conn, event, NoticeReason.OVERDUE.value, None)
        if told:
            await store.plan_notice(conn, event, NoticeReason.SAFETY_ITEM_RAISED.value, now)
    rejected_id = getattr(event, "rejected_event_id", None)
    if rejected_id is not None:
        try:
            command_id = uuid.UUID(str(rejected_id))
        except ValueError:
            return []  # a request not issued here (a test's, an older client's): nobody here waits for it
        reason_code = str(getattr(event, "reason_code", ""))
        first = await store.rejected(
            conn,
            command_id,
            reason_code,
            str(getattr(event, "reason", "")),
            getattr(event, "way_out", None),
        )
        log.info("command rejected", event_type=event.event_type, reason_code=reason_code)
        _answered(first, command_id, now, "rejected", reason_code)
    elif event.causation_id is not None:
        first = await store.accepted(
            conn,
            event.causation_id,
            {
                "event_type": event.event_type,
                "event_id": str(event.event_id),
                "said": said(event),
                # the record it is about, for the result page's link
                "subject": SUBJECTS.get(type(event).key_field),
                "key": event.key,
            },
        )
        _answered(first, event.causation_id, now, "accepted", None)
    return told


def _answered(
    first: store.Answered | None,
    command_id: uuid.UUID,
    now: datetime,
    outcome: str,
    reason: str | None,
) -> None:
    """A command's first answer, in its trace (issue 41: the command's span said "pending" for ever)."""
    if first is not None:
        command_type, sent_at = first
        waited = max((now - sent_at).total_seconds(), 0.0)
        tracing.command_answered(command_type, str(command_id), waited, outcome, reason)


async def _change(conn: asyncpg.Connection, event: Event, place: tuple[str, str] | None) -> Change:
    """What the event changed, for the pages that watch it: its record, the work item's queue and the record it is
    about (``place``, where :func:`_remember` learnt it), the command it answers."""
    subject = SUBJECTS.get(type(event).key_field)
    command = getattr(event, "rejected_event_id", None) or event.causation_id
    if place is None and subject == "work-item":  # a refusal (or an item not known here): as it is
        place = await store.place_of(conn, event.key)
    return Change(
        0.0,
        subject,
        event.key if subject else None,
        place[0] if place else None,
        str(command) if command is not None else None,
        place[1] if place else None,
    )


async def _remember(conn: asyncpg.Connection, event: Event) -> tuple[str, str] | None:
    """Every event under its record; a refusal only under a record already known (a command on an id the service
    does not know, or on an id of another kind, makes no page). A work item's event: its place, as written."""
    subject = SUBJECTS.get(type(event).key_field)
    if subject is not None and (not refusal(event) or await store.known(conn, subject, event.key)):
        await store.remember(conn, subject, event.key, event)
    if isinstance(event, WorkItemRaised):
        await store.work_item_raised(
            conn,
            event.work_item_id,
            event.queue.value,
            event.code.value,
            customer_ref=event.customer_ref,
            title=event.title,
            raised_at=event.occurred_at,
            raised=event,
        )
        return (event.queue.value, f"{event.subject_type}:{event.subject_id}")
    if isinstance(event, WorkItemAssigned):
        return await store.work_item_changed(
            conn, event.work_item_id, assignee_id=event.assignee_id
        )
    if isinstance(event, WorkItemUnassigned):
        return await store.work_item_changed(conn, event.work_item_id, unassigned=True)
    if isinstance(event, WorkItemTickedOff):
        return await store.work_item_changed(
            conn, event.work_item_id, status=WorkItemStatus.TICKED_OFF.value
        )
    if isinstance(event, WorkItemCancelled):
        return await store.work_item_changed(
            conn, event.work_item_id, status=WorkItemStatus.CANCELLED.value
        )
    return None
