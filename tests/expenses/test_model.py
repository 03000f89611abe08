"""The Income Management procedure as a model (issue 38): facts and commands drawn in any order and lateness, run
through the real shells of ``expenses.handlers`` (their loads, sibling queries and saves) over the store fake that
``test_store_contract.py`` holds to PostgreSQL, every event fed to the work items' decider as the bus would, and
every promise of ``tests/expenses/invariants.py`` checked after every step.

Drawn: payment attempts of one-offs and weekly expenses (failed or delivered) from the payments system, published
now and processed at once or later (lateness is the order of processing); the same fact published again with a new
id, and redelivered with its own (the inbox sets it aside); ids reused for another customer, payee or kind; officers'
ceases (on day 1, day 2, in extreme hardship) and codes of one-offs; time passing (weekends included) and the retry
windows' timers firing late; I059PLs ticked off. A bounded budget runs in the fast tier; ``MODEL_EXAMPLES`` runs
longer (``./dev model``)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from contracts.envelope import Event
from contracts.expenses import (
    AustralianState,
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseKind,
    FailureReason,
    OneOffExpenseCoded,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
)
from contracts.workitems import TickOff, TickOffWorkItem
from expenses import handlers
from servicekit.decider import WorkingSet
from tests.expenses import invariants
from tests.expenses.builders import SYDNEY
from tests.expenses.fake_store import FakeStore
from tests.support import model
from tests.support.model import Drawn, Reach, explore, installed
from workitems.domain.decider import WorkItems
from workitems.domain.model import WorkItem

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 23, 9, tzinfo=SYDNEY)  # a Monday
IDS = ("EXP-1", "EXP-2")
PAIRS = (("CRN-A", "PAYEE-1"), ("CRN-A", "PAYEE-1"), ("CRN-B", "PAYEE-1"))
"""Few ids and few customers and payees: collisions (a replacement, a reused id, siblings) are the common case."""
KINDS = (ExpenseKind.ONE_OFF, ExpenseKind.WEEKLY)
IM = ["im-trained"]
ROLES = (IM, IM, ["msp-officer"])
"""Officers trained in Income Management, mostly; one who is not (every action refused, with the way out)."""
STATES = tuple(AustralianState)
"""All eight states and territories, with their holidays and weekends."""
REACH = Reach()
"""What a model run reached, for its closing line."""


@dataclass(frozen=True)
class Upstream:
    """What the payments system holds of an expense: who it pays, what kind, since when."""

    kind: ExpenseKind
    pair: tuple[str, str]
    coded_at: datetime
    state: AustralianState = AustralianState.NSW


def monday_of(now: datetime) -> date:
    local = now.astimezone(SYDNEY).date()
    return local - timedelta(days=local.weekday())


class IncomeManagement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = FakeStore()
        self._installed = installed(handlers, self.store)
        self._installed.__enter__()
        self.now = START.astimezone(UTC)
        self.upstream: dict[str, Upstream] = {}
        self.pending: list[PaymentAttempted] = []
        self.done: list[PaymentAttempted] = []
        self.inbox: set[uuid.UUID] = set()
        self.handled: list[invariants.Handled] = []
        self.answers: list[Event] = []
        """What the work items' decider answered officers' commands."""
        self.reused: dict[uuid.UUID, str] = {}
        """Attempts under an id the system knows as another expense, and the reason they must be set aside with."""
        self.published: list[Event] = []
        self.desk: WorkingSet[WorkItem] = WorkingSet(WorkItems(), {})
        self.coded = 0
        self.ids = itertools.count(1)

    def _envelope(self, producer: str) -> dict[str, Any]:
        """Ids drawn in order, not at random: a run replays to the same ids, so hypothesis can shrink it."""
        return {
            "event_id": uuid.UUID(int=next(self.ids)),
            "occurred_at": self.now,
            "correlation_id": uuid.UUID(int=next(self.ids)),
            "producer": producer,
        }

    def teardown(self) -> None:
        REACH.ended(self.published)
        self._installed.__exit__(None, None, None)
        self.loop.close()

    # ----------------------------------------------------------------------------------- the bus and the shells

    def _handle(self, message: Any, handler: Any) -> list[Event]:
        if message.event_id in self.inbox:  # the runtime's inbox: a redelivery changes nothing
            return []
        self.inbox.add(message.event_id)
        out = list(self.loop.run_until_complete(handler(None, message, self.now)))
        self._published(message, out)
        return out

    def _published(self, message: Any, out: list[Event]) -> None:
        self.handled.append(invariants.Handled(message, out))
        self.published += out
        for event in out:  # workitems reads every expense event, in order
            self.desk.step(event, self.now)

    # ----------------------------------------------------------------------------------- the payments system

    @initialize()
    def start(self) -> None:
        self.now = START.astimezone(UTC)

    @rule(
        data=st.data(),
        kind=st.sampled_from(KINDS),
        pair=st.sampled_from(PAIRS),
        delivered=st.booleans(),
        state=st.sampled_from(STATES),
    )
    def attempt(
        self,
        data: st.DataObject,
        kind: ExpenseKind,
        pair: tuple[str, str],
        delivered: bool,
        state: AustralianState = AustralianState.NSW,
    ) -> None:
        """The payments system attempts a payment now (of an expense it knows, an officer's one-off included, or a
        new one); it is published, not yet processed."""
        expense_id = data.draw(st.sampled_from(sorted({*IDS, *self.upstream})), label="expense")
        known = self.upstream.setdefault(expense_id, Upstream(kind, pair, self.now, state))
        self._publish_attempt(expense_id, known, delivered)

    @rule(expense_id=st.sampled_from(IDS), kind=st.sampled_from(KINDS), pair=st.sampled_from(PAIRS))
    def reuse(self, expense_id: str, kind: ExpenseKind, pair: tuple[str, str]) -> None:
        """The payments system reuses an id for another customer, payee or kind (a new expense under an old id)."""
        self.upstream[expense_id] = Upstream(kind, pair, self.now)
        self._publish_attempt(expense_id, self.upstream[expense_id], delivered=False)

    def _publish_attempt(self, expense_id: str, known: Upstream, delivered: bool) -> None:
        one_off = known.kind is ExpenseKind.ONE_OFF
        self.pending.append(
            PaymentAttempted(
                **self._envelope("payments-system"),
                event_type="PaymentAttempted",
                expense_id=expense_id,
                customer_ref=known.pair[0],
                payee_id=known.pair[1],
                amount=Decimal("40.00"),
                kind=known.kind,
                scheduled_on=None if one_off else monday_of(self.now),
                coded_at=known.coded_at if one_off else None,
                state=known.state,
                attempted_at=self.now,
                outcome="delivered" if delivered else "failed",
                failure_reason=None if delivered else FailureReason.NOT_REPORTED,
            )
        )

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def process(self, data: st.DataObject) -> None:
        """One published attempt processed now: the oldest, or any (processed late)."""
        index = data.draw(st.integers(0, len(self.pending) - 1), label="which")
        message = self.pending.pop(index)
        self.done.append(message)
        self.reused.update(self._reuse_of(message))
        self._handle(message, handlers.on_payment_attempts.one)

    def _reuse_of(self, message: PaymentAttempted) -> dict[uuid.UUID, str]:
        """The true reason for setting aside an attempt the system cannot take for its stored expense: another
        customer or payee, or a one-off coded after the stored one's days, under its id (an id reused); another
        kind."""
        stored = self.store.expenses.get(message.expense_id)
        if stored is None:
            return {}
        if (message.customer_ref, message.payee_id) != (stored.customer_ref, stored.payee_id):
            return {message.event_id: "expense-id-reused"}
        if message.kind is not stored.kind:
            return {message.event_id: "kind-contradicts-stored"}
        days = stored.days
        if (
            days is not None
            and message.coded_at is not None
            and message.coded_at >= days.window.closes_at
        ):
            return {message.event_id: "expense-id-reused"}
        return {}

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data(), again=st.booleans())
    def publish_again(self, data: st.DataObject, again: bool) -> None:
        """The same fact again: redelivered with its own id (``again``), or published anew under a new one."""
        message = self.done[data.draw(st.integers(0, len(self.done) - 1), label="which")]
        if again:
            self._handle(message, handlers.on_payment_attempts.one)
        else:
            self.pending.append(
                message.model_copy(update={"event_id": uuid.UUID(int=next(self.ids))})
            )

    # ----------------------------------------------------------------------------------- officers

    @rule(data=st.data(), hardship=st.booleans(), roles=st.sampled_from(ROLES))
    def cease(self, data: st.DataObject, hardship: bool, roles: list[str] = IM) -> None:
        """An officer ceases an expense (one the system knows, mostly; an unknown id is refused)."""
        expense_id = data.draw(
            st.sampled_from(sorted({*IDS, *self.store.expenses})), label="expense"
        )
        self._handle(
            CeaseExpense(
                **self._envelope("console"),
                event_type="CeaseExpense",
                expense_id=expense_id,
                officer_id="OFF-IM",
                officer_roles=roles,
                extreme_hardship=hardship,
                doc_note="Discussed with the customer.",
            ),
            handlers.on_staff_action,
        )

    @rule(
        pair=st.sampled_from(PAIRS),
        hardship=st.booleans(),
        paid=st.booleans(),
        state=st.sampled_from(STATES),
        roles=st.sampled_from(ROLES),
    )
    def code(
        self,
        pair: tuple[str, str],
        hardship: bool,
        paid: bool,
        state: AustralianState = AustralianState.NSW,
        roles: list[str] = IM,
    ) -> None:
        """An officer codes a new one-off (a replacement, or another need); the payments system then pays it."""
        self.coded += 1
        expense_id = f"EXP-C{self.coded}"
        out = self._handle(
            CodeOneOffExpense(
                **self._envelope("console"),
                event_type="CodeOneOffExpense",
                expense_id=expense_id,
                officer_id="OFF-IM",
                officer_roles=roles,
                customer_ref=pair[0],
                payee_id=pair[1],
                amount=Decimal("40.00"),
                state=state,
                extreme_hardship=hardship,
            ),
            handlers.on_staff_action,
        )
        if any(isinstance(e, OneOffExpenseCoded) for e in out):
            self.upstream[expense_id] = Upstream(ExpenseKind.ONE_OFF, pair, self.now, state)
            # the payments system attempts it at once: published now, processed whenever
            self._publish_attempt(expense_id, self.upstream[expense_id], delivered=paid)

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        """Day 2, extreme hardship: the officer records the mySupport job, then the Service Desk's removal (refused
        for an expense not escalated)."""
        expense_id = data.draw(
            st.sampled_from(sorted({*IDS, *self.store.expenses})), label="expense"
        )
        for kind in (RecordMySupportJob, RecordExpenseRemoval):
            self._handle(
                kind(
                    **self._envelope("console"),
                    event_type=kind.__name__,
                    expense_id=expense_id,
                    officer_id="OFF-IM",
                    officer_roles=IM,
                    mysupport_job="MS-4411",
                ),
                handlers.on_staff_action,
            )

    @rule(data=st.data())
    def tick_off(self, data: st.DataObject) -> None:
        """An officer ticks off a manual item with the DOC note of the discussion (one already closed, now and then:
        refused, saying when it was)."""
        manual = sorted(
            k
            for k, item in self.desk.after.items()
            if item is not None and item.tick_off is TickOff.MANUAL
        )
        if not manual:
            return
        item = data.draw(st.sampled_from(manual), label="item")
        self._published_command(item)

    def _published_command(self, work_item_id: str) -> None:
        self.answers += self.desk.step(
            TickOffWorkItem(
                **self._envelope("console"),
                event_type="TickOffWorkItem",
                work_item_id=work_item_id,
                officer_id="OFF-IM",
                officer_roles=IM,
                doc_note="Advised the customer.",
            ),
            self.now,
        )

    # ----------------------------------------------------------------------------------- time

    @rule(minutes=st.sampled_from([30, 30, 60, 60 * 5, 60 * 24, 60 * 24 * 3, 60 * 24 * 8]))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def fire_timers(self) -> None:
        """The retry windows' timers, as late as the scheduler happens to be."""
        due = self.loop.run_until_complete(self.store.claim_due(None, self.now, 100))
        for d in due:
            fired = handlers.window_timers.fire(d, self.now)
            self.loop.run_until_complete(handlers.window_timers.save(None, [fired.change]))
            self._published(d, list(fired.events))

    # ----------------------------------------------------------------------------------- the promises

    @invariant()
    def promises(self) -> None:
        REACH.steps += 1
        invariants.every_fact_is_answered(self.handled, self.reused)
        items = {k: v for k, v in self.desk.after.items() if v is not None}
        invariants.each_closed_period_has_one_i059pl(self.published, items)
        invariants.nobody_is_paid_twice_unseen(self.published, self.store.expenses)
        invariants.officers_read_the_customers_day(
            self.published, self.store.expenses, self.answers, items
        )
        expenses = {i: self.store.state(i) for i in self.store.expenses}
        invariants.every_open_item_can_be_closed(items, expenses, self.now, self.published)


