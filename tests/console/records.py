"""The console's read model as its tests make it: work items and events with the fields a test names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from console.desk.records import Entry, WorkItem

from contracts.catalogue import CATALOGUE
from contracts.workitems import WorkItemRaised

NOW = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


def work_item(
    work_item_id: str, code: str, status: str, raised_at: datetime, **fields: Any
) -> WorkItem:
    """An item as the console's read model gives it, on its code's queue, for customer CRN-1."""
    queue = "msp-implementation" if code.startswith("MSP-") else "income-management"
    return WorkItem(
        work_item_id, queue, code, "CRN-1", code, status, None, raised_at, raised(**fields)
    )


def raised(**fields: Any) -> WorkItemRaised:
    """The event that raised an item, with the fields a test names (the rest as their defaults)."""
    return WorkItemRaised.model_construct(**fields)


def entry(event_type: str, **payload: Any) -> Entry:
    """An event as the console's read model gives it: its contract's model, with the fields a test names."""
    kind = CATALOGUE.topic_of(event_type).model_of(event_type)
    return Entry(uuid.uuid4(), event_type, NOW, kind.model_construct(**payload))


ONE_OFF = entry(
    "ExpenseUndelivered",
    customer_ref="CRN-1",
    kind="one-off",
    period_start="2027-03-01",
    window_closes_at="2027-03-03T13:00:00Z",
    status="UNDLVD IM",
    calendar="2 working days",
    failure_explanation=".",
    procedure_step=7,
    officer_options=[],
)
"""A one-off's period not delivered: its day 1 and day 2 (103-01050060 step 7)."""
