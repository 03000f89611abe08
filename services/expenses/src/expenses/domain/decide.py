"""Decisions of the undelivered Income Management expenses procedure (103-01050060).

Each ``decide_*`` takes the state, the message and ``now`` and returns the output events; nothing
here reads a clock or touches I/O. A payment attempt is a fact and is judged by event time (``attempted_at``), so an
attempt processed late is judged by when it happened. An officer's request is judged at the officer's time, which
the decider passes as ``now`` (``contracts.envelope.officers_time``: when the console accepted it, never later than
it is handled), so a cease made at 23:59 on day 1 is a cease on day 1 however late it is handled, and the same
request decided again after a restore decides the same.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from contracts.dates import in_words
from contracts.envelope import Event
from contracts.expenses import (
    AustralianState,
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseActionRejected,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseKind,
    ExpenseReason,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    ExpenseUndelivered,
    FailureReason,
    MySupportJobRecorded,
    OneOffConflictDetected,
    OneOffExpenseCoded,
    OneOffPaidTwice,
    PaymentAttemptDisregarded,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    UndeliveredExpensePeriodClosed,
    VaryOneOffExpense,
)
from contracts.procedures import implements
from contracts.roles import may_issue, way_out
from expenses.domain.calendar import (
    RETRY_DAYS,
    OneOffDays,
    Window,
    local_date,
    one_off_days,
    regular_window,
    start_of,
)
from expenses.domain.model import (
    DocNote,
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    WindowStatus,
)

PRODUCER = "expenses"

# 'UNDLVD RI' for all undelivered regular expenses; 'UNDLVD IM' for all undelivered one-off expenses.
UNDELIVERED_REGULAR = "UNDLVD RI"
UNDELIVERED_ONE_OFF = "UNDLVD IM"

FAILURE_EXPLANATION = {
    FailureReason.NOT_REPORTED: "Insufficient funds: the customer did not report by their due date.",
    FailureReason.SUSPENDED: "Insufficient funds: the payment is suspended.",
    FailureReason.REDUCED_EARNINGS: "Insufficient funds: reduced funds due to earnings.",
    FailureReason.OTHER: "The payment failed for another reason: check the Payment Details (PD) screen.",
}

STEP_4_OPTIONS = [
    "Check why the payment failed; the most common reason is insufficient funds.",
    "If appropriate, cease the expense: this stops any further payments, including the current period.",
    "After discussing with the customer: cease the regular expense and recommence for a future date, "
    "or issue a one-off payment.",
    "Record details on a DOC.",
]
STEP_7_OPTIONS = [
    "Check why the payment failed; the most common reason is insufficient funds.",
    "To code a new one-off or vary the amount, cease the existing expense first: "
    "it cannot be ceased or varied on day 2, this must be done on day 1.",
    "Day 2 and extreme hardship: raise a mySupport webform, then phone the ICT Service Desk quoting the "
    "mySupport job number to request the removal of the existing expense.",
    "Or code a regular expense, after checking the Available Balance and the Current Balance of the "
    "Income Management account.",
]
CLOSED_OPTIONS = [
    "Advise the customer of the period that the payment was not delivered and discuss options if appropriate.",
    "Manually tick off the Work Item.",
    "Record details on a DOC.",
]
ESCALATION_STEPS = [
    "Raise a mySupport webform.",
    "Phone the ICT Service Desk quoting the mySupport job number to request the removal of the existing expense.",
    "The ICT Service Desk will advise when another expense can be coded.",
]
DAY_2_WAY_OUT = (
    "The expense cannot be ceased or varied on day 2; this must be done on day 1. If there is extreme "
    "hardship requiring a new expense to be coded immediately, raise a mySupport webform and phone the "
    "ICT Service Desk quoting the job number to request the removal of the existing expense."
)


# --------------------------------------------------------------------------- windows


def period_of(attempt: PaymentAttempted) -> date:
    """The period an attempt belongs to: the scheduled payment date, or a one-off's local coding date."""
    if attempt.kind.regular:
        assert attempt.scheduled_on is not None  # guaranteed by the contract
        return attempt.scheduled_on
    assert attempt.coded_at is not None
    assert attempt.state is not None
    return local_date(attempt.coded_at, attempt.state)