def test_the_procedure_keeps_its_promises_in_every_order_explored(report):
    """The model run: ``EXAMPLES`` runs of up to 100 steps, every promise checked after every step."""
    explore(IncomeManagement, REACH, 100, "103-01050060", report)


def pinned(*steps: Any) -> None:
    """Run ``steps`` (method name and arguments) through the model, every promise checked after each."""
    model.pinned(IncomeManagement, *steps)


A = ("CRN-A", "PAYEE-1")


@pytest.mark.rule("IM-7.2")
def test_pinned_a_one_off_ceased_then_found_paid_and_replaced_is_flagged_whichever_is_known_first():
    """The model's counterexample (issue 38: paid twice, in the order the last issue named): a one-off coded and paid
    at once, ceased 30 minutes later, its delivery processed after the cease, then a replacement coded and paid.
    "the existing expense needs to be ceased before the new one-off expense can be coded": it was, but it had paid."""
    pinned(
        ("code", A, False, True),
        ("advance", 30),
        ("cease", Drawn("EXP-C1"), False),
        ("process", Drawn(0)),
        ("code", A, False, True),
        ("process", Drawn(0)),
    )


@pytest.mark.rule("IM-2.2")
def test_pinned_a_failure_published_again_under_a_new_id_is_answered():
    """The model's counterexample (issue 38: every fact is answered): the payments system's retry fails again while
    the window is open; it was answered by nothing. "'UNDLVD IM' for all undelivered one-off expenses": the
    period is undelivered already, and the retry is answered as one that failed."""
    pinned(
        ("attempt", Drawn("EXP-1"), ExpenseKind.ONE_OFF, A, False),
        ("process", Drawn(0)),
        ("publish_again", Drawn(0), False),  # the same failure, published anew
        ("process", Drawn(0)),
    )


