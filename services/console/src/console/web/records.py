"""A record's page: a customer's, a work item's, an MSP's or an expense's, each read audited and scoped by the
officer's roles; what it offers is the desk's (:mod:`console.desk.offers`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from console import pages, store
from console.desk.offers import (
    RECORD_STEPS_ON_ITEMS,
    SUBJECT_ACTIONS,
    SUBJECT_QUEUES,
    SUBJECT_READERS,
    known_queues,
    offers_assign_to_me,
    opened_subjects,
    readable,
    record_steps_on_item,
    risk_answered,
    transfer_guidance,
    work_item_actions,
)
from console.desk.records import SAFETY_CODES, Entry, Note, WorkItem, refusal
from console.desk.views import STEP_ACTIONS, expense_actions, expense_view, msp_actions, msp_view
from console.web.common import (
    KEY_FIELDS,
    DueTimes,
    Now,
    PageRefused,
    Runtime,
    SignedIn,
    action_forms,
    action_inputs,
    as_seen,
    audited,
    hidden,
    log,
    page_id,
)
from contracts import expenses as x
from contracts.notification import RiskFact
from contracts.roles import KNOWN_TO_EVERY_OFFICER, QUEUE_READERS, way_out
from contracts.workitems import AssignWorkItem, Queue, TickOffWorkItem

router = APIRouter()


@router.get("/customers/{ident:path}")
async def customer(runtime: Runtime, officer: SignedIn, ident: str) -> Response:
    return await audited(officer, "customer", ident, _customer(runtime, officer, page_id(ident)))


@router.get("/work-items/{ident:path}")
async def work_item(runtime: Runtime, officer: SignedIn, due: DueTimes, ident: str) -> Response:
    return await audited(
        officer, "work-item", ident, _work_item(runtime, officer, page_id(ident), due)
    )


@router.get("/msp/{ident:path}")
async def msp(runtime: Runtime, officer: SignedIn, ident: str) -> Response:
    return await audited(officer, "msp", ident, _msp(runtime, officer, page_id(ident)))


@router.get("/expenses/{ident:path}")
async def expense(runtime: Runtime, officer: SignedIn, now: Now, ident: str) -> Response:
    return await audited(officer, "expense", ident, _expense(runtime, officer, page_id(ident), now))


async def _work_item(runtime: Runtime, officer: pages.Officer, ident: str, due: pages.Due) -> str:
    queues = readable(officer.roles)
    async with runtime.pool.acquire() as conn:
        item = await store.work_item(conn, ident)
        if item is None or (
            item.queue not in queues and Queue(item.queue) not in KNOWN_TO_EVERY_OFFICER
        ):
            raise PageRefused(
                404, "Not found", "No such work item in your queues (or not yet known here)."
            )
        queue = Queue(item.queue)
        if item.queue not in queues:
            # an Income Management item: every officer learns of it, and the way out
            raise PageRefused(
                403,
                "Not in your queues",
                "This is an Income Management work item: only officers trained in Income Management work it.",
                way_out(TickOffWorkItem.TYPE, queue),
            )
        names = work_item_actions(item)
        colleagues = await store.officers_opening(conn, [r.value for r in QUEUE_READERS[queue]])
        actions = action_forms(
            officer,
            names,
            item.work_item_id,
            queue,
            frozenset(names[:1]),
            choices={"assignee_id": tuple(c for c in colleagues if c != item.assignee_id)},
        )
        if offers_assign_to_me(officer.officer_id, officer.roles, item, names):
            mine = hidden(
                action_inputs(AssignWorkItem.TYPE, item.work_item_id),
                {"assignee_id": officer.officer_id},
            )
            actions.insert(
                0,
                pages.ActionForm(
                    AssignWorkItem.TYPE,
                    "Assign to me",
                    mine,
                    str(uuid.uuid4()),
                    open=True,
                    form="AssignToMe",
                ),
            )
        actions = [
            *await _record_steps(conn, officer, item),
            *(as_seen(a, item.assignee_id) for a in actions),
        ]
        entries = await store.timeline(conn, "work-item", ident)
        commands = await store.commands_on(conn, officer.officer_id, ident)
        notes = await _notes(conn, officer, "work-item", ident)
        risk = await _risk(conn, item)
    return pages.work_item_page(officer, item, entries, actions, commands, notes, due, risk)


async def _record_steps(
    conn: Any, officer: pages.Officer, item: WorkItem
) -> list[pages.ActionForm]:
    """The forms of the record's own actions that are the item's next steps (the escalation's job number)."""
    if item.code not in RECORD_STEPS_ON_ITEMS:
        return []
    expense_id = str(item.raised.subject_id)
    expense = expense_view(expense_id, await store.timeline(conn, "expense", expense_id))
    names = record_steps_on_item(item, expense)
    job = {"mysupport_job": expense.mysupport_job} if expense.mysupport_job else {}
    return action_forms(officer, names, expense_id, open_=frozenset(names), prefill=job)


async def _risk(conn: Any, item: WorkItem) -> RiskFact | None:
    """Which risk a risk-response item answers, from its MSP's events."""
    if item.code not in SAFETY_CODES:
        return None
    return risk_answered(item, await store.timeline(conn, "msp", str(item.raised.subject_id)))


async def _notes(conn: Any, officer: pages.Officer, subject: str, ident: str) -> list[Note]:
    """The notes colleagues wrote on a record the officer may open; every read audited (how many, never what)."""
    notes = await store.notes_on(conn, subject, ident)
    if notes:
        log.info(
            "notes read",
            officer_id=officer.officer_id,
            page=subject,
            count=len(notes),
            **{KEY_FIELDS[subject]: ident},
        )
    return notes


async def _customer(runtime: Runtime, officer: pages.Officer, customer_ref: str) -> str:
    """Everything of a customer an officer may know. 103-01050060 step 1: all staff investigate the work items on
    a customer's record, so an Income Management item shows to every officer (its title and status, no details,
    no action), with the transfer guidance for an officer not trained; another queue's items only to its readers."""
    queues = readable(officer.roles)
    async with runtime.pool.acquire() as conn:
        items = await store.customer_items(conn, customer_ref, known_queues(queues))
        subjects = [
            s
            for s in await store.customer_subjects(conn, customer_ref)
            if s[0] in opened_subjects(queues)
        ]
    # the same answer whatever records the officer's roles do not open
    if not items and not subjects:
        raise PageRefused(404, "Not found", "Nothing is known here of this customer.")
    return pages.customer_page(
        officer, customer_ref, subjects, items, queues, transfer_guidance(items, queues)
    )


async def _entries(conn: Any, officer: pages.Officer, subject: str, ident: str) -> list[Entry]:
    """A record's events, if the officer's roles open its kind and it exists (more than refusals) here."""
    if SUBJECT_QUEUES[subject].value not in readable(officer.roles):
        raise PageRefused(
            403, "Not in your queues", SUBJECT_READERS[subject], way_out(SUBJECT_ACTIONS[subject])
        )
    entries = await store.timeline(conn, subject, ident)
    if all(refusal(e.event) for e in entries):  # nothing but refusals: no such record here
        if others := [k for k in await store.kinds_of(conn, ident) if k != subject]:
            log.warning(
                "cross-kind read refused",
                officer_id=officer.officer_id,
                page=subject,
                kind=others[0],
                status=404,
                **{KEY_FIELDS[subject]: ident},
            )
        raise PageRefused(404, "Not found", f"No such {subject} (or not yet known here).")
    return entries


async def _msp(runtime: Runtime, officer: pages.Officer, ident: str) -> str:
    async with runtime.pool.acquire() as conn:
        entries = await _entries(conn, officer, "msp", ident)
        commands = await store.commands_on(conn, officer.officer_id, ident)
        notes = await _notes(conn, officer, "msp", ident)
        items = await store.work_items_about(conn, ident, tuple(readable(officer.roles)))
    view = msp_view(ident, entries)
    wanted = frozenset(a for s in view.required for a in STEP_ACTIONS[s.step])
    actions = action_forms(officer, msp_actions(view), ident, open_=wanted)
    return pages.msp_page(officer, view, entries, actions, commands, items, notes)


async def _expense(runtime: Runtime, officer: pages.Officer, ident: str, now: datetime) -> str:
    async with runtime.pool.acquire() as conn:
        entries = await _entries(conn, officer, "expense", ident)
        commands = await store.commands_on(conn, officer.officer_id, ident)
        notes = await _notes(conn, officer, "expense", ident)
    expense = expense_view(ident, entries)
    prefill: dict[str, str] = {
        k: str(expense.facts[k])
        for k in ("customer_ref", "payee_id", "state")
        if k in expense.facts
    }
    names = [*expense_actions(expense), x.CodeOneOffExpense.TYPE]
    actions = action_forms(officer, names, ident, prefill=prefill)
    return pages.expense_page(officer, expense, entries, actions, commands, notes, now)
