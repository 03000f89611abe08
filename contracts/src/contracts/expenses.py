"""Contracts of the undelivered Income Management expenses procedure (103-01050060)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.envelope import CustomerRef, Dates, Event, Lines, Money, Name, OfficerRoles, Text

PROCEDURE = "103-01050060"


class ExpenseKind(StrEnum):
    WEEKLY = "regular-weekly"
    FORTNIGHTLY = "regular-fortnightly"
    ONE_OFF = "one-off"

    @property
    def regular(self) -> bool:
        return self is not ExpenseKind.ONE_OFF


class AustralianState(StrEnum):
    """States and territories; selects the public holidays and the local time of the working-day calendar."""

    ACT = "ACT"
    NSW = "NSW"
    NT = "NT"
    QLD = "QLD"
    SA = "SA"
    TAS = "TAS"
    VIC = "VIC"
    WA = "WA"


class FailureReason(StrEnum):
    """Why a payment failed. The first three are the insufficient-funds causes the procedure names."""

    NOT_REPORTED = "insufficient-funds-not-reported-by-due-date"
    SUSPENDED = "insufficient-funds-payment-suspended"
    REDUCED_EARNINGS = "insufficient-funds-reduced-due-to-earnings"
    OTHER = "other"


class _ExpenseEvent(Event):
    key_field: ClassVar[str] = "expense_id"
    expense_id: str = Field(
        min_length=1,
        max_length=64,
        description="The Income Management expense.",
        examples=["EXP-000123"],
    )


# --------------------------------------------------------------------------- inputs: payments system


class PaymentAttempted(_ExpenseEvent):
    """The payments system tried to pay an expense (one message per attempt)."""

    event_type: Literal["PaymentAttempted"] = "PaymentAttempted"
    customer_ref: str = Field(
        min_length=1, max_length=32, description="Customer reference number (CRN)."
    )
    payee_id: str = Field(
        min_length=1, max_length=64, description="The payee (merchant or biller) id."
    )
    amount: Money = Field(description="Amount in AUD.")
    kind: ExpenseKind
    scheduled_on: date | None = Field(
        default=None, description="Regular: the period's scheduled payment date."
    )
    coded_at: AwareDatetime | None = Field(
        default=None, description="One-off: when the expense was coded."
    )
    state: AustralianState | None = Field(
        default=None,
        description="Customer's state or territory; required for a one-off (working days).",
    )
    attempted_at: AwareDatetime = Field(description="When the payment was attempted (event time).")
    outcome: Literal["delivered", "failed"]
    failure_reason: FailureReason | None = Field(
        default=None, description="Required when the outcome is failed."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "properties": {"kind": {"enum": ["regular-weekly", "regular-fortnightly"]}}
                    },
                    "then": {
                        "required": ["scheduled_on"],
                        "properties": {"scheduled_on": {"type": "string"}},
                    },
                },
                {
                    "if": {"properties": {"kind": {"const": "one-off"}}},
                    "then": {
                        "required": ["coded_at", "state"],
                        "properties": {"coded_at": {"type": "string"}, "state": {"type": "string"}},
                    },
                },
                {
                    "if": {"properties": {"outcome": {"const": "failed"}}},
                    "then": {
                        "required": ["failure_reason"],
                        "properties": {"failure_reason": {"type": "string"}},
                    },
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _complete_for_its_kind(self) -> PaymentAttempted:
        if self.kind.regular and self.scheduled_on is None:
            raise ValueError("scheduled_on is required for a regular expense")
        if not self.kind.regular:
            if self.coded_at is None:
                raise ValueError("coded_at is required for a one-off expense")
            if self.state is None:
                raise ValueError(
                    "state is required for a one-off expense (its working days depend on it)"
                )
        if self.outcome == "failed" and self.failure_reason is None:
            raise ValueError("failure_reason is required when the outcome is failed")
        return self


# --------------------------------------------------------------------------- inputs: staff actions


class _StaffAction(_ExpenseEvent):
    schema_version_current: ClassVar[int] = 2
    officer_id: str = Field(min_length=1, max_length=64, description="The officer acting.")
    officer_roles: OfficerRoles
    extreme_hardship: bool = Field(
        default=False, description="The customer is in extreme hardship (day-2 way out)."
    )
    doc_note: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="'Record details on a DOC': kept in the expense's history by expenses, "
        "never published or logged.",
    )


class CeaseExpense(_StaffAction):
    """Stop any further payments for the expense, including the current period."""

    event_type: Literal["CeaseExpense"] = "CeaseExpense"


class VaryOneOffExpense(_StaffAction):
    """The customer wants to vary a one-off's amount. Answered with the procedure's way, never changed in place: "the
    existing expense needs to be ceased before the new one-off expense can be coded" (day 1 only)."""

    event_type: Literal["VaryOneOffExpense"] = "VaryOneOffExpense"
    new_amount: Money


class CodeOneOffExpense(_StaffAction):
    """Code a new one-off expense (for example replacing one that did not deliver)."""

    event_type: Literal["CodeOneOffExpense"] = "CodeOneOffExpense"
    customer_ref: str = Field(min_length=1, max_length=32)
    payee_id: str = Field(min_length=1, max_length=64)
    amount: Money
    state: AustralianState