@pytest.mark.rule("IM-5.3")
def test_pinned_a_weekly_period_advised_as_not_delivered_and_then_found_paid_asks_for_the_advice_corrected():
    """Issue 38: "Advise the customer of the period that the payment was not delivered" was done and the I059PL
    ticked off; the weekly's delivery, attempted before the deadline, was processed after."""
    pinned(
        ("attempt", Drawn("EXP-1"), ExpenseKind.WEEKLY, A, False),
        ("process", Drawn(0)),
        ("advance", 60 * 24),
        ("attempt", Drawn("EXP-1"), ExpenseKind.WEEKLY, A, True),
        ("advance", 60 * 24 * 8),
        ("fire_timers",),
        ("tick_off", Drawn("I059PL:EXP-1:2026-11-23")),
        ("process", Drawn(0)),
    )


@pytest.mark.rule("IM-4.4", "IM-7.2")
def test_pinned_a_weekly_ceased_then_found_paid_after_a_one_off_was_coded_in_its_place_is_flagged():
    """Issue 38 (paid twice, a regular expense): "Determine the most appropriate action to be taken after discussing
    with the customer, and update as appropriate", for example cease the regular expense or issue a one-off
    payment; "the existing expense needs to be ceased before the new one-off expense can be coded". The weekly's
    delivery, attempted before the cease, is processed after the one-off coded in its place."""
    pinned(
        ("attempt", Drawn("EXP-1"), ExpenseKind.WEEKLY, A, False),
        ("process", Drawn(0)),
        ("attempt", Drawn("EXP-1"), ExpenseKind.WEEKLY, A, True),
        ("advance", 30),
        ("cease", Drawn("EXP-1"), False),
        ("code", A, False, True),
        ("process", Drawn(1)),  # the one-off's delivery
        ("process", Drawn(0)),  # the weekly's, late
    )


