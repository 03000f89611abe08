"""The fast tier of the shell (issue 27): each service's decider through the runtime's working set over an
in-memory store, in milliseconds. A run of messages loaded once and saved once gives exactly what the same
messages give one at a time, each saved before the next: the batch is an optimisation, never a behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from contracts.expenses import ExpenseKind, OneOffConflictDetected
from contracts.notification import MspSmsAuthorised, MspStepRequired
from expenses import handlers
from notification.domain.decide import Policy
from notification.domain.decider import Notification
from tests.expenses.builders import at, attempt, cease
from tests.expenses.fake_store import FakeStore
from tests.notification.builders import T0, approval, authorise, phone
from tests.support.memory import MemoryShell
from tests.support.model import installed
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


async def expenses_run(fake: FakeStore, messages: Sequence[Any], now: Any) -> list[list[Any]]:
    """One run of payment attempts through the real shell (``expenses.handlers``) over the store fake that
    ``tests/expenses/test_store_contract.py`` holds to PostgreSQL: loaded once, stepped through, saved once."""
    with installed(handlers, fake):
        loaded = await handlers.on_payment_attempts.load(None, messages)
        outputs = [list(loaded.step(m, now)) for m in messages]
        await loaded.save(None)
    return outputs


async def expenses_one_by_one(
    fake: FakeStore, messages: Sequence[Any], now: Any
) -> list[list[Any]]:
    return [(await expenses_run(fake, [m], now))[0] for m in messages]


async def test_two_one_offs_the_payments_system_codes_in_one_run_see_each_other_cease_first():
    """103-01050060 step 7's cease first, on the payments system's path: the second one-off of the same customer and
    payee, coded in the same poll as the first, finds it still trying (a sibling known from the run, not the
    database)."""
    first = attempt(kind=ExpenseKind.ONE_OFF, when=at(2026, 11, 24, 9), expense_id="EXP-A")
    second = attempt(kind=ExpenseKind.ONE_OFF, when=at(2026, 11, 24, 9, 5), expense_id="EXP-B")
    later = cease(at(2026, 11, 24, 9, 10), expense_id="EXP-A")
    batch, single = FakeStore(), FakeStore()
    now = at(2026, 11, 24, 9, 10)
    together = await expenses_run(batch, [first, second], now)
    assert shape(together) == shape(await expenses_one_by_one(single, [first, second], now))
    assert [type(e) for e in together[1]][-1] is OneOffConflictDetected
    assert (batch.expenses, batch.windows) == (single.expenses, single.windows)
    with installed(handlers, batch):
        [ceased] = await handlers.on_staff_action(None, later, now + timedelta(minutes=1))
    assert ceased.event_type == "ExpenseCeased"
