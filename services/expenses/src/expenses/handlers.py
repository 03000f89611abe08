"""Thin handlers: load the state, decide, evolve, save; the runtime does inbox, outbox and commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg

from contracts.envelope import Event
from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    PaymentAttempted,
    RecordExpenseRemoval,
    VaryOneOffExpense,
)
from expenses import store
from expenses.domain.decide import (
    decide_attempt,
    decide_cease,
    decide_close,
    decide_code,
    decide_removal,
    decide_vary,
    doc_to_keep,
    period_of,
)
from expenses.domain.model import ExpenseState, evolve_all
from servicekit.consumer import Batched
from servicekit.logs import get_logger, log_transition
from servicekit.scheduler import Due, Fired

log = get_logger("expenses")


def _log(events: Sequence[Event]) -> None:
    for e in events:
        log_transition(log, e, "expense_id", "customer_ref", "status", "procedure_step", "reason_code")


async def _apply(conn: asyncpg.Connection, state: ExpenseState, events: Sequence[Event]) -> Sequence[Event]:
    await store.save(conn, [(state, evolve_all(state, events))])
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
        states = await store.load_many(conn, periods)
        return cls(states)

    def step(self, attempt: PaymentAttempted, now: datetime) -> Sequence[Event]:
        state = self.after[attempt.expense_id]
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