def _schedule(
    kind: ExpenseKind, period: date, facts: dict[str, Any], expense: Expense | None
) -> tuple[Window, OneOffDays | None]:
    """The period's retry window, and for a one-off its days: a known one-off's stored days, else computed once
    from the expense's facts (and then stored with the window they open)."""
    if kind.regular:
        return regular_window(period, kind, facts["state"]), None
    days = (
        one_off_days_of(expense)
        if expense is not None
        else one_off_days(facts["coded_at"], facts["state"])
    )
    return days.window, days


def one_off_days_of(expense: Expense) -> OneOffDays:
    """A one-off's days as stored when it became known; computed only for a row stored before days were kept."""
    if expense.days is not None:
        return expense.days
    assert (
        expense.coded_at is not None
    )  # a one-off is always stored with its coding instant and state
    assert expense.state is not None
    return one_off_days(expense.coded_at, expense.state)


def _facts(expense: Expense | None, attempt: PaymentAttempted) -> dict[str, Any]:
    """The expense's facts: as stored once it is known (a later attempt that says otherwise, such as a state given
    late, does not move its windows); from the attempt that makes it known."""
    source: Expense | PaymentAttempted = expense if expense is not None else attempt
    return {
        "expense_id": attempt.expense_id,
        "customer_ref": source.customer_ref,
        "payee_id": source.payee_id,
        "kind": attempt.kind,
        "amount": source.amount,
        "state": source.state,
        "coded_at": source.coded_at,
    }


def stored_period(one_off: Expense) -> date:
    """A known one-off's one period, from what was stored when it became known: a later attempt that names another
    state or coding time does not move it."""
    assert one_off.coded_at is not None
    assert one_off.state is not None
    return local_date(one_off.coded_at, one_off.state)


def _contradicts(expense: Expense, attempt: PaymentAttempted) -> ExpenseReason | None:
    """An attempt that is not about the stored expense: another customer or payee under its id, or a one-off coded
    after the stored one had stopped trying (an id the payments system reused), or another kind. Set aside with its
    reason, never used to open a window."""
    if (attempt.customer_ref, attempt.payee_id) != (expense.customer_ref, expense.payee_id):
        return ExpenseReason.EXPENSE_ID_REUSED
    if (
        not expense.kind.regular
        and attempt.coded_at is not None
        and attempt.coded_at >= one_off_days_of(expense).window.closes_at
    ):  # "the expense will attempt to deliver for the next 2 working days": coded after them, it is another one
        return ExpenseReason.EXPENSE_ID_REUSED
    if attempt.kind is not expense.kind:
        return ExpenseReason.KIND_CONTRADICTS_STORED
    return None


def _disregard(attempt: PaymentAttempted, now: datetime, reason_code: ExpenseReason) -> list[Event]:
    return [
        PaymentAttemptDisregarded.caused_by(
            attempt,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=attempt.expense_id,
            reason_code=reason_code,
            attempted_event_id=str(attempt.event_id),
        )
    ]


@implements("IM-3.1", "IM-3.5", "IM-4.3", "IM-6.1", "IM-7.2")
def decide_attempt(state: ExpenseState, attempt: PaymentAttempted, now: datetime) -> list[Event]:
    """An attempt is a fact judged by its event time: a delivery attempted before a cease, a removal or a window's
    closure was paid, however late it is processed, and is recorded; a one-off coded meanwhile may pay too."""
    events = _attempt_outcome(state, attempt, now)
    if not events or isinstance(events[0], PaymentAttemptDisregarded):
        return events
    if attempt.kind.regular:
        # Step 4 offers "issue a one-off payment" in a period's place: a period found paid after its expense was
        # ceased or its closure advised may have been paid twice.
        paid = state.expense
        late = paid is not None and (
            paid.status is not ExpenseStatus.ACTIVE or isinstance(events[0], ExpenseClosureReversed)
        )
        return events + _paid_twice(paid, state.siblings, attempt, now) if paid and late else events
    if (
        state.expense is None
    ):  # the payments system coded it: "cease first" and paid twice, as for an officer's
        return (
            events
            + _conflict(state, attempt, now)
            + _replaces_a_paid_one(
                state.siblings, attempt, attempt.coded_at or attempt.attempted_at, now
            )
        )
    if state.expense.status is not ExpenseStatus.ACTIVE:
        # Given up and paid after all: it pays twice with one coded in its place, and with one it was coded to
        # replace that had itself paid after all.
        replaced = state.expense.coded_at or attempt.attempted_at
        return (
            events
            + _paid_twice(state.expense, state.siblings, attempt, now)
            + _replaces_a_paid_one(state.siblings, attempt, replaced, now)
        )
    return events


