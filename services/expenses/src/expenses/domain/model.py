"""State of one expense and the windows loaded for a decision; ``evolve`` applies an output event."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from contracts.envelope import Event
from contracts.expenses import (
    AustralianState,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseKind,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    ExpenseUndelivered,
    FailureReason,
    MySupportJobRecorded,
    OneOffExpenseCoded,
    UndeliveredExpensePeriodClosed,
)
from expenses.domain.calendar import OneOffDays, Window, one_off_calendar


class ExpenseStatus(StrEnum):
    ACTIVE = "active"
    DELIVERED = "delivered"  # one-off paid
    ENDED = "ended"  # one-off ended undelivered on day 3
    CEASED = "ceased"
    REMOVED = "removed"  # by the ICT Service Desk


class WindowStatus(StrEnum):
    OPEN = "open"  # undelivered, still trying
    DELIVERED = "delivered"
    CLOSED_UNPAID = "closed-unpaid"  # I059PL raised
    CEASED = "ceased"
    REMOVED = "removed"


@dataclass(frozen=True)
class Expense:
    expense_id: str
    customer_ref: str
    payee_id: str
    kind: ExpenseKind
    amount: Decimal
    state: AustralianState | None
    coded_at: datetime | None
    status: ExpenseStatus = ExpenseStatus.ACTIVE
    days: OneOffDays | None = None
    """A one-off's day 1, day 2 and end, as computed once when it became known and stored: decisions read these,
    never a recomputation (a calendar package update cannot move a stored day 2)."""
    escalated_at: datetime | None = None
    """Step 7: when the removal of this one-off was escalated to the ICT Service Desk (day 2, extreme hardship)."""
    mysupport_job: str | None = None
    """The mySupport job number of that escalation's webform, once recorded."""
    ended_at: datetime | None = None
    """When it was ceased or removed: a delivery attempted before then still paid (a fact judged by its event time),
    one attempted after was stopped. Unknown (None) for an expense ended before this was kept: nothing is recorded
    against it then."""
    late_paid_at: datetime | None = None
    """An expense given up (ceased or removed; a one-off also ended unpaid on day 3) that turned out to have paid:
    when that delivery was attempted. It pays like any delivered one-off, so a one-off coded after it to replace it
    (or, for a regular expense, in its period's place) pays twice."""

    @property
    def pays(self) -> bool:
        """Whether it pays or may pay (active, delivered, or given up and paid after all): a one-off coded for the
        same customer and payee meanwhile may pay for the same need."""
        return self.status in (ExpenseStatus.ACTIVE, ExpenseStatus.DELIVERED) or (
            self.late_paid_at is not None
        )


@dataclass(frozen=True)
class PeriodWindow:
    """One period of one expense that has had an attempt: its retry window, when one was opened."""

    expense_id: str
    period_start: date
    status: WindowStatus
    closes_at: datetime | None
    calendar: str
    failure_reason: FailureReason | None
    opened_by: uuid.UUID | None
    correlation_id: uuid.UUID | None


@dataclass(frozen=True)
class DocNote:
    """Steps 4 and 7: "Record details on a DOC." The note an officer gave with an action, kept in the expense's
    history when the action was carried out (a refused action keeps none); free text, so never published."""

    expense_id: str
    event_id: str
    officer_id: str
    action: str
    note: str
    recorded_at: datetime


@dataclass(frozen=True)
class ExpenseState:
    expense: Expense | None
    windows: Mapping[date, PeriodWindow] = field(default_factory=dict)
    siblings: tuple[Expense, ...] = ()
    """Other expenses of the same customer and payee that pay or may pay (one-offs active or delivered, and any
    expense given up and paid after all): for coding a replacement ("cease first") and for an expense paid late
    (paid twice)."""

    def open_periods(self) -> list[date]:
        return sorted(p for p, w in self.windows.items() if w.status is WindowStatus.OPEN)


def _facts(
    e: ExpenseUndelivered | ExpenseDelivered | OneOffExpenseCoded, existing: Expense | None
) -> Expense:
    if existing is not None:
        return existing
    days = None
    if isinstance(e, ExpenseUndelivered) and e.day_1 and e.day_2 and e.coded_at:
        days = OneOffDays(e.day_1, e.day_2, Window(e.coded_at, e.window_closes_at, e.calendar))
    elif isinstance(e, OneOffExpenseCoded) and e.coded_at and e.state:
        days = OneOffDays(
            e.day_1, e.day_2, Window(e.coded_at, e.ends_at, one_off_calendar(e.state))
        )
    return Expense(
        e.expense_id, e.customer_ref, e.payee_id, e.kind, e.amount, e.state, e.coded_at, days=days
    )


