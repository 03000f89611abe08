"""Thin handlers: load the state, decide, evolve, save; the runtime does inbox, outbox and commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
    period_of,
)
from expenses.domain.model import ExpenseState, evolve_all
from servicekit.logs import get_logger, log_transition

log = get_logger("expenses")
TICK_BATCH = 500


async def _apply(conn: asyncpg.Connection, state: ExpenseState, events: Sequence[Event]) -> Sequence[Event]:
    await store.save(conn, state, evolve_all(state, events))
    for e in events:
        log_transition(log, e, "expense_id", "customer_ref", "status", "procedure_step", "reason_code")
    return events


async def on_payment_attempt(conn: asyncpg.Connection, attempt: PaymentAttempted, now: datetime) -> Sequence[Event]:
    state = await store.load(conn, attempt.expense_id, periods=[period_of(attempt)])
    return await _apply(conn, state, decide_attempt(state, attempt, now))


async def on_staff_action(conn: asyncpg.Connection, action: Event, now: datetime) -> Sequence[Event]:
    match action:
        case CeaseExpense():
            state = await store.load(conn, action.expense_id, open_windows=True)
            return await _apply(conn, state, decide_cease(state, action, now))
        case VaryOneOffExpense():
            state = await store.load(conn, action.expense_id)
            return await _apply(conn, state, decide_vary(state, action, now))
        case CodeOneOffExpense():
            state = await store.load(conn, action.expense_id, siblings_of=(action.customer_ref, action.payee_id))
            return await _apply(conn, state, decide_code(state, action, now))
        case RecordExpenseRemoval():
            state = await store.load(conn, action.expense_id, open_windows=True)
            return await _apply(conn, state, decide_removal(state, action, now))
    raise TypeError(f"no handler for {action.event_type}")  # the catalogue and this match are tested together


async def tick(conn: asyncpg.Connection, now: datetime) -> tuple[int, Sequence[Event]]:
    """Close every retry window whose deadline has passed (the scheduler calls this)."""
    outputs: list[Event] = []
    due = await store.claim_due(conn, now, TICK_BATCH)
    for state, window in due:
        assert state.expense is not None
        outputs += await _apply(conn, state, decide_close(state.expense, window, now))
    return len(due), outputs
