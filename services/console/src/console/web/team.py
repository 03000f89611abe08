"""A team leader's view (issue 40): per queue and per officer, the open, overdue and assigned items, and several
items given to one officer in one action, each answered on its own (given, refused by the work items service and
why, or not sent and why)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from console import issue as issuing
from console import pages, store
from console.desk.offers import readable
from console.desk.team import MAX_BULK, leads_a_team, per_officer, per_queue, skipped_because
from console.web.common import (
    DueTimes,
    Form,
    Now,
    PageRefused,
    Runtime,
    SignedIn,
    html,
    log,
    one_filter,
)
from contracts.roles import QUEUE_READERS
from contracts.workitems import AssignWorkItem, HandOverReason, Queue
from servicekit.http.web import Refused

router = APIRouter()
TEAM = f"{pages.BASE}/team"
LEADERS_ONLY = "The team's view is for team leaders."
NOTICES_FOR = timedelta(hours=24)
"""How far back the team's page lists what the team was told (a safety item raised, an item overdue)."""


def _leader(officer: pages.Officer) -> list[str]:
    """The leader's queues, or refused for an officer who leads no team."""
    if not leads_a_team(officer.roles):
        raise PageRefused(403, "Not a team leader", LEADERS_ONLY)
    return readable(officer.roles)


@router.get("/team")
async def team(
    runtime: Runtime,
    officer: SignedIn,
    now: Now,
    due: DueTimes,
    queue: Annotated[str | None, Query()] = None,
    holder: Annotated[str | None, Query()] = None,
) -> Response:
    """The leader's queues and officers at a glance, and the open items to give (of one queue, or one officer)."""
    queues = _leader(officer)
    chosen = one_filter("queue", queue, queues)
    held_by = one_filter("holder", holder)
    settings: Any = runtime.settings
    filters = store.Filters(
        (chosen,) if chosen else tuple(queues),
        "open",
        assignee_id=held_by,
        service_levels_h=settings.service_levels_h,
        now=now,
    )
    readers = sorted({r.value for q in queues for r in QUEUE_READERS[Queue(q)]})
    async with runtime.pool.acquire() as conn:
        rows = [
            dict(r) for r in await store.team_counts(conn, queues, settings.service_levels_h, now)
        ]
        items, total = await store.work_items(conn, filters, 50, 0)
        colleagues = await store.officers_opening(conn, readers)
        notices = await store.recent_notices(conn, queues, now - NOTICES_FOR)
    log.info("team read", officer_id=officer.officer_id, page="team", status=200)
    return html(
        pages.team_page(
            officer,
            per_queue(rows, queues),
            per_officer(rows),
            items,
            total,
            colleagues,
            [r.value for r in HandOverReason],
            due,
            chosen,
            held_by,
            [dict(n) for n in notices],
        )
    )


@router.post("/team/give")
async def give(runtime: Runtime, officer: SignedIn, form: Form) -> Response:
    """Each chosen item given to the chosen officer: a command of its own, as the officer saw the item held."""
    _leader(officer)
    chosen = [str(i) for i in form.getlist("work_item_id")][:MAX_BULK]
    assignee = str(form.get("assignee_id") or "")
    reason = str(form.get("reason") or "") or None
    if not chosen or not assignee:
        raise PageRefused(
            400, "Nothing to give", "Choose the items, and the officer to give them to."
        )
    sent: list[str] = []
    skipped: list[str] = []
    for item in chosen:
        seen = str(form.get(f"seen:{item}") or "")
        fields: dict[str, Any] = {"work_item_id": item, "assignee_id": assignee}
        fields |= (
            {"expected_assignee_id": seen, "reason": reason} if seen else {"expects_nobody": True}
        )
        try:
            body, _ = await issuing.issue(
                runtime, officer.officer_id, frozenset(officer.roles), AssignWorkItem, fields, None
            )
        except Refused as exc:
            skipped.append(f"{item}~{exc.body.get('reason_code') or exc.body['error']}")
            continue
        sent.append(body["command_id"])
    log.info(
        "items given",
        officer_id=officer.officer_id,
        count=len(sent),
        skipped=len(skipped),
        status=303,
    )
    query = urlencode([*(("c", c) for c in sent), *(("skip", s) for s in skipped)])
    return RedirectResponse(f"{TEAM}/given?{query}", 303)


@router.get("/team/given")
async def given(
    runtime: Runtime,
    officer: SignedIn,
    c: Annotated[list[str] | None, Query(max_length=MAX_BULK)] = None,
    skip: Annotated[list[str] | None, Query(max_length=MAX_BULK)] = None,
) -> Response:
    """What became of each item given in one action: given, refused and why, waiting, or not sent and why."""
    _leader(officer)
    try:
        ids = [uuid.UUID(i) for i in (c or [])]
    except ValueError:
        raise PageRefused(404, "Not found", "No such action of yours.") from None
    async with runtime.pool.acquire() as conn:
        commands = await store.commands_of(conn, officer.officer_id, ids)
    not_sent = [
        (item, skipped_because(code)) for item, _, code in (s.partition("~") for s in skip or [])
    ]
    return html(pages.given_page(officer, commands, not_sent))
