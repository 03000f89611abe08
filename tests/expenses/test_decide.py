"""The procedure's rules, one test per rule and branch, each quoting 103-01050060."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.expenses import (
    AustralianState,
    ExpenseActionRejected,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseKind,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    ExpenseUndelivered,
    FailureReason,
    MySupportJobRecorded,
    OneOffConflictDetected,
    OneOffExpenseCoded,
    OneOffPaidTwice,
    PaymentAttemptDisregarded,
    UndeliveredExpensePeriodClosed,
)
from expenses.domain.decide import (
    decide_attempt,
    decide_cease,
    decide_code,
    decide_job,
    decide_removal,
    decide_vary,
    doc_to_keep,
)
from expenses.domain.decider import Expenses, WindowDue
from expenses.domain.model import ExpenseState, ExpenseStatus, WindowStatus
from servicekit.decider import published, step
from tests.expenses.builders import at, attempt, cease, code, job, removal, utc, vary

pytestmark = pytest.mark.unit
EMPTY = ExpenseState(expense=None)
WEEKLY, FORTNIGHTLY, ONE_OFF = ExpenseKind.WEEKLY, ExpenseKind.FORTNIGHTLY, ExpenseKind.ONE_OFF
MONDAY = date(2026, 11, 23)


DECIDER = Expenses()


def run(state, message, now=None):
    """The production step (``servicekit.decider``): the events published and the expense as production holds it."""
    key = DECIDER.keys(message)[0]
    states = {key: state}
    outputs = step(DECIDER, states, message, now or getattr(message, "occurred_at", None))
    return published(outputs), states[key]


def undelivered(kind=WEEKLY, when=None, **kw):
    msg = attempt(kind=kind, when=when or at(2026, 11, 23, 9), **kw)
    return run(EMPTY, msg)


def close_due(state, now):
    events = []
    for window in list(state.windows.values()):
        closed, state = run(
            state, WindowDue(window.expense_id, state.windows[window.period_start]), now
        )
        events += closed
    return events, state


# ----------------------------------------------------------------------------- step 2: fails to pay


@pytest.mark.rule("IM-2.1")
def test_a_failed_regular_expense_is_marked_undelivered_regular():
    """''UNDLVD RI' for all undelivered regular expenses'"""
    [event], state = undelivered(WEEKLY)
    assert isinstance(event, ExpenseUndelivered)
    assert event.status == "UNDLVD RI"
    assert state.windows[MONDAY].status is WindowStatus.OPEN


@pytest.mark.rule("IM-2.2")
def test_a_failed_one_off_expense_is_marked_undelivered_one_off():
    """''UNDLVD IM' for all undelivered one-off expenses'"""
    [event], _ = undelivered(ONE_OFF, when=at(2026, 11, 24, 9))
    assert event.status == "UNDLVD IM"
    assert (event.day_1, event.day_2) == (date(2026, 11, 24), date(2026, 11, 25))


@pytest.mark.rule("IM-4.1", "IM-4.5")
def test_the_undelivered_event_carries_why_it_failed_and_the_officers_options_for_step_4():
    """Step 4: "Check to see why the payment failed. [...] cease the regular expense and recommence for a future
    date, or issue a one-off payment). Record details on a DOC." """
    [event], _ = undelivered(WEEKLY, reason=FailureReason.REDUCED_EARNINGS)
    assert event.procedure_step == 4
    assert event.failure_explanation == "Insufficient funds: reduced funds due to earnings."
    assert any(
        "recommence for a future date" in o and "one-off payment" in o
        for o in event.officer_options
    )
    assert any("DOC" in o for o in event.officer_options)


def test_the_undelivered_one_off_event_points_to_step_7_and_its_day_2_rule():
    [event], _ = undelivered(ONE_OFF, when=at(2026, 11, 24, 9))
    assert event.procedure_step == 7
    assert any("cannot be ceased or varied on day 2" in o for o in event.officer_options)
    assert any("mySupport" in o and "ICT Service Desk" in o for o in event.officer_options)


# ----------------------------------------------------------------------------- step 3: regular windows


@pytest.mark.rule("IM-3.1", "IM-3.5")
@pytest.mark.parametrize(("kind", "days"), [(WEEKLY, 7), (FORTNIGHTLY, 14)])
def test_a_regular_expense_retries_for_its_period_from_the_scheduled_date(kind, days):
    """'If the regular expense fails, the system will attempt to pay the expense for 7 days.' and, for 2 weekly,
    'If the regular expense fails, the system will attempt to pay the expense for 14 days.'"""
    [event], _ = undelivered(kind)
    assert event.window_closes_at == utc(at(2026, 11, 23, 0)) + timedelta(days=days)


def test_delivered_inside_the_window_is_a_delivered_event_and_no_work_item():
    _, state = undelivered(WEEKLY)
    [event], state = run(state, attempt(when=at(2026, 11, 27, 9), outcome="delivered"))
    assert isinstance(event, ExpenseDelivered)
    assert event.was_undelivered
    assert state.windows[MONDAY].status is WindowStatus.DELIVERED
    assert close_due(state, utc(at(2026, 12, 31)))[0] == [], "nothing left to close"


