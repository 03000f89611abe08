"""The expenses service end to end on a real Kafka broker and a real PostgreSQL server.

Time is a simulated clock (an explicit setting in production), so 14 days pass in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest

from contracts.catalogue import EXPENSE_ACTIONS, EXPENSE_EVENTS, PAYMENT_ATTEMPTS
from contracts.envelope import Event
from contracts.expenses import ExpenseActionRejected, ExpenseKind, OneOffExpenseCoded
from expenses import handlers, store
from expenses.app import ExpensesSettings, create_runtime
from servicekit.clock import SimulatedClock
from servicekit.service import ServiceRuntime
from tests.expenses.builders import at, attempt, cease, code, utc, vary
from tests.support.bus import running
from tests.support.drain import read_settled
from tests.support.kafka_tools import eventually, header, publish, read_topic

pytestmark = pytest.mark.integration
MONDAY = date(2027, 3, 1)
START = at(2027, 3, 1, 10)


def settings(kafka, database_url, prefix) -> ExpensesSettings:
    return ExpensesSettings(
        **kafka.settings("expenses"),
        database_url=database_url,
        topic_prefix=prefix,
        topic_partitions=3,
        scheduler_interval_s=0.1,
    )


async def send(kafka, prefix: str, topic: str, *events: Event) -> None:
    for event in events:
        await publish(
            kafka.bootstrap_servers, f"{prefix}{topic}", [event.to_json()], key=event.key.encode()
        )


async def outputs(
    kafka, prefix: str, at_least: int, after: ServiceRuntime | None = None
) -> dict[str, list[Event]]:
    """The expense events once ``at_least`` arrived; with ``after``, everything once that service drained."""
    topic = f"{prefix}{EXPENSE_EVENTS.name}"
    records = await read_topic(kafka.bootstrap_servers, topic, at_least=at_least)
    if after is not None:
        records = await read_settled(after, topic)
    by_expense: dict[str, list[Event]] = defaultdict(list)
    for r in records:
        event = EXPENSE_EVENTS.parse(r.value)
        by_expense[event.key].append(event)
    return by_expense


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


async def test_weekly_fortnightly_and_one_off_expenses_each_end_in_the_right_events(
    kafka, database_url, topic_prefix
):
    clock = SimulatedClock.starting_at(START)
    runtime = create_runtime(settings(kafka, database_url, topic_prefix), clock)
    async with running(runtime):
        await send(
            kafka,
            topic_prefix,
            PAYMENT_ATTEMPTS.name,
            attempt(expense_id="EXP-W", kind=ExpenseKind.WEEKLY, when=START, scheduled_on=MONDAY),
            attempt(
                expense_id="EXP-F", kind=ExpenseKind.FORTNIGHTLY, when=START, scheduled_on=MONDAY
            ),
            attempt(
                expense_id="EXP-F",
                kind=ExpenseKind.FORTNIGHTLY,
                when=at(2027, 3, 5, 10),
                scheduled_on=MONDAY,
                outcome="delivered",
            ),
            attempt(expense_id="EXP-O", kind=ExpenseKind.ONE_OFF, when=START),
        )
        await outputs(
            kafka, topic_prefix, at_least=4
        )  # the officer acts on an expense already known
        clock.set(at(2027, 3, 2, 9))  # day 2 of the one-off, when the service handles the cease
        await send(
            kafka,
            topic_prefix,
            EXPENSE_ACTIONS.name,
            cease(at(2027, 3, 2, 9), "EXP-O", hardship=True),
        )
        await outputs(kafka, topic_prefix, at_least=6)
        clock.set(START + timedelta(days=15))
        by_expense = await outputs(kafka, topic_prefix, at_least=8, after=runtime)

    weekly, fortnightly, one_off = by_expense["EXP-W"], by_expense["EXP-F"], by_expense["EXP-O"]
    assert types(weekly) == ["ExpenseUndelivered", "UndeliveredExpensePeriodClosed"]
    assert (weekly[0].status, weekly[0].procedure_step) == ("UNDLVD RI", 4)  # type: ignore[attr-defined]
    assert weekly[1].procedure_step == 5  # type: ignore[attr-defined]
    assert weekly[1].closed_at == utc(at(2027, 3, 8, 0))  # type: ignore[attr-defined]
    assert types(fortnightly) == ["ExpenseUndelivered", "ExpenseDelivered"], (
        "delivered in time: no closure"
    )
    assert types(one_off) == [
        "ExpenseUndelivered",
        "ExpenseActionRejected",
        "ExpenseRemovalEscalationRequested",
        "UndeliveredExpensePeriodClosed",
    ]
    assert one_off[0].status == "UNDLVD IM"  # type: ignore[attr-defined]
    assert one_off[1].reason_code == "one-off-day-2"  # type: ignore[attr-defined]
    assert one_off[3].procedure_step == 8  # type: ignore[attr-defined]
    assert one_off[3].closed_at == utc(at(2027, 3, 3, 0))  # type: ignore[attr-defined]


async def test_a_window_that_passes_while_the_service_is_down_closes_exactly_once_on_start(
    kafka, database_url, topic_prefix
):
    clock = SimulatedClock.starting_at(START)
    cfg = settings(kafka, database_url, topic_prefix)
    async with running(create_runtime(cfg, clock)):
        await send(
            kafka,
            topic_prefix,
            PAYMENT_ATTEMPTS.name,
            attempt(expense_id="EXP-R", when=START, scheduled_on=MONDAY),
        )
        await outputs(kafka, topic_prefix, at_least=1)
    clock.advance(timedelta(days=8))  # the deadline passes while nothing runs
    for _ in range(2):  # started twice: fired on the first start, not again
        async with running(create_runtime(cfg, clock)) as runtime:

            async def closed() -> bool:
                async with runtime.pool.acquire() as conn:
                    return (
                        await conn.fetchval("SELECT count(*) FROM windows WHERE status = 'open'")
                        == 0
                    )

            await eventually(closed, what="window closed")
    events = (await outputs(kafka, topic_prefix, at_least=2))["EXP-R"]
    assert types(events) == ["ExpenseUndelivered", "UndeliveredExpensePeriodClosed"]


async def test_bad_input_goes_to_the_dead_letter_topic_and_a_forbidden_action_is_rejected(
    kafka, database_url, topic_prefix
):
    def mutated(**change: Any) -> bytes:
        data = json.loads(
            attempt(expense_id="EXP-B", when=START, kind=ExpenseKind.ONE_OFF).to_json()
        )
        data.update(change)
        return json.dumps({k: v for k, v in data.items() if v is not None}).encode()

    naive_time = mutated(attempted_at="2027-03-01T10:00:00")
    async with running(
        create_runtime(
            settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(START)
        )
    ) as runtime:
        await publish(
            kafka.bootstrap_servers,
            f"{topic_prefix}{PAYMENT_ATTEMPTS.name}",
            [mutated(kind="quarterly"), mutated(state=None), naive_time],
            key=b"EXP-B",
        )
        await send(
            kafka,
            topic_prefix,
            PAYMENT_ATTEMPTS.name,
            attempt(expense_id="EXP-V", when=START, scheduled_on=MONDAY),
        )
        await outputs(kafka, topic_prefix, at_least=1)
        await send(
            kafka, topic_prefix, EXPENSE_ACTIONS.name, vary(at(2027, 3, 1, 11), expense_id="EXP-V")
        )
        dead = await read_settled(runtime, f"{topic_prefix}{PAYMENT_ATTEMPTS.dlq}")
        events = await outputs(kafka, topic_prefix, at_least=2, after=runtime)
    details = [header(r, "dlq.detail") or "" for r in dead]
    assert [header(r, "dlq.reason") for r in dead] == ["schema-invalid"] * 3
    assert "kind" in details[0]
    assert "state is required for a one-off" in details[1]
    assert "attempted_at" in details[2]
    assert "EXP-B" not in events, "nothing was decided from a bad message"
    [_, rejected] = events["EXP-V"]
    assert (rejected.event_type, rejected.reason_code) == ("ExpenseActionRejected", "not-a-one-off")  # type: ignore[attr-defined]


async def test_a_window_whose_stored_row_no_longer_reads_is_quarantined_and_the_other_windows_close(
    kafka, database_url, topic_prefix
):
    clock = SimulatedClock.starting_at(START)
    runtime = create_runtime(settings(kafka, database_url, topic_prefix), clock)
    async with running(runtime):
        await send(
            kafka,
            topic_prefix,
            PAYMENT_ATTEMPTS.name,
            attempt(expense_id="EXP-Q1", when=START, scheduled_on=MONDAY),
            attempt(expense_id="EXP-Q2", when=START, scheduled_on=MONDAY),
        )
        await outputs(kafka, topic_prefix, at_least=2)
        async with (
            runtime.pool.acquire() as conn
        ):  # a row an older or newer version wrote, that this one cannot read
            await conn.execute(
                "UPDATE windows SET failure_reason = 'not-a-reason-any-more' WHERE expense_id = 'EXP-Q1'"
            )
        clock.advance(timedelta(days=8))

        async def set_aside() -> bool:
            async with runtime.pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM timer_quarantine") == 1

        await eventually(set_aside, what="the unreadable window quarantined")
        by_expense = await outputs(kafka, topic_prefix, at_least=3, after=runtime)
        async with runtime.pool.acquire() as conn:
            [row] = await conn.fetch("SELECT timer_key, error_type FROM timer_quarantine")
        checks = await runtime.readiness()
    assert types(by_expense["EXP-Q2"]) == ["ExpenseUndelivered", "UndeliveredExpensePeriodClosed"]
    assert types(by_expense["EXP-Q1"]) == ["ExpenseUndelivered"], (
        "set aside, not closed and not lost"
    )
    assert (row["timer_key"], row["error_type"]) == (f"EXP-Q1/{MONDAY}", "ValueError")
    assert checks["timers_on_time"], "a quarantined timer is counted apart, not overdue"


@pytest.mark.rule("IM-4.4", "IM-4.5")
async def test_a_doc_note_given_with_a_cease_is_kept_in_the_expenses_history_and_never_published(
    kafka, database_url, topic_prefix
):
    """Step 4: "Determine the most appropriate action to be taken after discussing with the customer, and update
    as appropriate [...]. Record details on a DOC." """
    clock = SimulatedClock.starting_at(START)
    runtime = create_runtime(settings(kafka, database_url, topic_prefix), clock)
    note = (
        "Discussed with the customer: reported late, agreed to cease and recommence next fortnight."
    )
    async with running(runtime):
        await send(
            kafka,
            topic_prefix,
            PAYMENT_ATTEMPTS.name,
            attempt(expense_id="EXP-DOC", kind=ExpenseKind.WEEKLY, when=START, scheduled_on=MONDAY),
        )
        await outputs(kafka, topic_prefix, at_least=1)
        ceasing = cease(at(2027, 3, 2, 9), "EXP-DOC").model_copy(update={"doc_note": note})
        await send(kafka, topic_prefix, EXPENSE_ACTIONS.name, ceasing)
        by_expense = await outputs(kafka, topic_prefix, at_least=2)
        async with runtime.pool.acquire() as conn:
            [kept] = await store.doc_notes(conn, "EXP-DOC")
    assert types(by_expense["EXP-DOC"]) == ["ExpenseUndelivered", "ExpenseCeased"]
    assert (kept.note, kept.action, kept.officer_id) == (note, "CeaseExpense", ceasing.officer_id)
    assert not any(note in e.model_dump_json() for e in by_expense["EXP-DOC"]), (
        "kept, never published"
    )


