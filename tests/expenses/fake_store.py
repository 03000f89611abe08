"""The expenses store in memory, answering as ``expenses.store`` answers over PostgreSQL: the functions the shells
call (:mod:`expenses.handlers`), with the SQL's own semantics written out (which rows a query selects, in which
order, and what an upsert keeps of the row it meets). ``tests/expenses/test_store_contract.py`` runs the same
operations against PostgreSQL and this fake and compares every answer, so the fake cannot drift from it.

The model tests (issue 38) put it in place of the module (``tests.support.model.installed``), so that the real
shells (their loads, their sibling queries, their saves) run over it in milliseconds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from contracts.expenses import ExpenseKind
from expenses import handlers
from expenses.domain.model import (
    DocNote,
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    WindowStatus,
)
from servicekit.timers.scheduler import Due


@dataclass
class FakeStore:
    expenses: dict[str, Expense] = field(default_factory=dict)
    windows: dict[tuple[str, date], PeriodWindow] = field(default_factory=dict)
    docs: dict[str, DocNote] = field(default_factory=dict)

    async def lock_one_offs_of(self, conn: Any, pairs: Iterable[tuple[str, str]]) -> None:
        """Advisory locks: one run at a time here, so nothing to wait for."""

    async def load_many(
        self, conn: Any, periods: Mapping[str, Iterable[date]], *, open_windows: bool = False
    ) -> dict[str, ExpenseState]:
        out: dict[str, ExpenseState] = {}
        for expense_id in sorted(periods):
            expense = self.expenses.get(expense_id)
            wanted = set(periods[expense_id])
            windows = (
                {
                    p: w
                    for (i, p), w in sorted(self.windows.items())
                    if i == expense_id
                    and (p in wanted or (open_windows and w.status is WindowStatus.OPEN))
                }
                if expense is not None
                else {}
            )
            out[expense_id] = ExpenseState(expense, windows)
        return out

    async def siblings(
        self, conn: Any, expense_id: str, customer_ref: str, payee_id: str
    ) -> tuple[Expense, ...]:
        return tuple(
            e
            for i, e in sorted(self.expenses.items())
            if (e.customer_ref, e.payee_id) == (customer_ref, payee_id)
            and i != expense_id
            and (
                (
                    e.kind is ExpenseKind.ONE_OFF
                    and e.status in (ExpenseStatus.ACTIVE, ExpenseStatus.DELIVERED)
                )
                or e.late_paid_at is not None
            )
        )

    async def load(
        self,
        conn: Any,
        expense_id: str,
        *,
        periods: Iterable[date] = (),
        open_windows: bool = False,
        siblings_of: tuple[str, str] | None = None,
    ) -> ExpenseState:
        state = (await self.load_many(conn, {expense_id: periods}, open_windows=open_windows))[
            expense_id
        ]
        if siblings_of is None:
            return state
        return replace(state, siblings=await self.siblings(conn, expense_id, *siblings_of))

    async def save(self, conn: Any, changes: Iterable[tuple[ExpenseState, ExpenseState]]) -> None:
        """The upserts: an expense met keeps its facts and takes its amount, status, escalation, job and end; a
        window met takes its status, and its deadline unless the new one is unknown."""
        for before, after in changes:
            expense = after.expense
            if expense is not None and expense != before.expense:
                met = self.expenses.get(expense.expense_id)
                self.expenses[expense.expense_id] = (
                    expense
                    if met is None
                    else replace(
                        met,
                        amount=expense.amount,
                        status=expense.status,
                        escalated_at=expense.escalated_at,
                        mysupport_job=expense.mysupport_job,
                        ended_at=expense.ended_at,
                        late_paid_at=expense.late_paid_at,
                    )
                )
            for period, window in after.windows.items():
                if before.windows.get(period) == window:
                    continue
                key = (window.expense_id, period)
                met_window = self.windows.get(key)
                self.windows[key] = (
                    window
                    if met_window is None
                    else replace(
                        met_window,
                        status=window.status,
                        closes_at=window.closes_at or met_window.closes_at,
                    )
                )

    def _due(self, now: datetime) -> list[tuple[str, date]]:
        return sorted(
            (
                k
                for k, w in self.windows.items()
                if w.status is WindowStatus.OPEN and w.closes_at is not None and w.closes_at <= now
            ),
            key=lambda k: (self.windows[k].closes_at, k),
        )

    async def claim_due(self, conn: Any, now: datetime, limit: int) -> Sequence[Due]:
        return [
            Due(f"{i}/{p}", (self.expenses[i], self.windows[(i, p)])) for i, p in self._due(now)
        ][:limit]

    @staticmethod
    def due_window(row: tuple[Expense, PeriodWindow]) -> tuple[ExpenseState, PeriodWindow]:
        expense, window = row
        return ExpenseState(expense, {window.period_start: window}), window

    async def oldest_due(self, conn: Any, now: datetime) -> datetime | None:
        due = self._due(now)
        return self.windows[due[0]].closes_at if due else None

    async def keep_doc(self, conn: Any, doc: DocNote) -> None:
        self.docs.setdefault(doc.event_id, doc)

    def state(self, expense_id: str) -> ExpenseState:
        """An expense with all its windows (what an invariant reads)."""
        return ExpenseState(
            self.expenses.get(expense_id),
            {p: w for (i, p), w in sorted(self.windows.items()) if i == expense_id},
        )


def _answers_as_the_store(fake: FakeStore) -> handlers.Store:
    """The fake is a store the shell can read through (mypy holds it to the protocol)."""
    return fake