@pytest.mark.rule("IM-3.2", "IM-3.3", "IM-3.6", "IM-3.7")
@pytest.mark.parametrize(
    ("kind", "next_period", "step_day"),
    [(WEEKLY, date(2026, 11, 30), 30), (FORTNIGHTLY, date(2026, 12, 7), 7)],
)
def test_not_paid_when_the_window_closes_the_period_stays_unpaid_and_I059PL_is_raised(
    kind, next_period, step_day
):
    """'If the expense is not paid by the end of the 7 days, the system will stop attempting to pay the expense
    for this period, and it will remain as unpaid. It will then attempt to pay the expense for the next 7 day
    period. Work item 'I059PL ...' is created'; for 2 weekly: 'If the expense is not paid by the end of the 14 days,
    the system will stop attempting to pay the expense for this period, and will remain as unpaid. It will then attempt
    to pay the expense for the next 14 day period.'"""
    [opened], state = undelivered(kind)
    assert close_due(state, opened.window_closes_at - timedelta(seconds=1))[0] == [], (
        "not before the deadline"
    )
    [closed], state = close_due(state, opened.window_closes_at)
    assert isinstance(closed, UndeliveredExpensePeriodClosed)
    assert (closed.procedure_step, closed.work_item_code, closed.status) == (
        5,
        "I059PL",
        "UNDLVD RI",
    )
    assert closed.next_period_start == next_period
    assert closed.closed_at == opened.window_closes_at, (
        "the fact happened at the deadline, whenever it fired"
    )
    assert any("Advise the customer of the period" in o for o in closed.officer_options)
    assert state.windows[MONDAY].status is WindowStatus.CLOSED_UNPAID
    assert state.expense.status is ExpenseStatus.ACTIVE, "the next period's attempts go on"


def test_the_next_periods_attempts_open_their_own_window():
    [opened], state = undelivered(WEEKLY)
    _, state = close_due(state, opened.window_closes_at)
    [event], state = run(state, attempt(when=at(2026, 11, 30, 9), scheduled_on=date(2026, 11, 30)))
    assert isinstance(event, ExpenseUndelivered)
    assert event.period_start == date(2026, 11, 30)


def test_closing_is_idempotent():
    [opened], state = undelivered(WEEKLY)
    _, state = close_due(state, opened.window_closes_at)
    assert close_due(state, opened.window_closes_at + timedelta(days=3))[0] == []


@pytest.mark.rule("IM-2.1")
def test_a_repeated_failed_attempt_changes_nothing_and_is_answered_as_a_retry_that_failed():
    """''UNDLVD RI' for all undelivered regular expenses': the period is undelivered already; the retry's failure is
    answered (issue 38: every fact is answered), and the period stays as it was."""
    _, state = undelivered(WEEKLY)
    retry = attempt(when=at(2026, 11, 25, 9))
    [answered], again = run(state, retry)
    assert isinstance(answered, PaymentAttemptDisregarded)
    assert (answered.reason_code, answered.attempted_event_id) == (
        "retry-failed",
        str(retry.event_id),
    )
    assert again == state


def test_the_closure_event_id_is_deterministic_so_a_refire_is_the_same_event():
    [opened], state = undelivered(WEEKLY)
    first = close_due(state, opened.window_closes_at)[0][0]
    again = close_due(state, opened.window_closes_at + timedelta(hours=5))[0][0]
    assert first.event_id == again.event_id


# ----------------------------------------------------------------------------- late and out-of-window cases


def test_a_delivery_attempted_before_the_deadline_but_processed_after_closure_reverses_it():
    [opened], state = undelivered(WEEKLY)
    _, state = close_due(state, opened.window_closes_at)
    late = attempt(when=at(2026, 11, 29, 23, 59), outcome="delivered")
    (reversal, delivered), after = run(state, late, now=utc(at(2026, 11, 30, 8)))
    assert isinstance(reversal, ExpenseClosureReversed)
    assert reversal.work_item_code == "I059PL"
    assert isinstance(delivered, ExpenseDelivered)
    assert after.windows[MONDAY].status is WindowStatus.DELIVERED


def test_a_delivery_attempted_after_the_deadline_is_disregarded():
    [opened], state = undelivered(WEEKLY)
    _, state = close_due(state, opened.window_closes_at)
    [event] = decide_attempt(
        state, attempt(when=at(2026, 11, 30, 9), outcome="delivered"), now=utc(at(2026, 11, 30))
    )
    assert isinstance(event, PaymentAttemptDisregarded)
    assert event.reason_code == "after-retry-window"


def test_a_delivery_after_the_deadline_but_before_the_scheduler_fired_is_disregarded_and_the_window_closes():
    _, state = undelivered(WEEKLY)
    [event] = decide_attempt(
        state, attempt(when=at(2026, 11, 30, 1), outcome="delivered"), now=utc(at(2026, 11, 30))
    )
    assert event.reason_code == "after-retry-window"
    assert isinstance(
        close_due(state, utc(at(2026, 11, 30, 2)))[0][0], UndeliveredExpensePeriodClosed
    )


