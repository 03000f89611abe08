"""Edges of the expenses decisions that mutation testing found unasserted (issue 28 item 16): exact deadlines, what
is stored as it was given, and the ids that tie an output to its cause."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta
from decimal import Decimal

import pytest

from contracts.envelope import derived_event_id
from contracts.expenses import (
    AustralianState,
    ExpenseActionRejected,
    ExpenseDelivered,
    OneOffExpenseCoded,
    OneOffExpenseVaried,
    OneOffPaidTwice,
    PaymentAttemptDisregarded,
)
from expenses.domain.calendar import start_of, working_day_on_or_after
from expenses.domain.decide import (
    _paid_twice_item,
    decide_attempt,
    decide_code,
    decide_job,
    decide_removal,
)
from expenses.domain.decider import Expenses
from expenses.domain.model import DocNote, ExpenseState, ExpenseStatus, WindowStatus, evolve
from servicekit.decider import step
from tests.expenses.builders import PERTH, at, attempt, cease, code, job, removal, utc
from tests.expenses.test_decide import (
    EMPTY,
    MONDAY,
    ONE_OFF,
    WEEKLY,
    close_due,
    escalated_state,
    one_off_state,
    run,
    undelivered,
)

pytestmark = pytest.mark.unit


@pytest.mark.rule("IM-3.1")
def test_a_delivery_attempted_exactly_at_the_deadline_is_after_it():
    """Step 3: "the system will attempt to pay the expense for 7 days": the deadline instant itself is outside."""
    [opened], state = undelivered(WEEKLY)
    deadline = opened.window_closes_at
    [late] = decide_attempt(state, attempt(when=deadline, outcome="delivered"), deadline)
    assert isinstance(late, PaymentAttemptDisregarded)
    assert late.reason_code == "after-retry-window"
    just_in = attempt(when=deadline - timedelta(microseconds=1), outcome="delivered")
    [paid] = decide_attempt(state, just_in, deadline)
    assert isinstance(paid, ExpenseDelivered)


def test_a_delivery_attempted_at_the_instant_of_the_cease_was_stopped_by_it():
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    same_instant = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 12), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    [disregarded], _ = run(ceased, same_instant, utc(at(2026, 11, 24, 14)))
    assert disregarded.reason_code == "expense-ceased"


def test_a_replacement_may_be_coded_at_the_instant_the_existing_one_off_ends():
    [opened], existing = one_off_state()
    end = opened.window_closes_at
    [coded], _ = run(ExpenseState(None, siblings=(existing.expense,)), code(end), end)
    assert coded.event_type == "OneOffExpenseCoded", "at its end it no longer tries"
    [refused], _ = run(
        ExpenseState(None, siblings=(existing.expense,)),
        code(end - timedelta(seconds=1)),
        end - timedelta(seconds=1),
    )
    assert refused.reason_code == "existing-one-off-still-trying"


def test_what_an_undelivered_one_off_leaves_stored_is_what_it_was_given():
    [opened], state = one_off_state()
    expense, window = state.expense, state.windows[opened.period_start]
    assert (expense.expense_id, expense.customer_ref, expense.payee_id) == (
        "EXP-1",
        "CRN-SYNTH-1",
        "PAYEE-GROCER",
    )
    assert (expense.kind, expense.amount, expense.state) == (
        ONE_OFF,
        Decimal("85.00"),
        AustralianState.NSW,
    )
    assert expense.days.window.calendar == opened.calendar
    assert expense.days.window.closes_at == opened.window_closes_at
    assert (window.expense_id, window.calendar, window.closes_at) == (
        "EXP-1",
        opened.calendar,
        opened.window_closes_at,
    )
    assert (window.opened_by, window.correlation_id) == (opened.causation_id, opened.correlation_id)


def test_a_coded_one_off_is_stored_with_the_days_it_was_coded_with():
    [coded], state = run(EMPTY, code(at(2026, 11, 24, 10)))
    days = state.expense.days
    assert (days.day_1, days.day_2) == (coded.day_1, coded.day_2)
    assert (days.window.opens_at, days.window.closes_at) == (coded.coded_at, coded.ends_at)
    assert "NSW public holidays" in days.window.calendar


def test_a_delivery_for_an_expense_first_seen_delivered_stores_its_facts():
    [delivered], state = run(EMPTY, attempt(when=at(2026, 11, 24, 9), outcome="delivered"))
    assert isinstance(delivered, ExpenseDelivered)
    assert state.expense.customer_ref == "CRN-SYNTH-1"
    assert state.windows[MONDAY].expense_id == "EXP-1"
    assert state.windows[MONDAY].status is WindowStatus.DELIVERED


def test_a_later_attempt_with_another_amount_is_delivered_on_the_stored_facts():
    _, state = undelivered(WEEKLY)
    other_amount = attempt(when=at(2026, 11, 24, 9), outcome="delivered").model_copy(
        update={"amount": Decimal("99.00")}
    )
    [delivered], _ = run(state, other_amount)
    assert delivered.amount == Decimal("85.00")
    _, one_off = one_off_state()
    [_closed], ended = close_due(one_off, one_off.expense.days.window.closes_at)
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 25, 9), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    ).model_copy(update={"amount": Decimal("99.00")})
    _reversal, paid = decide_attempt(ended, late, utc(at(2026, 11, 27)))
    assert (paid.amount, paid.was_undelivered) == (Decimal("85.00"), True)


def test_a_second_delivery_or_a_late_failure_for_a_settled_period_changes_nothing_and_says_why():
    _, state = undelivered(WEEKLY)
    _, paid = run(state, attempt(when=at(2026, 11, 24, 9), outcome="delivered"))
    [again], unchanged = run(paid, attempt(when=at(2026, 11, 25, 9), outcome="delivered"))
    assert (again.event_type, again.reason_code, unchanged) == (
        "PaymentAttemptDisregarded",
        "already-delivered",
        paid,
    )
    [opened], state = undelivered(WEEKLY)
    _, closed = close_due(state, opened.window_closes_at)
    [late], still = run(closed, attempt(when=at(2026, 11, 24, 9)))
    assert (late.reason_code, still) == ("period-closed", closed), "a failure before the deadline"


def test_a_closure_reversed_keeps_the_one_offs_stored_days():
    [opened], existing = one_off_state()
    _, ended = close_due(existing, opened.window_closes_at)
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 25, 16), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    _, paid = run(ended, late, utc(at(2026, 11, 27)))
    assert paid.expense.status is ExpenseStatus.DELIVERED
    assert paid.expense.days == existing.expense.days


def test_a_removal_leaves_the_expense_removed_at_its_time_and_its_open_window_removed():
    _, removed = run(escalated_state(), removal(at(2026, 11, 25, 11)))
    assert removed.expense.status is ExpenseStatus.REMOVED
    assert removed.expense.ended_at == at(2026, 11, 25, 11)
    assert removed.windows[date(2026, 11, 24)].status is WindowStatus.REMOVED


def test_a_ceases_window_closing_leaves_settled_windows_as_they_were():
    [_opened], state = undelivered(WEEKLY)
    _, state = run(state, attempt(when=at(2026, 11, 24, 9), outcome="delivered"))
    _, next_week = run(state, attempt(when=at(2026, 12, 1, 9), scheduled_on=date(2026, 11, 30)))
    _, ceased = run(next_week, cease(at(2026, 12, 1, 10)))
    assert ceased.windows[MONDAY].status is WindowStatus.DELIVERED
    assert ceased.windows[date(2026, 11, 30)].status is WindowStatus.CEASED


@pytest.mark.parametrize("action", [removal, job])
def test_the_service_desk_path_is_refused_for_a_one_off_that_no_longer_tries(action):
    """Step 7: the removal is for the existing expense that would still pay; a delivered one-off has nothing left."""
    state = escalated_state()
    delivered_state = replace(state, expense=replace(state.expense, status=ExpenseStatus.DELIVERED))
    decide = decide_removal if action is removal else decide_job
    [refused] = decide(delivered_state, action(at(2026, 11, 25, 11)), utc(at(2026, 11, 25, 11)))
    assert isinstance(refused, ExpenseActionRejected)
    assert refused.reason_code == "nothing-to-remove"
    assert refused.rejected_event_id
    assert refused.action == action(at(2026, 11, 25)).event_type


def test_a_set_aside_attempt_and_a_refused_action_name_the_message_they_answer():
    _, state = undelivered(WEEKLY)
    early = attempt(when=at(2026, 11, 22, 9))
    [set_aside], _ = run(state, early)
    assert set_aside.attempted_event_id == str(early.event_id)
    refused_cease = cease(at(2026, 11, 24), doc_note=None)
    [refused], _ = run(state, refused_cease)
    assert refused.rejected_event_id == str(refused_cease.event_id)


def test_a_one_offs_period_and_days_are_in_its_states_time_zone():
    """Day boundaries are the state's local midnight: 23:30 in Perth is still Tuesday there (Wednesday in Sydney)."""
    late_in_perth = at(2026, 11, 24, 23, 30, tz=PERTH)
    one_off = attempt(kind=ONE_OFF, when=late_in_perth, state=AustralianState.WA)
    [opened], state = run(EMPTY, one_off)
    assert opened.period_start == date(2026, 11, 24)
    assert opened.day_1 == date(2026, 11, 24)
    [ceased], _ = run(
        state, cease(at(2026, 11, 24, 23, 45, tz=PERTH)), utc(at(2026, 11, 24, 23, 45, tz=PERTH))
    )
    assert ceased.event_type == "ExpenseCeased", "still day 1 in Perth"


