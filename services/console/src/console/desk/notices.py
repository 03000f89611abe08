"""Work pushed to people (issue 40): which items the team that works a queue is told of, and whom to tell. A
safety item is told at once; any item when it falls due, if it is still open. Nothing but the item's ids, code,
title and due time goes out: no customer, no note."""

from __future__ import annotations

import uuid
from datetime import datetime

from console.desk.records import SAFETY_CODES
from contracts.roles import QUEUE_READERS, OfficerRole
from contracts.workitems import (
    NoticeReason,
    Queue,
    TeamNotificationRequested,
    WorkItemCode,
    WorkItemRaised,
    WorkItemStatus,
)

PRODUCER = "console"


def team_of(queue: Queue) -> list[str]:
    """Whom to tell of an item of ``queue``: its team leaders first, then the roles that open it."""
    return [OfficerRole.TEAM_LEADER.value, *sorted(r.value for r in QUEUE_READERS[queue])]


def on_raising(raised: WorkItemRaised, now: datetime) -> list[TeamNotificationRequested]:
    """A safety item raised is told to its team at once (it is first in every queue; nobody should wait for a
    queue to be read to learn of it)."""
    if raised.code.value not in SAFETY_CODES:
        return []
    return [
        TeamNotificationRequested.caused_by(
            raised,
            producer=PRODUCER,
            occurred_at=now,
            variant=NoticeReason.SAFETY_ITEM_RAISED.value,
            work_item_id=raised.work_item_id,
            code=raised.code,
            queue=raised.queue,
            title=raised.title,
            reason=NoticeReason.SAFETY_ITEM_RAISED,
            due_at=raised.due_at,
            notify=team_of(raised.queue),
        )
    ]


def on_falling_due(
    work_item_id: str,
    cause_id: uuid.UUID,
    correlation_id: uuid.UUID,
    item: tuple[str, str, str | None, str, datetime],
    now: datetime,
) -> list[TeamNotificationRequested]:
    """An item fallen due (``item``: its queue, code, title, status and due time) is told to its team if it is
    still open; one closed meanwhile is told of to nobody."""
    queue, code, title, status, due = item
    if status != WorkItemStatus.OPEN.value:
        return []
    return [
        TeamNotificationRequested.derived(
            cause_id,
            correlation_id,
            producer=PRODUCER,
            occurred_at=now,
            variant=NoticeReason.OVERDUE.value,
            work_item_id=work_item_id,
            code=WorkItemCode(code),
            queue=Queue(queue),
            title=title or code,
            reason=NoticeReason.OVERDUE,
            due_at=due,
            notify=team_of(Queue(queue)),
        )
    ]
