"""The store fake holds to PostgreSQL's answers (issue 38, "one store, faked faithfully"): the same saves, loads,
sibling queries and due timers run against ``expenses.store`` on the real server and against
:class:`tests.expenses.fake_store.FakeStore`, and every answer is compared. The model tests run the real shells over
the fake; this is what keeps it from drifting (the fast tier's old fake returned active one-offs as siblings, the
database active or delivered)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.expenses import AustralianState, ExpenseKind, FailureReason
from expenses import store
from expenses.domain.calendar import OneOffDays, Window
from expenses.domain.model import (
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    WindowStatus,
)
from tests.expenses.builders import at
from tests.expenses.fake_store import FakeStore
from tests.support.model import held_to_postgresql

pytestmark = pytest.mark.integration

T = at(2026, 11, 23, 9)
P1, P2 = date(2026, 11, 23), date(2026, 11, 30)


def one_off(expense_id: str, status: ExpenseStatus, customer: str = "CRN-1") -> Expense:
    days = OneOffDays(P1, P1 + timedelta(days=1), Window(T, T + timedelta(days=2), "act 1.0"))
    return Expense(
        expense_id,
        customer,
        "PAYEE-1",
        ExpenseKind.ONE_OFF,
        Decimal("20.00"),
        AustralianState.NSW,
        T,
        status,
        days,
        ended_at=T + timedelta(hours=3) if status is ExpenseStatus.CEASED else None,
    )


def window(expense_id: str, period: date, status: WindowStatus, closes: Any) -> PeriodWindow:
    return PeriodWindow(
        expense_id,
        period,
        status,
        closes,
        "act 1.0",
        FailureReason.NOT_REPORTED,
        uuid.UUID(int=1),
        uuid.UUID(int=2),
    )


WEEKLY = Expense(
    "EXP-W", "CRN-1", "PAYEE-1", ExpenseKind.WEEKLY, Decimal("85.00"), AustralianState.NSW, None
)
FIRST = [
    (
        ExpenseState(None),
        ExpenseState(
            WEEKLY,
            {
                P1: window("EXP-W", P1, WindowStatus.OPEN, T + timedelta(days=7)),
                P2: window("EXP-W", P2, WindowStatus.OPEN, T + timedelta(days=14)),
            },
        ),
    ),
    *(
        (ExpenseState(None), ExpenseState(one_off(i, status, customer)))
        for i, status, customer in (
            ("EXP-A", ExpenseStatus.ACTIVE, "CRN-1"),
            ("EXP-B", ExpenseStatus.DELIVERED, "CRN-1"),
            ("EXP-C", ExpenseStatus.CEASED, "CRN-1"),
            ("EXP-D", ExpenseStatus.ENDED, "CRN-1"),
            ("EXP-E", ExpenseStatus.ACTIVE, "CRN-2"),
        )
    ),
]
THEN = [
    (  # a window closed with no new deadline known keeps its deadline; a status, an end and a late payment change
        FIRST[0][1],
        ExpenseState(
            replace(
                WEEKLY,
                status=ExpenseStatus.CEASED,
                ended_at=T + timedelta(days=1),
                late_paid_at=T + timedelta(hours=20),
            ),
            {P1: window("EXP-W", P1, WindowStatus.CLOSED_UNPAID, None)},
        ),
    ),
    (  # an expense met keeps its facts (the kind, the days) and takes its status
        FIRST[1][1],
        ExpenseState(
            replace(one_off("EXP-A", ExpenseStatus.DELIVERED), kind=ExpenseKind.WEEKLY, days=None)
        ),
    ),
]


async def answers(s: Any, conn: Any) -> list[Any]:
    """What the shells ask a store, and what the model's invariants read."""
    due = await s.claim_due(conn, T + timedelta(days=30), 10)
    return [
        await s.load_many(conn, {"EXP-W": [P1], "EXP-A": [], "EXP-NONE": [P1]}),
        await s.load_many(conn, {"EXP-W": []}, open_windows=True),
        await s.siblings(conn, "EXP-A", "CRN-1", "PAYEE-1"),
        await s.siblings(conn, "EXP-NEW", "CRN-1", "PAYEE-1"),
        await s.load(conn, "EXP-NEW", siblings_of=("CRN-1", "PAYEE-1")),
        await s.load(conn, "EXP-W", periods=[P2]),
        [(d.key, s.due_window(d.row)) for d in due],
        await s.oldest_due(conn, T + timedelta(days=30)),
        await s.oldest_due(conn, T),
    ]


async def test_the_fake_answers_as_postgresql_does(database_url):
    fake = FakeStore()
    await held_to_postgresql(
        database_url, "expenses_contract", store.MIGRATIONS, store, fake, (FIRST, THEN), answers
    )
    assert [e.expense_id for e in await fake.siblings(None, "EXP-NEW", "CRN-1", "PAYEE-1")] == [
        "EXP-A",
        "EXP-B",
        "EXP-W",
    ], (
        "the one-offs that pay or may pay (active or delivered), and a regular expense ceased and paid after all"
    )
