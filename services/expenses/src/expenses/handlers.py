"""Thin handlers: load the state, decide, evolve, save; the runtime does inbox, outbox and commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import asyncpg

from contracts.envelope import Event
from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseKind,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    VaryOneOffExpense,
)
from expenses import store
from expenses.domain.decide import (
    decide_attempt,
    decide_cease,
    decide_close,
    decide_code,
    decide_job,
    decide_removal,
    decide_vary,
    doc_to_keep,
    period_of,
)
from expenses.domain.model import Expense, ExpenseState, ExpenseStatus, evolve_all
from servicekit.consumer import Batched
from servicekit.logs import get_logger, log_transition
from servicekit.scheduler import Due, Fired

log = get_logger("expenses")


def _log(events: Sequence[Event]) -> None:
    for e in events:
        log_transition(log, e, "expense_id", "customer_ref", "status", "procedure_step", "reason_code")


async def _apply(conn: asyncpg.Connection, state: ExpenseState, events: Sequence[Event]) -> Sequence[Event]:
    """Save what ``events`` change: the expense acted on, and a sibling whose removal they escalate."""
    changes = [(state, evolve_all(state, events))]
    for sibling in state.siblings:
        if about := [e for e in events if e.key == sibling.expense_id]:
            alone = ExpenseState(sibling)
            changes.append((alone, evolve_all(alone, about)))
    await store.save(conn, changes)
    _log(events)
    return events


@dataclass
class Attempts:
    """A run of payment attempts: their expenses and periods loaded at once, decided in order, saved at once."""

    before: dict[str, ExpenseState]
    after: dict[str, ExpenseState] = field(init=False)
    """The working set: ``before`` as the steps so far left it."""

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    @classmethod
    async def load(cls, conn: asyncpg.Connection, attempts: Sequence[PaymentAttempted]) -> Attempts:
        periods: dict[str, set[date]] = defaultdict(set)
        for a in attempts:
            periods[a.expense_id].add(period_of(a))
        one_offs = {a.expense_id: (a.customer_ref, a.payee_id) for a in attempts if a.kind is ExpenseKind.ONE_OFF}
        await store.lock_one_offs_of(conn, one_offs.values())  # before any row lock, as a coding officer's does
        states = await store.load_many(conn, periods)
        for expense_id, (customer_ref, payee_id) in one_offs.items():
            if states[expense_id].expense is None:  # the payments system coded it: "cease first" is checked too
                found = await store.siblings(conn, expense_id, customer_ref, payee_id)
                states[expense_id] = replace(states[expense_id], siblings=found)
        return cls(states)

    def _siblings(self, attempt: PaymentAttempted) -> tuple[Expense, ...]:
        """The stored siblings, as this run has left them, and the one-offs this run made known before it."""
        stored = self.after[attempt.expense_id].siblings
        here = {i: s.expense for i, s in self.after.items()
                if i != attempt.expense_id and s.expense is not None and s.expense.kind is ExpenseKind.ONE_OFF
                and s.expense.status is ExpenseStatus.ACTIVE
                and (s.expense.customer_ref, s.expense.payee_id) == (attempt.customer_ref, attempt.payee_id)}
        return tuple(s for s in stored if s.expense_id not in here) + tuple(here.values())

    def step(self, attempt: PaymentAttempted, now: datetime) -> Sequence[Event]:
        state = self.after[attempt.expense_id]
        if state.expense is None and attempt.kind is ExpenseKind.ONE_OFF:
            state = replace(state, siblings=self._siblings(attempt))
        events = decide_attempt(state, attempt, now)
        self.after[attempt.expense_id] = evolve_all(state, events)
        _log(events)
        return events

    async def save(self, conn: asyncpg.Connection) -> None:
        await store.save(conn, [(self.before[i], after) for i, after in self.after.items()])


on_payment_attempts = Batched(Attempts.load)


async def on_staff_action(conn: asyncpg.Connection, action: Event, now: datetime) -> Sequence[Event]:
    match action:
        case CeaseExpense():
            state = await store.load(conn, action.expense_id, open_windows=True)
            events = decide_cease(state, action, now)
        case VaryOneOffExpense():
            state = await store.load(conn, action.expense_id)
            events = decide_vary(state, action, now)
        case CodeOneOffExpense():
            state = await store.load(conn, action.expense_id, siblings_of=(action.customer_ref, action.payee_id))
            events = decide_code(state, action, now)
        case RecordExpenseRemoval():
            state = await store.load(conn, action.expense_id, open_windows=True)
            events = decide_removal(state, action, now)
        case RecordMySupportJob():
            state = await store.load(conn, action.expense_id)
            events = decide_job(state, action, now)
        case _:
            raise TypeError(f"no handler for {action.event_type}")  # the catalogue and this match are tested together
    if (doc := doc_to_keep(action, events, now)) is not None:
        await store.keep_doc(conn, doc)
    return await _apply(conn, state, events)


class WindowTimers:
    """Retry windows whose deadline has passed: each is closed (the scheduler calls these)."""

    claim = staticmethod(store.claim_due)
    oldest_due = staticmethod(store.oldest_due)

    @staticmethod
    def fire(due: Due, now: datetime) -> Fired:
        state, window = store.due_window(due.row)
        assert state.expense is not None
        events = decide_close(state.expense, window, now)
        _log(events)
        return Fired((state, evolve_all(state, events)), events)

    @staticmethod
    async def save(conn: asyncpg.Connection, changes: Sequence[tuple[ExpenseState, ExpenseState]]) -> None:
        await store.save(conn, changes)
