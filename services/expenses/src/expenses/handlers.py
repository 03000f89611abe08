"""The shell around the expenses' decider: load (and lock) what a run of payment attempts, or one staff action,
concerns; save what changed and the DOC notes kept; log the transitions; the window timers read a due row into its
expense and the message that its deadline passed. The runtime steps each message (:mod:`servicekit.decider`), and
does the inbox, the outbox and the commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Protocol

import asyncpg

from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseKind,
    PaymentAttempted,
    RecordExpenseRemoval,
)
from expenses import store as database
from expenses.domain.decide import StaffAction, period_of, stored_period
from expenses.domain.decider import Expenses, WindowDue
from expenses.domain.model import (
    DocNote,
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    WindowStatus,
)
from servicekit.decider import Change, published
from servicekit.logs import log_transition
from servicekit.shell import TimerShell, batched, one_at_a_time
from servicekit.timers.scheduler import Due

COMPONENT = "expenses"
DECIDER = Expenses()


class Store(Protocol):
    """What the shells read and write: ``expenses.store`` over PostgreSQL, or a fake that answers as it does (the
    model test's, held to it by a contract test)."""

    async def lock_one_offs_of(
        self, conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]]
    ) -> None: ...
    async def load_many(
        self,
        conn: asyncpg.Connection,
        periods: Mapping[str, Iterable[date]],
        *,
        open_windows: bool = False,
    ) -> dict[str, ExpenseState]: ...
    async def siblings(
        self, conn: asyncpg.Connection, expense_id: str, customer_ref: str, payee_id: str
    ) -> tuple[Expense, ...]: ...
    async def load(
        self,
        conn: asyncpg.Connection,
        expense_id: str,
        *,
        periods: Iterable[date] = (),
        open_windows: bool = False,
        siblings_of: tuple[str, str] | None = None,
    ) -> ExpenseState: ...
    async def save(
        self, conn: asyncpg.Connection, changes: Iterable[tuple[ExpenseState, ExpenseState]]
    ) -> None: ...
    async def keep_doc(self, conn: asyncpg.Connection, doc: DocNote) -> None: ...
    async def claim_due(
        self, conn: asyncpg.Connection, now: datetime, limit: int
    ) -> Sequence[Due]: ...
    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None: ...
    def due_window(self, row: Any) -> tuple[ExpenseState, PeriodWindow]: ...


store: Store = database


async def _save(
    conn: asyncpg.Connection,
    changes: Sequence[Change[ExpenseState]],
    handled: Sequence[tuple[Any, list[Any]]],
) -> None:
    await store.save(
        conn, [(c.before or ExpenseState(None), c.after) for c in changes if c.after is not None]
    )
    for _, outputs in handled:
        for doc in (o for o in outputs if isinstance(o, DocNote)):
            await store.keep_doc(conn, doc)
        for e in published(outputs):
            log_transition(
                COMPONENT,
                e,
                "expense_id",
                "customer_ref",
                "status",
                "procedure_step",
                "reason_code",
            )


class Attempts:
    """Runs of payment attempts: their expenses and periods loaded at once."""

    decider = DECIDER
    save = staticmethod(_save)

    @staticmethod
    async def load(
        conn: asyncpg.Connection, attempts: Sequence[PaymentAttempted]
    ) -> dict[str, ExpenseState | None]:
        periods: dict[str, set[date]] = defaultdict(set)
        for a in attempts:
            periods[a.expense_id].add(period_of(a))
        # One-offs, and regular deliveries (one may turn out paid after a one-off was coded in its period's place).
        with_siblings = {
            a.expense_id: (a.customer_ref, a.payee_id)
            for a in attempts
            if a.kind is ExpenseKind.ONE_OFF or a.outcome == "delivered"
        }
        await store.lock_one_offs_of(
            conn, with_siblings.values()
        )  # before any row lock, as a coding officer's does
        states: dict[str, ExpenseState | None] = dict(await store.load_many(conn, periods))
        # A known one-off's period is the stored one, whatever an attempt says: load that window too.
        known = {
            i: (st, stored_period(st.expense))
            for i, st in states.items()
            if i in with_siblings
            and st is not None
            and st.expense is not None
            and not st.expense.kind.regular
        }
        stored = {i: {period} for i, (st, period) in known.items() if period not in st.windows}
        if stored:
            states |= await store.load_many(conn, stored)
        paying = {a.expense_id for a in attempts if a.outcome == "delivered"}
        regular = {a.expense_id for a in attempts if a.kind.regular}
        for expense_id, (customer_ref, payee_id) in with_siblings.items():
            state = states[expense_id]
            # The payments system coded it ("cease first" too), or it ended or its period closed and a delivery may
            # be late (paid twice).
            if state is not None and (
                (state.expense is None and expense_id not in regular)
                or (
                    expense_id in paying
                    and state.expense is not None
                    and (
                        state.expense.status is not ExpenseStatus.ACTIVE
                        or any(
                            w.status is WindowStatus.CLOSED_UNPAID for w in state.windows.values()
                        )
                    )
                )
            ):
                states[expense_id] = replace(
                    state, siblings=await store.siblings(conn, expense_id, customer_ref, payee_id)
                )
        return states


class Actions:
    """One staff action: its expense, with its open windows where the action closes them, and a coded one-off's
    siblings (each its own state too: an escalation may be about one)."""

    decider = DECIDER
    save = staticmethod(_save)

    @staticmethod
    async def load(
        conn: asyncpg.Connection, actions: Sequence[StaffAction]
    ) -> dict[str, ExpenseState | None]:
        [action] = actions
        of = (
            (action.customer_ref, action.payee_id)
            if isinstance(action, CodeOneOffExpense)
            else None
        )
        state = await store.load(
            conn,
            action.expense_id,
            open_windows=isinstance(action, CeaseExpense | RecordExpenseRemoval),
            siblings_of=of,
        )
        states: dict[str, ExpenseState | None] = {action.expense_id: state}
        return states | {s.expense_id: ExpenseState(s) for s in state.siblings}


def _due(due: Due) -> tuple[dict[str, ExpenseState | None], WindowDue]:
    state, window = store.due_window(due.row)
    return {window.expense_id: state}, WindowDue(window.expense_id, window)


on_payment_attempts = batched(Attempts())
on_staff_action = one_at_a_time(Actions())
window_timers: TimerShell[ExpenseState] = TimerShell(
    Actions(), claim_due=store.claim_due, oldest=store.oldest_due, read=_due
)
"""Retry windows whose deadline has passed: each is closed."""
