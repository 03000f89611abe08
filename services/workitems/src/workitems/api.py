"""The read-only HTTP API: work items by customer, queue and status; one item with its history.

Every route here (and every operational one but ``/health`` and ``/ready``) sits behind the bearer-token
guard the runtime applies; a handler runs only for a verified token, whose ``sub`` is the officer and whose
``roles`` say which queues they may read (``contracts.roles``): nothing outside those queues is listed, an
explicit filter on another queue is a 403, and an item of another queue is not found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from faststream.asgi.types import Receive, Scope, Send
from pydantic.json_schema import models_json_schema

from contracts.roles import readable_queues
from contracts.workitems import Queue, WorkItemCode, WorkItemStatus
from servicekit.auth import roles_of
from servicekit.endpoints import json_response
from servicekit.logs import get_logger
from servicekit.openapi import REF, UNAUTHORIZED, document, render, snapshot_cli
from workitems import store
from workitems.domain.model import HistoryEntry, WorkItem

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("workitems.api")

PREFIX = "/work-items"
OPENAPI_PATH = "/openapi.json"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
OPENAPI_SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.json"


class BadRequestError(ValueError):
    pass


class ForbiddenError(ValueError):
    """``code``: no-queue-role (the officer's roles open no queue), queue-not-allowed (a filter on one they
    may not read)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def handles(path: str) -> bool:
    return path in (PREFIX, OPENAPI_PATH) or path.startswith(PREFIX + "/")


MAX_VALUE_CHARS = 200
"""Longest query value or item id accepted (the longest work item id is well under it)."""


def _printable(value: str, name: str) -> str:
    """A value that reaches the database and the logs: bounded, with no NUL or other control character."""
    if len(value) > MAX_VALUE_CHARS or not value.isprintable():
        raise BadRequestError(f"{name} must be at most {MAX_VALUE_CHARS} printable characters")
    return value


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequestError(f"{name} is given more than once")
    return _printable(values[0], name)


def _choice(query: dict[str, list[str]], name: str, allowed: type[Queue | WorkItemStatus | WorkItemCode]) -> str | None:
    value = _one(query, name)
    if value is not None and value not in {m.value for m in allowed}:
        raise BadRequestError(f"{name} must be one of {', '.join(m.value for m in allowed)}")
    return value


def _int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = _one(query, name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low} and {high}")
    return value