def test_an_attempt_before_the_period_starts_is_disregarded():
    [event] = decide_attempt(EMPTY, attempt(when=at(2026, 11, 22, 23)), now=utc(at(2026, 11, 23)))
    assert event.reason_code == "before-retry-window"


def test_decisions_use_event_time_not_processing_time():
    [event] = decide_attempt(
        EMPTY, attempt(when=at(2026, 11, 25, 9)), now=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert isinstance(event, ExpenseUndelivered)


# ----------------------------------------------------------------------------- step 4: cease regular


@pytest.mark.rule("IM-4.2", "IM-4.3")
def test_a_regular_expense_can_be_ceased_at_any_time_and_its_open_window_closes_without_I059PL():
    """'If appropriate, the expense can be ceased. This will stop any further payments for the expense,
    including the current period.'"""
    [opened], state = undelivered(WEEKLY)
    [ceased], state = run(state, cease(at(2026, 11, 28, 9)))
    assert isinstance(ceased, ExpenseCeased)
    assert ceased.closed_periods == [MONDAY]
    assert state.windows[MONDAY].status is WindowStatus.CEASED
    assert close_due(state, opened.window_closes_at)[0] == [], "no I059PL after a cease"
    [after] = decide_attempt(
        state, attempt(when=at(2026, 11, 29, 9), outcome="delivered"), now=utc(at(2026, 11, 29))
    )
    assert after.reason_code == "expense-ceased", "further payments stop"


def test_ceasing_twice_or_an_unknown_expense_is_rejected_with_a_reason():
    _, state = undelivered(WEEKLY)
    _, state = run(state, cease(at(2026, 11, 28, 9)))
    [again] = decide_cease(state, cease(at(2026, 11, 28, 10)), utc(at(2026, 11, 28, 10)))
    assert (again.reason_code, again.action) == ("already-ceased", "CeaseExpense")
    [unknown] = decide_cease(EMPTY, cease(at(2026, 11, 28, 10)), utc(at(2026, 11, 28, 10)))
    assert unknown.reason_code == "unknown-expense"


# ----------------------------------------------------------------------------- steps 6-8: one-offs


def one_off_state():
    """A one-off coded Tuesday 24 Nov 2026 10:00 Sydney: day 1 Tuesday, day 2 Wednesday, ends Thursday."""
    return undelivered(ONE_OFF, when=at(2026, 11, 24, 10))


def test_a_one_off_can_be_ceased_on_day_1():
    _, state = one_off_state()
    [event], state = run(state, cease(at(2026, 11, 24, 23, 59)))
    assert isinstance(event, ExpenseCeased)
    assert state.expense.status is ExpenseStatus.CEASED


@pytest.mark.rule("IM-7.3")
def test_a_one_off_cannot_be_ceased_on_day_2():
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.'"""
    _, state = one_off_state()
    [rejected] = decide_cease(state, cease(at(2026, 11, 25, 0, 0)), utc(at(2026, 11, 25)))
    assert isinstance(rejected, ExpenseActionRejected)
    assert rejected.reason_code == "one-off-day-2"
    assert "mySupport webform" in (rejected.way_out or "")


@pytest.mark.rule("IM-7.3")
def test_day_1_or_day_2_is_the_officers_not_when_the_service_handles_the_request():
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.' An officer who ceases
    on day 1 has done it on day 1, however late the service handles it; a stamp ahead of the service's clock
    counts as the handling time."""
    _, state = one_off_state()
    [ceased], _ = run(state, cease(at(2026, 11, 24, 23, 59)), utc(at(2026, 11, 25, 0, 5)))
    assert isinstance(ceased, ExpenseCeased), "ceased at 23:59 on day 1, handled on day 2"
    assert ceased.occurred_at == utc(at(2026, 11, 24, 23, 59)), "ceased when the officer ceased it"
    [refused, *_], _ = run(state, cease(at(2026, 11, 25, 9)), utc(at(2026, 11, 25, 16)))
    assert isinstance(refused, ExpenseActionRejected), "ceased on day 2"
    assert refused.reason_code == "one-off-day-2"
    [ceased], _ = run(state, cease(at(2026, 11, 25, 9)), utc(at(2026, 11, 24, 16)))
    assert isinstance(ceased, ExpenseCeased), (
        "a stamp ahead of the service's clock does not move the day"
    )
    assert ceased.occurred_at == utc(at(2026, 11, 24, 16)), "held to the handling time"


@pytest.mark.rule("IM-1.3")
def test_an_officer_not_trained_in_income_management_is_refused_with_the_transfer_guidance():
    """103-01050060 step 1: "For Service Officers not trained in Income Management: [...] Cold transfer the
    customer to: [...] the Income Management Line". Re-checked from the verified roles in the request; a v1
    request carried none."""
    _, state = one_off_state()
    untrained = cease(at(2026, 11, 24, 11)).model_copy(
        update={"officer_roles": ["msp-approved-decision-maker"]}
    )
    [rejected] = decide_cease(state, untrained, utc(at(2026, 11, 24, 11)))
    assert isinstance(rejected, ExpenseActionRejected)
    assert rejected.reason_code == "role-required"
    assert "Income Management Line" in (rejected.way_out or "")
    [ceased] = decide_cease(state, cease(at(2026, 11, 24, 11)), utc(at(2026, 11, 24, 11)))
    assert isinstance(ceased, ExpenseCeased), "trained: day 1, ceased"


@pytest.mark.rule("IM-7.2", "IM-7.3")
def test_varying_a_one_off_is_cease_and_recode_and_on_day_2_not_even_that():
    """'If the expense is to be coded or the customer wants to vary the amount, the existing expense needs to be
    ceased before the new one-off expense can be coded.' and 'Note: the expense cannot be ceased or varied on day 2.
    This must be done on day 1.'"""
    _, state = one_off_state()
    [rejected] = decide_vary(state, vary(at(2026, 11, 25, 9)), utc(at(2026, 11, 25, 9)))
    assert rejected.reason_code == "one-off-day-2"
    [day_1], state = run(state, vary(at(2026, 11, 24, 15), amount="40.00"))
    assert isinstance(day_1, ExpenseActionRejected)
    assert day_1.reason_code == "cease-and-recode"
    assert (
        day_1.way_out
        == "Cease this one-off expense (on day 1), then code a new one-off expense for the new amount."
    )
    assert state.expense.amount == Decimal("85.00"), "the amount is never changed in place"
    [ceased], state = run(state, cease(at(2026, 11, 24, 15, 5)))
    assert isinstance(ceased, ExpenseCeased), "the way out works: cease on day 1, then code"


@pytest.mark.rule("IM-7.4", "IM-7.5")
def test_on_day_2_with_extreme_hardship_the_removal_is_escalated_to_mysupport_and_the_ict_service_desk():
    """'If unable to cease the expense as it is day 2 and there is extreme hardship requiring the new expense to be
    coded immediately, raise a mySupport webform. Phone the ICT Service Desk quoting the mySupport job number to
    request the removal of the existing expense.'"""
    _, state = one_off_state()
    rejected, escalation = decide_cease(
        state, cease(at(2026, 11, 25, 9), hardship=True), utc(at(2026, 11, 25, 9))
    )
    assert rejected.reason_code == "one-off-day-2"
    assert isinstance(escalation, ExpenseRemovalEscalationRequested)
    assert escalation.steps[0] == "Raise a mySupport webform."
    assert "ICT Service Desk" in escalation.steps[1]


@pytest.mark.rule("IM-4.5", "IM-7.2")
def test_the_doc_note_of_an_action_carried_out_is_kept_and_a_refused_ones_is_not():
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." and step 4: "Record details on a DOC." """
    _, state = one_off_state()
    with_note = cease(at(2026, 11, 24, 11)).model_copy(
        update={"doc_note": "Agreed to cease and recode."}
    )
    events = decide_cease(state, with_note, utc(at(2026, 11, 24, 11)))
    kept = doc_to_keep(with_note, events, utc(at(2026, 11, 24, 11)))
    assert kept is not None
    assert (kept.note, kept.action, kept.expense_id) == (
        "Agreed to cease and recode.",
        "CeaseExpense",
        "EXP-1",
    )
    day_2 = cease(at(2026, 11, 25, 9)).model_copy(update={"doc_note": "Tried on day 2."})
    refused = decide_cease(state, day_2, utc(at(2026, 11, 25, 9)))
    assert doc_to_keep(day_2, refused, utc(at(2026, 11, 25, 9))) is None, (
        "a refused action keeps no DOC"
    )


@pytest.mark.rule("IM-7.5")
def test_a_regular_expense_is_never_removed_by_the_service_desk():
    """Step 7: "Phone the ICT Service Desk quoting the mySupport job number to request the removal of the existing
    expense." (the one-off's way out on day 2)."""
    _, state = undelivered(WEEKLY)
    [rejected] = decide_removal(state, removal(at(2026, 11, 24, 9)), utc(at(2026, 11, 24, 9)))
    assert isinstance(rejected, ExpenseActionRejected)
    assert (rejected.reason_code, rejected.way_out) == (
        "not-a-one-off",
        "Cease the regular expense.",
    )


def test_varying_a_regular_expense_is_rejected():
    _, state = undelivered(WEEKLY)
    [rejected] = decide_vary(state, vary(at(2026, 11, 24, 9)), utc(at(2026, 11, 24, 9)))
    assert rejected.reason_code == "not-a-one-off"


@pytest.mark.rule("IM-6.2")
def test_a_one_off_not_delivered_by_the_end_of_day_2_ends_and_raises_I059PL_at_step_8():
    """Step 6: "If the expense does not deliver within the 2 days, the expense will not try to pay again." (the
    closure raises the I059PL in workitems)."""
    [opened], state = one_off_state()
    assert opened.window_closes_at == utc(at(2026, 11, 26, 0))
    assert close_due(state, utc(at(2026, 11, 25, 23, 59)))[0] == []
    [closed], state = close_due(state, utc(at(2026, 11, 26, 0)))
    assert (closed.procedure_step, closed.status, closed.next_period_start) == (
        8,
        "UNDLVD IM",
        None,
    )
    assert state.expense.status is ExpenseStatus.ENDED
    [late] = decide_cease(state, cease(at(2026, 11, 26, 9)), utc(at(2026, 11, 26, 9)))
    assert late.reason_code == "one-off-ended"


def test_a_one_off_delivered_on_day_2_is_delivered_and_can_no_longer_be_ceased():
    _, state = one_off_state()
    [delivered], state = run(
        state,
        attempt(
            kind=ONE_OFF,
            when=at(2026, 11, 25, 9),
            coded_at=at(2026, 11, 24, 10),
            outcome="delivered",
        ),
    )
    assert isinstance(delivered, ExpenseDelivered)
    assert state.expense.status is ExpenseStatus.DELIVERED
    [rejected] = decide_cease(state, cease(at(2026, 11, 24, 11)), utc(at(2026, 11, 24, 11)))
    assert rejected.reason_code == "already-delivered"


@pytest.mark.rule("IM-7.2")
def test_a_replacement_one_off_cannot_be_coded_while_the_existing_one_is_still_trying():
    """'the existing expense needs to be ceased before the new one-off expense can be coded.'"""
    _, existing = one_off_state()
    state = ExpenseState(expense=None, siblings=(existing.expense,))
    [rejected] = decide_code(state, code(at(2026, 11, 24, 12)), utc(at(2026, 11, 24, 12)))
    assert rejected.reason_code == "existing-one-off-still-trying"
    assert "Cease the existing one-off expense EXP-1 first" in (rejected.way_out or "")
    rejected, escalation = decide_code(
        state, code(at(2026, 11, 25, 12), hardship=True), utc(at(2026, 11, 25, 12))
    )
    assert "mySupport" in (rejected.way_out or "")
    assert escalation.expense_id == "EXP-1", "the escalation concerns the existing expense"


def escalated_state(with_job: bool = True):
    """The one-off of :func:`one_off_state` on day 2, extreme hardship: the cease is refused and the removal
    escalated (Wednesday 09:00 Sydney), then the webform's job number recorded (09:30)."""
    _, state = one_off_state()
    [_, escalation], state = run(state, cease(at(2026, 11, 25, 9), hardship=True))
    assert isinstance(escalation, ExpenseRemovalEscalationRequested)
    assert state.expense.escalated_at == utc(at(2026, 11, 25, 9))
    if with_job:
        [recorded], state = run(state, job(at(2026, 11, 25, 9, 30)))
        assert isinstance(recorded, MySupportJobRecorded)
    return state


@pytest.mark.rule("IM-7.4", "IM-7.5")
def test_the_mysupport_job_is_recorded_when_the_webform_is_raised_and_only_for_an_escalated_removal():
    """Step 7: "raise a mySupport webform." then "Phone the ICT Service Desk quoting the mySupport job number to
    request the removal of the existing expense.": the job number is recorded when the webform is raised."""
    _, not_escalated = one_off_state()
    [refused] = decide_job(not_escalated, job(at(2026, 11, 25, 9)), utc(at(2026, 11, 25, 9)))
    assert refused.reason_code == "no-escalation"
    state = escalated_state()
    assert state.expense.mysupport_job == "MS-4411"
    [again] = decide_job(state, job(at(2026, 11, 25, 10), number="MS-9"), utc(at(2026, 11, 25, 10)))
    assert again.reason_code == "mysupport-job-already-recorded"


@pytest.mark.rule("IM-7.5")
def test_a_removal_is_accepted_only_for_an_escalated_one_off_quoting_its_recorded_job():
    """Step 7: "Phone the ICT Service Desk quoting the mySupport job number to request the removal of the existing
    expense." """
    _, not_escalated = one_off_state()
    [refused] = decide_removal(
        not_escalated, removal(at(2026, 11, 25, 11)), utc(at(2026, 11, 25, 11))
    )
    assert refused.reason_code == "no-escalation"
    assert "mySupport" in (refused.way_out or "")
    no_job = escalated_state(with_job=False)
    [refused] = decide_removal(no_job, removal(at(2026, 11, 25, 11)), utc(at(2026, 11, 25, 11)))
    assert refused.reason_code == "mysupport-job-not-recorded"
    wrong = removal(at(2026, 11, 25, 11)).model_copy(update={"mysupport_job": "MS-0000"})
    [refused] = decide_removal(escalated_state(), wrong, utc(at(2026, 11, 25, 11)))
    assert refused.reason_code == "mysupport-job-mismatch"
    [removed] = decide_removal(
        escalated_state(), removal(at(2026, 11, 25, 11)), utc(at(2026, 11, 25, 11))
    )
    assert isinstance(removed, ExpenseRemoved)


def test_a_replacement_one_off_can_be_coded_once_the_existing_one_is_ceased_removed_or_ended():
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 11)))
    _, removed = run(escalated_state(), removal(at(2026, 11, 25, 11)))
    for sibling, when in (
        (ceased.expense, at(2026, 11, 24, 12)),
        (removed.expense, at(2026, 11, 25, 12)),
        (existing.expense, at(2026, 11, 26, 9)),
    ):
        [coded] = decide_code(
            ExpenseState(expense=None, siblings=(sibling,)), code(when), utc(when)
        )
        assert isinstance(coded, OneOffExpenseCoded), sibling.status