def test_a_regular_expense_in_perth_retries_until_perth_midnight():
    [opened], _ = undelivered(WEEKLY, state=AustralianState.WA)
    assert opened.window_closes_at == at(2026, 11, 30, 0, tz=PERTH)


def test_a_one_off_stored_before_days_were_kept_has_them_computed_from_its_coding():
    _, state = one_off_state()
    old_row = replace(state, expense=replace(state.expense, days=None))
    [refused] = run(old_row, cease(at(2026, 11, 25, 9)), utc(at(2026, 11, 25, 9)))[0]
    assert refused.reason_code == "one-off-day-2", "day 2 computed as it would have been stored"


def test_instants_are_utc_and_the_next_working_day_skips_a_weekend_and_a_monday_holiday():
    assert start_of(date(2027, 6, 12), AustralianState.NSW).tzinfo is UTC
    # King's Birthday, Monday 14 June 2027 (NSW): from Saturday the next working day is Tuesday
    assert working_day_on_or_after(date(2027, 6, 12), AustralianState.NSW) == date(2027, 6, 15)


def test_the_decider_keeps_a_doc_note_as_its_own_output_keyed_by_the_expense_and_folds_nothing_of_it():
    _, state = one_off_state()
    decider = Expenses()
    outputs = decider.decide(
        {"EXP-1": state}, cease(at(2026, 11, 24, 11)), utc(at(2026, 11, 24, 11))
    )
    [doc] = [o for o in outputs if isinstance(o, DocNote)]
    assert decider.key_of(doc) == "EXP-1"
    assert decider.evolve(state, doc) == state
    with pytest.raises(TypeError):
        decider.decide(
            {}, OneOffExpenseVaried.model_construct(expense_id="EXP-1"), utc(at(2026, 11, 24))
        )


