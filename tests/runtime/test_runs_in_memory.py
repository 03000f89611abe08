"""The fast tier of the shell (issue 27): each service's decider through the runtime's working set over an
in-memory store, in milliseconds. A run of messages loaded once and saved once gives exactly what the same
messages give one at a time, each saved before the next: the batch is an optimisation, never a behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from contracts.expenses import ExpenseKind, OneOffConflictDetected, PaymentAttempted
from contracts.notification import MspSmsAuthorised, MspStepRequired
from expenses.domain.decider import Expenses
from expenses.domain.model import ExpenseState, ExpenseStatus
from notification.domain.decide import Policy
from notification.domain.decider import Notification
from servicekit.decider import Change
from tests.expenses.builders import at, attempt, cease
from tests.notification.builders import T0, approval, authorise, phone
from tests.support.memory import MemoryShell
from tests.workitems.builders import assign, period_closed, tick_off
from workitems.domain.decide import i059pl_id
from workitems.domain.decider import WorkItems

pytestmark = pytest.mark.unit


def shape(outputs: list[list[Any]]) -> list[list[tuple[str, str]]]:
    """What each message caused, as comparable values (ids are derived from their causes, so they compare too)."""
    return [[(e.event_type, str(e.event_id)) for e in events] for events in outputs]


async def test_an_msps_approval_call_and_sms_in_one_run_are_what_they_are_one_at_a_time():
    messages = [approval(), phone("unsuccessful"), authorise(), phone("successful")]
    batch, single = MemoryShell(Notification(Policy())), MemoryShell(Notification(Policy()))
    together = await batch.run(messages, T0)
    apart = await single.one_by_one(messages, T0)
    assert shape(together) == shape(apart)
    assert batch.rows == single.rows
    assert batch.writes == 1, "one MSP, written once for the whole run"
    assert any(isinstance(e, MspSmsAuthorised) for e in together[2])
    assert [e.step.value for e in together[0] if isinstance(e, MspStepRequired)] == ["phone"]


async def test_work_items_raised_assigned_and_ticked_off_in_one_run_are_what_they_are_one_at_a_time():
    closed = period_closed()
    item = i059pl_id(closed.expense_id, closed.period_start)
    messages = [closed, assign(item), tick_off(item)]
    batch, single = MemoryShell(WorkItems()), MemoryShell(WorkItems())
    assert shape(await batch.run(messages, T0)) == shape(await single.one_by_one(messages, T0))
    assert batch.rows == single.rows
    assert batch.rows[item].status.value == "ticked-off"


class MemoryExpenses(MemoryShell[ExpenseState]):
    """The expenses' store as the database answers it: a one-off the payments system codes is loaded with its
    stored siblings (the other active one-offs of the customer and payee)."""

    async def load(self, conn: Any, messages: Sequence[Any]) -> dict[str, ExpenseState | None]:
        states = await super().load(conn, messages)
        for m in messages:
            if (
                isinstance(m, PaymentAttempted)
                and m.kind is ExpenseKind.ONE_OFF
                and states.get(m.expense_id) is None
            ):
                siblings = tuple(
                    s.expense
                    for k, s in self.rows.items()
                    if k != m.expense_id
                    and s.expense is not None
                    and s.expense.kind is ExpenseKind.ONE_OFF
                    and s.expense.status is ExpenseStatus.ACTIVE
                    and (s.expense.customer_ref, s.expense.payee_id) == (m.customer_ref, m.payee_id)
                )
                states[m.expense_id] = ExpenseState(None, siblings=siblings)
        return states

    async def save(
        self,
        conn: Any,
        changes: Sequence[Change[ExpenseState]],
        handled: Sequence[tuple[Any, list[Any]]],
    ) -> None:
        """The expense and its windows are stored; the siblings a decision was given are not."""
        await super().save(
            conn,
            [replace(c, after=replace(c.after, siblings=())) if c.after else c for c in changes],
            handled,
        )


async def test_two_one_offs_the_payments_system_codes_in_one_run_see_each_other_cease_first():
    """103-01050060 step 7's cease first, on the payments system's path: the second one-off of the same customer and
    payee, coded in the same poll as the first, finds it still trying (a sibling known from the run, not the
    database)."""
    first = attempt(kind=ExpenseKind.ONE_OFF, when=at(2026, 11, 24, 9), expense_id="EXP-A")
    second = attempt(kind=ExpenseKind.ONE_OFF, when=at(2026, 11, 24, 9, 5), expense_id="EXP-B")
    later = cease(at(2026, 11, 24, 9, 10), expense_id="EXP-A")
    batch, single = MemoryExpenses(Expenses()), MemoryExpenses(Expenses())
    now = at(2026, 11, 24, 9, 10)
    together = await batch.run([first, second], now)
    assert shape(together) == shape(await single.one_by_one([first, second], now))
    assert [type(e) for e in together[1]][-1] is OneOffConflictDetected
    assert batch.rows == single.rows
    [ceased] = (await batch.run([later], now + timedelta(minutes=1)))[0]
    assert ceased.event_type == "ExpenseCeased"