CONFLICT_INSTRUCTIONS = [
    "The payments system coded this one-off expense while another one-off for the same customer and payee was still "
    "trying to pay.",
    "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs to be ceased "
    "before the new one-off expense can be coded.",
    "Check both expenses with the customer: cease the one that should not pay (it cannot be ceased or varied on day "
    "2; this must be done on day 1), or on day 2 in extreme hardship request its removal through the ICT Service Desk.",
    "Manually tick off the Work Item. Record details on a DOC.",
]


@implements("IM-7.2")
def _conflict(state: ExpenseState, attempt: PaymentAttempted, now: datetime) -> list[Event]:
    """ "Cease first" on the payments system's path: a one-off it coded while a sibling still tries is recorded (a
    payment attempt is a fact) and handed to an officer."""
    existing = next((s for s in state.siblings if _still_trying(s, attempt.attempted_at)), None)
    if existing is None:
        return []
    facts = _facts(state.expense, attempt)
    return [
        OneOffConflictDetected.caused_by(
            attempt,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=attempt.expense_id,
            customer_ref=attempt.customer_ref,
            payee_id=attempt.payee_id,
            existing_expense_id=existing.expense_id,
            instructions=CONFLICT_INSTRUCTIONS,
            act_by=_day_2_begins(one_off_days(facts["coded_at"], facts["state"]), facts["state"]),
        )
    ]


@implements("IM-7.3")
def _day_2_begins(days: OneOffDays, state: AustralianState) -> datetime:
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.' The last moment an
    officer can still cease a one-off: when its day 2 begins, in the customer's state."""
    return start_of(days.day_2, state)


def _paid_twice_instructions(paid: Expense) -> list[str]:
    """What the officer is told: the one-off (step 7) or the regular expense's period (step 4) paid late, and the
    one-off coded in its place."""
    if paid.kind.regular:
        first = [
            "A delivery of this regular expense, attempted before it was ceased or before its period's retry window "
            "closed, was processed late: the period was paid.",
            "A one-off for the same customer and payee was coded after that payment, in the period's place, while "
            "the period was thought unpaid: both may pay.",
        ]
    else:
        first = [
            "A delivery of this one-off expense, attempted before it was ceased or before its window closed, was "
            "processed late: the expense was paid.",
            "Another one-off for the same customer and payee was coded after that payment, while this one was "
            "thought unpaid: both may pay.",
        ]
    return first + _PAID_TWICE_RESOLUTION


_PAID_TWICE_RESOLUTION = [
    "Check both expenses with the customer: if the later one has not paid, cease it (it cannot be ceased or varied "
    "on day 2; this must be done on day 1), or on day 2 in extreme hardship request its removal through the ICT "
    "Service Desk.",
    "Manually tick off the Work Item. Record details on a DOC.",
]


@implements("IM-7.2")
def _paid_twice(
    paid: Expense, siblings: tuple[Expense, ...], attempt: PaymentAttempted, now: datetime
) -> list[Event]:
    """ "the existing expense needs to be ceased before the new one-off expense can be coded": it was, on what was
    known, but the existing one had paid. The one-offs coded after that payment that pay or may pay are handed to an
    officer with it."""
    later = sorted(
        (
            s
            for s in siblings
            if s.coded_at is not None and s.coded_at > attempt.attempted_at and s.pays
        ),
        key=lambda s: s.expense_id,
    )
    if not later:
        return []
    act_by = min(_day_2_begins(one_off_days_of(s), _state_of(s)) for s in later)
    return [
        _paid_twice_item(
            attempt, paid, attempt.attempted_at, [s.expense_id for s in later], now, act_by
        )
    ]