def test_a_service_desk_removal_closes_the_open_window_without_I059PL():
    [opened], _ = one_off_state()
    [removed], state = run(escalated_state(), removal(at(2026, 11, 25, 11)))
    assert isinstance(removed, ExpenseRemoved)
    assert removed.closed_periods == [date(2026, 11, 24)]
    assert close_due(state, opened.window_closes_at)[0] == []


# --------------------------------------------------------------------------- stored deadlines and days


@pytest.mark.rule("IM-3.1")
def test_a_stored_deadline_is_the_deadline_whatever_a_later_message_says():
    """Step 3: "the system will attempt to pay the expense for 7 days": the window is computed once, when it opens,
    and stored; a delivery after the stored deadline is after it, even if a later attempt names another state."""
    [opened], state = undelivered(WEEKLY)
    assert opened.window_closes_at == utc(
        at(2026, 11, 30, 0)
    )  # 7 days from Monday 23 Nov, Sydney time
    late = attempt(
        kind=WEEKLY, when=at(2026, 11, 30, 0, 30), outcome="delivered", state=AustralianState.WA
    )  # by Perth's midnight, 3 hours later, it would still be in time
    [disregarded] = decide_attempt(state, late, utc(at(2026, 11, 30, 1)))
    assert isinstance(disregarded, PaymentAttemptDisregarded)
    assert disregarded.reason_code == "after-retry-window"


