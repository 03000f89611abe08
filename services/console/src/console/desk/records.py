"""What the console knows of a case, as the desk reads it: the events about a record, its work items, the commands
officers issued and the notes they wrote. Plain values: the store makes them from its rows, the desk decides on
them, the pages show them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.envelope import Event
from contracts.workitems import WorkItemCode, WorkItemRaised


@dataclass(frozen=True)
class Command:
    command_id: uuid.UUID
    officer_id: str
    command_type: str
    subject_id: str
    submitted_at: datetime
    status: str
    outcomes: list[dict[str, Any]]
    reason_code: str | None
    reason: str | None
    fingerprint: str
    way_out: str | None = None


@dataclass(frozen=True)
class Note:
    kind: str
    body: str
    officer_id: str
    written_at: datetime
    command_id: uuid.UUID
    status: str


@dataclass(frozen=True)
class WorkItem:
    work_item_id: str
    queue: str
    code: str
    customer_ref: str | None
    title: str | None
    status: str
    assignee_id: str | None
    raised_at: datetime | None
    raised: WorkItemRaised
    """The event that raised it, read through the contract."""


SAFETY_CODES = (WorkItemCode.MSP_RISK_RESPONSE.value,)
"""Items about a customer's or an officer's safety: first in every queue, whatever else is waiting."""


@dataclass(frozen=True)
class Entry:
    """One event about a subject, as the services published it, read through its contract."""

    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    event: Event


def refusal(event: Event) -> bool:
    """Whether an event is a service's refusal of a command (what the store's ``known`` and a page do not count)."""
    return getattr(event, "rejected_event_id", None) is not None