class RecordMySupportJob(_StaffAction):
    """Step 7: the officer raised the mySupport webform for an escalated removal; this is its job number, which the
    officer quotes to the ICT Service Desk and the removal must quote too."""

    event_type: Literal["RecordMySupportJob"] = "RecordMySupportJob"
    mysupport_job: str = Field(min_length=1, max_length=32, description="The mySupport job number.")


class RecordExpenseRemoval(_StaffAction):
    """The ICT Service Desk removed an expense (the day-2 extreme-hardship way out): accepted only for a one-off
    whose removal was escalated, quoting the job number recorded for it."""

    event_type: Literal["RecordExpenseRemoval"] = "RecordExpenseRemoval"
    mysupport_job: str = Field(
        min_length=1, max_length=32, description="The mySupport job number quoted."
    )


# --------------------------------------------------------------------------- outputs


class _ExpenseFacts(_ExpenseEvent):
    customer_ref: CustomerRef
    payee_id: Name
    kind: ExpenseKind
    amount: Money
    state: AustralianState | None = None
    coded_at: AwareDatetime | None = None
    procedure: Name = PROCEDURE


class ExpenseUndelivered(_ExpenseFacts):
    """An expense failed to pay for its period: status UNDLVD RI (regular) or UNDLVD IM (one-off)."""

    event_type: Literal["ExpenseUndelivered"] = "ExpenseUndelivered"
    status: Literal["UNDLVD RI", "UNDLVD IM"]
    period_start: date
    failure_reason: FailureReason
    failure_explanation: Text = Field(description="Why it failed, in the officer's words.")
    window_closes_at: AwareDatetime = Field(
        description="When the system stops trying for this period."
    )
    calendar: Text = Field(
        description="How the window was computed (calendar days or working days and holidays)."
    )
    day_1: date | None = Field(default=None, description="One-off: the working day of coding.")
    day_2: date | None = Field(
        default=None, description="One-off: the next working day (cease/vary refused)."
    )
    procedure_step: Literal[4, 7]
    officer_options: Lines


class ExpenseDelivered(_ExpenseFacts):
    """The expense was paid for its period (after failing, when ``was_undelivered``)."""

    event_type: Literal["ExpenseDelivered"] = "ExpenseDelivered"
    period_start: date
    delivered_at: AwareDatetime
    was_undelivered: bool


class UndeliveredExpensePeriodClosed(_ExpenseFacts):
    """The retry window closed unpaid: the period will not be paid; work item I059PL is raised."""

    event_type: Literal["UndeliveredExpensePeriodClosed"] = "UndeliveredExpensePeriodClosed"
    status: Literal["UNDLVD RI", "UNDLVD IM"]
    period_start: date
    closed_at: AwareDatetime
    next_period_start: date | None = Field(
        default=None, description="Regular: the next period, which is tried."
    )
    failure_reason: FailureReason
    procedure_step: Literal[5, 8]
    work_item_code: Literal["I059PL"] = "I059PL"
    officer_options: Lines


class ExpenseClosureReversed(_ExpenseEvent):
    """A delivery attempted before the deadline was processed after the window closed: the period was paid
    after all, and the I059PL raised for it must be cancelled."""

    event_type: Literal["ExpenseClosureReversed"] = "ExpenseClosureReversed"
    customer_ref: CustomerRef
    period_start: date
    delivered_at: AwareDatetime
    work_item_code: Literal["I059PL"] = "I059PL"


class ExpenseCeased(_ExpenseEvent):
    """Further payments stopped, the current period included; an open window closed without I059PL."""

    event_type: Literal["ExpenseCeased"] = "ExpenseCeased"
    customer_ref: CustomerRef
    officer_id: Name
    closed_periods: Dates


class OneOffExpenseVaried(_ExpenseEvent):
    """No longer published (a one-off is varied by cease and recode); kept so that records already written read."""

    event_type: Literal["OneOffExpenseVaried"] = "OneOffExpenseVaried"
    customer_ref: CustomerRef
    officer_id: Name
    old_amount: Money
    new_amount: Money


class OneOffExpenseCoded(_ExpenseFacts):
    event_type: Literal["OneOffExpenseCoded"] = "OneOffExpenseCoded"
    officer_id: Name
    day_1: date
    day_2: date
    ends_at: AwareDatetime


class ExpenseRemoved(_ExpenseEvent):
    """The Service Desk removed the expense; a replacement one-off may now be coded."""

    event_type: Literal["ExpenseRemoved"] = "ExpenseRemoved"
    customer_ref: CustomerRef
    mysupport_job: Name
    closed_periods: Dates


class ExpenseActionRejected(_ExpenseEvent):
    """A staff action the procedure forbids, with the reason and the procedure's way out."""

    event_type: Literal["ExpenseActionRejected"] = "ExpenseActionRejected"
    action: Literal[
        "CeaseExpense",
        "VaryOneOffExpense",
        "CodeOneOffExpense",
        "RecordExpenseRemoval",
        "RecordMySupportJob",
    ]
    rejected_event_id: Name
    officer_id: Name
    reason_code: Name
    reason: Text
    way_out: Text | None = None