@pytest.mark.rule("IM-7.3")
def test_a_one_offs_stored_days_decide_not_a_recomputation():
    """Step 7: "the expense cannot be ceased or varied on day 2. This must be done on day 1." Day 2 is the one
    stored when the one-off became known: a calendar update (a holiday declared later) does not move it."""
    _, state = one_off_state()
    stored = state.expense.days
    assert (stored.day_1, stored.day_2) == (date(2026, 11, 24), date(2026, 11, 25))
    moved = replace(
        stored, day_2=date(2026, 11, 26)
    )  # as if the calendar had said otherwise when it was stored
    state = replace(state, expense=replace(state.expense, days=moved))
    [ceased] = decide_cease(state, cease(at(2026, 11, 25, 9)), utc(at(2026, 11, 25, 9)))
    assert isinstance(ceased, ExpenseCeased), (
        "the stored day 2 is Thursday, so Wednesday is still day 1"
    )


@pytest.mark.rule("IM-7.2")
def test_a_one_off_the_payments_system_codes_while_another_still_tries_is_handed_to_an_officer():
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." The payments system's attempt is a fact, so it is
    recorded; the conflict is raised for an officer."""
    _, existing = one_off_state()
    second = attempt(kind=ONE_OFF, when=at(2026, 11, 24, 15), expense_id="EXP-2")
    events = decide_attempt(
        ExpenseState(expense=None, siblings=(existing.expense,)), second, utc(at(2026, 11, 24, 15))
    )
    assert [type(e) for e in events] == [ExpenseUndelivered, OneOffConflictDetected]
    assert (events[1].expense_id, events[1].existing_expense_id) == ("EXP-2", "EXP-1")
    ended = decide_attempt(
        ExpenseState(expense=None, siblings=(existing.expense,)),
        attempt(kind=ONE_OFF, when=at(2026, 11, 26, 9), expense_id="EXP-3"),
        utc(at(2026, 11, 26, 9)),
    )
    assert [type(e) for e in ended] == [ExpenseUndelivered], "the first ended on day 3: no conflict"


@pytest.mark.rule("IM-7.3", "IM-7.4")
def test_the_time_critical_items_say_until_when_an_officer_can_still_act_on_the_customers_days():
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.' and 'If unable to cease
    the expense as it is day 2 and there is extreme hardship requiring the new expense to be coded immediately,
    raise a mySupport webform.' Issue 40: the paid-twice, conflict and removal items had no due time and sank behind
    every older I059PL. A later one-off can be ceased until its day 2 begins; the removal of a one-off helps until
    its day 2 ends (it ends on day 3)."""
    _, existing = one_off_state()  # coded Tuesday 24 November 10:00 in Sydney: day 2 Wednesday
    [_, conflict] = decide_attempt(
        ExpenseState(expense=None, siblings=(existing.expense,)),
        attempt(kind=ONE_OFF, when=at(2026, 11, 24, 15), expense_id="EXP-2"),
        utc(at(2026, 11, 24, 15)),
    )
    assert conflict.act_by == at(2026, 11, 25, 0), "the new one-off's day 2 begins Wednesday"
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 11), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    [_, paid_twice], _ = run(
        replace(ceased, siblings=(_replacement(ceased, at(2026, 11, 24, 13)).expense,)),
        late,
        utc(at(2026, 11, 24, 14)),
    )
    assert paid_twice.act_by == at(2026, 11, 25, 0), "the replacement's day 2 begins Wednesday"
    [_, escalation] = decide_cease(
        existing, cease(at(2026, 11, 25, 9), hardship=True), utc(at(2026, 11, 25, 9))
    )
    assert escalation.act_by == at(2026, 11, 26, 0), "its day 2 ends as Thursday begins"


