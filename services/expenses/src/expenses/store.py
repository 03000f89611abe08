"""The expenses service's tables: expenses and their per-period retry windows (deadline column)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.expenses import AustralianState, ExpenseKind, FailureReason
from expenses.domain.model import Expense, ExpenseState, ExpenseStatus, PeriodWindow, WindowStatus
from servicekit.db import Migration

MIGRATIONS = (
    Migration("expenses", 1, "expenses_and_windows", """
        CREATE TABLE expenses (
            expense_id   text PRIMARY KEY,
            customer_ref text NOT NULL,
            payee_id     text NOT NULL,
            kind         text NOT NULL,
            amount       numeric(12, 2) NOT NULL,
            state        text,
            coded_at     timestamptz,
            status       text NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX expenses_one_offs_by_customer_payee ON expenses (customer_ref, payee_id) WHERE kind = 'one-off';
        CREATE TABLE windows (
            expense_id     text NOT NULL REFERENCES expenses (expense_id),
            period_start   date NOT NULL,
            status         text NOT NULL,
            closes_at      timestamptz,
            calendar       text NOT NULL,
            failure_reason text,
            opened_by      uuid,
            correlation_id uuid,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (expense_id, period_start)
        );
        -- The scheduler's scan: open windows by deadline.
        CREATE INDEX windows_due ON windows (closes_at) WHERE status = 'open';
    """),
)

_EXPENSE_COLS = "expense_id, customer_ref, payee_id, kind, amount, state, coded_at, status"
_WINDOW_COLS = "expense_id, period_start, status, closes_at, calendar, failure_reason, opened_by, correlation_id"


def _expense(r: Any) -> Expense:
    return Expense(r["expense_id"], r["customer_ref"], r["payee_id"], ExpenseKind(r["kind"]), r["amount"],
                   AustralianState(r["state"]) if r["state"] else None, r["coded_at"], ExpenseStatus(r["status"]))


def _window(r: Any) -> PeriodWindow:
    return PeriodWindow(r["expense_id"], r["period_start"], WindowStatus(r["status"]), r["closes_at"], r["calendar"],
                        FailureReason(r["failure_reason"]) if r["failure_reason"] else None, r["opened_by"],
                        r["correlation_id"])


async def load(conn: asyncpg.Connection, expense_id: str, *, periods: Iterable[date] = (), open_windows: bool = False,
               siblings_of: tuple[str, str] | None = None) -> ExpenseState:
    """The expense (row-locked for this transaction), the windows asked for, and optionally its siblings."""
    row = await conn.fetchrow(f"SELECT {_EXPENSE_COLS} FROM expenses WHERE expense_id = $1 FOR UPDATE", expense_id)
    windows: dict[date, PeriodWindow] = {}
    if row is not None:
        rows = await conn.fetch(
            f"SELECT {_WINDOW_COLS} FROM windows WHERE expense_id = $1 AND (period_start = ANY($2::date[]) "
            "OR ($3 AND status = 'open')) FOR UPDATE", expense_id, list(periods), open_windows)
        windows = {r["period_start"]: _window(r) for r in rows}
    siblings: tuple[Expense, ...] = ()
    if siblings_of is not None:
        rows = await conn.fetch(
            f"SELECT {_EXPENSE_COLS} FROM expenses WHERE kind = 'one-off' AND customer_ref = $1 AND payee_id = $2 "
            "AND expense_id <> $3 AND status = 'active' FOR UPDATE", *siblings_of, expense_id)
        siblings = tuple(_expense(r) for r in rows)
    return ExpenseState(_expense(row) if row else None, windows, siblings)


async def save(conn: asyncpg.Connection, before: ExpenseState, after: ExpenseState) -> None:
    e = after.expense
    if e is not None and e != before.expense:
        await conn.execute(
            f"INSERT INTO expenses ({_EXPENSE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (expense_id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status, "
            "updated_at = now()",
            e.expense_id, e.customer_ref, e.payee_id, e.kind.value, e.amount, e.state.value if e.state else None,
            e.coded_at, e.status.value)
    changed = [w for p, w in after.windows.items() if before.windows.get(p) != w]
    if changed:
        await conn.executemany(
            f"INSERT INTO windows ({_WINDOW_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (expense_id, period_start) DO UPDATE SET status = EXCLUDED.status, "
            "closes_at = COALESCE(EXCLUDED.closes_at, windows.closes_at), updated_at = now()",
            [(w.expense_id, w.period_start, w.status.value, w.closes_at, w.calendar,
              w.failure_reason.value if w.failure_reason else None, w.opened_by, w.correlation_id) for w in changed])


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[tuple[ExpenseState, PeriodWindow]]:
    """Open windows whose deadline has passed, locked; rows another instance holds are skipped."""
    rows = await conn.fetch(
        f"SELECT {', '.join('w.' + c for c in _WINDOW_COLS.split(', '))}, e.customer_ref, e.payee_id, e.kind, "
        "e.amount, e.state, e.coded_at, e.status AS expense_status "
        "FROM windows w JOIN expenses e USING (expense_id) "
        "WHERE w.status = 'open' AND w.closes_at <= $1 ORDER BY w.closes_at LIMIT $2 "
        "FOR UPDATE OF w, e SKIP LOCKED", now, limit)
    due = []
    for r in rows:
        window = _window(r)
        expense = _expense({**dict(r), "status": r["expense_status"]})
        due.append((ExpenseState(expense, {window.period_start: window}), window))
    return due


async def open_windows(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM windows WHERE status = 'open'"))