def parse_filters(query_string: bytes) -> tuple[store.Filters, int, int]:
    try:
        query = parse_qs(query_string.decode("ascii"), keep_blank_values=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequestError("the query string is not percent-encoded UTF-8") from None
    unknown = set(query) - {"customer_ref", "queue", "status", "code", "assignee_id", "after", "limit"}
    if unknown:
        raise BadRequestError(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    filters = store.Filters(customer_ref=_one(query, "customer_ref"), queue=_choice(query, "queue", Queue),
                            status=_choice(query, "status", WorkItemStatus), code=_choice(query, "code", WorkItemCode),
                            assignee_id=_one(query, "assignee_id"))
    return filters, _int(query, "after", 0, 0, 2**62), _int(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def _allowed(readable: frozenset[Queue], wanted: str | None) -> tuple[str, ...]:
    """The queues a listing may show: the one asked for, if the officer may read it; else all they may."""
    if not readable:
        raise ForbiddenError("no-queue-role", "your roles open no work item queue")
    if wanted is not None and wanted not in readable:
        raise ForbiddenError("queue-not-allowed", f"your roles do not open the {wanted} queue")
    return (wanted,) if wanted is not None else tuple(sorted(readable))


def _dump(model: WorkItem | HistoryEntry) -> dict[str, Any]:
    return model.model_dump(mode="json")


def make_api(runtime: ServiceRuntime) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        officer = str(scope.get("principal", {}).get("sub", ""))
        readable = readable_queues(roles_of(scope))
        if scope["method"] not in ("GET", "HEAD"):
            await json_response({"error": "method-not-allowed", "detail": "this API is read-only"}, 405)(
                scope, receive, send)
            return
        try:
            if path == OPENAPI_PATH:
                body, status = openapi(), 200
            elif path in (PREFIX, PREFIX + "/"):
                filters, after, limit = parse_filters(scope.get("query_string", b""))
                filters = dataclasses.replace(filters, queues=_allowed(readable, filters.queue))
                async with runtime.pool.acquire() as conn:
                    items, next_after = await store.list_items(conn, filters, after, limit)
                body, status = {"items": [_dump(i) for i in items], "next_after": next_after}, 200
                log.info("work items listed", officer_id=officer, count=len(items), queue=filters.queue,
                         status=filters.status, customer_ref=filters.customer_ref)
            else:
                work_item_id = _printable(path[len(PREFIX) + 1:], "the work item id")
                async with runtime.pool.acquire() as conn:
                    found = await store.get_item(conn, work_item_id)
                # An item of a queue the officer may not read is not found: its existence is not theirs to know.
                if found is None or found[0].queue not in readable:
                    body, status = {"error": "not-found", "detail": "no such work item"}, 404
                else:
                    item, history = found
                    body, status = {"item": _dump(item), "history": [_dump(h) for h in history]}, 200
                outcome = "shown" if status == 200 else "not-found" if found is None else "outside-their-queues"
                log.info("work item read", officer_id=officer, work_item_id=work_item_id, status=status, outcome=outcome)
        except BadRequestError as exc:
            body, status = {"error": "bad-request", "detail": str(exc)}, 400
        except ForbiddenError as exc:
            body, status = {"error": "forbidden", "reason_code": exc.code, "detail": str(exc)}, 403
            log.info("work items refused", officer_id=officer, reason_code=exc.code, status=status)
        await json_response(body, status)(scope, receive, send)

    return app


def openapi() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document (also committed as ``services/workitems/openapi.json``)."""
    _, schemas = models_json_schema([(WorkItem, "serialization"), (HistoryEntry, "serialization")],
                                    ref_template="#/components/schemas/{model}")
    ref = REF

    def param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    errors = UNAUTHORIZED
    return document(
        title="workitems",
        description="Read-only API of the staff work items raised by the undelivered Income Management expenses "
                    "procedure (103-01050060) and the MSP implementation procedure (104-07050030). Work items are "
                    "changed only through the workitems.commands topic.",
        schemas=schemas.get("$defs", {}),
        paths={
            PREFIX: {"get": {
                "summary": "List work items of the queues the officer's roles open, oldest raised first",
                "parameters": [
                    param("customer_ref", "Only this customer's items.", {"type": "string"}),
                    param("queue", "Only this queue's items.", {"enum": [q.value for q in Queue]}),
                    param("status", "Only items in this status.", {"enum": [s.value for s in WorkItemStatus]}),
                    param("code", "Only items of this kind.", {"enum": [c.value for c in WorkItemCode]}),
                    param("assignee_id", "Only items assigned to this officer.", {"type": "string"}),
                    param("after", "Page cursor: the next_after of the previous page.",
                          {"type": "integer", "minimum": 0, "default": 0}),
                    param("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                                  "default": DEFAULT_LIMIT}),
                ],
                "responses": {
                    "200": {"description": "One page of items.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["items", "next_after"], "properties": {
                            "items": {"type": "array", "items": {"$ref": ref + "WorkItem"}},
                            "next_after": {"type": ["integer", "null"],
                                           "description": "Cursor of the next page; null on the last page."}}}}}},
                    "400": {"description": "An unknown parameter or a value out of range.",
                            "content": {"application/json": {"schema": {"$ref": ref + "Error"}}}},
                    "403": {"description": "The token's roles open no queue (reason_code no-queue-role), or not the "
                                           "one asked for (queue-not-allowed).",
                            "content": {"application/json": {"schema": {"$ref": ref + "Error"}}}},
                    **errors}}},
            PREFIX + "/{work_item_id}": {"get": {
                "summary": "One work item with its history (raised, assigned, ticked off, cancelled)",
                "parameters": [{"name": "work_item_id", "in": "path", "required": True, "schema": {"type": "string"},
                                "example": "I059PL:EXP-000123:2026-11-02"}],
                "responses": {
                    "200": {"description": "The item and every transition, oldest first.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["item", "history"], "properties": {
                                    "item": {"$ref": ref + "WorkItem"},
                                    "history": {"type": "array", "items": {"$ref": ref + "HistoryEntry"}}}}}}},
                    "404": {"description": "No such work item, or one in a queue the token's roles do not open.",
                            "content": {"application/json": {"schema": {"$ref": ref + "Error"}}}},
                    **errors}}},
            OPENAPI_PATH: {"get": {"summary": "This document",
                                   "responses": {"200": {"description": "OpenAPI 3.1"}, **errors}}},
        })


def render_openapi() -> str:
    return render(openapi())


if __name__ == "__main__":  # python -m workitems.api --write: refresh the committed snapshot
    snapshot_cli(openapi, OPENAPI_SNAPSHOT)