# ----------------------------------------------------------------------------- issue 28: attempts that contradict


def test_an_expense_id_the_payments_system_reuses_for_another_customer_is_set_aside_with_its_reason():
    """Issue 28: a reused id was disregarded with no reason an operator could tell apart."""
    _, state = undelivered(WEEKLY)
    reused = attempt(when=at(2026, 11, 24, 9), outcome="delivered").model_copy(
        update={"customer_ref": "CRN-SYNTH-OTHER"}
    )
    [event], after = run(state, reused)
    assert isinstance(event, PaymentAttemptDisregarded)
    assert event.reason_code == "expense-id-reused"
    assert after == state, "the stored expense is not touched"
    [kind], _ = run(state, attempt(kind=ONE_OFF, when=at(2026, 11, 24, 9), outcome="delivered"))
    assert kind.reason_code == "kind-contradicts-stored", "a weekly id is not a one-off's"


@pytest.mark.rule("IM-6.1")
def test_a_later_attempt_naming_another_state_does_not_move_a_known_one_offs_period():
    """103-01050060: "When the one-off expense is coded, the expense will attempt to deliver for the next 2 working
    days." Its period and days are those stored when it became known (issue 28: a second attempt naming WA landed
    on another period)."""
    [opened], state = one_off_state()
    moved = attempt(
        kind=ONE_OFF,
        when=at(2026, 11, 25, 9),
        outcome="delivered",
        state=AustralianState.WA,
        coded_at=at(2026, 11, 25, 9),
    )
    [delivered], after = run(state, moved)
    assert isinstance(delivered, ExpenseDelivered)
    assert delivered.period_start == opened.period_start, (
        "the stored period, not one from the attempt"
    )
    assert after.windows[opened.period_start].status is WindowStatus.DELIVERED


