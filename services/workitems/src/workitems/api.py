"""The read-only HTTP API: work items by customer, queue and status; one item with its history.

Every route here (and every operational one but ``/health`` and ``/ready``) sits behind the bearer-token
guard the runtime applies; a handler runs only for a verified token, whose ``sub`` is the officer and whose
``roles`` say which queues they may read (``contracts.roles``): nothing outside those queues is listed, an
explicit filter on another queue is a 403, and an item of another queue is not found.
"""

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, Field

from contracts.roles import KNOWN_TO_EVERY_OFFICER, OPERATIONS, readable_queues, way_out
from contracts.workitems import Queue, TickOffWorkItem, WorkItemCode, WorkItemStatus
from servicekit.http.web import (
    Principal,
    Refused,
    api_app,
    openapi_document,
    refused,
    render,
    snapshot_cli,
)
from servicekit.logs import get_logger
from workitems import store
from workitems.domain.model import HistoryEntry, WorkItem

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("workitems.api")

PREFIX = "/work-items"
CUSTOMERS = "/customers"
OPENAPI_PATH = "/openapi.json"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
OPENAPI_SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.json"
MAX_VALUE_CHARS = 200
"""Longest query value or item id accepted (the longest work item id is well under it)."""
QUERY_NAMES = frozenset(
    {"customer_ref", "queue", "status", "code", "assignee_id", "after", "limit"}
)
DESCRIPTION = (
    "Read-only API of the staff work items raised by the undelivered Income Management expenses procedure "
    "(103-01050060) and the MSP implementation procedure (104-07050030). Work items are changed only "
    "through the workitems.commands topic."
)


class WorkItemPage(BaseModel):
    items: list[WorkItem]
    next_after: int | None = Field(description="Cursor of the next page; null on the last page.")


class WorkItemWithHistory(BaseModel):
    item: WorkItem
    history: list[HistoryEntry] = Field(
        description="Every transition (raised, assigned, ticked off, cancelled), oldest first."
    )


class KnownItem(BaseModel):
    """A work item on a customer's record as an officer may know it: what it is and where it stands."""

    work_item_id: str
    code: WorkItemCode
    title: str
    queue: Queue
    status: WorkItemStatus
    raised_at: AwareDatetime
    workable: bool = Field(
        description="Whether the officer's roles open its queue (then GET /work-items/{id} gives its details)."
    )


class CustomerItems(BaseModel):
    customer_ref: str
    items: list[KnownItem] = Field(description="Oldest raised first (at most 500).")
    transfer_guidance: str | None = Field(
        description="103-01050060 step 1, while an Income Management item the officer may not work is open: "
        "the customer is transferred to an officer who may."
    )


def handles(path: str) -> bool:
    return (
        path in (PREFIX, OPENAPI_PATH)
        or path.startswith(PREFIX + "/")
        or path.startswith(CUSTOMERS + "/")
    )


def _printable(value: str, name: str) -> str:
    """A value that reaches the database and the logs: bounded, with no NUL or other control character."""
    if len(value) > MAX_VALUE_CHARS or not value.isprintable():
        raise Refused(
            400, "bad-request", f"{name} must be at most {MAX_VALUE_CHARS} printable characters"
        )
    return value


def strict_query(request: Request) -> None:
    """The query string as the framework does not check it: percent-encoded UTF-8, no unknown or repeated parameter,
    every value printable and bounded (the framework reads an undecodable byte as a replacement character)."""
    try:
        query = parse_qs(
            request.scope.get("query_string", b"").decode("ascii"),
            errors="strict",
            max_num_fields=len(QUERY_NAMES) * 2,
        )
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "bad-request", "the query string is not percent-encoded UTF-8") from None
    unknown = set(query) - QUERY_NAMES
    if unknown:
        raise Refused(
            400, "bad-request", f"unknown query parameter(s): {', '.join(sorted(unknown))}"
        )
    for name, values in query.items():
        if len(values) > 1:
            raise Refused(400, "bad-request", f"{name} is given more than once")
        _printable(values[0], name)


def _allowed(readable: frozenset[Queue], wanted: str | None) -> tuple[str, ...]:
    """The queues a listing may show: the one asked for, if the officer may read it; else all they may."""
    if not readable:
        raise Refused(
            403, "forbidden", "your roles open no work item queue", reason_code="no-queue-role"
        )
    if wanted is not None and wanted not in readable:
        raise Refused(
            403,
            "forbidden",
            f"your roles do not open the {wanted} queue",
            reason_code="queue-not-allowed",
        )
    return (wanted,) if wanted is not None else tuple(sorted(readable))


