"""The queue: the officer's work, most urgent first; and, for an officer whose roles open no queue (all staff),
the search that finds a customer's record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from console import pages, store
from console.desk.offers import SUBJECT_QUEUES, readable
from console.desk.views import codes_for
from console.web.common import DueTimes, Now, PageRefused, Runtime, SignedIn, html, log, one_filter
from contracts.workitems import WorkItemCode, WorkItemStatus

router = APIRouter()
PAGE_SIZE = 25
MAX_QUERY_FIELDS = 20
Filter = Annotated[str | None, Query()]


@router.get("/")
async def queue(
    request: Request,
    runtime: Runtime,
    officer: SignedIn,
    now: Now,
    due: DueTimes,
    page: Annotated[str, Query()] = "1",
    status: Filter = None,
    queue: Filter = None,
    code: Filter = None,
    customer_ref: Filter = None,
    mine: Filter = None,
    q: Filter = None,
    order: Filter = None,
) -> Response:
    """The officer's work: open items of their queues, most urgent first, unless the filters say otherwise."""
    if len(request.query_params.multi_items()) > MAX_QUERY_FIELDS:
        raise PageRefused(400, "Bad address", f"A page takes at most {MAX_QUERY_FIELDS} filters.")
    queues = readable(officer.roles)
    if not queues and (wanted_customer := one_filter("q", q)):
        # All staff (103-01050060 step 1) find a customer's record: its work items, and the way on
        return RedirectResponse(f"{pages.BASE}/customers/{quote(wanted_customer, safe='')}", 303)
    wanted = _wanted(queues, page, status, queue, code, customer_ref, mine, q, order)
    filters = _filters(wanted, queues, officer, runtime.settings, now)
    async with runtime.pool.acquire() as conn:
        items, total = await store.work_items(
            conn, filters, PAGE_SIZE, (wanted.page - 1) * PAGE_SIZE
        )
        # a search for an MSP's or an expense's id: its page, where the officer's roles open it (an expense
        # with no work item is no dead end)
        searched = wanted.search or ""
        records = [
            (kind, searched)
            for kind in (await store.kinds_of(conn, searched) if searched else [])
            if kind in SUBJECT_QUEUES and SUBJECT_QUEUES[kind].value in queues
        ]
    log.info("work items listed", officer_id=officer.officer_id, page="queue", status=200)
    return html(
        pages.queue_page(officer, wanted, queues, codes_for(queues), items, total, due, records)
    )


def _wanted(
    queues: list[str],
    page: str,
    status: str | None,
    queue: str | None,
    code: str | None,
    customer_ref: str | None,
    mine: str | None,
    q: str | None,
    order: str | None,
) -> pages.QueueQuery:
    """The queue the address asks for, each filter one the page offers (or a refusal)."""
    try:
        page_no = max(1, min(10_000, int(page)))
    except ValueError:
        page_no = 1
    return pages.QueueQuery(
        one_filter("queue", queue, queues),
        one_filter("status", status, [*(s.value for s in WorkItemStatus), pages.ANY_STATUS])
        or "open",
        one_filter("code", code, [c.value for c in WorkItemCode]),
        one_filter("customer_ref", customer_ref),
        page_no,
        PAGE_SIZE,
        mine=one_filter("mine", mine, ["1"]) == "1",
        search=one_filter("q", q),
        order=one_filter("order", order, list(store.ORDERS)) or "urgency",
    )


def _filters(
    wanted: pages.QueueQuery,
    queues: list[str],
    officer: pages.Officer,
    settings: Any,
    now: datetime,
) -> store.Filters:
    """What the store lists for the query: the officer's queues, the service levels, now."""
    return store.Filters(
        (wanted.queue,) if wanted.queue else tuple(queues),
        None if wanted.status == pages.ANY_STATUS else wanted.status,
        wanted.code,
        wanted.customer_ref,
        officer.officer_id if wanted.mine else None,
        wanted.search,
        wanted.order,
        settings.service_levels_h,
        now,
    )
