"""The web console: the officers' pages under ``/ui``, served by the console service beside its command API.

A browser signs in with a one-time code (``/ui/sign-in?code=…``, a link made by ``POST /sign-in-codes`` from
the officer's token) or a token pasted into the sign-in form; either becomes a server-side session
(:mod:`console.sessions`) whose random id is the cookie. The pages authenticate themselves by that session, not
by the services' bearer guard. A sign-in from another site is refused (``Sec-Fetch-Site``, ``Origin``), so no
page elsewhere can sign an officer's browser in as someone else. Every form carries the session's form token and
a fresh idempotency key, and is issued through :func:`console.issue.issue`: the same roles check, the same outbox,
the same refusals as the API. Reads are scoped like the work items API: an officer sees the queues, MSPs and
expenses their roles open, and every read is in the audit log.

The pages are a FastAPI application of their own (mounted at ``/ui``, outside the API's OpenAPI document): routes
by path, the signed-in officer and the checked form as dependencies, a refusal an exception its handler renders.
"""

import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import issue as issuing
from console import pages, sessions, signin, store, words
from console.forms import FORM_FIELDS, Input, fields_of, inputs
from console.handlers import SUBJECTS
from console.views import (
    NEXT_ACTIONS,
    STEP_ACTIONS,
    WORK_ITEM_ACTIONS,
    codes_for,
    expense_actions,
    expense_view,
    msp_actions,
    msp_view,
)
from contracts import expenses as x
from contracts import notification as n
from contracts.procedures import implements
from contracts.roles import (
    KNOWN_TO_EVERY_OFFICER,
    QUEUE_READERS,
    known_roles,
    may_issue,
    readable_queues,
    way_out,
)
from contracts.workitems import (
    AssignWorkItem,
    Queue,
    TickOff,
    TickOffWorkItem,
    UnassignWorkItem,
    WorkItemCode,
    WorkItemStatus,
)
from servicekit.http.auth import UnauthorizedError
from servicekit.http.web import MAX_BODY_BYTES, Refused, served_app
from servicekit.logs import get_logger

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.ui")

BASE = pages.BASE
SIGN_IN = signin.SIGN_IN
PAGE_SIZE = 25
MAX_SESSION_ID_CHARS = 64
MAX_ID_CHARS = 200
"""The longest id a page is asked for (a work item's, an MSP's, an expense's): a longer one is no id of ours, and
is refused before it reaches the database or a log line."""
MAX_QUERY_FIELDS = 20
MAX_FILTER_CHARS = 64
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors "
        b"'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
SUBJECT_QUEUES = {"msp": Queue.MSP, "expense": Queue.INCOME_MANAGEMENT}
"""Who may open an MSP's or an expense's page: whoever may read the queue of its work."""
SUBJECT_ACTIONS = {"msp": n.RecordPhoneContact.TYPE, "expense": x.CeaseExpense.TYPE}
SUBJECT_READERS = {
    "msp": "MSP pages are for MSP officers and approved decision makers.",
    "expense": "Expense pages are for officers trained in Income Management.",
}
KEY_FIELDS = {subject: key_field for key_field, subject in SUBJECTS.items()} | {
    "customer": "customer_ref"
}
"""A subject's id field (``msp`` -> ``msp_id``), as its events and the audit log name it."""


def handles(path: str) -> bool:
    return path == BASE or path.startswith(BASE + "/")


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


def secured(app: ASGIApp) -> ASGIApp:
    """Every answer of the pages with the console's security headers: no script, no framing, no caching."""

    async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await app(scope, receive, sending)

    return with_headers


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status)


