"""The command API: every staff action of the catalogue, issued by a verified officer.

``POST /commands/{type}`` takes the action's own fields as JSON (no envelope, no ``officer_id``: the officer is
the token's ``sub``, their authority the token's ``roles``), checks the role the action needs
(``contracts.roles``), writes the action durably to its staff-action topic through the outbox and answers
``202`` with the command id. An ``Idempotency-Key`` header makes a retried request the same command.
``GET /commands/{id}`` answers its status: ``pending``, ``accepted`` (with the events it caused) or ``rejected``
(with the service's reason code and reason), to the officer who issued it only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faststream.asgi.types import Receive, Scope, Send
from pydantic import ValidationError

from console import store
from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.roles import COMMAND_ROLES, known_roles, may_issue, way_out
from contracts.topics import load_json
from contracts.workitems import AssignWorkItem, Queue
from servicekit.auth import roles_of
from servicekit.endpoints import json_response
from servicekit.logs import get_logger
from servicekit.openapi import REF, UNAUTHORIZED, document, error, render, snapshot_cli
from servicekit.outbox import enqueue

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.api")

PREFIX = "/commands"
SIGN_IN_CODES = "/sign-in-codes"
OPENAPI_PATH = "/openapi.json"
OPENAPI_SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.json"
MAX_BODY_BYTES = 64 * 1024
MAX_KEY_CHARS = 128
PRODUCER = "console"
COMMANDS: dict[str, type[Event]] = {e.model_fields["event_type"].default: e for t in CATALOGUE.topics
                                     if t.producer == PRODUCER for e in t.events}
"""Every staff action of the catalogue: the event types of the topics this service produces."""
NOT_THE_SENDERS = frozenset({"event_id", "event_type", "schema_version", "occurred_at", "correlation_id",
                             "causation_id", "producer", "officer_id", "officer_roles", "approved_decision_maker"})
"""Fields the console sets: the envelope, the officer (the token's sub) and what the roles say."""


class Refused(Exception):  # noqa: N818 - an answer, not a fault
    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.body = {"error": error, "detail": detail, **extra}
        self.status = status


def handles(path: str) -> bool:
    return path in (PREFIX, OPENAPI_PATH, SIGN_IN_CODES) or path.startswith(PREFIX + "/")


async def read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, "too-large", f"a command is at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers") or [] if k.lower() == name]
    if not values:
        return None
    try:
        value: str = values[0].decode("ascii")
    except UnicodeDecodeError:
        raise Refused(400, "bad-request", f"{name.decode()} must be printable ASCII") from None
    if len(values) > 1 or not 0 < len(value) <= MAX_KEY_CHARS or not value.isprintable():
        raise Refused(400, "bad-request", f"{name.decode()} must be one value of 1 to {MAX_KEY_CHARS} printable "
                                          "characters")
    return value


def _fields(raw: bytes) -> dict[str, Any]:
    try:
        fields = load_json(raw)
    except ValueError as exc:
        raise Refused(400, "bad-request", f"the body is not a JSON object within limits: {exc}") from None
    if not isinstance(fields, dict):
        raise Refused(400, "bad-request", "the body must be a JSON object of the action's fields")
    refuse_theirs(fields)
    return fields


def refuse_theirs(fields: Iterable[str]) -> None:
    """A request (JSON or form) that sets what the console sets: the envelope, the officer, their authority."""
    theirs = sorted(NOT_THE_SENDERS & set(fields))
    if theirs:
        raise Refused(422, "not-yours-to-set", f"set by the console, not the request: {', '.join(theirs)}")


def make_api(runtime: ServiceRuntime) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        officer = str(scope.get("principal", {}).get("sub", ""))
        name = scope["path"][len(PREFIX) + 1:]
        try:
            if scope["path"] == OPENAPI_PATH:
                body, status = openapi(), 200
            elif scope["path"] == SIGN_IN_CODES and scope["method"] == "POST":
                body, status = await sign_in_code(runtime, scope.get("principal", {})), 201
            elif scope["path"] == SIGN_IN_CODES:
                raise Refused(405, "method-not-allowed", f"POST {SIGN_IN_CODES} with the officer's bearer token")
            elif scope["method"] == "POST" and name in COMMANDS:
                key = _header(scope, b"idempotency-key")
                body, status = await issue(runtime, officer, roles_of(scope), COMMANDS[name],
                                           _fields(await read_body(receive)), key)
            elif scope["method"] in ("GET", "HEAD") and name:
                body, status = await _status(runtime, officer, name), 200
            else:
                raise Refused(404, "not-found", f"POST {PREFIX}/<one of {', '.join(COMMANDS)}> or GET {PREFIX}/<id>")
        except Refused as exc:
            body, status = exc.body, exc.status
            log.info("command refused", officer_id=officer, code=exc.body["error"], status=status,
                     reason_code=exc.body.get("reason_code"))
        await json_response(body, status)(scope, receive, send)

    return app