def _state_of(one_off: Expense) -> AustralianState:
    assert one_off.state is not None  # a one-off is always stored with its state
    return one_off.state


def _paid_twice_item(
    cause: Event,
    paid: Expense,
    delivered_at: datetime,
    others: list[str],
    now: datetime,
    act_by: datetime | None,
    variant: str = "",
) -> OneOffPaidTwice:
    """The one-off ``paid`` at ``delivered_at`` though thought unpaid, and the ``others`` coded to replace it, the
    first of which can be ceased until ``act_by``."""
    return OneOffPaidTwice.caused_by(
        cause,
        producer=PRODUCER,
        occurred_at=now,
        variant=variant,
        expense_id=paid.expense_id,
        customer_ref=paid.customer_ref,
        payee_id=paid.payee_id,
        delivered_at=delivered_at,
        other_expense_ids=others,
        act_by=act_by,
        instructions=[
            *_paid_twice_instructions(paid),
            # the customer's date, as the officer tells it to them
            f"Paid {in_words(local_date(delivered_at, paid.state))}; coded after it: {', '.join(others)}.",
        ],
    )


@implements("IM-7.2")
def _replaces_a_paid_one(
    siblings: tuple[Expense, ...],
    cause: PaymentAttempted | CodeOneOffExpense,
    coded_at: datetime,
    now: datetime,
) -> list[Event]:
    """The other order of paid twice: a one-off coded after a sibling that was given up (ceased, removed or ended
    unpaid) had been found paid after all. "the existing expense needs to be ceased before the new one-off expense
    can be coded": it was, but it had paid; both pay, and an officer is told, whichever of the two was known first."""
    paid_ones = [
        (p, p.late_paid_at)
        for p in siblings
        if p.late_paid_at is not None and p.late_paid_at < coded_at
    ]
    if not paid_ones:
        return []
    # the one-off coded: its state gives its day 2 (an attempt that names no state gives no day)
    state = cause.state
    act_by = _day_2_begins(one_off_days(coded_at, state), state) if state is not None else None
    return [
        _paid_twice_item(cause, paid, paid_at, [cause.key], now, act_by, variant=paid.expense_id)
        for paid, paid_at in paid_ones
    ]


def _attempt_outcome(state: ExpenseState, attempt: PaymentAttempted, now: datetime) -> list[Event]:
    """What one attempt changes for its period, judged against the stored deadline once a window is open."""
    expense = state.expense
    delivered = attempt.outcome == "delivered"
    paid_before_it_ended = (
        expense is not None
        and delivered
        and expense.ended_at is not None
        and attempt.attempted_at < expense.ended_at
    )
    if expense is not None and (refused := _contradicts(expense, attempt)) is not None:
        return _disregard(attempt, now, refused)
    if (
        expense is not None
        and expense.status in (ExpenseStatus.CEASED, ExpenseStatus.REMOVED)
        and not paid_before_it_ended
    ):
        return _disregard(attempt, now, ExpenseReason(f"expense-{expense.status.value}"))
    period = (
        stored_period(expense)
        if expense is not None and not expense.kind.regular
        else period_of(attempt)
    )
    facts = _facts(expense, attempt)
    window, days = _schedule(attempt.kind, period, facts, expense)
    if attempt.attempted_at < window.opens_at:
        return _disregard(attempt, now, ExpenseReason.BEFORE_RETRY_WINDOW)
    current = state.windows.get(period)
    closes_at = (
        current.closes_at
        if current is not None and current.closes_at is not None
        else window.closes_at
    )
    in_window = attempt.attempted_at < closes_at  # a stored deadline is the deadline
    stopped = (WindowStatus.CEASED, WindowStatus.REMOVED)
    if (
        current is None
        or current.status is WindowStatus.OPEN
        or (paid_before_it_ended and current.status in stopped)
    ):
        if not in_window:
            # The system stops trying when the window closes; an attempt after it changes nothing.
            return _disregard(attempt, now, ExpenseReason.AFTER_RETRY_WINDOW)
        if delivered:
            return [_delivered(expense, attempt, period, was_undelivered=current is not None)]
        if (
            current is not None
        ):  # a retry that failed again: the period stays as it is, and is answered so
            return _disregard(attempt, now, ExpenseReason.RETRY_FAILED)
        return [_undelivered(facts, attempt, period, window, days)]
    if current.status is WindowStatus.CLOSED_UNPAID and delivered and in_window:
        # Event time: paid before the deadline, processed after the closure. Reverse it; cancel the I059PL.
        reversal = ExpenseClosureReversed.caused_by(
            attempt,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=attempt.expense_id,
            customer_ref=facts["customer_ref"],
            period_start=period,
            delivered_at=attempt.attempted_at,
        )
        return [reversal, _delivered(expense, attempt, period, was_undelivered=True)]
    if current.status is WindowStatus.CLOSED_UNPAID and delivered:
        return _disregard(attempt, now, ExpenseReason.AFTER_RETRY_WINDOW)
    # Every attempt is answered: a period already paid, or a failure for a period already closed.
    return _disregard(
        attempt,
        now,
        ExpenseReason.ALREADY_DELIVERED
        if current.status is WindowStatus.DELIVERED
        else ExpenseReason.PERIOD_CLOSED,
    )