def make_ui(runtime: "ServiceRuntime") -> ASGIApp:
    auth = runtime.settings.bearer_auth()
    settings: Any = runtime.settings
    cookie = sessions.SessionCookie(
        secure=settings.secure_cookies,
        system=sessions.system_mark(settings.database_url, settings.topic_prefix),
    )
    ui = served_app()

    # -- what every page needs: the signed-in officer, and (for a form) the checked form ------------------

    async def signed_in(request: Request) -> pages.Officer:
        session_id = cookie.value(request.scope)
        session = None
        if session_id and len(session_id) <= MAX_SESSION_ID_CHARS:
            async with runtime.pool.acquire() as conn:
                session = await sessions.resume(conn, session_id, idle_s=settings.session_idle_s)
        if session is None or session_id is None:
            raise NotSignedIn
        request.scope["principal"] = {"sub": session.officer_id, "roles": list(session.roles)}
        request.state.session_id = session_id
        request.state.officer = pages.Officer(
            session.officer_id,
            tuple(known_roles(session.roles)),
            session.form_token,
            ZoneInfo(session.zone) if session.zone else None,
        )
        return request.state.officer  # type: ignore[no-any-return]

    SignedIn = Annotated[pages.Officer, Depends(signed_in)]  # noqa: N806 - a parameter's type

    async def checked_form(request: Request, officer: SignedIn) -> FormData:
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

    Form = Annotated[FormData, Depends(checked_form)]  # noqa: N806 - a parameter's type

    # -- refusals ---------------------------------------------------------------------------------------

    def refusal(request: Request, refused: PageRefused) -> HTMLResponse:
        officer = getattr(request.state, "officer", None)
        return html(
            pages.refused_page(
                officer, refused.title, refused.reason, refused.way_out, refused.details
            ),
            refused.status,
        )

    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return refusal(request, exc)

    async def on_not_signed_in(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        return RedirectResponse(SIGN_IN, 303)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            return refusal(
                request,
                PageRefused(
                    405, "Not allowed", "Pages are read with GET, and forms sent with POST."
                ),
            )
        if exc.status_code == 413:
            return refusal(
                request, PageRefused(413, "Too large", f"A form is at most {MAX_BODY_BYTES} bytes.")
            )
        return refusal(request, PageRefused(exc.status_code, "Not found", "No such page."))

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(e["loc"][:1] == ("path",) for e in exc.errors()):
            return refusal(request, PageRefused(404, "Not found", "No such page."))
        return refusal(
            request,
            PageRefused(400, "Bad filter", "A filter has a value this page does not offer."),
        )

    ui.add_exception_handler(PageRefused, on_refused)
    ui.add_exception_handler(NotSignedIn, on_not_signed_in)
    ui.add_exception_handler(StarletteHTTPException, on_http)
    ui.add_exception_handler(RequestValidationError, on_invalid)

    # -- signing in and out -----------------------------------------------------------------------------

    @ui.get("/console.css")
    async def stylesheet() -> Response:
        return Response(pages.STYLE, media_type="text/css; charset=utf-8")

    @ui.get("/sign-in")
    async def sign_in_form(request: Request) -> Response:
        query = request.query_params
        if query.get("token"):
            return html(
                pages.sign_in_page("Sign-in links no longer carry a token: ask for a new link."),
                400,
            )
        code = _one_field(query.get("code"))
        if code is None:
            return html(pages.sign_in_page(None))
        async with runtime.pool.acquire() as conn:
            officer_id = await sessions.code_for(conn, code)
        if officer_id is None:
            return html(
                pages.sign_in_page("That link has been used or has expired. Ask for a new one."),
                401,
            )
        return html(pages.sign_in_page(None, code=code, officer_id=officer_id))

    @ui.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        if (why := cross_site(request.headers)) is not None:
            log.info("sign-in refused", reason_code="cross-site", status=403)
            return html(
                pages.sign_in_page(
                    f"A sign-in from another site is refused ({why}). Open your sign-in link "
                    "directly."
                ),
                403,
            )
        try:
            form = await request.form(max_files=0, max_fields=4)
        except Exception:  # noqa: BLE001 - not a form the parser takes
            return html(pages.sign_in_page("That is not a sign-in form."), 400)
        code = _one_field(form.get("code"))
        async with runtime.pool.acquire() as conn:
            if code is None:  # a pasted token: the same one-time code, made and spent at once
                token = str(form.get("token") or "").strip()
                try:
                    claims = auth.verify(f"Bearer {token}" if token else None)
                except UnauthorizedError as exc:
                    log.info("sign-in refused", reason_code=exc.code, status=401)
                    return html(
                        pages.sign_in_page(
                            f"That token was not accepted ({exc.code}). Ask for a new link."
                        ),
                        401,
                    )
                try:
                    code = await signin.code_for_claims(runtime, conn, claims)
                except signin.NotAnOfficerError:
                    log.info("sign-in refused", reason_code="operators-not-officers", status=403)
                    return html(pages.sign_in_page(signin.OPERATORS_NOT_OFFICERS), 403)
            made = await sessions.exchange(
                conn, code, idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s
            )
        if made is None:
            log.info("sign-in refused", reason_code="code-not-valid", status=401)
            return html(
                pages.sign_in_page("That link has been used or has expired. Ask for a new one."),
                401,
            )
        session_id, session, max_age = made
        log.info("signed in", officer_id=session.officer_id, status=303)
        return RedirectResponse(
            f"{BASE}/", 303, headers={"set-cookie": cookie.set(session_id, max_age).decode()}
        )

    @ui.post("/sign-out")
    async def sign_out(request: Request, officer: SignedIn, form: Form) -> Response:  # noqa: ARG001 - checked
        async with runtime.pool.acquire() as conn:
            await sessions.revoke(conn, request.state.session_id)
        log.info("signed out", officer_id=officer.officer_id, status=303)
        return RedirectResponse(SIGN_IN, 303, headers={"set-cookie": cookie.clear().decode()})

    # -- actions ----------------------------------------------------------------------------------------

    @ui.post("/commands/{name}")
    async def issue(officer: SignedIn, form: Form, name: str) -> Response:
        kind = issuing.COMMANDS.get(name)
        if kind is None:
            raise PageRefused(404, "Not found", "No such action.")
        key = str(form.get("idempotency_key") or "") or None
        values = _lists(form)
        try:
            issuing.refuse_theirs(values)
            fields = fields_of(
                _inputs(name, None), {k: v for k, v in values.items() if k not in FORM_FIELDS}
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

    # -- pages ------------------------------------------------------------------------------------------

    def now() -> datetime:
        return runtime.clock.now()

    def due(officer: pages.Officer) -> pages.Due:
        return pages.Due(settings.service_levels_h, now(), officer.zone)

    @ui.get("/")
    async def queue(
        request: Request,
        officer: SignedIn,
        page: Annotated[str, Query()] = "1",
        status: Annotated[str | None, Query()] = None,
        queue: Annotated[str | None, Query()] = None,
        code: Annotated[str | None, Query()] = None,
        customer_ref: Annotated[str | None, Query()] = None,
        mine: Annotated[str | None, Query()] = None,
        q: Annotated[str | None, Query()] = None,
        order: Annotated[str | None, Query()] = None,
    ) -> Response:
        """The officer's work: open items of their queues, most urgent first, unless the filters say otherwise."""
        if len(request.query_params.multi_items()) > MAX_QUERY_FIELDS:
            raise PageRefused(
                400, "Bad address", f"A page takes at most {MAX_QUERY_FIELDS} filters."
            )
        readable = _readable(officer)
        if not readable and (wanted_customer := _filter("q", q)):
            # All staff (103-01050060 step 1) find a customer's record: its work items, and the way on
            return RedirectResponse(f"{BASE}/customers/{quote(wanted_customer, safe='')}", 303)
        try:
            page_no = max(1, min(10_000, int(page)))
        except ValueError:
            page_no = 1
        wanted = pages.QueueQuery(
            _filter("queue", queue, readable),
            _filter("status", status, [*(s.value for s in WorkItemStatus), pages.ANY_STATUS])
            or "open",
            _filter("code", code, [c.value for c in WorkItemCode]),
            _filter("customer_ref", customer_ref),
            page_no,
            PAGE_SIZE,
            mine=_filter("mine", mine, ["1"]) == "1",
            search=_filter("q", q),
            order=_filter("order", order, list(store.ORDERS)) or "urgency",
        )
        filters = store.Filters(
            (wanted.queue,) if wanted.queue else tuple(readable),
            None if wanted.status == pages.ANY_STATUS else wanted.status,
            wanted.code,
            wanted.customer_ref,
            officer.officer_id if wanted.mine else None,
            wanted.search,
            wanted.order,
            settings.service_levels_h,
            now(),
        )
        async with runtime.pool.acquire() as conn:
            items, total = await store.work_items(
                conn, filters, PAGE_SIZE, (page_no - 1) * PAGE_SIZE
            )
            # a search for an MSP's or an expense's id: its page, where the officer's roles open it (an expense
            # with no work item is no dead end)
            searched = wanted.search or ""
            records = [
                (kind, searched)
                for kind in (await store.kinds_of(conn, searched) if searched else [])
                if kind in SUBJECT_QUEUES and SUBJECT_QUEUES[kind].value in readable
            ]
        log.info("work items listed", officer_id=officer.officer_id, page="queue", status=200)
        return html(
            pages.queue_page(
                officer,
                wanted,
                readable,
                codes_for(readable),
                items,
                total,
                due(officer),
                records,
            )
        )

    @ui.get("/customers/{ident:path}")
    async def customer(officer: SignedIn, ident: str) -> Response:
        return await _audited(officer, "customer", ident, _customer(runtime, officer, _id(ident)))

    @ui.get("/work-items/{ident:path}")
    async def work_item(officer: SignedIn, ident: str) -> Response:
        return await _audited(
            officer, "work-item", ident, _work_item(runtime, officer, _id(ident), due(officer))
        )

    @ui.get("/msp/{ident:path}")
    async def msp(officer: SignedIn, ident: str) -> Response:
        return await _audited(
            officer, "msp", ident, _subject(runtime, officer, "msp", _id(ident), now())
        )

    @ui.get("/expenses/{ident:path}")
    async def expense(officer: SignedIn, ident: str) -> Response:
        return await _audited(
            officer, "expense", ident, _subject(runtime, officer, "expense", _id(ident), now())
        )

    @ui.get("/commands/{ident}")
    async def command(officer: SignedIn, ident: str) -> Response:
        return html(await _command(runtime, officer, _id(ident)))

    return secured(ui)


def cross_site(headers: Mapping[str, str]) -> str | None:
    """Why a sign-in request comes from another site, or ``None``. A current browser says where a request comes
    from (``Sec-Fetch-Site``: this console's own page, or the address bar); where a browser does not, a form post's
    ``Origin`` must be this console's own (our pages' ``no-referrer`` policy makes a modern browser's ``null``,
    which is why ``Sec-Fetch-Site`` is read first)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site[:20]}"
    origin, host = headers.get("origin"), headers.get("host")
    if origin is not None and (host is None or origin.partition("://")[2] != host):
        return "Origin is another site"
    return None


def _one_field(value: object) -> str | None:
    """A short printable ASCII value (a sign-in code is URL-safe base64), or ``None``."""
    text = value.strip() if isinstance(value, str) else ""
    return (
        text
        if text and len(text) <= MAX_SESSION_ID_CHARS and text.isascii() and text.isprintable()
        else None
    )


def _lists(form: FormData) -> dict[str, list[str]]:
    """A submitted form as each name's values (text fields only: the console's forms send no file)."""
    values: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        values.setdefault(name, []).append(value if isinstance(value, str) else "")
    return values


def _id(ident: str) -> str:
    """An id a page is asked for: printable and bounded, or no page of ours."""
    if len(ident) > MAX_ID_CHARS or not ident or not ident.isprintable():
        raise PageRefused(404, "Not found", "No such page.")
    return ident


def _filter(name: str, value: str | None, allowed: Sequence[str] | None = None) -> str | None:
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


def _readable(officer: pages.Officer) -> list[str]:
    return sorted(q.value for q in readable_queues(frozenset(officer.roles)))


async def _audited(
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


def _inputs(name: str, subject: str | None) -> list[Input]:
    """The form fields of the action ``name`` (its key field hidden and set to ``subject``, where given)."""
    kind = issuing.COMMANDS[name]
    schema, nested = issuing.request_schema(kind)
    return inputs(kind, schema, nested, subject)


def new_expense_id() -> str:
    """The id of a one-off an officer codes: made here, never invented by the officer (issue 40)."""
    return f"EXP-{uuid.uuid4().hex[:10].upper()}"


def _actions(
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
        given = (
            None if name == x.CodeOneOffExpense.TYPE else subject
        )  # a new one-off is coded under its own id
        made = {"expense_id": new_expense_id()} if given is None else {}
        fields = [
            Input(f.name, f.label, "hidden", value=made[f.name])
            if f.name in made
            else replace(f, value=prefill[f.name])
            if f.name in prefill
            else replace(f, kind="select", options=choices[f.name])
            if f.name in choices
            else f
            for f in _inputs(name, given)
        ]
        forms.append(
            pages.ActionForm(
                name, words.action(name), fields, str(uuid.uuid4()), open=name in open_
            )
        )
    return forms


async def _work_item(
    runtime: "ServiceRuntime", officer: pages.Officer, ident: str, due: pages.Due
) -> str:
    readable = _readable(officer)
    async with runtime.pool.acquire() as conn:
        item = await store.work_item(conn, ident)
        if item is None or (
            item.queue not in readable and Queue(item.queue) not in KNOWN_TO_EVERY_OFFICER
        ):
            raise PageRefused(
                404, "Not found", "No such work item in your queues (or not yet known here)."
            )
        queue = Queue(item.queue)
        if (
            item.queue not in readable
        ):  # an Income Management item: every officer learns of it, and the way out
            raise PageRefused(
                403,
                "Not in your queues",
                "This is an Income Management work item: only officers "
                "trained in Income Management work it.",
                way_out(TickOffWorkItem.TYPE, queue),
            )
        names = (
            []
            if item.status != WorkItemStatus.OPEN.value
            else [
                n
                for n in WORK_ITEM_ACTIONS
                if (n != TickOffWorkItem.TYPE or item.raised.tick_off is TickOff.MANUAL)
                and (n != UnassignWorkItem.TYPE or item.assignee_id is not None)
            ]
        )
        colleagues = await store.officers_opening(conn, [r.value for r in QUEUE_READERS[queue]])
        actions = _actions(
            officer,
            names,
            item.work_item_id,
            queue,
            frozenset(names[:1]),
            choices={"assignee_id": tuple(c for c in colleagues if c != item.assignee_id)},
        )
        if (
            AssignWorkItem.TYPE in names
            and item.assignee_id != officer.officer_id
            and may_issue(officer.roles, AssignWorkItem.TYPE, queue)
        ):
            mine = [
                Input(f.name, f.label, "hidden", value=officer.officer_id)
                if f.name == "assignee_id"
                else f
                for f in _inputs(AssignWorkItem.TYPE, item.work_item_id)
            ]
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
        actions = [as_seen(a, item.assignee_id) for a in actions]
        entries = await store.timeline(conn, "work-item", ident)
        commands = await store.commands_on(conn, officer.officer_id, ident)
        notes = await _notes(conn, officer, "work-item", ident)
    return pages.work_item_page(officer, item, entries, actions, commands, notes, due)


def as_seen(action: pages.ActionForm, assignee: str | None) -> pages.ActionForm:
    """A work item's action as its page offers it: an assignment says whom the officer saw holding the item; a
    tick-off (offered only where an officer ticks it off) asks for its DOC note."""
    if action.command_type == AssignWorkItem.TYPE:
        return replace(action, inputs=held_as_seen(action.inputs, assignee))
    if action.command_type == TickOffWorkItem.TYPE:
        return replace(
            action,
            inputs=[replace(f, required=f.required or f.name == "doc_note") for f in action.inputs],
        )
    return action


def held_as_seen(fields: Sequence[Input], assignee: str | None) -> list[Input]:
    """An assignment's form says who the officer saw holding the item (hidden): if it changed hands meanwhile,
    the work items service refuses it and says who has it now, instead of the last to press winning unseen."""
    seen = {"expects_nobody": "true"} if assignee is None else {"expected_assignee_id": assignee}
    return [
        Input(f.name, f.label, "hidden", value=seen[f.name]) if f.name in seen else f
        for f in fields
        if f.name not in ("expected_assignee_id", "expects_nobody") or f.name in seen
    ]


async def _notes(conn: Any, officer: pages.Officer, subject: str, ident: str) -> list[store.Note]:
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


@implements("IM-1.1")
async def _customer(runtime: "ServiceRuntime", officer: pages.Officer, customer_ref: str) -> str:
    """Everything of a customer an officer may know. 103-01050060 step 1: all staff investigate the work items on
    a customer's record, so an Income Management item shows to every officer (its title and status, no details,
    no action), with the transfer guidance for an officer not trained; another queue's items only to its readers."""
    readable = _readable(officer)
    known = tuple(sorted({*readable, *(q.value for q in KNOWN_TO_EVERY_OFFICER)}))
    opened = frozenset(s for s, q in SUBJECT_QUEUES.items() if q.value in readable)
    async with runtime.pool.acquire() as conn:
        items = await store.customer_items(conn, customer_ref, known)
        subjects = [s for s in await store.customer_subjects(conn, customer_ref) if s[0] in opened]
    # the same answer whatever records the officer's roles do not open
    if not items and not subjects:
        raise PageRefused(404, "Not found", "Nothing is known here of this customer.")
    # the transfer guidance while an item the officer cannot work is still open (none once all are closed)
    not_theirs = {
        i.queue for i in items if i.queue not in readable and i.status == WorkItemStatus.OPEN.value
    }
    guidance = (
        way_out(TickOffWorkItem.TYPE, Queue.INCOME_MANAGEMENT)
        if Queue.INCOME_MANAGEMENT.value in not_theirs
        else None
    )
    return pages.customer_page(officer, customer_ref, subjects, items, readable, guidance)