async def sign_in_code(runtime: ServiceRuntime, claims: dict[str, Any]) -> dict[str, Any]:
    """A one-time sign-in link for the token's officer: what an identity provider's redirect (or ``./dev sign-in``)
    hands the browser, so the token itself never rides in a URL."""
    from console import ui

    async with runtime.pool.acquire() as conn:
        code = await ui.code_for_claims(runtime, conn, claims)
    settings: Any = runtime.settings
    log.info("sign-in code issued", officer_id=str(claims.get("sub", "")), status=201)
    return {"sign_in_path": f"{ui.SIGN_IN}?code={code}", "expires_in_s": int(settings.sign_in_code_ttl_s)}


async def issue(runtime: ServiceRuntime, officer: str, roles: frozenset[str], kind: type[Event],
                fields: dict[str, Any], key: str | None) -> tuple[dict[str, Any], int]:
    """The one way a command is issued, from the API or a console page: checked against the officer's verified
    roles, then recorded and written through the outbox in one transaction. :class:`Refused` says why not."""
    command_type = kind.model_fields["event_type"].default
    fingerprint = hashlib.sha256(json.dumps([command_type, fields], sort_keys=True).encode()).hexdigest()
    command_id, now = uuid.uuid4(), runtime.clock.now()
    # The verified roles this system knows go with the action, for the service to re-check what it can.
    verified = known_roles(roles)
    try:
        event = kind.model_validate({**fields, "event_id": command_id, "event_type": command_type, "occurred_at": now,
                                     "correlation_id": uuid.uuid4(), "producer": PRODUCER, "officer_id": officer,
                                     "officer_roles": verified})
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise Refused(422, "invalid-command", "the action's fields do not match its contract",
                      problems=problems) from None
    async with runtime.pool.acquire() as conn, conn.transaction():
        if key is not None and (earlier := await store.by_key(conn, officer, key)) is not None:
            if earlier.fingerprint != fingerprint:
                raise Refused(409, "idempotency-key-reused", "this Idempotency-Key was used for another command")
            return {"command_id": str(earlier.command_id), "status": earlier.status}, 202
        await store.officer_seen(conn, officer, verified, now)
        queue = await _queue(conn, command_type, event)
        if not may_issue(roles, command_type, queue):
            raise Refused(403, "forbidden", f"your roles do not allow {command_type}", reason_code="role-required",
                          way_out=way_out(command_type, queue))
        if isinstance(event, AssignWorkItem):
            await _check_assignee(conn, event.assignee_id, queue)
        command = store.Command(command_id, officer, command_type, event.key, now, "pending", [], None, None,
                                fingerprint)
        if not await store.insert(conn, command, key):
            raise Refused(409, "conflict", "a request with this Idempotency-Key is being recorded; retry")
        await store.keep_notes(conn, command, fields)
        queued = await enqueue(conn, [runtime.route(event)])
    runtime.hand_to_relay(queued)
    log.info("command accepted for processing", officer_id=officer, event_type=command_type, event_id=str(command_id))
    return {"command_id": str(command_id), "status": "pending"}, 202


async def _queue(conn: Any, command_type: str, event: Event) -> Queue | None:
    """A work item command acts on an item of a queue (known from workitems' events); a command whose roles the
    table names acts on none."""
    if command_type in COMMAND_ROLES:
        return None
    queue = await store.queue_of(conn, event.key)
    if queue is None:
        raise Refused(404, "not-found", "no such work item (or not yet known here)")
    return Queue(queue)


async def _check_assignee(conn: Any, assignee: str, queue: Queue | None) -> None:
    """103-01050060: only an officer trained in Income Management works an I059PL, so an item is assigned only to
    an officer whose roles open its queue, as their latest verified token (here, at sign-in or a command) said."""
    roles = await store.officer_roles(conn, assignee)
    if roles is None:
        raise Refused(422, "unknown-assignee", f"{assignee} has not signed in to the console: their roles are not "
                                               "known, so the item cannot be assigned to them yet")
    if not may_issue(roles, "TickOffWorkItem", queue):
        raise Refused(403, "forbidden", f"{assignee}'s roles do not open the {queue} queue",
                      reason_code="assignee-role-required",
                      way_out=f"Assign it to an officer whose roles open the {queue} queue.")


async def _status(runtime: ServiceRuntime, officer: str, name: str) -> dict[str, Any]:
    try:
        command_id = uuid.UUID(name)
    except ValueError:
        raise Refused(404, "not-found", "no such command") from None
    async with runtime.pool.acquire() as conn:
        command = await store.get(conn, command_id)
    if command is None or command.officer_id != officer:
        raise Refused(404, "not-found", "no such command")  # another officer's commands are not theirs to see
    answer: dict[str, Any] = {"command_id": str(command.command_id), "command_type": command.command_type,
                              "subject_id": command.subject_id, "submitted_at": command.submitted_at.isoformat(),
                              "status": command.status, "outcomes": command.outcomes}
    if command.status == "rejected":
        answer |= {"reason_code": command.reason_code, "reason": command.reason, "way_out": command.way_out}
    return answer


