"""Builders for expense messages and states (synthetic data only)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contracts.expenses import (
    AustralianState,
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseKind,
    FailureReason,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    VaryOneOffExpense,
)

SYDNEY = ZoneInfo("Australia/Sydney")
PERTH = ZoneInfo("Australia/Perth")


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, tz: ZoneInfo = SYDNEY) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def envelope(occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": occurred_at,
        "correlation_id": uuid.uuid4(),
        "producer": "payments-system",
        **fields,
    }


def attempt(
    *,
    kind: ExpenseKind = ExpenseKind.WEEKLY,
    when: datetime,
    outcome: str = "failed",
    expense_id: str = "EXP-1",
    scheduled_on: date | None = None,
    coded_at: datetime | None = None,
    state: AustralianState | None = AustralianState.NSW,
    reason: FailureReason | None = None,
    **extra: Any,
) -> PaymentAttempted:
    if kind.regular and scheduled_on is None:
        scheduled_on = date(2026, 11, 23)
    if not kind.regular and coded_at is None:
        coded_at = when
    return PaymentAttempted(
        **envelope(
            when,
            event_type="PaymentAttempted",
            expense_id=expense_id,
            customer_ref="CRN-SYNTH-1",
            payee_id="PAYEE-GROCER",
            amount=Decimal("85.00"),
            kind=kind,
            scheduled_on=scheduled_on,
            coded_at=coded_at,
            state=state,
            attempted_at=when,
            outcome=outcome,
            failure_reason=reason or (FailureReason.NOT_REPORTED if outcome == "failed" else None),
            **extra,
        )
    )


IM_TRAINED = ["im-trained"]


CEASE_DOC = "Discussed the undelivered payment with the customer; agreed to cease the expense."


def cease(
    when: datetime,
    expense_id: str = "EXP-1",
    hardship: bool = False,
    doc_note: str | None = CEASE_DOC,
) -> CeaseExpense:
    return CeaseExpense(
        **envelope(
            when,
            event_type="CeaseExpense",
            producer="staff-ui",
            expense_id=expense_id,
            officer_id="OFF-7",
            officer_roles=IM_TRAINED,
            extreme_hardship=hardship,
            doc_note=doc_note,
        )
    )


def vary(
    when: datetime, amount: str = "40.00", expense_id: str = "EXP-1", hardship: bool = False
) -> VaryOneOffExpense:
    return VaryOneOffExpense(
        **envelope(
            when,
            event_type="VaryOneOffExpense",
            producer="staff-ui",
            expense_id=expense_id,
            officer_id="OFF-7",
            officer_roles=IM_TRAINED,
            new_amount=Decimal(amount),
            extreme_hardship=hardship,
        )
    )


def code(when: datetime, expense_id: str = "EXP-2", hardship: bool = False) -> CodeOneOffExpense:
    return CodeOneOffExpense(
        **envelope(
            when,
            event_type="CodeOneOffExpense",
            producer="staff-ui",
            expense_id=expense_id,
            officer_id="OFF-7",
            officer_roles=IM_TRAINED,
            customer_ref="CRN-SYNTH-1",
            payee_id="PAYEE-GROCER",
            amount=Decimal("60.00"),
            state=AustralianState.NSW,
            extreme_hardship=hardship,
        )
    )


def removal(when: datetime, expense_id: str = "EXP-1") -> RecordExpenseRemoval:
    return RecordExpenseRemoval(
        **envelope(
            when,
            event_type="RecordExpenseRemoval",
            producer="staff-ui",
            expense_id=expense_id,
            officer_id="OFF-7",
            officer_roles=IM_TRAINED,
            mysupport_job="MS-4411",
        )
    )


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def job(when: datetime, expense_id: str = "EXP-1", number: str = "MS-4411") -> RecordMySupportJob:
    return RecordMySupportJob(
        **envelope(
            when,
            event_type="RecordMySupportJob",
            producer="staff-ui",
            expense_id=expense_id,
            officer_id="OFF-7",
            officer_roles=IM_TRAINED,
            mysupport_job=number,
        )
    )
