"""What every page needs: the service's runtime, the signed-in officer, the checked form, the refusal a page
raises, and the forms of the actions a record offers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from console import issue as issuing
from console import pages, sessions
from console.desk import words
from console.forms import Input, inputs
from console.handlers import SUBJECTS
from contracts import expenses as x
from contracts.roles import known_roles, may_issue
from contracts.workitems import AssignWorkItem, Queue, TickOffWorkItem, UnassignWorkItem
from servicekit.logs import get_logger

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.ui")

MAX_SESSION_ID_CHARS = 64
MAX_ID_CHARS = 200
"""The longest id a page is asked for (a work item's, an MSP's, an expense's): a longer one is no id of ours, and
is refused before it reaches the database or a log line."""
MAX_FILTER_CHARS = 64
KEY_FIELDS = {subject: key_field for key_field, subject in SUBJECTS.items()} | {
    "customer": "customer_ref"
}
"""A subject's id field (``msp`` -> ``msp_id``), as its events and the audit log name it."""


class PageRefused(Exception):  # noqa: N818 - an answer, not a fault
    """A page that cannot be shown, or a form that cannot be sent: the refusal page, with the way out where the
    procedure gives one."""

    def __init__(
        self,
        status: int,
        title: str,
        reason: str,
        way_out: str | None = None,
        details: Sequence[str] = (),
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.reason, self.way_out, self.details = (
            status,
            title,
            reason,
            way_out,
            details,
        )


class NotSignedIn(Exception):  # noqa: N818 - a redirect, not a fault
    pass


def runtime_of(request: Request) -> ServiceRuntime:
    """The console service's runtime, which :func:`console.ui.make_ui` gives the pages."""
    return request.app.state.runtime  # type: ignore[no-any-return]


Runtime = Annotated["ServiceRuntime", Depends(runtime_of)]


def cookie_of(request: Request) -> sessions.SessionCookie:
    return request.app.state.cookie  # type: ignore[no-any-return]


Cookie = Annotated[sessions.SessionCookie, Depends(cookie_of)]


async def signed_in(request: Request, runtime: Runtime, cookie: Cookie) -> pages.Officer:
    """The officer whose session the cookie names, or :class:`NotSignedIn` (the sign-in page)."""
    settings: Any = runtime.settings
    session_id = cookie.value(request.scope)
    session = None
    if session_id and len(session_id) <= MAX_SESSION_ID_CHARS:
        async with runtime.pool.acquire() as conn:
            session = await sessions.resume(conn, session_id, idle_s=settings.session_idle_s)
    if session is None or session_id is None:
        raise NotSignedIn
    request.app.state.hub.start()  # listening for the changes the officer's pages watch
    pages.READ_AT.set(time.time())
    request.scope["principal"] = {"sub": session.officer_id, "roles": list(session.roles)}
    request.state.session_id = session_id
    request.state.officer = pages.Officer(
        session.officer_id,
        tuple(known_roles(session.roles)),
        session.form_token,
        ZoneInfo(session.zone) if session.zone else None,
    )
    return request.state.officer  # type: ignore[no-any-return]


SignedIn = Annotated[pages.Officer, Depends(signed_in)]


async def checked_form(request: Request, officer: SignedIn) -> FormData:
    """The form sent, if it is one this console served to the officer's session."""
    try:
        form = await request.form(max_files=0, max_fields=100)
    except Exception:  # noqa: BLE001 - any form the parser refuses is not one of ours
        form = None
    if form is None or any(
        "\x00" in str(text) for name, value in form.multi_items() for text in (name, value)
    ):
        raise PageRefused(400, "Not a form", "The request is not a form this console sent.")
    # The cookie comes with any request the browser makes; the form token only with a form this console served.
    if form.get("form_token") != officer.form_token:
        log.info(
            "form refused", officer_id=officer.officer_id, reason_code="form-token", status=403
        )
        raise PageRefused(
            403,
            "Form refused",
            "This form was not served to your session: open the page again and resubmit.",
        )
    return form


Form = Annotated[FormData, Depends(checked_form)]


def now_of(runtime: Runtime) -> datetime:
    return runtime.clock.now()


Now = Annotated[datetime, Depends(now_of)]


def due_of(runtime: Runtime, officer: SignedIn, now: Now) -> pages.Due:
    """Due times as the officer reads them: the service levels, now, in the officer's zone."""
    return pages.Due(runtime.settings.service_levels_h, now, officer.zone)  # type: ignore[attr-defined]


DueTimes = Annotated[pages.Due, Depends(due_of)]


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status)


def page_id(ident: str) -> str:
    """An id a page is asked for: printable and bounded, or no page of ours."""
    if len(ident) > MAX_ID_CHARS or not ident or not ident.isprintable():
        raise PageRefused(404, "Not found", "No such page.")
    return ident


def one_filter(name: str, value: str | None, allowed: Sequence[str] | None = None) -> str | None:
    """A filter's value, if the page offers it (``None`` for none)."""
    value = (value or "").strip()
    if not value:
        return None
    if (
        (allowed is not None and value not in allowed)
        or len(value) > MAX_FILTER_CHARS
        or not value.isprintable()
    ):
        raise PageRefused(400, "Bad filter", f"{name} has a value this page does not offer.")
    return value


async def audited(
    officer: pages.Officer, subject: str, ident: str, answer: Awaitable[str]
) -> Response:
    """Every read of a customer's case, allowed or not, in the audit log."""
    ids = {KEY_FIELDS[subject]: ident[:MAX_ID_CHARS]}
    try:
        text = await answer
    except PageRefused as refused:
        log.info(
            "page read",
            officer_id=officer.officer_id,
            page=subject,
            status=refused.status,
            outcome="refused",
            **ids,
        )
        raise
    log.info(
        "page read", officer_id=officer.officer_id, page=subject, status=200, outcome="shown", **ids
    )
    return html(text)


def action_inputs(name: str, subject: str | None) -> list[Input]:
    """The form fields of the action ``name`` (its key field hidden and set to ``subject``, where given)."""
    kind = issuing.COMMANDS[name]
    schema, nested = issuing.request_schema(kind)
    return inputs(kind, schema, nested, subject)


def new_expense_id() -> str:
    """The id of a one-off an officer codes: made here, never invented by the officer (issue 40)."""
    return f"EXP-{uuid.uuid4().hex[:10].upper()}"


def hidden(fields: Sequence[Input], given: Mapping[str, str]) -> list[Input]:
    """``fields`` with those in ``given`` hidden and set."""
    return [
        Input(f.name, f.label, "hidden", value=given[f.name]) if f.name in given else f
        for f in fields
    ]


def action_forms(
    officer: pages.Officer,
    names: Sequence[str],
    subject: str,
    queue: Queue | None = None,
    open_: frozenset[str] = frozenset(),
    prefill: Mapping[str, str] | None = None,
    choices: Mapping[str, tuple[str, ...]] | None = None,
) -> list[pages.ActionForm]:
    """The forms of the actions ``names`` the officer's roles allow; ``choices`` turns a field into a choice among
    known values (a colleague to assign to)."""
    prefill, choices = prefill or {}, choices or {}
    forms = []
    for name in names:
        if not may_issue(officer.roles, name, queue):
            continue
        # a new one-off is coded under its own id, made here
        given = None if name == x.CodeOneOffExpense.TYPE else subject
        made = {"expense_id": new_expense_id()} if given is None else {}
        fields = [
            replace(f, value=prefill[f.name])
            if f.name in prefill
            else replace(f, kind="select", options=choices[f.name])
            if f.name in choices
            else f
            for f in hidden(action_inputs(name, given), made)
        ]
        forms.append(
            pages.ActionForm(
                name, words.action(name), fields, str(uuid.uuid4()), open=name in open_
            )
        )
    return forms


def as_seen(action: pages.ActionForm, assignee: str | None) -> pages.ActionForm:
    """A work item's action as its page offers it: an assignment says whom the officer saw holding the item; a
    tick-off (offered only where an officer ticks it off) asks for its DOC note."""
    if action.command_type == AssignWorkItem.TYPE:
        return replace(action, inputs=with_reason(held_as_seen(action.inputs, assignee), assignee))
    if action.command_type == UnassignWorkItem.TYPE:
        return replace(action, inputs=with_reason(action.inputs, assignee))
    if action.command_type == TickOffWorkItem.TYPE:
        return replace(
            action,
            inputs=[replace(f, required=f.required or f.name == "doc_note") for f in action.inputs],
        )
    return action


def with_reason(fields: Sequence[Input], assignee: str | None) -> list[Input]:
    """A hand-back, or an item given away while someone holds it, says why (issue 40: a reason recorded with the
    change of hands); taking an item nobody holds needs no reason, so its form asks none."""
    if assignee is None:
        return [f for f in fields if f.name != "reason"]
    return [replace(f, required=True) if f.name == "reason" else f for f in fields]


def held_as_seen(fields: Sequence[Input], assignee: str | None) -> list[Input]:
    """An assignment's form says who the officer saw holding the item (hidden): if it changed hands meanwhile,
    the work items service refuses it and says who has it now, instead of the last to press winning unseen."""
    seen = {"expects_nobody": "true"} if assignee is None else {"expected_assignee_id": assignee}
    return hidden(
        [
            f
            for f in fields
            if f.name not in ("expected_assignee_id", "expects_nobody") or f.name in seen
        ],
        seen,
    )