@functools.cache
def request_schema(kind: type[Event]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The action's contract without what the console sets: (its schema, the schemas it refers to)."""
    schema = kind.model_json_schema(ref_template=REF + "{model}")
    nested = schema.pop("$defs", {})
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in NOT_THE_SENDERS}
    schema["required"] = [k for k in schema.get("required", []) if k not in NOT_THE_SENDERS]
    schema["additionalProperties"] = False
    return schema, nested


def openapi() -> dict[str, Any]:
    """The command API's OpenAPI 3.1 document (also committed as ``services/console/openapi.json``)."""
    schemas: dict[str, Any] = {
        "CommandAccepted": {"type": "object", "required": ["command_id", "status"], "properties": {
            "command_id": {"type": "string", "format": "uuid"}, "status": {"enum": ["pending", "accepted",
                                                                                  "rejected"]}}},
        "CommandStatus": {"type": "object", "required": ["command_id", "command_type", "status", "outcomes"],
                          "properties": {
                              "command_id": {"type": "string", "format": "uuid"}, "command_type": {"type": "string"},
                              "subject_id": {"type": "string"}, "submitted_at": {"type": "string",
                                                                                 "format": "date-time"},
                              "status": {"enum": ["pending", "accepted", "rejected"]},
                              "outcomes": {"type": "array", "items": {"type": "object", "properties": {
                                  "event_type": {"type": "string"}, "event_id": {"type": "string"}}}},
                              "reason_code": {"type": "string"}, "reason": {"type": "string"},
                              "way_out": {"type": ["string", "null"],
                                          "description": "What the procedure says to do instead, where it says."}}},
    }
    paths: dict[str, Any] = {}
    for name, kind in COMMANDS.items():
        request, nested = request_schema(kind)
        schemas |= nested | {f"{name}Request": request}
        paths[f"{PREFIX}/{name}"] = {"post": {
            "summary": (kind.__doc__ or name).strip().split("\n")[0],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": MAX_KEY_CHARS},
                            "description": "The same key (yours) and body again: the same command, written once."}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"{REF}{name}Request"}}}},
            "responses": {
                "202": {"description": "Written (through the outbox) to its staff-action topic; the service "
                                       "decides next.", "content": {"application/json": {
                                           "schema": {"$ref": REF + "CommandAccepted"}}}},
                "400": error("Not a JSON object within limits, or a malformed Idempotency-Key."),
                "403": error("The token's roles do not allow this action (reason_code role-required), or the "
                             "assignee's do not open the item's queue (assignee-role-required); way_out says what to do "
                             "instead."),
                "404": error("A work item command on an item not (yet) known."),
                "409": error("The Idempotency-Key was used for another command."),
                "413": error(f"A body over {MAX_BODY_BYTES} bytes."),
                "422": error("A field the console sets (not-yours-to-set), an assignee who never signed in "
                             "(unknown-assignee), or fields not matching the contract "
                             "(invalid-command, with each field's problem)."),
                **UNAUTHORIZED}}}
    paths[PREFIX + "/{command_id}"] = {"get": {
        "summary": "A command you issued: pending, accepted (with the events it caused) or rejected (with why)",
        "parameters": [{"name": "command_id", "in": "path", "required": True,
                        "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {"description": "Its status.", "content": {"application/json": {
            "schema": {"$ref": REF + "CommandStatus"}}}},
                      "404": error("No such command of yours."), **UNAUTHORIZED}}}
    schemas["SignInCode"] = {"type": "object", "required": ["sign_in_path", "expires_in_s"], "properties": {
        "sign_in_path": {"type": "string", "description": "The console's sign-in page with a one-time code: "
                                                          "open it in the officer's browser, once."},
        "expires_in_s": {"type": "integer"}}}
    paths[SIGN_IN_CODES] = {"post": {
        "summary": "A one-time sign-in link for the bearer token's officer (the token never rides in a URL)",
        "responses": {"201": {"description": "The link; it works once, until it expires, and signs in only from "
                                             "the officer's own browser (no other site may submit it).",
                              "content": {"application/json": {"schema": {"$ref": REF + "SignInCode"}}}},
                      **UNAUTHORIZED}}}
    paths[OPENAPI_PATH] = {"get": {"summary": "This document",
                                   "responses": {"200": {"description": "OpenAPI 3.1"}, **UNAUTHORIZED}}}
    return document(title="console", paths=paths, schemas=schemas,
                    description="The officers' front door: every staff action of the MSP implementation "
                                "(104-07050030) and undelivered Income Management expenses (103-01050060) procedures "
                                "as a command from a verified officer, whose roles say what they may do.")


def render_openapi() -> str:
    return render(openapi())


if __name__ == "__main__":  # python -m console.api --write: refresh the committed snapshot
    snapshot_cli(openapi, OPENAPI_SNAPSHOT)
