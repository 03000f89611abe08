"""The expenses service's tables: expenses and their per-period retry windows (deadline column)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.expenses import AustralianState, ExpenseKind, FailureReason
from expenses.domain.calendar import OneOffDays, Window
from expenses.domain.model import (
    DocNote,
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    WindowStatus,
)
from servicekit import tracing
from servicekit.db import Migration, advisory_locks, execute_rows, unnest
from servicekit.timers.scheduler import Due, not_quarantined

TIMER_KEY = "w.expense_id || '/' || w.period_start"
"""A retry window's timer key: the expense and its period."""

MIGRATIONS = (
    Migration(
        "expenses",
        1,
        "expenses_and_windows",
        """
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
    """,
    ),
    Migration(
        "expenses",
        2,
        "doc_notes",
        """
        CREATE TABLE doc_notes (
            event_id    text PRIMARY KEY,
            expense_id  text NOT NULL,
            officer_id  text NOT NULL,
            action      text NOT NULL,
            note        text NOT NULL,
            recorded_at timestamptz NOT NULL
        );
        CREATE INDEX doc_notes_by_expense ON doc_notes (expense_id, recorded_at);
    """,
    ),
    Migration(
        "expenses",
        3,
        "one_off_days_and_escalations",
        """
        -- A one-off's days as computed once (decisions read them, never a recomputation), and the Service Desk
        -- escalation of its removal with the mySupport job number.
        ALTER TABLE expenses
            ADD COLUMN day_1         date,
            ADD COLUMN day_2         date,
            ADD COLUMN ends_at       timestamptz,
            ADD COLUMN calendar      text,
            ADD COLUMN escalated_at  timestamptz,
            ADD COLUMN mysupport_job text;
    """,
    ),
    Migration(
        "expenses",
        4,
        "ended_at",
        """
        -- When an expense was ceased or removed: a delivery attempted before then is recorded (it paid), one after is
        -- not. Expenses ended before this migration keep NULL: nothing is recorded against them, as before.
        ALTER TABLE expenses ADD COLUMN ended_at timestamptz;
    """,
    ),
    Migration(
        "expenses",
        5,
        "window_trace_context",
        """
        -- The trace context of the attempt that opened a window (servicekit.tracing): its closing, days later, is
        -- traced as linked to that attempt.
        ALTER TABLE windows ADD COLUMN trace_context text;
    """,
    ),
    Migration(
        "expenses",
        6,
        "late_paid_at",
        """
        -- A one-off given up (ceased, removed, ended unpaid) that turned out to have paid: it pays, so it is one of the
        -- siblings a one-off coded for the same customer and payee is checked against (paid twice). Kept from now on
        -- with the delivery's own time; for those recorded before, the time their window was last written stands in
        -- (no earlier than the delivery). A one-off ended and reversed before this is not told from one paid in time.
        ALTER TABLE expenses ADD COLUMN late_paid_at timestamptz;
        UPDATE expenses e SET late_paid_at = w.updated_at FROM windows w
            WHERE w.expense_id = e.expense_id AND e.kind = 'one-off' AND e.status IN ('ceased', 'removed')
            AND w.status = 'delivered';
    """,
    ),
    Migration(
        "expenses",
        7,
        "late_paid_regular",
        """
        -- A regular expense ceased or removed whose period turned out paid is a sibling too: a one-off coded in that
        -- period's place pays twice. Those recorded before are marked as migration 6 marked one-offs.
        UPDATE expenses e SET late_paid_at = w.updated_at FROM windows w
            WHERE w.expense_id = e.expense_id AND e.kind <> 'one-off' AND e.status IN ('ceased', 'removed')
            AND w.status = 'delivered' AND w.updated_at > e.ended_at AND e.late_paid_at IS NULL;
        CREATE INDEX expenses_late_paid_by_customer_payee ON expenses (customer_ref, payee_id)
            WHERE late_paid_at IS NOT NULL;
    """,
    ),
)

_EXPENSE_COLS = (
    "expense_id, customer_ref, payee_id, kind, amount, state, coded_at, status, day_1, day_2, ends_at, "
    "calendar, escalated_at, mysupport_job, ended_at, late_paid_at"
)
_EXPENSE_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "numeric",
    "text",
    "timestamptz",
    "text",
    "date",
    "date",
    "timestamptz",
    "text",
    "timestamptz",
    "text",
    "timestamptz",
    "timestamptz",
)
_WINDOW_COLS = "expense_id, period_start, status, closes_at, calendar, failure_reason, opened_by, correlation_id"