async def _subject(
    runtime: "ServiceRuntime", officer: pages.Officer, subject: str, ident: str, now: datetime
) -> str:
    readable = _readable(officer)
    queue = SUBJECT_QUEUES[subject]
    if queue.value not in readable:
        raise PageRefused(
            403, "Not in your queues", SUBJECT_READERS[subject], way_out(SUBJECT_ACTIONS[subject])
        )
    async with runtime.pool.acquire() as conn:
        entries = await store.timeline(conn, subject, ident)
        if all(
            store.refusal(e.event) for e in entries
        ):  # nothing but refusals: no such record here
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
        commands = await store.commands_on(conn, officer.officer_id, ident)
        notes = await _notes(conn, officer, subject, ident)
        if subject == "msp":
            view = msp_view(ident, entries)
            wanted = frozenset(a for s in view.required for a in STEP_ACTIONS[s.step])
            items = await store.work_items_about(conn, ident, tuple(readable))
            actions = _actions(officer, msp_actions(view), ident, open_=wanted)
            return pages.msp_page(officer, view, entries, actions, commands, items, notes)
    expense = expense_view(ident, entries)
    prefill: dict[str, str] = {
        k: str(expense.facts[k])
        for k in ("customer_ref", "payee_id", "state")
        if k in expense.facts
    }
    actions = _actions(
        officer, [*expense_actions(expense), "CodeOneOffExpense"], ident, prefill=prefill
    )
    return pages.expense_page(officer, expense, entries, actions, commands, notes, now)