def make_api(runtime: "ServiceRuntime") -> FastAPI:
    app = api_app("workitems", DESCRIPTION)

    @app.get(
        PREFIX,
        dependencies=[Depends(strict_query)],
        response_model=WorkItemPage,
        summary="List work items of the queues the officer's roles open, oldest raised first",
        responses={
            400: refused("An unknown parameter or a value out of range."),
            403: refused(
                "The token's roles open no queue (reason_code no-queue-role), or not the one "
                "asked for (queue-not-allowed)."
            ),
        },
    )
    async def list_work_items(
        officer: Principal,
        customer_ref: Annotated[
            str | None, Query(description="Only this customer's items.", max_length=MAX_VALUE_CHARS)
        ] = None,
        queue: Annotated[Queue | None, Query(description="Only this queue's items.")] = None,
        status: Annotated[
            WorkItemStatus | None, Query(description="Only items in this status.")
        ] = None,
        code: Annotated[WorkItemCode | None, Query(description="Only items of this kind.")] = None,
        assignee_id: Annotated[
            str | None,
            Query(description="Only items assigned to this officer.", max_length=MAX_VALUE_CHARS),
        ] = None,
        after: Annotated[
            int,
            Query(description="Page cursor: the next_after of the previous page.", ge=0, le=2**62),
        ] = 0,
        limit: Annotated[int, Query(description="Page size.", ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        officer_id, roles = officer
        wanted = queue.value if queue else None
        filters = store.Filters(
            customer_ref=customer_ref,
            queue=wanted,
            status=status.value if status else None,
            code=code.value if code else None,
            assignee_id=assignee_id,
        )
        try:
            filters = dataclasses.replace(filters, queues=_allowed(readable_queues(roles), wanted))
        except Refused as exc:
            log.info(
                "work items refused",
                officer_id=officer_id,
                reason_code=exc.body["reason_code"],
                status=403,
            )
            raise
        async with runtime.pool.acquire() as conn:
            items, next_after = await store.list_items(conn, filters, after, limit)
        log.info(
            "work items listed",
            officer_id=officer_id,
            count=len(items),
            queue=filters.queue,
            status=filters.status,
            customer_ref=filters.customer_ref,
        )
        return {"items": items, "next_after": next_after}

    @app.get(
        PREFIX + "/{work_item_id:path}",
        response_model=WorkItemWithHistory,
        summary="One work item with its history (raised, assigned, ticked off, cancelled)",
        responses={
            400: refused("An id that is too long or not printable."),
            404: refused("No such work item, or one in a queue the token's roles do not open."),
        },
    )
    async def get_work_item(
        officer: Principal,
        work_item_id: Annotated[str, PathParam(examples=["I059PL:EXP-000123:2026-11-02"])],
    ) -> dict[str, Any]:
        officer_id, roles = officer
        _printable(work_item_id, "the work item id")
        async with runtime.pool.acquire() as conn:
            found = await store.get_item(conn, work_item_id)
        # An item of a queue the officer may not read is not found: its existence is not theirs to know.
        shown = found is not None and found[0].queue in readable_queues(roles)
        outcome = "shown" if shown else "not-found" if found is None else "outside-their-queues"
        log.info(
            "work item read",
            officer_id=officer_id,
            work_item_id=work_item_id,
            status=200 if shown else 404,
            outcome=outcome,
        )
        if not shown or found is None:
            raise Refused(404, "not-found", "no such work item")
        item, history = found
        return {"item": item, "history": history}

    @app.get(
        CUSTOMERS + "/{customer_ref}/work-items",
        response_model=CustomerItems,
        summary="The work items on a customer's record that any officer may know of (all staff, IM-1.1)",
        responses={
            400: refused("A customer reference that is too long or not printable."),
            403: refused("An operator's token: operators read no customer's case."),
        },
    )
    async def customer_items(
        officer: Principal, customer_ref: Annotated[str, PathParam(examples=["CRN-000123"])]
    ) -> dict[str, Any]:
        """103-01050060 step 1: "All staff must investigate any Work Items which present on a customer's record".
        Every officer, with or without a queue role, learns of the customer's Income Management items (what and
        where they stand; their details only with the roles that open the queue) and of the items of their own
        queues; the transfer guidance while one they may not work is open."""
        officer_id, roles = officer
        _printable(customer_ref, "the customer reference")
        if OPERATIONS in roles:
            raise Refused(
                403,
                "forbidden",
                "operators read no customer's case",
                reason_code="operators-not-officers",
            )
        readable = readable_queues(roles)
        known = sorted(q.value for q in readable | KNOWN_TO_EVERY_OFFICER)
        filters = store.Filters(customer_ref=customer_ref, queues=tuple(known))
        async with runtime.pool.acquire() as conn:
            items, _ = await store.list_items(conn, filters, 0, MAX_LIMIT)
        log.info(
            "customer work items listed",
            officer_id=officer_id,
            customer_ref=customer_ref,
            count=len(items),
        )
        untransferred = any(i.queue not in readable and not i.closed for i in items)
        return {
            "customer_ref": customer_ref,
            "items": [
                {
                    **i.model_dump(include=set(KnownItem.model_fields)),
                    "workable": i.queue in readable,
                }
                for i in items
            ],
            "transfer_guidance": way_out(TickOffWorkItem.TYPE, Queue.INCOME_MANAGEMENT)
            if untransferred
            else None,
        }

    @app.get(OPENAPI_PATH, summary="This document", include_in_schema=True)
    async def openapi_json() -> dict[str, Any]:
        return openapi()

    return app


def openapi() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document (also committed as ``services/workitems/openapi.json``), generated from the
    routes above and their models."""
    return openapi_document(_DOCUMENTED)


def render_openapi() -> str:
    return render(openapi())


class _NoRuntime:
    """What the document is made from when no service runs (``python -m workitems.api``): routes, never called."""

    pool: Any = None


_DOCUMENTED = make_api(_NoRuntime())  # type: ignore[arg-type]

if __name__ == "__main__":  # python -m workitems.api --write: refresh the committed snapshot
    snapshot_cli(openapi, OPENAPI_SNAPSHOT)