@implements("IM-2.1", "IM-2.2", "IM-4.1")
def _undelivered(
    facts: dict[str, Any],
    attempt: PaymentAttempted,
    period: date,
    window: Window,
    days: OneOffDays | None,
) -> Event:
    assert attempt.failure_reason is not None
    one_off = not attempt.kind.regular
    return ExpenseUndelivered.caused_by(
        attempt,
        producer=PRODUCER,
        occurred_at=attempt.attempted_at,
        **facts,
        status=UNDELIVERED_ONE_OFF if one_off else UNDELIVERED_REGULAR,
        period_start=period,
        failure_reason=attempt.failure_reason,
        failure_explanation=FAILURE_EXPLANATION[attempt.failure_reason],
        window_closes_at=window.closes_at,
        calendar=window.calendar,
        day_1=days.day_1 if days else None,
        day_2=days.day_2 if days else None,
        procedure_step=7 if one_off else 4,
        officer_options=STEP_7_OPTIONS if one_off else STEP_4_OPTIONS,
    )


def _delivered(
    expense: Expense | None, attempt: PaymentAttempted, period: date, *, was_undelivered: bool
) -> Event:
    return ExpenseDelivered.caused_by(
        attempt,
        producer=PRODUCER,
        occurred_at=attempt.attempted_at,
        **_facts(expense, attempt),
        period_start=period,
        delivered_at=attempt.attempted_at,
        was_undelivered=was_undelivered,
    )


@implements("IM-3.2", "IM-3.3", "IM-3.6", "IM-3.7", "IM-6.2", "IM-7.1")
def decide_close(expense: Expense, window: PeriodWindow, now: datetime) -> list[Event]:
    """The deadline passed with no delivery: 'the system will stop attempting to pay the expense for this
    period, and it will remain as unpaid' (regular, step 5) / 'the expense will not try to pay again' (one-off, step 8)."""
    if window.status is not WindowStatus.OPEN or window.closes_at is None or now < window.closes_at:
        return []
    assert window.opened_by is not None
    assert window.correlation_id is not None
    assert window.failure_reason is not None
    regular = expense.kind.regular
    return [
        UndeliveredExpensePeriodClosed.derived(
            window.opened_by,
            window.correlation_id,
            producer=PRODUCER,
            occurred_at=window.closes_at,
            expense_id=expense.expense_id,
            customer_ref=expense.customer_ref,
            payee_id=expense.payee_id,
            kind=expense.kind,
            amount=expense.amount,
            state=expense.state,
            coded_at=expense.coded_at,
            status=UNDELIVERED_REGULAR if regular else UNDELIVERED_ONE_OFF,
            period_start=window.period_start,
            closed_at=window.closes_at,
            failure_reason=window.failure_reason,
            next_period_start=window.period_start + timedelta(days=RETRY_DAYS[expense.kind])
            if regular
            else None,
            procedure_step=5 if regular else 8,
            officer_options=CLOSED_OPTIONS,
        )
    ]