@pytest.mark.rule("IM-4.5")
def test_a_regular_expense_is_ceased_with_the_doc_note_of_the_discussion_and_a_one_off_without_one():
    """Step 4: "Record details on a DOC." (issue 28: the registry marked it automated while the note was optional).
    A regular expense's cease (step 4) needs the note; a one-off's (step 7) keeps one when given."""
    _, state = undelivered(WEEKLY)
    [refused], unchanged = run(state, cease(at(2026, 11, 24, 9), doc_note=None))
    assert isinstance(refused, ExpenseActionRejected)
    assert refused.reason_code == "doc-note-required"
    assert unchanged == state
    [ceased], _ = run(state, cease(at(2026, 11, 24, 9)))
    assert isinstance(ceased, ExpenseCeased)
    _, one_off = one_off_state()
    [one_off_ceased], _ = run(one_off, cease(at(2026, 11, 24, 11), doc_note=None))
    assert isinstance(one_off_ceased, ExpenseCeased)


# ----------------------------------------------------------------------------- issue 28: paid twice


def _replacement(ceased_one: ExpenseState, when: datetime) -> ExpenseState:
    """The one-off an officer codes once the existing one is ceased or ended: accepted on what is known."""
    assert ceased_one.expense is not None
    [coded], replacement = run(
        ExpenseState(expense=None, siblings=(ceased_one.expense,)), code(when)
    )
    assert isinstance(coded, OneOffExpenseCoded)
    return replacement