def test_a_replacement_coded_earlier_in_the_same_run_is_flagged_when_the_ceased_one_off_proves_paid():
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    _, replacement = run(ExpenseState(None, siblings=(ceased.expense,)), code(at(2026, 11, 24, 13)))
    states = {"EXP-1": ceased, "EXP-2": replacement}
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 11), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    outputs = step(Expenses(), states, late, utc(at(2026, 11, 24, 14)))
    assert [type(o) for o in outputs] == [ExpenseDelivered, OneOffPaidTwice]


def test_an_escalation_about_a_sibling_changes_only_the_sibling():
    _, existing = one_off_state()
    day_2 = at(2026, 11, 25, 9)
    _rejection, escalation = decide_code(
        ExpenseState(None, siblings=(existing.expense,)), code(day_2, hardship=True), utc(day_2)
    )
    assert escalation.expense_id == "EXP-1"
    _, other = run(EMPTY, code(at(2026, 11, 26, 9), expense_id="EXP-3"))
    assert evolve(other, escalation) == other
    assert evolve(existing, escalation).expense.escalated_at == utc(day_2)


def test_a_one_off_first_known_by_its_delivery_is_stored_delivered():
    one_off = attempt(kind=ONE_OFF, when=at(2026, 11, 24, 10), outcome="delivered")
    [delivered], state = run(EMPTY, one_off)
    assert isinstance(delivered, ExpenseDelivered)
    assert state.expense.status is ExpenseStatus.DELIVERED
    assert state.expense.days is None, "no window was opened, so no days were computed"
    window = state.windows[date(2026, 11, 24)]
    assert (window.status, window.calendar) == (WindowStatus.DELIVERED, "")


