"""What 103-01050060 promises, whatever arrives and in whatever order: written once, checked after every step of the
model (``tests/expenses/test_model.py``). Each reads only what the system published and what it stores, never how
it decided, and names the rule and the sentence it comes from.

A violation is an ``AssertionError`` whose message says which promise broke and for which records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from console.desk.offers import record_steps_on_item
from console.desk.records import Entry
from console.desk.records import WorkItem as ConsoleItem
from console.desk.views import expense_view

from contracts.catalogue import EXPENSE_EVENTS
from contracts.dates import in_words, zone_name
from contracts.envelope import Event
from contracts.expenses import (
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseRemoved,
    OneOffConflictDetected,
    OneOffExpenseCoded,
    OneOffPaidTwice,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    UndeliveredExpensePeriodClosed,
)
from contracts.workitems import (
    TickOff,
    TickOffWorkItem,
    WorkItemActionRejected,
    WorkItemRaised,
    WorkItemStatus,
)
from expenses.domain.decider import Expenses
from expenses.domain.model import Expense, ExpenseState
from servicekit.decider import WorkingSet
from tests.support.model import officer_command
from workitems.domain.decide import advice_wrong_id, i059pl_id
from workitems.domain.decider import WorkItems
from workitems.domain.model import WorkItem

IM = ["im-trained"]


@dataclass(frozen=True)
class Handled:
    """One fact or command the service handled (not a redelivery its inbox set aside) and all it published."""

    message: object
    published: Sequence[Event]


def every_fact_is_answered(
    handled: Sequence[Handled], reused: Mapping[uuid.UUID, str] | None = None
) -> None:
    """IM-2.1, IM-2.2: "'UNDLVD RI' for all undelivered regular expenses", "'UNDLVD IM' for all undelivered one-off
    expenses": every payment attempt has a visible outcome on its expense (an undelivered or delivered period, a
    closure reversed, a conflict, or an attempt set aside with its reason); none vanishes. An attempt under an id
    the system knows as another expense (``reused``: its event id and the true reason) is set aside with that
    reason, not one that hides it."""
    for h in handled:
        if isinstance(h.message, PaymentAttempted):
            about = [e for e in h.published if e.key == h.message.expense_id]
            assert about, (
                f"IM-2: the attempt {h.message.event_id} on {h.message.expense_id} "
                f"({h.message.kind.value}, {h.message.outcome}) was answered by nothing"
            )
            true_reason = (reused or {}).get(h.message.event_id)
            if true_reason is not None:
                given = [getattr(e, "reason_code", None) for e in about]
                assert given == [true_reason], (
                    f"IM-2: the attempt {h.message.event_id} on {h.message.expense_id} names another expense "
                    f"({true_reason}) and was answered {given}"
                )


def each_closed_period_has_one_i059pl(
    published: Sequence[Event], items: Mapping[str, WorkItem]
) -> None:
    """IM-3.2, IM-6.2: "the work item 'I059PL - A previous expense was not delivered, please discuss with customer'
    is created": every period that closed unpaid has its I059PL (one: its id is the expense's and the period's); a
    later proof that it was paid cancels it while it is open, and once ticked off (IM-5.3: "Advise the customer of
    the period that the payment was not delivered") raises an item asking an officer to correct that advice."""
    closed = {
        (e.expense_id, e.period_start)
        for e in published
        if isinstance(e, UndeliveredExpensePeriodClosed)
    }
    reversed_at = {
        (e.expense_id, e.period_start): e.occurred_at
        for e in published
        if isinstance(e, ExpenseClosureReversed)
    }
    for expense_id, period in sorted(closed):
        item = items.get(i059pl_id(expense_id, period))
        assert item is not None, f"IM-3.2: no I059PL for {expense_id}'s period of {period}"
        if (expense_id, period) not in reversed_at:
            continue
        if item.status is WorkItemStatus.OPEN:
            raise AssertionError(
                f"IM-3.2: {expense_id}'s period of {period} was paid, and its I059PL is still open"
            )
        if item.status is WorkItemStatus.TICKED_OFF:
            assert advice_wrong_id(expense_id, period) in items, (
                f"IM-5.3: the customer was advised that {expense_id}'s period of {period} was not delivered, and "
                "it was paid: nobody was asked to correct the advice"
            )


def _flagged(published: Sequence[Event]) -> set[frozenset[str]]:
    """The pairs of one-offs an officer's item names together."""
    pairs: set[frozenset[str]] = set()
    for e in published:
        if isinstance(e, OneOffPaidTwice):
            pairs |= {frozenset((e.expense_id, other)) for other in e.other_expense_ids}
        elif isinstance(e, OneOffConflictDetected):
            pairs.add(frozenset((e.expense_id, e.existing_expense_id)))
    return pairs


def _given_up(expense: Expense, published: Sequence[Event]) -> datetime | None:
    """When a one-off stopped being expected to pay: ceased or removed (its end), or ended on day 3 (its window's
    closing)."""
    if expense.ended_at is not None:
        return expense.ended_at
    closings = [
        e.closed_at
        for e in published
        if isinstance(e, UndeliveredExpensePeriodClosed) and e.expense_id == expense.expense_id
    ]
    return min(closings) if closings else None


def _paid_after_given_up(
    published: Sequence[Event], expenses: Mapping[str, Expense]
) -> list[tuple[str, datetime, datetime, datetime | None]]:
    """Each payment found after its expense was given up: (expense, paid at, given up at, known at). A one-off
    ceased, removed or ended on day 3 that paid before that (known whenever); a regular expense's period paid before
    the expense was ceased or removed, processed after that; a regular period closed unpaid and then found paid
    (known when the closure was reversed: a one-off coded after that was coded knowing it)."""
    found: list[tuple[str, datetime, datetime, datetime | None]] = []
    ended: dict[str, int] = {}
    closings = {
        (e.expense_id, e.period_start): e.closed_at
        for e in published
        if isinstance(e, UndeliveredExpensePeriodClosed)
    }
    for i, e in enumerate(published):
        expense = expenses.get(e.key)
        if expense is None:
            continue
        if isinstance(e, ExpenseCeased | ExpenseRemoved):
            ended.setdefault(e.expense_id, i)
        elif isinstance(e, ExpenseDelivered) and not e.kind.regular:
            given_up = _given_up(expense, published)
            if given_up is not None and e.delivered_at < given_up:
                found.append((e.expense_id, e.delivered_at, given_up, None))
        elif isinstance(e, ExpenseDelivered) and e.expense_id in ended:
            if expense.ended_at is not None and e.delivered_at < expense.ended_at:
                found.append((e.expense_id, e.delivered_at, expense.ended_at, None))
        elif isinstance(e, ExpenseClosureReversed) and expense.kind.regular:
            closed_at = closings[(e.expense_id, e.period_start)]
            found.append((e.expense_id, e.delivered_at, closed_at, e.occurred_at))
    return found


def nobody_is_paid_twice_unseen(
    published: Sequence[Event], expenses: Mapping[str, Expense]
) -> None:
    """IM-7.2: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs to
    be ceased before the new one-off expense can be coded." IM-4.4: "Determine the most appropriate action to be
    taken after discussing with the customer, and update as appropriate", for example cease the regular expense or
    issue a one-off payment. A one-off coded replaces the expense given up: where that one turns out to have paid
    after all (a delivery attempted before it was ceased or ended, processed late), the two pay for one need, and an
    officer's item must name both, whichever was known first."""
    one_offs_paid = {
        e.expense_id for e in published if isinstance(e, ExpenseDelivered) and not e.kind.regular
    }
    coded = {e.expense_id: e.coded_at for e in published if isinstance(e, OneOffExpenseCoded)}
    flagged = _flagged(published)
    for existing_id, paid_at, given_up, known_at in _paid_after_given_up(published, expenses):
        existing = expenses[existing_id]
        for new_id, coded_at in sorted(coded.items()):
            new = expenses.get(new_id)
            if (
                new is None
                or new_id == existing_id
                or new_id not in one_offs_paid
                or (new.customer_ref, new.payee_id) != (existing.customer_ref, existing.payee_id)
                or coded_at is None
                or coded_at < given_up
                or (known_at is not None and coded_at >= known_at)
            ):
                continue
            assert frozenset((existing_id, new_id)) in flagged, (
                f"IM-7.2: {existing_id} paid at {paid_at} (before it was given up at {given_up}) and {new_id}, "
                f"coded at {coded_at} to replace it, paid too: no officer's item names both"
            )


def every_open_item_can_be_closed(
    items: Mapping[str, WorkItem],
    expenses: Mapping[str, ExpenseState],
    now: datetime,
    published: Sequence[Event],
) -> None:
    """IM-4.5, IM-5.4: "Manually tick off the Work Item. Record details on a DOC." In every state reached, each open
    Income Management item can be closed by an action an officer trained in Income Management is offered: a manual
    one ticked off with a DOC note; the removal escalation (ticked off automatically) by the steps its page offers
    at each point (worked out by the console's desk from the expense's events as the console reads them): the
    mySupport job, then the Service Desk's removal. Tried on copies, never on the desk or the expense themselves."""
    for work_item_id, item in sorted(items.items()):
        if item.closed:
            continue
        desk = WorkingSet(WorkItems(), dict(items))
        if item.tick_off is TickOff.MANUAL:
            desk.step(
                officer_command(
                    TickOffWorkItem, now, IM, work_item_id=work_item_id, doc_note="Done."
                ),
                now,
            )
        else:
            trial = WorkingSet(Expenses(), {item.subject_id: expenses.get(item.subject_id)})
            seen = _entries(item.subject_id, published)
            for _ in range(3):
                current = desk.after[work_item_id]
                assert current is not None
                if current.closed:
                    break
                offered = record_steps_on_item(
                    _as_the_console_reads(current), expense_view(item.subject_id, seen)
                )
                assert offered, f"IM-7.4: {work_item_id} is open and its page offers no step"
                action = OFFERED_ACTIONS[offered[0]]
                events = list(
                    trial.step(
                        officer_command(
                            action, now, IM, expense_id=item.subject_id, mysupport_job="MS-1"
                        ),
                        now,
                    )
                )
                seen += _entries(item.subject_id, events)
                for event in events:
                    desk.step(event, now)
        after = desk.after[work_item_id]
        assert after is not None
        assert after.closed, (
            f"IM-4.5: {work_item_id} ({item.tick_off.value}) cannot be closed by an Income Management officer's "
            "actions"
        )


EXPENSE_EVENT_TYPES = frozenset(EXPENSE_EVENTS.event_types)
OFFERED_ACTIONS: Mapping[str, type[Event]] = {
    RecordMySupportJob.TYPE: RecordMySupportJob,
    RecordExpenseRemoval.TYPE: RecordExpenseRemoval,
}


def _entries(expense_id: str, published: Sequence[Event]) -> list[Entry]:
    """The expense's events as the console reads them."""
    return [
        Entry(e.event_id, e.event_type, e.occurred_at, e)
        for e in published
        if e.event_type in EXPENSE_EVENT_TYPES and e.key == expense_id
    ]


def _as_the_console_reads(item: WorkItem) -> ConsoleItem:
    """What the console's desk needs of an item: its id, code and status."""
    return ConsoleItem(
        item.work_item_id,
        item.queue.value,
        item.code.value,
        item.customer_ref,
        item.title,
        item.status.value,
        item.assignee_id,
        item.raised_at,
        WorkItemRaised.model_validate(
            {
                "event_id": uuid.uuid4(),
                "occurred_at": item.raised_at,
                "correlation_id": item.correlation_id,
                "producer": "workitems",
                "work_item_id": item.work_item_id,
                "code": item.code,
                "title": item.title,
                "queue": item.queue,
                "customer_ref": item.customer_ref,
                "subject_type": item.subject_type,
                "subject_id": item.subject_id,
                "procedure": item.procedure,
                "instructions": item.instructions,
                "tick_off": item.tick_off,
                "actor": "workitems",
            }
        ),
    )


def officers_read_the_customers_day(
    published: Sequence[Event],
    expenses: Mapping[str, Expense],
    answers: Sequence[Event] = (),
    items: Mapping[str, WorkItem] | None = None,
) -> None:
    """Every date an officer reads is the customer's: the day a paid-twice item says the expense paid, and the day
    a refused tick-off says the item was closed, are days in the customer's state (a Wednesday 08:30 in Sydney is
    Tuesday in UTC)."""
    for answer in answers:
        if isinstance(answer, WorkItemActionRejected) and answer.reason_code == "already-closed":
            item = (items or {})[answer.work_item_id]
            assert item.closed_at is not None
            zone = ZoneInfo(zone_name(expenses[item.subject_id].state))
            closed_on = in_words(item.closed_at.astimezone(zone).date())
            assert f"on {closed_on}" in answer.reason, (
                f"the officer reads {answer.reason!r} for an item closed on the customer's {closed_on}"
            )
    for e in published:
        if isinstance(e, OneOffPaidTwice) and e.expense_id in expenses:
            zone = ZoneInfo(zone_name(expenses[e.expense_id].state))
            day = in_words(e.delivered_at.astimezone(zone).date())
            assert f"Paid {day};" in e.instructions[-1], (
                f"the officer reads {e.instructions[-1]!r} for a payment on the customer's {day}"
            )