class ExpenseRemovalEscalationRequested(_ExpenseEvent):
    """Day 2 and extreme hardship: raise a mySupport webform, then phone the ICT Service Desk."""

    event_type: Literal["ExpenseRemovalEscalationRequested"] = "ExpenseRemovalEscalationRequested"
    customer_ref: CustomerRef
    officer_id: Name
    steps: Lines
    act_by: AwareDatetime | None = Field(
        default=None,
        description="The last moment the removal helps: the end of the one-off's day 2 in the customer's state "
        "(it ends, or pays, on day 3). Unset on events published before it was given.",
    )


class MySupportJobRecorded(_ExpenseEvent):
    """The mySupport webform of an escalated removal was raised: its job number, to quote to the ICT Service Desk."""

    event_type: Literal["MySupportJobRecorded"] = "MySupportJobRecorded"
    customer_ref: CustomerRef
    officer_id: Name
    mysupport_job: Name


class OneOffConflictDetected(_ExpenseEvent):
    """The payments system coded a one-off (``expense_id``) while another for the same customer and payee was still
    trying to pay: "the existing expense needs to be ceased before the new one-off expense can be coded" was not
    followed on that path, so an officer is asked to resolve it (workitems raises IM-ONE-OFF-CONFLICT)."""

    event_type: Literal["OneOffConflictDetected"] = "OneOffConflictDetected"
    customer_ref: CustomerRef
    payee_id: Name
    existing_expense_id: Name
    instructions: Lines
    act_by: AwareDatetime | None = Field(
        default=None,
        description="The last moment an officer can still cease the later one-off: when its day 2 begins in the "
        "customer's state ('the expense cannot be ceased or varied on day 2'). Unset on events published before "
        "it was given.",
    )


class OneOffPaidTwice(_ExpenseEvent):
    """A one-off (``expense_id``) was paid, by a delivery attempted before it was ceased or before its window closed
    but processed after, and one-offs for the same customer and payee were coded after that payment
    (``other_expense_ids``): "the existing expense needs to be ceased before the new one-off expense can be coded"
    was followed on what was known, yet both may pay. The delivery is recorded (a payment attempt is a fact judged by
    its event time) and an officer is asked to resolve it (workitems raises IM-PAID-TWICE)."""

    event_type: Literal["OneOffPaidTwice"] = "OneOffPaidTwice"
    customer_ref: CustomerRef
    payee_id: Name
    delivered_at: AwareDatetime
    other_expense_ids: list[Name] = Field(min_length=1, max_length=50)
    instructions: Lines
    act_by: AwareDatetime | None = Field(
        default=None,
        description="The last moment an officer can still cease the later one-off: when its day 2 begins in the "
        "customer's state ('the expense cannot be ceased or varied on day 2'). Unset on events published before "
        "it was given.",
    )


class PaymentAttemptDisregarded(_ExpenseEvent):
    """An attempt that changes nothing (outside its window, after a cease or removal), kept visible for operations."""

    event_type: Literal["PaymentAttemptDisregarded"] = "PaymentAttemptDisregarded"
    reason_code: Name
    attempted_event_id: Name


class ExpenseReason(StrEnum):
    """Why an expense action was refused, an attempt set aside, or a removal asked for (the reason_code values)."""

    AFTER_RETRY_WINDOW = "after-retry-window"
    ALREADY_DELIVERED = "already-delivered"
    BEFORE_RETRY_WINDOW = "before-retry-window"
    CEASE_AND_RECODE = "cease-and-recode"
    EXISTING_ONE_OFF_STILL_TRYING = "existing-one-off-still-trying"
    EXPENSE_EXISTS = "expense-exists"
    MYSUPPORT_JOB_ALREADY_RECORDED = "mysupport-job-already-recorded"
    MYSUPPORT_JOB_MISMATCH = "mysupport-job-mismatch"
    MYSUPPORT_JOB_NOT_RECORDED = "mysupport-job-not-recorded"
    NO_ESCALATION = "no-escalation"
    NOT_A_ONE_OFF = "not-a-one-off"
    NOTHING_TO_REMOVE = "nothing-to-remove"
    ONE_OFF_DAY_2 = "one-off-day-2"
    ONE_OFF_ENDED = "one-off-ended"
    ROLE_REQUIRED = "role-required"
    UNKNOWN_EXPENSE = "unknown-expense"
    EXPENSE_CEASED = "expense-ceased"
    EXPENSE_REMOVED = "expense-removed"
    ALREADY_CEASED = "already-ceased"
    ALREADY_REMOVED = "already-removed"
    EXPENSE_ID_REUSED = "expense-id-reused"
    KIND_CONTRADICTS_STORED = "kind-contradicts-stored"
    DOC_NOTE_REQUIRED = "doc-note-required"
    RETRY_FAILED = "retry-failed"
    """An attempt that failed again while its period's window is open: the period stays undelivered."""
    PERIOD_CLOSED = "period-closed"
    """A failed attempt for a period already closed (unpaid, ceased or removed): it changes nothing."""