async def _command(runtime: "ServiceRuntime", officer: pages.Officer, ident: str) -> str:
    try:
        command_id = uuid.UUID(ident)
    except ValueError:
        command_id = None
    async with runtime.pool.acquire() as conn:
        command = await store.get(conn, command_id) if command_id else None
    if command is None or command.officer_id != officer.officer_id:
        raise PageRefused(404, "Not found", "No such command of yours.")
    subject = (
        SUBJECTS.get(issuing.COMMANDS[command.command_type].key_field)
        if command.command_type in issuing.COMMANDS
        else None
    )
    back = pages.subject_link(subject, command.subject_id) if subject else None
    return pages.command_page(officer, command, back, _next_action(officer, command))


def _next_action(officer: pages.Officer, command: store.Command) -> pages.ActionForm | None:
    """The refusal's way out as a form to send at once, where the procedure gives one and the roles allow it."""
    if command.status != "rejected" or command.reason_code not in NEXT_ACTIONS or command.outcomes:
        return None  # a refusal that started something (the escalation) has been acted on
    name, title, given = NEXT_ACTIONS[command.reason_code]
    if not may_issue(officer.roles, name):
        return None
    fields = [
        Input(f.name, f.label, "hidden", value=given[f.name]) if f.name in given else f
        for f in _inputs(name, command.subject_id)
    ]
    return pages.ActionForm(name, title, fields, str(uuid.uuid4()), open=True, form="NextAction")