def test_a_window_paid_after_it_opened_keeps_its_deadline_and_calendar():
    [opened], state = undelivered(WEEKLY)
    _, paid = run(state, attempt(when=at(2026, 11, 24, 9), outcome="delivered"))
    window = paid.windows[MONDAY]
    assert (window.closes_at, window.calendar, window.failure_reason) == (
        opened.window_closes_at,
        opened.calendar,
        opened.failure_reason,
    )


def test_a_regular_periods_late_payment_leaves_the_expense_active():
    [opened], state = undelivered(WEEKLY)
    _, closed = close_due(state, opened.window_closes_at)
    _, paid = run(
        closed, attempt(when=at(2026, 11, 24, 9), outcome="delivered"), utc(at(2026, 12, 2))
    )
    assert paid.expense.status is ExpenseStatus.ACTIVE, "a regular expense pays again next period"
    assert paid.windows[MONDAY].status is WindowStatus.DELIVERED


def test_a_known_one_offs_second_attempt_lands_on_its_stored_period_in_its_states_time_zone():
    late_in_perth = at(2026, 11, 24, 23, 30, tz=PERTH)
    _, state = run(EMPTY, attempt(kind=ONE_OFF, when=late_in_perth, state=AustralianState.WA))
    again = attempt(
        kind=ONE_OFF,
        when=at(2026, 11, 25, 9, tz=PERTH),
        outcome="delivered",
        coded_at=late_in_perth,
        state=AustralianState.WA,
    )
    [delivered], _ = run(state, again)
    assert delivered.period_start == date(2026, 11, 24)


def test_a_new_periods_failure_is_recorded_with_the_stored_facts():
    _, state = undelivered(WEEKLY)
    next_week = attempt(when=at(2026, 12, 1, 9), scheduled_on=date(2026, 11, 30)).model_copy(
        update={"amount": Decimal("99.00"), "state": AustralianState.WA}
    )
    [opened], _ = run(state, next_week)
    assert (opened.amount, opened.state) == (Decimal("85.00"), AustralianState.NSW)


def test_an_open_windows_stored_deadline_is_read_not_recomputed():
    """Step 3: the window is computed once, when it opens, and stored (a calendar change since moves nothing)."""
    [opened], state = undelivered(WEEKLY)
    earlier = opened.window_closes_at - timedelta(days=1)
    moved = replace(state, windows={MONDAY: replace(state.windows[MONDAY], closes_at=earlier)})
    [late] = decide_attempt(
        moved, attempt(when=earlier + timedelta(hours=1), outcome="delivered"), earlier
    )
    assert late.reason_code == "after-retry-window"


def test_a_service_desk_recording_by_an_untrained_officer_or_for_an_unknown_expense_is_refused_when_handled():
    handled = utc(at(2026, 11, 25, 11))
    untrained = removal(at(2026, 11, 25, 11)).model_copy(update={"officer_roles": ["msp-officer"]})
    [refused] = decide_removal(escalated_state(), untrained, handled)
    assert (refused.reason_code, refused.occurred_at) == ("role-required", handled)
    [unknown] = decide_job(EMPTY, job(at(2026, 11, 25, 11)), handled)
    assert (unknown.reason_code, unknown.occurred_at) == ("unknown-expense", handled)


def test_a_doc_note_is_kept_with_the_officers_time_not_the_handling_time():
    _, state = one_off_state()
    outputs = Expenses().decide(
        {"EXP-1": state}, cease(at(2026, 11, 24, 11)), utc(at(2026, 11, 24, 11, 5))
    )
    [doc] = [o for o in outputs if isinstance(o, DocNote)]
    assert doc.recorded_at == utc(at(2026, 11, 24, 11))


