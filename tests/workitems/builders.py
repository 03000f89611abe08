"""Synthetic expense and notification events, as those services publish them, and officers' requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from contracts.expenses import (
    AustralianState,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseKind,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    FailureReason,
    OneOffPaidTwice,
    UndeliveredExpensePeriodClosed,
)
from contracts.notification import MspStepDone, MspStepRequired, Role, Step
from contracts.workitems import AssignWorkItem, TickOffWorkItem, UnassignWorkItem

T0 = datetime(2027, 3, 10, 1, 0, tzinfo=UTC)
PERIOD = date(2027, 3, 1)
CUSTOMER = "CRN-SYNTH-41"
DOC_NOTE = "Discussed with Sam Example-Customer on 0491 570 156: period of 1 March not paid; agreed new amount."


def env(producer: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": T0,
        "correlation_id": uuid.uuid4(),
        "producer": producer,
        **fields,
    }


def _facts(kind: ExpenseKind, expense_id: str) -> dict[str, Any]:
    one_off = kind is ExpenseKind.ONE_OFF
    return {
        "expense_id": expense_id,
        "customer_ref": CUSTOMER,
        "payee_id": "PAYEE-7",
        "kind": kind,
        "amount": Decimal("85.00"),
        "state": AustralianState.NSW if one_off else None,
        "coded_at": T0 if one_off else None,
    }


def period_closed(
    kind: ExpenseKind = ExpenseKind.WEEKLY, expense_id: str = "EXP-1", period: date = PERIOD
) -> UndeliveredExpensePeriodClosed:
    regular = kind.regular
    return UndeliveredExpensePeriodClosed(
        **env(
            "expenses",
            event_type="UndeliveredExpensePeriodClosed",
            **_facts(kind, expense_id),
            status="UNDLVD RI" if regular else "UNDLVD IM",
            period_start=period,
            closed_at=T0,
            next_period_start=date(2027, 3, 8) if regular else None,
            failure_reason=FailureReason.SUSPENDED,
            procedure_step=5 if regular else 8,
            officer_options=["Advise the customer"],
        )
    )


def closure_reversed(expense_id: str = "EXP-1", period: date = PERIOD) -> ExpenseClosureReversed:
    return ExpenseClosureReversed(
        **env(
            "expenses",
            event_type="ExpenseClosureReversed",
            expense_id=expense_id,
            customer_ref=CUSTOMER,
            period_start=period,
            delivered_at=T0,
        )
    )


def escalation(expense_id: str = "EXP-9") -> ExpenseRemovalEscalationRequested:
    return ExpenseRemovalEscalationRequested(
        **env(
            "expenses",
            event_type="ExpenseRemovalEscalationRequested",
            expense_id=expense_id,
            customer_ref=CUSTOMER,
            officer_id="OFF-3",
            steps=[
                "Raise a mySupport webform.",
                "Phone the ICT Service Desk quoting the mySupport job number.",
            ],
        )
    )


def paid_twice(expense_id: str = "EXP-9", others: tuple[str, ...] = ("EXP-10",)) -> OneOffPaidTwice:
    return OneOffPaidTwice(
        **env(
            "expenses",
            event_type="OneOffPaidTwice",
            expense_id=expense_id,
            customer_ref=CUSTOMER,
            payee_id="PAYEE-7",
            delivered_at=T0,
            other_expense_ids=list(others),
            instructions=["Check both expenses with the customer."],
        )
    )


def removed(expense_id: str = "EXP-9") -> ExpenseRemoved:
    return ExpenseRemoved(
        **env(
            "expenses",
            event_type="ExpenseRemoved",
            expense_id=expense_id,
            customer_ref=CUSTOMER,
            mysupport_job="MYS-100",
            closed_periods=[],
        )
    )


def ceased(expense_id: str = "EXP-9") -> ExpenseCeased:
    return ExpenseCeased(
        **env(
            "expenses",
            event_type="ExpenseCeased",
            expense_id=expense_id,
            customer_ref=CUSTOMER,
            officer_id="OFF-3",
            closed_periods=[],
        )
    )


def delivered(
    kind: ExpenseKind = ExpenseKind.ONE_OFF, expense_id: str = "EXP-9"
) -> ExpenseDelivered:
    return ExpenseDelivered(
        **env(
            "expenses",
            event_type="ExpenseDelivered",
            **_facts(kind, expense_id),
            period_start=PERIOD,
            delivered_at=T0,
            was_undelivered=True,
        )
    )


def step_required(
    step: Step,
    msp_id: str = "MSP-1",
    *,
    adm: bool = False,
    contact_role: Role | None = None,
    briefing: list[str] | None = None,
    for_officer: str | None = None,
    number: int | None = None,
) -> MspStepRequired:
    return MspStepRequired(
        **env(
            "notification",
            event_type="MspStepRequired",
            msp_id=msp_id,
            customer_ref=CUSTOMER,
            step=step,
            instructions=[f"Do the {step.value} step."],
            contact_role=contact_role,
            approved_decision_makers_only=adm,
            briefing=briefing or [],
            for_officer=for_officer,
            number=number,
        )
    )


def step_done(
    step: Step, msp_id: str = "MSP-1", outcome: str = "done", number: int | None = None
) -> MspStepDone:
    return MspStepDone(
        **env(
            "notification",
            event_type="MspStepDone",
            msp_id=msp_id,
            customer_ref=CUSTOMER,
            step=step,
            outcome=outcome,
            number=number,
        )
    )


IM_TRAINED = ["im-trained"]


def tick_off(
    work_item_id: str,
    note: str | None = DOC_NOTE,
    officer: str = "OFF-5",
    roles: list[str] = IM_TRAINED,
) -> TickOffWorkItem:
    return TickOffWorkItem(
        **env(
            "console",
            event_type="TickOffWorkItem",
            work_item_id=work_item_id,
            officer_id=officer,
            officer_roles=roles,
            doc_note=note,
        )
    )


def unassign(
    work_item_id: str, officer: str = "OFF-6", roles: list[str] = IM_TRAINED
) -> UnassignWorkItem:
    return UnassignWorkItem(
        **env(
            "console",
            event_type="UnassignWorkItem",
            work_item_id=work_item_id,
            officer_id=officer,
            officer_roles=roles,
        )
    )


def assign(
    work_item_id: str,
    assignee: str = "OFF-6",
    officer: str = "OFF-5",
    roles: list[str] = IM_TRAINED,
) -> AssignWorkItem:
    return AssignWorkItem(
        **env(
            "console",
            event_type="AssignWorkItem",
            work_item_id=work_item_id,
            officer_id=officer,
            officer_roles=roles,
            assignee_id=assignee,
        )
    )