# --------------------------------------------------------------------------- staff actions

StaffAction = (
    CeaseExpense | VaryOneOffExpense | CodeOneOffExpense | RecordExpenseRemoval | RecordMySupportJob
)


def _reject(
    action: StaffAction, now: datetime, code: ExpenseReason, reason: str, way_out: str | None = None
) -> Event:
    return ExpenseActionRejected.caused_by(
        action,
        producer=PRODUCER,
        occurred_at=now,
        expense_id=action.expense_id,
        action=action.event_type,
        rejected_event_id=str(action.event_id),
        officer_id=action.officer_id,
        reason_code=code,
        reason=reason,
        way_out=way_out,
    )


@implements("IM-1.2", "IM-1.3")
def _unauthorised(action: StaffAction, now: datetime) -> list[Event]:
    """103-01050060 step 1: "For Service Officers trained in Income Management, go to Step 2"; the others transfer
    the customer. Re-checked here from the verified roles the console wrote into the request."""
    if may_issue(action.officer_roles, action.event_type):
        return []
    return [
        _reject(
            action,
            now,
            ExpenseReason.ROLE_REQUIRED,
            "Only an officer trained in Income Management acts on expenses.",
            way_out(action.event_type),
        )
    ]


def _escalate(action: StaffAction, expense: Expense, now: datetime) -> Event:
    return ExpenseRemovalEscalationRequested.caused_by(
        action,
        producer=PRODUCER,
        occurred_at=now,
        expense_id=expense.expense_id,
        customer_ref=expense.customer_ref,
        officer_id=action.officer_id,
        steps=ESCALATION_STEPS,
        # the one-off ends, or pays, on day 3: the removal helps until day 2 ends
        act_by=one_off_days_of(expense).window.closes_at,
    )


@implements("IM-7.3")
def _gate_one_off_change(expense: Expense, action: StaffAction, now: datetime) -> list[Event]:
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.'"""
    if expense.status is ExpenseStatus.DELIVERED:
        return [
            _reject(
                action,
                now,
                ExpenseReason.ALREADY_DELIVERED,
                "The one-off expense has been delivered.",
            )
        ]
    days = one_off_days_of(expense)
    if expense.status is ExpenseStatus.ENDED or now >= days.window.closes_at:
        return [
            _reject(
                action,
                now,
                ExpenseReason.ONE_OFF_ENDED,
                "The one-off expense ended on day 3 and will not try to pay again.",
            )
        ]
    if local_date(now, expense.state) >= days.day_2:
        rejection = _reject(
            action,
            now,
            ExpenseReason.ONE_OFF_DAY_2,
            f"It is day 2 ({in_words(days.day_2)}) of the one-off "
            "expense: it cannot be ceased or varied on day 2.",
            DAY_2_WAY_OUT,
        )
        return (
            [rejection, _escalate(action, expense, now)] if action.extreme_hardship else [rejection]
        )
    return []


def _gate_known(
    state: ExpenseState, action: StaffAction, now: datetime
) -> tuple[Expense | None, list[Event]]:
    expense = state.expense
    if expense is None:
        return None, [
            _reject(
                action,
                now,
                ExpenseReason.UNKNOWN_EXPENSE,
                "No such expense is known to this service.",
            )
        ]
    if expense.status in (ExpenseStatus.CEASED, ExpenseStatus.REMOVED):
        return None, [
            _reject(
                action,
                now,
                ExpenseReason(f"already-{expense.status.value}"),
                f"The expense has already been {expense.status.value}.",
            )
        ]
    return expense, []


