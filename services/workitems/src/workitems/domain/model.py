"""A work item, its history, and how an output event changes them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.workitems import (
    Queue,
    TickOff,
    TickOffWorkItem,
    WorkItemAssigned,
    WorkItemCancelled,
    WorkItemCode,
    WorkItemRaised,
    WorkItemStatus,
    WorkItemTickedOff,
    WorkItemUnassigned,
)
from servicekit.stored import Stored, Upcaster, upcast_row

Transition = Literal["raised", "assigned", "unassigned", "ticked-off", "cancelled"]


ITEM_VERSION: Literal[1] = 1
ITEM_UPCASTERS: Mapping[int, Upcaster] = {}
"""Stored version -> the function that reads it as the next (none yet: every row is of version 1)."""


class WorkItem(Stored):
    """A work item as workitems stores it: its own model (not the WorkItemRaised it began as), with a version."""

    version: Literal[1] = ITEM_VERSION
    work_item_id: str
    code: WorkItemCode
    title: str
    queue: Queue
    customer_ref: str
    subject_type: Literal["expense", "msp"]
    subject_id: str
    procedure: str
    procedure_step: int | None = None
    period_start: date | None = None
    instructions: list[str]
    guidance: list[str] = Field(default_factory=list)
    briefing: list[str] = Field(default_factory=list)
    tick_off: TickOff
    approved_decision_makers_only: bool = False
    status: WorkItemStatus = WorkItemStatus.OPEN
    assignee_id: str | None = None
    raised_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    correlation_id: uuid.UUID
    time_zone: str | None = None
    """The customer's time zone where the cause named their state; None: the agency's."""

    @property
    def closed(self) -> bool:
        return self.status is not WorkItemStatus.OPEN


def raised_item(event: WorkItemRaised) -> WorkItem:
    """A raised item as workitems keeps it: each field mapped from the event by name here, not by a shared shape."""
    return WorkItem(
        work_item_id=event.work_item_id,
        code=event.code,
        title=event.title,
        queue=event.queue,
        customer_ref=event.customer_ref,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        procedure=event.procedure,
        procedure_step=event.procedure_step,
        period_start=event.period_start,
        instructions=list(event.instructions),
        guidance=list(event.guidance),
        briefing=list(event.briefing),
        tick_off=event.tick_off,
        approved_decision_makers_only=event.approved_decision_makers_only,
        raised_at=event.occurred_at,
        correlation_id=event.correlation_id,
        time_zone=event.time_zone,
    )


def read_item(raw: str | bytes) -> WorkItem:
    """A stored row as the current work item, upcast from the version it was written at."""
    return WorkItem.model_validate(upcast_row(raw, ITEM_VERSION, ITEM_UPCASTERS, "work item"))


class HistoryEntry(Stored):
    """One transition of one item: who, when, caused by which message, with what detail."""

    work_item_id: str
    transition: Transition
    actor: str
    at: AwareDatetime
    event_id: uuid.UUID
    cause_event_id: uuid.UUID | None
    detail: dict[str, str] = Field(default_factory=dict)


def evolve(item: WorkItem | None, event: Event) -> WorkItem | None:
    """The item after one of workitems' own output events (rejections change nothing)."""
    match event:
        case WorkItemRaised():
            return raised_item(event)
        case WorkItemAssigned() if item is not None:
            return item.model_copy(update={"assignee_id": event.assignee_id})
        case WorkItemUnassigned() if item is not None:
            return item.model_copy(update={"assignee_id": None})
        case WorkItemTickedOff() if item is not None:
            return item.model_copy(
                update={"status": WorkItemStatus.TICKED_OFF, "closed_at": event.occurred_at}
            )
        case WorkItemCancelled() if item is not None:
            return item.model_copy(
                update={"status": WorkItemStatus.CANCELLED, "closed_at": event.occurred_at}
            )
    return item


def history_entry(event: Event, cause: Event) -> HistoryEntry | None:
    """The history line an output event adds; the DOC note comes from the officer's request, not the event."""
    detail: dict[str, str]
    transition: Transition
    match event:
        case WorkItemRaised():
            transition, detail = "raised", {"cause": cause.event_type}
        case WorkItemAssigned():
            transition, detail = "assigned", {"assignee_id": event.assignee_id}
        case WorkItemUnassigned():
            transition, detail = "unassigned", {"previous_assignee_id": event.previous_assignee_id}
        case WorkItemTickedOff():
            transition = "ticked-off"
            if isinstance(cause, TickOffWorkItem) and cause.doc_note:
                detail = {"doc_note": cause.doc_note}
            else:
                detail = {"outcome": event.outcome or "", "cause": cause.event_type}
        case WorkItemCancelled():
            transition, detail = (
                "cancelled",
                {"reason_code": event.reason_code, "reason": event.reason},
            )
        case _:
            return None
    return HistoryEntry(
        work_item_id=event.work_item_id,
        transition=transition,
        actor=event.actor,
        at=event.occurred_at,
        event_id=event.event_id,
        cause_event_id=cause.event_id,
        detail=detail,
    )