def _expense(r: Any) -> Expense:
    days = (
        OneOffDays(r["day_1"], r["day_2"], Window(r["coded_at"], r["ends_at"], r["calendar"]))
        if r["day_1"] is not None and r["coded_at"] is not None
        else None
    )
    return Expense(
        r["expense_id"],
        r["customer_ref"],
        r["payee_id"],
        ExpenseKind(r["kind"]),
        r["amount"],
        AustralianState(r["state"]) if r["state"] else None,
        r["coded_at"],
        ExpenseStatus(r["status"]),
        days,
        r["escalated_at"],
        r["mysupport_job"],
        r["ended_at"],
        r["late_paid_at"],
    )


def _window(r: Any) -> PeriodWindow:
    return PeriodWindow(
        r["expense_id"],
        r["period_start"],
        WindowStatus(r["status"]),
        r["closes_at"],
        r["calendar"],
        FailureReason(r["failure_reason"]) if r["failure_reason"] else None,
        r["opened_by"],
        r["correlation_id"],
    )


async def load_many(
    conn: asyncpg.Connection, periods: Mapping[str, Iterable[date]], *, open_windows: bool = False
) -> dict[str, ExpenseState]:
    """Each expense of ``periods`` (row-locked for this transaction, in id order) with the windows of the
    periods asked for, and with every open window too if ``open_windows``. An unknown expense has no state."""
    ids = sorted(periods)
    rows = await conn.fetch(
        f"SELECT {_EXPENSE_COLS} FROM expenses WHERE expense_id = ANY($1::text[]) ORDER BY expense_id FOR UPDATE",
        ids,
    )
    expenses = {r["expense_id"]: _expense(r) for r in rows}
    wanted = [(i, p) for i in expenses for p in set(periods[i])]
    windows: dict[str, dict[date, PeriodWindow]] = {i: {} for i in ids}
    if expenses:
        rows = await conn.fetch(
            f"SELECT {', '.join('w.' + c for c in _WINDOW_COLS.split(', '))} FROM windows w "
            "LEFT JOIN unnest($1::text[], $2::date[]) AS k(expense_id, period_start) "
            "ON w.expense_id = k.expense_id AND w.period_start = k.period_start "
            "WHERE w.expense_id = ANY($3::text[]) AND (k.expense_id IS NOT NULL OR ($4 AND w.status = 'open')) "
            "ORDER BY w.expense_id, w.period_start FOR UPDATE OF w",
            [i for i, _ in wanted],
            [p for _, p in wanted],
            list(expenses),
            open_windows,
        )
        for r in rows:
            windows[r["expense_id"]][r["period_start"]] = _window(r)
    return {i: ExpenseState(expenses.get(i), windows[i]) for i in ids}