@pytest.mark.rule("IM-7.2")
def test_pinned_a_one_off_found_paid_after_the_one_it_replaced_was_found_paid_is_flagged():
    """A counterexample the model found (issue 38): a one-off ends unpaid on day 3 and its delivery from day 1 is
    processed late; a replacement coded meanwhile and ceased at once turns out paid too. "the existing expense needs
    to be ceased before the new one-off expense can be coded": both were, and both paid."""
    pinned(
        ("code", A, False, False),
        ("process", Drawn(0)),
        ("attempt", Drawn("EXP-C1"), ExpenseKind.ONE_OFF, A, True),
        ("advance", 60 * 24 * 3),
        ("fire_timers",),
        ("code", A, False, True),
        ("advance", 30),
        ("cease", Drawn("EXP-C2"), False),
        ("process", Drawn(0)),  # the first one-off's day-1 delivery, late
        ("process", Drawn(0)),  # the replacement's, before its cease, late too
    )


@pytest.mark.rule("IM-6.1")
def test_pinned_a_one_off_id_reused_after_its_days_is_answered_as_reused():
    """Issue 38 (a failure that vanishes): "When the one-off expense is coded, the expense will attempt to deliver
    for the next 2 working days." The payments system codes a new one-off for the same customer and payee under a
    finished one's id: its failure is set aside as an id reused, not as after a retry window."""
    pinned(
        ("attempt", Drawn("EXP-1"), ExpenseKind.ONE_OFF, A, False),
        ("process", Drawn(0)),
        ("advance", 60 * 24 * 8),
        ("fire_timers",),
        ("reuse", "EXP-1", ExpenseKind.ONE_OFF, A),
        ("process", Drawn(0)),
    )
