"""An officer's action, sent from a page: issued like the API's (:func:`console.issue.issue`), then followed on
its own page to the service's answer."""

from __future__ import annotations

import uuid
from dataclasses import replace

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from console import issue as issuing
from console import pages, store
from console.desk import words
from console.desk.offers import next_action
from console.desk.records import Command
from console.forms import FORM_FIELDS, fields_of
from console.handlers import SUBJECTS
from console.web.common import (
    Form,
    PageRefused,
    Runtime,
    SignedIn,
    action_inputs,
    hidden,
    html,
    log,
    page_id,
)
from servicekit.http.web import Refused

router = APIRouter()


@router.post("/commands/{name}")
async def issue(runtime: Runtime, officer: SignedIn, form: Form, name: str) -> Response:
    kind = issuing.COMMANDS.get(name)
    if kind is None:
        raise PageRefused(404, "Not found", "No such action.")
    key = str(form.get("idempotency_key") or "") or None
    values = lists(form)
    try:
        issuing.refuse_theirs(values)
        fields = fields_of(
            action_inputs(name, None), {k: v for k, v in values.items() if k not in FORM_FIELDS}
        )
        body, _ = await issuing.issue(
            runtime,
            officer.officer_id,
            frozenset(officer.roles),
            kind,
            fields,
            key if key and len(key) <= issuing.MAX_KEY_CHARS else None,
        )
    except Refused as exc:
        log.info(
            "command refused",
            officer_id=officer.officer_id,
            code=exc.body["error"],
            status=exc.status_code,
            reason_code=exc.body.get("reason_code"),
        )
        problems = [f"{p['field']}: {p['problem']}" for p in exc.body.get("problems", ())]
        raise PageRefused(
            exc.status_code,
            f"{words.action(name)}: refused",
            exc.body["detail"],
            exc.body.get("way_out"),
            problems,
        ) from None
    return RedirectResponse(pages.link("/commands", body["command_id"]), 303)


@router.get("/commands/{ident}")
async def command(runtime: Runtime, officer: SignedIn, ident: str) -> Response:
    try:
        command_id = uuid.UUID(page_id(ident))
    except ValueError:
        command_id = None
    async with runtime.pool.acquire() as conn:
        found = await store.get(conn, command_id) if command_id else None
        if found is None or found.officer_id != officer.officer_id:
            raise PageRefused(404, "Not found", "No such command of yours.")
        note = await store.own_note(conn, found) if next_action(officer.roles, found) else None
    subject = (
        SUBJECTS.get(issuing.COMMANDS[found.command_type].key_field)
        if found.command_type in issuing.COMMANDS
        else None
    )
    back = pages.subject_link(subject, found.subject_id) if subject else None
    return html(pages.command_page(officer, found, back, _next_action(officer, found, note)))


def _next_action(
    officer: pages.Officer, command: Command, note: str | None
) -> pages.ActionForm | None:
    """The refusal's way out as a form to send at once, where the procedure gives one and the roles allow it; the
    DOC note the officer typed into the refused action is carried into it (issue 40: typed once, not twice)."""
    if (found := next_action(officer.roles, command)) is None:
        return None
    name, title, given = found
    fields = [
        replace(f, value=note) if note and f.name == "doc_note" else f
        for f in hidden(action_inputs(name, command.subject_id), given)
    ]
    return pages.ActionForm(name, title, fields, str(uuid.uuid4()), open=True, form="NextAction")


def lists(form: FormData) -> dict[str, list[str]]:
    """A submitted form as each name's values (text fields only: the console's forms send no file)."""
    values: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        values.setdefault(name, []).append(value if isinstance(value, str) else "")
    return values