async def lock_one_offs_of(conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """Serialise every decision about the one-offs of each (customer, payee): "cease first" is checked against the
    siblings that exist, so two one-offs coded at once (on different partitions, by officers or by the payments
    system) must not both see none. Transaction-scoped advisory locks, taken before any row lock, in one order."""
    await advisory_locks(conn, (f"one-offs:{customer}:{payee}" for customer, payee in pairs))


async def siblings(
    conn: asyncpg.Connection, expense_id: str, customer_ref: str, payee_id: str
) -> tuple[Expense, ...]:
    """The other expenses of the same customer and payee that pay or may pay: one-offs active or delivered, and any
    expense given up and paid after all (``Expense.pays``; a regular expense still active is not "in a one-off's
    place"), locked (call :func:`lock_one_offs_of` first)."""
    rows = await conn.fetch(
        f"SELECT {_EXPENSE_COLS} FROM expenses WHERE customer_ref = $1 AND payee_id = $2 AND expense_id <> $3 "
        "AND ((kind = 'one-off' AND status IN ('active', 'delivered')) OR late_paid_at IS NOT NULL) "
        "ORDER BY expense_id FOR UPDATE",
        customer_ref,
        payee_id,
        expense_id,
    )
    return tuple(_expense(r) for r in rows)


async def load(
    conn: asyncpg.Connection,
    expense_id: str,
    *,
    periods: Iterable[date] = (),
    open_windows: bool = False,
    siblings_of: tuple[str, str] | None = None,
) -> ExpenseState:
    """One expense as :func:`load_many` reads it, and optionally its sibling one-offs (locked too, under the
    customer and payee's lock)."""
    if siblings_of is not None:
        await lock_one_offs_of(conn, [siblings_of])
    state = (await load_many(conn, {expense_id: periods}, open_windows=open_windows))[expense_id]
    if siblings_of is None:
        return state
    return replace(state, siblings=await siblings(conn, expense_id, *siblings_of))


async def save(
    conn: asyncpg.Connection, changes: Iterable[tuple[ExpenseState, ExpenseState]]
) -> None:
    """Write what changed between each (before, after) pair: one statement per table, however many pairs."""
    expenses: dict[str, Expense] = {}  # the last state of each, should a pair repeat one
    windows: dict[tuple[str, date], PeriodWindow] = {}
    for before, after in changes:
        if after.expense is not None and after.expense != before.expense:
            expenses[after.expense.expense_id] = after.expense
        windows |= {
            (w.expense_id, p): w for p, w in after.windows.items() if before.windows.get(p) != w
        }
    await execute_rows(
        conn,
        f"INSERT INTO expenses ({_EXPENSE_COLS}) SELECT * FROM "
        f"{unnest(*_EXPENSE_TYPES)} "
        "ON CONFLICT (expense_id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status, "
        "escalated_at = EXCLUDED.escalated_at, mysupport_job = EXCLUDED.mysupport_job, "
        "ended_at = EXCLUDED.ended_at, late_paid_at = EXCLUDED.late_paid_at, updated_at = now()",
        [
            (
                e.expense_id,
                e.customer_ref,
                e.payee_id,
                e.kind.value,
                e.amount,
                e.state.value if e.state else None,
                e.coded_at,
                e.status.value,
                e.days.day_1 if e.days else None,
                e.days.day_2 if e.days else None,
                e.days.window.closes_at if e.days else None,
                e.days.window.calendar if e.days else None,
                e.escalated_at,
                e.mysupport_job,
                e.ended_at,
                e.late_paid_at,
            )
            for e in expenses.values()
        ],
    )
    await execute_rows(
        conn,
        f"INSERT INTO windows ({_WINDOW_COLS}, trace_context) SELECT * FROM "
        f"{unnest('text', 'date', 'text', 'timestamptz', 'text', 'text', 'uuid', 'uuid', 'text')} "
        "ON CONFLICT (expense_id, period_start) DO UPDATE SET status = EXCLUDED.status, "
        "closes_at = COALESCE(EXCLUDED.closes_at, windows.closes_at), "
        "trace_context = COALESCE(windows.trace_context, EXCLUDED.trace_context), updated_at = now()",
        [
            (
                w.expense_id,
                w.period_start,
                w.status.value,
                w.closes_at,
                w.calendar,
                w.failure_reason.value if w.failure_reason else None,
                w.opened_by,
                w.correlation_id,
                tracing.cause(w.opened_by),
            )
            for w in windows.values()
        ],
    )


_DUE = f"w.status = 'open' AND w.closes_at <= $1 AND {not_quarantined(TIMER_KEY)}"


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
    """Open windows whose deadline has passed, locked, oldest first; rows another instance holds are skipped."""
    rows = await conn.fetch(
        f"SELECT {TIMER_KEY} AS timer_key, {', '.join('w.' + c for c in _WINDOW_COLS.split(', '))}, e.customer_ref, "
        "e.payee_id, e.kind, e.amount, e.state, e.coded_at, e.status AS expense_status, e.day_1, e.day_2, "
        "e.ends_at, e.calendar AS expense_calendar, e.escalated_at, e.mysupport_job, e.ended_at, e.late_paid_at, "
        "w.trace_context "
        f"FROM windows w JOIN expenses e USING (expense_id) WHERE {_DUE} ORDER BY w.closes_at LIMIT $2 "
        "FOR UPDATE OF w, e SKIP LOCKED",
        now,
        limit,
    )
    return [Due(r["timer_key"], r, r["trace_context"]) for r in rows]


def due_window(row: Any) -> tuple[ExpenseState, PeriodWindow]:
    """A claimed row read into the expense's state with that one window (raises if the row no longer reads)."""
    window = _window(row)
    expense = _expense(
        {**dict(row), "status": row["expense_status"], "calendar": row["expense_calendar"]}
    )
    return ExpenseState(expense, {window.period_start: window}), window


async def oldest_due(conn: asyncpg.Connection, now: datetime) -> datetime | None:
    result: datetime | None = await conn.fetchval(
        f"SELECT min(w.closes_at) FROM windows w WHERE {_DUE}", now
    )
    return result


async def keep_doc(conn: asyncpg.Connection, doc: DocNote) -> None:
    """The DOC note of an action carried out, in the expense's history (a redelivery keeps it once)."""
    await conn.execute(
        "INSERT INTO doc_notes VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        doc.event_id,
        doc.expense_id,
        doc.officer_id,
        doc.action,
        doc.note,
        doc.recorded_at,
    )


async def doc_notes(conn: asyncpg.Connection, expense_id: str) -> list[DocNote]:
    rows = await conn.fetch(
        "SELECT * FROM doc_notes WHERE expense_id = $1 ORDER BY recorded_at, event_id", expense_id
    )
    return [
        DocNote(
            r["expense_id"],
            r["event_id"],
            r["officer_id"],
            r["action"],
            r["note"],
            r["recorded_at"],
        )
        for r in rows
    ]