@pytest.mark.rule("IM-7.2")
async def test_two_one_offs_coded_at_once_for_the_same_customer_and_payee_cannot_both_pass(
    kafka, database_url, topic_prefix
):
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." Two requests on different partitions are decided one
    after the other: the second waits for the first's customer-and-payee lock, then sees the first and is refused."""
    runtime = create_runtime(
        settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(START)
    )
    now = utc(at(2027, 3, 2, 10))
    async with running(runtime), runtime.pool.acquire() as first, runtime.pool.acquire() as second:
        second_pid = second.get_server_pid()
        async with first.transaction():
            [coded] = await handlers.on_staff_action(
                first, code(at(2027, 3, 2, 10), "EXP-CC-1"), now
            )
            assert isinstance(coded, OneOffExpenseCoded)

            async def other() -> list[Event]:
                async with second.transaction():
                    return list(
                        await handlers.on_staff_action(
                            second, code(at(2027, 3, 2, 10), "EXP-CC-2"), now
                        )
                    )

            racing = asyncio.create_task(other())

            async def waits_for_the_lock() -> bool:
                state = await first.fetchval(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", second_pid
                )
                return state == "Lock"

            await eventually(
                waits_for_the_lock,
                what="the second coding waiting for the customer and payee's lock",
            )
        [refused] = await asyncio.wait_for(racing, timeout=30)
    assert isinstance(refused, ExpenseActionRejected)
    assert refused.reason_code == "existing-one-off-still-trying"