def test_an_expense_given_up_and_paid_after_all_keeps_when_it_paid_and_an_active_one_keeps_nothing():
    """Issue 38: the one-off ceased or ended and then found paid stays among the siblings a replacement is checked
    against (``late_paid_at``); so does a regular expense ceased and then found paid (a one-off coded in its
    period's place pays twice); a regular expense still active whose closure is reversed keeps nothing (it is not
    given up: every later one-off would otherwise be taken for a replacement)."""
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 11), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    _, paid = run(ceased, late, utc(at(2026, 11, 24, 14)))
    assert (paid.expense.status, paid.expense.late_paid_at) == (
        ExpenseStatus.CEASED,
        utc(at(2026, 11, 24, 11)),
    )
    assert paid.expense.pays
    [opened], ended_state = one_off_state()
    _, ended = close_due(ended_state, opened.window_closes_at)
    in_time = attempt(
        kind=ONE_OFF, when=at(2026, 11, 25, 16), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    _, reversed_ = run(ended, in_time, utc(at(2026, 11, 27)))
    assert (reversed_.expense.status, reversed_.expense.late_paid_at) == (
        ExpenseStatus.DELIVERED,
        utc(at(2026, 11, 25, 16)),
    )
    _, weekly = undelivered(WEEKLY)
    _, weekly_ceased = run(weekly, cease(at(2026, 11, 24, 12)))
    _, weekly_paid = run(
        weekly_ceased,
        attempt(when=at(2026, 11, 24, 11), outcome="delivered"),
        utc(at(2026, 11, 24, 14)),
    )
    assert weekly_paid.expense.late_paid_at == utc(at(2026, 11, 24, 11))
    [opened_weekly], closing = undelivered(WEEKLY)
    _, closed_weekly = close_due(closing, opened_weekly.window_closes_at)
    _, reversed_weekly = run(
        closed_weekly,
        attempt(when=at(2026, 11, 24, 11), outcome="delivered"),
        utc(at(2026, 12, 3)),
    )
    assert reversed_weekly.expense.status is ExpenseStatus.ACTIVE
    assert reversed_weekly.expense.late_paid_at is None


@pytest.mark.rule("IM-7.2")
def test_each_paid_twice_finding_has_its_own_id_whichever_order_found_it():
    """Step 7: "the existing expense needs to be ceased before the new one-off expense can be coded". A late delivery
    that finds the replacements is one finding; a replacement coded after each of two one-offs found paid late is one
    finding per paid one-off: each its own event, each named again the same on a redelivery."""
    _, existing = one_off_state()
    _, ceased = run(existing, cease(at(2026, 11, 24, 12)))
    _, replacement = run(ExpenseState(None, siblings=(ceased.expense,)), code(at(2026, 11, 24, 13)))
    late = attempt(
        kind=ONE_OFF, when=at(2026, 11, 24, 11), outcome="delivered", coded_at=at(2026, 11, 24, 10)
    )
    found = step(
        Expenses(), {"EXP-1": ceased, "EXP-2": replacement}, late, utc(at(2026, 11, 24, 14))
    )
    assert found[1].event_id == derived_event_id(late.event_id, "OneOffPaidTwice")
    paid_late = replace(ceased.expense, late_paid_at=utc(at(2026, 11, 24, 11)))
    other = replace(paid_late, expense_id="EXP-9")
    coding = code(at(2026, 11, 24, 15), expense_id="EXP-3")
    coded, first, second = decide_code(
        ExpenseState(None, siblings=(paid_late, other)), coding, utc(at(2026, 11, 24, 15))
    )
    assert isinstance(coded, OneOffExpenseCoded)
    assert [(e.expense_id, e.other_expense_ids) for e in (first, second)] == [
        ("EXP-1", ["EXP-3"]),
        ("EXP-9", ["EXP-3"]),
    ]
    assert [e.event_id for e in (first, second)] == [
        derived_event_id(coding.event_id, "OneOffPaidTwice/EXP-1"),
        derived_event_id(coding.event_id, "OneOffPaidTwice/EXP-9"),
    ]


@pytest.mark.rule("IM-4.4", "IM-7.2")
def test_a_regular_period_found_paid_after_a_one_off_was_coded_in_its_place_is_flagged_whichever_is_known_first():
    """Step 4: "Determine the most appropriate action to be taken after discussing with the customer, and update as
    appropriate", for example cease the regular expense or issue a one-off payment; step 7: "the existing expense
    needs to be ceased before the new one-off expense can be coded". Issue 38: a weekly ceased at 12:00 whose
    delivery attempted at 11:00 is processed at 12:30, after a one-off was coded at 12:05 in the period's place:
    both pay, and an officer is told, in either order. The date the officer reads is the customer's (a
    Wednesday 08:30 in Sydney is Tuesday in UTC)."""
    _, weekly = undelivered(WEEKLY)
    _, ceased = run(weekly, cease(at(2026, 11, 25, 8)))
    [coded], one_off = run(EMPTY, code(at(2026, 11, 25, 8, 5)))
    assert isinstance(coded, OneOffExpenseCoded)
    late = attempt(when=at(2026, 11, 25, 7, 30), outcome="delivered")
    events, _ = run(
        replace(ceased, siblings=(one_off.expense,)), late, utc(at(2026, 11, 25, 8, 30))
    )
    assert [type(e) for e in events] == [ExpenseDelivered, OneOffPaidTwice]
    flagged = events[1]
    assert (flagged.expense_id, flagged.other_expense_ids) == ("EXP-1", ["EXP-2"])
    assert "regular expense" in flagged.instructions[0]
    assert flagged.instructions[-1] == "Paid Wednesday 25 November 2026; coded after it: EXP-2."
    # the other order: the late delivery first, the one-off coded after it
    [delivered], found = run(ceased, late, utc(at(2026, 11, 25, 8, 30)))
    assert isinstance(delivered, ExpenseDelivered)
    assert found.expense.late_paid_at == at(2026, 11, 25, 7, 30)
    replacement = decide_code(
        replace(EMPTY, siblings=(found.expense,)),
        code(at(2026, 11, 25, 9)),
        utc(at(2026, 11, 25, 9)),
    )
    assert [type(e) for e in replacement] == [OneOffExpenseCoded, OneOffPaidTwice]
    assert (replacement[1].expense_id, replacement[1].other_expense_ids) == ("EXP-1", ["EXP-2"])


@pytest.mark.rule("IM-6.1")
def test_a_one_off_id_the_payments_system_reuses_after_its_days_is_set_aside_as_reused():
    """Step 6: "When the one-off expense is coded, the expense will attempt to deliver for the next 2 working days."
    Issue 38: the payments system reused a finished one-off's id for a new one-off of the same customer and payee;
    its failure was set aside as after the retry window, which is not why."""
    [opened], state = one_off_state()
    reused = attempt(kind=ONE_OFF, when=at(2026, 12, 1, 10), coded_at=at(2026, 12, 1, 10))
    [answer], after = run(state, reused)
    assert isinstance(answer, PaymentAttemptDisregarded)
    assert answer.reason_code == "expense-id-reused"
    assert after == state
    at_its_end = attempt(
        kind=ONE_OFF,
        when=opened.window_closes_at,
        coded_at=opened.window_closes_at,
    )
    assert run(state, at_its_end)[0][0].reason_code == "expense-id-reused", (
        "coded at the instant its days end: another one-off"
    )
    still_its_days = attempt(
        kind=ONE_OFF, when=at(2026, 11, 25, 9), outcome="delivered", coded_at=at(2026, 11, 25, 9)
    )
    [delivered], _ = run(state, still_its_days)
    assert isinstance(delivered, ExpenseDelivered), "within its days it is the same one-off"
    assert delivered.period_start == opened.period_start


def test_a_paid_twice_item_gives_the_day_it_paid_in_the_customers_own_state():
    """A WA customer's one-off delivered at 22:30 on Tuesday in Perth (01:30 Wednesday in Canberra): the officer
    reads Tuesday."""
    _, existing = one_off_state()
    paid = replace(existing.expense, state=AustralianState.WA)
    late = attempt(kind=ONE_OFF, when=at(2026, 11, 24, 22, 30, tz=PERTH), outcome="delivered")
    item = _paid_twice_item(
        late, paid, late.attempted_at, ["EXP-2"], utc(at(2026, 11, 25, 9)), None
    )
    assert item.instructions[-1] == "Paid Tuesday 24 November 2026; coded after it: EXP-2."