def _mine(state: ExpenseState, event: Event) -> Expense | None:
    """The state's expense, if ``event`` is about it (an escalation may be about a sibling)."""
    expense = state.expense
    return expense if expense is not None and event.key == expense.expense_id else None


def _set_window(
    state: ExpenseState, period: date, status: WindowStatus, **changes: object
) -> dict[date, PeriodWindow]:
    windows = dict(state.windows)
    current = windows.get(period)
    # a new window is made with its changes at once (a copy of a blank one cost as much again)
    if current is None:
        fresh: dict[str, Any] = {
            "expense_id": state.expense.expense_id if state.expense else "",
            "closes_at": None,
            "calendar": "",
            "failure_reason": None,
            "opened_by": None,
            "correlation_id": None,
        }
        windows[period] = PeriodWindow(period_start=period, status=status, **(fresh | changes))
    else:
        windows[period] = replace(current, status=status, **changes)  # type: ignore[arg-type]
    return windows


def _close_open(state: ExpenseState, status: WindowStatus) -> dict[date, PeriodWindow]:
    return {
        p: replace(w, status=status) if w.status is WindowStatus.OPEN else w
        for p, w in state.windows.items()
    }


def evolve(state: ExpenseState, event: Event) -> ExpenseState:
    match event:
        case ExpenseUndelivered():
            expense = _facts(event, state.expense)
            return replace(
                state,
                expense=expense,
                windows=_set_window(
                    state,
                    event.period_start,
                    WindowStatus.OPEN,
                    expense_id=expense.expense_id,
                    closes_at=event.window_closes_at,
                    calendar=event.calendar,
                    failure_reason=event.failure_reason,
                    opened_by=event.causation_id,
                    correlation_id=event.correlation_id,
                ),
            )
        case ExpenseDelivered():
            expense = _facts(event, state.expense)
            if not expense.kind.regular and expense.status is ExpenseStatus.ACTIVE:
                expense = replace(expense, status=ExpenseStatus.DELIVERED)
            elif expense.status in (
                ExpenseStatus.CEASED,
                ExpenseStatus.REMOVED,
            ):  # given up, and paid after all (a delivery attempted before its end, processed late)
                expense = replace(expense, late_paid_at=event.delivered_at)
            return replace(
                state,
                expense=expense,
                windows=_set_window(
                    state, event.period_start, WindowStatus.DELIVERED, expense_id=expense.expense_id
                ),
            )
        case UndeliveredExpensePeriodClosed():
            ended = state.expense
            if ended is not None and not ended.kind.regular:
                ended = replace(ended, status=ExpenseStatus.ENDED)
            return replace(
                state,
                expense=ended,
                windows=_set_window(state, event.period_start, WindowStatus.CLOSED_UNPAID),
            )
        case ExpenseClosureReversed():
            paid = state.expense
            if (
                paid is not None and not paid.kind.regular
            ):  # ended unpaid on day 3, and paid after all
                paid = replace(
                    paid, status=ExpenseStatus.DELIVERED, late_paid_at=event.delivered_at
                )
            return replace(
                state, expense=paid
            )  # the ExpenseDelivered that follows marks the window
        case ExpenseCeased():
            assert state.expense is not None
            return replace(
                state,
                expense=replace(
                    state.expense, status=ExpenseStatus.CEASED, ended_at=event.occurred_at
                ),
                windows=_close_open(state, WindowStatus.CEASED),
            )
        case ExpenseRemoved():
            assert state.expense is not None
            return replace(
                state,
                expense=replace(
                    state.expense, status=ExpenseStatus.REMOVED, ended_at=event.occurred_at
                ),
                windows=_close_open(state, WindowStatus.REMOVED),
            )
        case OneOffExpenseCoded():
            return replace(state, expense=_facts(event, None))
        case ExpenseRemovalEscalationRequested() if (escalated := _mine(state, event)) is not None:
            return replace(
                state,
                expense=replace(
                    escalated, escalated_at=escalated.escalated_at or event.occurred_at
                ),
            )
        case MySupportJobRecorded() if (job_of := _mine(state, event)) is not None:
            return replace(state, expense=replace(job_of, mysupport_job=event.mysupport_job))
        case _:
            return state  # rejections, escalations, disregarded attempts change nothing