@implements("IM-4.2", "IM-4.3")
@implements("IM-4.5")
def decide_cease(state: ExpenseState, action: CeaseExpense, now: datetime) -> list[Event]:
    """'If appropriate, the expense can be ceased. This will stop any further payments for the expense,
    including the current period.' Step 4 ends 'Record details on a DOC.': a regular expense is ceased with the
    DOC note (step 7, a one-off's, asks for none: there the note is kept when given)."""
    if refusal := _unauthorised(action, now):
        return refusal
    expense, rejected = _gate_known(state, action, now)
    if expense is None:
        return rejected
    if not expense.kind.regular and (refused := _gate_one_off_change(expense, action, now)):
        return refused
    if expense.kind.regular and not (action.doc_note or "").strip():
        return [
            _reject(
                action,
                now,
                ExpenseReason.DOC_NOTE_REQUIRED,
                "Record details on a DOC: ceasing a regular expense (step 4) is done with the DOC note of the "
                "discussion with the customer.",
            )
        ]
    return [
        ExpenseCeased.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=expense.expense_id,
            customer_ref=expense.customer_ref,
            officer_id=action.officer_id,
            closed_periods=state.open_periods(),
        )
    ]


VARY_WAY_OUT = (
    "Cease this one-off expense (on day 1), then code a new one-off expense for the new amount."
)


@implements("IM-7.2", "IM-7.3")
def decide_vary(state: ExpenseState, action: VaryOneOffExpense, now: datetime) -> list[Event]:
    """'If the expense is to be coded or the customer wants to vary the amount, the existing expense needs to be
    ceased before the new one-off expense can be coded.' A one-off's amount is never changed in place: the request
    is answered with the procedure's way (cease, then code), or with the day-2 rule when it is day 2."""
    if refusal := _unauthorised(action, now):
        return refusal
    expense, rejected = _gate_known(state, action, now)
    if expense is None:
        return rejected
    if expense.kind.regular:
        return [
            _reject(
                action,
                now,
                ExpenseReason.NOT_A_ONE_OFF,
                "Only a one-off expense's amount can be varied.",
                "Cease the regular expense and recommence for a future date.",
            )
        ]
    if refused := _gate_one_off_change(expense, action, now):
        return refused
    return [
        _reject(
            action,
            now,
            ExpenseReason.CEASE_AND_RECODE,
            "A one-off expense's amount is not changed in place: the existing "
            "expense needs to be ceased before the new one-off expense can be coded.",
            VARY_WAY_OUT,
        )
    ]


def _still_trying(expense: Expense, at: datetime) -> bool:
    if expense.kind.regular or expense.status is not ExpenseStatus.ACTIVE:
        return False
    return at < one_off_days_of(expense).window.closes_at


@implements("IM-7.2")
def decide_code(state: ExpenseState, action: CodeOneOffExpense, now: datetime) -> list[Event]:
    """'If the expense is to be coded or the customer wants to vary the amount, the existing expense needs to
    be ceased before the new one-off expense can be coded.'"""
    if refusal := _unauthorised(action, now):
        return refusal
    if state.expense is not None:
        return [
            _reject(
                action, now, ExpenseReason.EXPENSE_EXISTS, "An expense with this id already exists."
            )
        ]
    for existing in state.siblings:
        if not _still_trying(existing, now):
            continue
        days = one_off_days_of(existing)
        on_day_2 = local_date(now, existing.state) >= days.day_2
        way_out = (
            DAY_2_WAY_OUT
            if on_day_2
            else f"Cease the existing one-off expense {existing.expense_id} first (day 1)."
        )
        rejection = _reject(
            action,
            now,
            ExpenseReason.EXISTING_ONE_OFF_STILL_TRYING,
            f"One-off expense {existing.expense_id} for the same customer and payee is still trying "
            "to pay; it must be ceased or removed before a new one-off can be coded.",
            way_out,
        )
        return (
            [rejection, _escalate(action, existing, now)]
            if on_day_2 and action.extreme_hardship
            else [rejection]
        )
    days = one_off_days(now, action.state)
    coded: list[Event] = [
        OneOffExpenseCoded.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=action.expense_id,
            customer_ref=action.customer_ref,
            payee_id=action.payee_id,
            kind=ExpenseKind.ONE_OFF,
            amount=action.amount,
            state=action.state,
            coded_at=now,
            officer_id=action.officer_id,
            day_1=days.day_1,
            day_2=days.day_2,
            ends_at=days.window.closes_at,
        )
    ]
    return coded + _replaces_a_paid_one(state.siblings, action, now, now)


