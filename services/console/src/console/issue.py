"""The one way an officer's command is issued, from the command API or a console page: the request's fields read
through the action's contract (what the console sets is refused from the sender), checked against the officer's
verified roles, then recorded and written through the outbox in one transaction. Both :mod:`console.api` and
:mod:`console.ui` import it; it imports neither."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from console import store
from console.desk.records import Command
from contracts.catalogue import STAFF_ACTIONS
from contracts.envelope import Event
from contracts.procedures import implements
from contracts.roles import COMMAND_ROLES, known_roles, may_issue, way_out
from contracts.workitems import AssignWorkItem, Queue, TickOffWorkItem
from servicekit import tracing
from servicekit.delivery.outbox import enqueue
from servicekit.http.web import REF, Refused, problems_of
from servicekit.logs import get_logger

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.issue")

MAX_KEY_CHARS = 128
PRODUCER = "console"
COMMANDS: Mapping[str, type[Event]] = STAFF_ACTIONS
"""Every staff action of the catalogue (the topics this service produces), by type name."""
NOT_THE_SENDERS = frozenset(
    {
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "correlation_id",
        "causation_id",
        "producer",
        "officer_id",
        "officer_roles",
        "approved_decision_maker",
    }
)
"""Fields the console sets: the envelope, the officer (the token's sub) and what the roles say."""


@functools.cache
def request_model(kind: type[Event]) -> type[BaseModel]:
    """The action's contract without what the console sets: the body ``POST /commands/{type}`` takes."""
    name = kind.TYPE
    fields: dict[str, Any] = {
        k: (f.annotation, f) for k, f in kind.model_fields.items() if k not in NOT_THE_SENDERS
    }
    model: type[BaseModel] = create_model(
        f"{name}Request",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=kind.__doc__,
        **fields,
    )
    return model


@functools.cache
def request_schema(kind: type[Event]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request model's JSON schema: (its schema, the schemas it refers to); the forms are made from it."""
    schema = request_model(kind).model_json_schema(ref_template=REF + "{model}")
    return schema, schema.pop("$defs", {})


def refuse_theirs(fields: Iterable[str]) -> None:
    """A request (JSON or form) that sets what the console sets: the envelope, the officer, their authority."""
    theirs = sorted(NOT_THE_SENDERS & set(fields))
    if theirs:
        raise Refused(
            422, "not-yours-to-set", f"set by the console, not the request: {', '.join(theirs)}"
        )


async def issue(
    runtime: ServiceRuntime,
    officer: str,
    roles: frozenset[str],
    kind: type[Event],
    fields: dict[str, Any],
    key: str | None,
) -> tuple[dict[str, Any], int]:
    """The one way a command is issued, from the API or a console page: checked against the officer's verified
    roles, then recorded and written through the outbox in one transaction. :class:`Refused` says why not. The
    officer's action starts a trace (``officer command``): the command goes out in it, and so does all it causes."""
    with tracing.officer_command(kind.TYPE) as span:
        try:
            body, status = await _issue(runtime, officer, roles, kind, fields, key)
        except Refused as refused:
            tracing.failed(span, str(refused.body.get("reason_code") or refused.body["error"]))
            raise
        span.set_attribute("messaging.message.id", body["command_id"])
        # sent (or, a retried request, as it stands): its outcome is the service's, in this trace when it answers
        span.set_attribute("msp_im.command_status", body["status"])
        return body, status


async def _issue(
    runtime: ServiceRuntime,
    officer: str,
    roles: frozenset[str],
    kind: type[Event],
    fields: dict[str, Any],
    key: str | None,
) -> tuple[dict[str, Any], int]:
    command_type = kind.TYPE
    fingerprint = _fingerprint(command_type, fields)
    command_id, now = uuid.uuid4(), runtime.clock.now()
    # The verified roles this system knows go with the action, for the service to re-check what it can.
    verified = known_roles(roles)
    event = _command_event(kind, fields, command_id, now, officer, verified)
    tracing.case(tracing.current_span(), kind.key_field, event.key)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if key is not None and (earlier := await store.by_key(conn, officer, key)) is not None:
            if earlier.fingerprint != fingerprint:
                raise Refused(
                    409,
                    "idempotency-key-reused",
                    "this Idempotency-Key was used for another command",
                )
            return {"command_id": str(earlier.command_id), "status": earlier.status}, 202
        await store.officer_seen(conn, officer, verified, now)
        await _check_allowed(conn, roles, event)
        command = Command(
            command_id,
            officer,
            command_type,
            event.key,
            now,
            "pending",
            [],
            None,
            None,
            fingerprint,
        )
        if not await store.insert(conn, command, key):
            raise Refused(
                409, "conflict", "a request with this Idempotency-Key is being recorded; retry"
            )
        await store.keep_notes(conn, command, fields)
        queued = await enqueue(conn, [runtime.route(event)])
    runtime.hand_to_relay(queued)
    log.info(
        "command accepted for processing",
        officer_id=officer,
        event_type=command_type,
        event_id=str(command_id),
    )
    return {"command_id": str(command_id), "status": "pending"}, 202


async def _check_allowed(conn: Any, roles: frozenset[str], event: Event) -> None:
    """Refused unless the officer's roles allow the action (on the queue of the item it acts on), and an
    assignment's assignee may work that queue."""
    queue = await _queue(conn, event.event_type, event)
    if not may_issue(roles, event.event_type, queue):
        raise Refused(
            403,
            "forbidden",
            f"your roles do not allow {event.event_type}",
            reason_code="role-required",
            way_out=way_out(event.event_type, queue),
        )
    if isinstance(event, AssignWorkItem):
        await _check_assignee(conn, event.assignee_id, queue)


def _fingerprint(command_type: str, fields: dict[str, Any]) -> str:
    """What makes two sends of an action the same one (an idempotency key reused for another is refused)."""
    return hashlib.sha256(json.dumps([command_type, fields], sort_keys=True).encode()).hexdigest()


def _command_event(
    kind: type[Event],
    fields: dict[str, Any],
    command_id: uuid.UUID,
    now: datetime,
    officer: str,
    verified: list[str],
) -> Event:
    """The action as its contract reads it, stamped with the officer and their verified roles, or refused with
    the fields' problems."""
    try:
        return kind.model_validate(
            {
                **fields,
                "event_id": command_id,
                "event_type": kind.TYPE,
                "occurred_at": now,
                "correlation_id": uuid.uuid4(),
                "producer": PRODUCER,
                "officer_id": officer,
                "officer_roles": verified,
            }
        )
    except ValidationError as exc:
        raise Refused(
            422,
            "invalid-command",
            "the action's fields do not match its contract",
            problems=problems_of(exc.errors(), skip=0),
        ) from None


async def _queue(conn: Any, command_type: str, event: Event) -> Queue | None:
    """A work item command acts on an item of a queue (known from workitems' events); a command whose roles the
    table names acts on none."""
    if command_type in COMMAND_ROLES:
        return None
    queue = await store.queue_of(conn, event.key)
    if queue is None:
        raise Refused(404, "not-found", "no such work item (or not yet known here)")
    return Queue(queue)


@implements("IM-1.2")
async def _check_assignee(conn: Any, assignee: str, queue: Queue | None) -> None:
    """103-01050060: only an officer trained in Income Management works an I059PL, so an item is assigned only to
    an officer whose roles open its queue, as their latest verified token (here, at sign-in or a command) said."""
    roles = await store.officer_roles(conn, assignee)
    if roles is None:
        raise Refused(
            422,
            "unknown-assignee",
            f"{assignee} has not signed in to the console: their roles are not "
            "known, so the item cannot be assigned to them yet",
        )
    if not may_issue(roles, TickOffWorkItem.TYPE, queue):
        raise Refused(
            403,
            "forbidden",
            f"{assignee}'s roles do not open the {queue} queue",
            reason_code="assignee-role-required",
            way_out=f"Assign it to an officer whose roles open the {queue} queue.",
        )


async def command_status(runtime: ServiceRuntime, officer: str, name: str) -> dict[str, Any]:
    try:
        command_id = uuid.UUID(name)
    except ValueError:
        raise Refused(404, "not-found", "no such command") from None
    async with runtime.pool.acquire() as conn:
        command = await store.get(conn, command_id)
    if command is None or command.officer_id != officer:
        raise Refused(
            404, "not-found", "no such command"
        )  # another officer's commands are not theirs to see
    answer: dict[str, Any] = {
        "command_id": str(command.command_id),
        "command_type": command.command_type,
        "subject_id": command.subject_id,
        "submitted_at": command.submitted_at.isoformat(),
        "status": command.status,
        "outcomes": command.outcomes,
    }
    if command.status == "rejected":
        answer |= {
            "reason_code": command.reason_code,
            "reason": command.reason,
            "way_out": command.way_out,
        }
    return answer