@pytest.mark.rule("IM-7.2")
def test_a_delivery_attempted_before_a_cease_but_handled_after_it_is_recorded_and_a_replacement_is_flagged():
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." Issue 28: a delivery attempted at 11:00, handled after
    a 12:00 cease, was disregarded; the 13:00 replacement was accepted and both paid with nothing said."""
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    assert ceased.expense.ended_at == at(2026, 11, 24, 12)
    replacement = _replacement(ceased, at(2026, 11, 24, 13))
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 11), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    events, after = run(
        replace(ceased, siblings=(replacement.expense,)), late, utc(at(2026, 11, 24, 14))
    )
    assert [type(e) for e in events] == [ExpenseDelivered, OneOffPaidTwice]
    delivered, flagged = events
    assert delivered.delivered_at == at(2026, 11, 24, 11), "judged by when it was attempted"
    assert (flagged.expense_id, flagged.other_expense_ids) == ("EXP-1", ["EXP-2"])
    assert flagged.delivered_at == at(2026, 11, 24, 11)
    assert after.windows[date(2026, 11, 24)].status is WindowStatus.DELIVERED
    assert after.expense.status is ExpenseStatus.CEASED, (
        "the officer's cease stands; the payment is recorded"
    )


@pytest.mark.rule("IM-4.3")
def test_a_delivery_attempted_after_the_cease_is_still_stopped_by_it():
    """Step 4: "This will stop any further payments for the expense, including the current period." """
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    after_cease = attempt(
        kind=ONE_OFF,
        when=at(2026, 11, 24, 12, 30),
        outcome="delivered",
        coded_at=at(2026, 11, 24, 10),
    )
    [disregarded], unchanged = run(ceased, after_cease, utc(at(2026, 11, 24, 14)))
    assert isinstance(disregarded, PaymentAttemptDisregarded)
    assert disregarded.reason_code == "expense-ceased"
    assert unchanged == ceased
    failed_before = attempt(kind=ONE_OFF, when=at(2026, 11, 24, 11), coded_at=at(2026, 11, 24, 10))
    [also], _ = run(ceased, failed_before, utc(at(2026, 11, 24, 14)))
    assert also.reason_code == "expense-ceased", (
        "a failure before the cease changes nothing after it"
    )


def test_a_regular_expenses_delivery_attempted_before_its_cease_is_recorded_without_a_conflict():
    """A payment attempt is a fact judged by its event time, for a regular expense too."""
    _, state = undelivered(WEEKLY)
    _, ceased = run(state, cease(at(2026, 11, 24, 12)))
    late = attempt(kind=WEEKLY, when=at(2026, 11, 24, 11), outcome="delivered")
    [delivered], after = run(ceased, late, utc(at(2026, 11, 24, 14)))
    assert isinstance(delivered, ExpenseDelivered)
    assert after.windows[MONDAY].status is WindowStatus.DELIVERED
    assert after.expense.status is ExpenseStatus.CEASED, "later periods stay stopped"


@pytest.mark.rule("IM-7.2")
def test_a_closure_reversed_by_a_late_delivery_flags_the_replacement_coded_the_next_morning():
    """Step 7: "the existing expense needs to be ceased before the new one-off expense can be coded". Issue 28: a
    one-off's window closes, a replacement is coded the next morning, then the first one-off's delivery from before
    the closure arrives: the closure is reversed, and now an officer is told both may pay."""
    [opened], existing = one_off_state()
    _, ended = close_due(existing, opened.window_closes_at)
    assert ended.expense.status is ExpenseStatus.ENDED
    replacement = _replacement(ended, at(2026, 11, 27, 9))
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 25, 16), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    events, after = run(
        replace(ended, siblings=(replacement.expense,)), late, utc(at(2026, 11, 27, 10))
    )
    assert [type(e) for e in events] == [ExpenseClosureReversed, ExpenseDelivered, OneOffPaidTwice]
    assert events[2].other_expense_ids == ["EXP-2"]
    assert after.expense.status is ExpenseStatus.DELIVERED
    ceased_replacement = replace(replacement.expense, status=ExpenseStatus.CEASED)
    quiet, _ = run(replace(ended, siblings=(ceased_replacement,)), late, utc(at(2026, 11, 27, 10)))
    assert [type(e) for e in quiet] == [ExpenseClosureReversed, ExpenseDelivered], (
        "a replacement already ceased will not pay: nothing to resolve"
    )
    earlier = replace(replacement.expense, coded_at=at(2026, 11, 25, 15))
    before, _ = run(replace(ended, siblings=(earlier,)), late, utc(at(2026, 11, 27, 10)))
    assert OneOffPaidTwice not in [type(e) for e in before], (
        "coded before the payment, while the first still tried: 'cease first' already handled that"
    )
    after_payment = replace(replacement.expense, coded_at=at(2026, 11, 25, 17))
    flagged, _ = run(replace(ended, siblings=(after_payment,)), late, utc(at(2026, 11, 27, 10)))
    assert type(flagged[-1]) is OneOffPaidTwice


@pytest.mark.rule("IM-7.1")
def test_a_one_off_automatically_ends_at_the_start_of_day_3_in_its_states_time():
    """Step 7: "This expense will attempt to pay for 2 days then it will be unpaid, that is, it will automatically end
    on day 3." """
    [opened], state = one_off_state()
    day_3 = date(2026, 11, 26)
    assert (opened.day_1, opened.day_2) == (date(2026, 11, 24), date(2026, 11, 25))
    assert opened.window_closes_at == utc(at(2026, 11, 26, 0)), "day 3 begins at Sydney's midnight"
    last_moment = attempt(
        kind=ONE_OFF,
        when=at(2026, 11, 25, 23, 59),
        outcome="delivered",
        coded_at=at(2026, 11, 24, 10),
    )
    assert isinstance(
        decide_attempt(state, last_moment, utc(at(2026, 11, 26, 1)))[0], ExpenseDelivered
    )
    on_day_3 = attempt(
        kind=ONE_OFF,
        when=at(2026, 11, 26, 0, 0),
        outcome="delivered",
        coded_at=at(2026, 11, 24, 10),
    )
    [set_aside] = decide_attempt(state, on_day_3, utc(at(2026, 11, 26, 1)))
    assert set_aside.reason_code == "after-retry-window"
    [ended], after = close_due(state, utc(at(2026, 11, 26, 0)))
    assert (ended.closed_at, after.expense.status) == (
        utc(at(2026, 11, 26, 0)),
        ExpenseStatus.ENDED,
    )
    assert after.expense.days.day_2 + timedelta(days=1) == day_3