REMOVAL_WAY_OUT = (
    "A removal is requested from the ICT Service Desk only for a one-off on day 2, in extreme "
    "hardship: ask for it (cease or code a one-off with extreme hardship on day 2), raise the mySupport "
    "webform and record its job number, then phone the ICT Service Desk quoting it."
)


def _escalated(
    state: ExpenseState, action: RecordExpenseRemoval | RecordMySupportJob, now: datetime
) -> tuple[Expense | None, list[Event]]:
    """The one-off whose removal was escalated (step 7), or the refusal: the Service Desk path is for a one-off on
    day 2 in extreme hardship, never for a regular expense, and only once escalated."""
    if refusal := _unauthorised(action, now):
        return None, refusal
    expense, rejected = _gate_known(state, action, now)
    if expense is None:
        return None, rejected
    if expense.kind.regular:
        return None, [
            _reject(
                action,
                now,
                ExpenseReason.NOT_A_ONE_OFF,
                "Only a one-off expense is removed by the ICT Service Desk.",
                "Cease the regular expense.",
            )
        ]
    if expense.status is not ExpenseStatus.ACTIVE:
        return None, [
            _reject(
                action,
                now,
                ExpenseReason.NOTHING_TO_REMOVE,
                f"The one-off expense has {expense.status.value}: it "
                "will not try to pay again, so there is nothing to remove.",
            )
        ]
    if expense.escalated_at is None:
        return None, [
            _reject(
                action,
                now,
                ExpenseReason.NO_ESCALATION,
                "No removal of this expense was escalated to the ICT Service Desk.",
                REMOVAL_WAY_OUT,
            )
        ]
    return expense, []


@implements("IM-7.4")
def decide_job(state: ExpenseState, action: RecordMySupportJob, now: datetime) -> list[Event]:
    """Step 7: "raise a mySupport webform." then "Phone the ICT Service Desk quoting the mySupport job number to
    request the removal of the existing expense.": the job number is recorded when the webform is raised."""
    expense, refused = _escalated(state, action, now)
    if expense is None:
        return refused
    if expense.mysupport_job is not None:
        return [
            _reject(
                action,
                now,
                ExpenseReason.MYSUPPORT_JOB_ALREADY_RECORDED,
                f"The mySupport job {expense.mysupport_job} is already recorded for this removal.",
            )
        ]
    return [
        MySupportJobRecorded.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=expense.expense_id,
            customer_ref=expense.customer_ref,
            officer_id=action.officer_id,
            mysupport_job=action.mysupport_job,
        )
    ]


@implements("IM-7.5")
def decide_removal(state: ExpenseState, action: RecordExpenseRemoval, now: datetime) -> list[Event]:
    """Step 7: "Phone the ICT Service Desk quoting the mySupport job number to request the removal of the existing
    expense": a removal is accepted for an escalated one-off, quoting the job recorded for it."""
    expense, refused = _escalated(state, action, now)
    if expense is None:
        return refused
    if expense.mysupport_job is None:
        return [
            _reject(
                action,
                now,
                ExpenseReason.MYSUPPORT_JOB_NOT_RECORDED,
                "Record the mySupport job number of the webform "
                "first: the ICT Service Desk is phoned quoting it.",
            )
        ]
    if action.mysupport_job != expense.mysupport_job:
        return [
            _reject(
                action,
                now,
                ExpenseReason.MYSUPPORT_JOB_MISMATCH,
                "The removal does not quote the mySupport job recorded for this expense.",
                f"Quote the mySupport job number {expense.mysupport_job}.",
            )
        ]
    return [
        ExpenseRemoved.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            expense_id=expense.expense_id,
            customer_ref=expense.customer_ref,
            mysupport_job=action.mysupport_job,
            closed_periods=state.open_periods(),
        )
    ]


@implements("IM-4.5")
def doc_to_keep(action: StaffAction, events: list[Event], now: datetime) -> DocNote | None:
    if not (action.doc_note or "").strip() or any(
        isinstance(e, ExpenseActionRejected) for e in events
    ):
        return None
    assert action.doc_note is not None
    return DocNote(
        action.expense_id,
        str(action.event_id),
        action.officer_id,
        action.event_type,
        action.doc_note,
        now,
    )
