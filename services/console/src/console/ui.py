"""The web console: the officers' pages under ``/ui``, served by the console service beside its command API.

A browser signs in with a one-time code (``/ui/sign-in?code=…``, a link made by ``POST /sign-in-codes`` from
the officer's token) or a token pasted into the sign-in form; either becomes a server-side session
(:mod:`console.sessions`) whose random id is the cookie. The pages authenticate themselves by that session, not
by the services' bearer guard. A sign-in from another site is refused (``Sec-Fetch-Site``, ``Origin``), so no
page elsewhere can sign an officer's browser in as someone else. Every form carries the session's form token and
a fresh idempotency key, and is
issued through :func:`console.api.issue`: the same roles check, the same outbox, the same refusals as the API.
Reads are scoped like the work items API: an officer sees the queues, MSPs and expenses their roles open, and
every read is in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from faststream.asgi.types import Receive, Scope, Send

from console import api, pages, sessions, store
from console.forms import FORM_FIELDS, Input, fields_of, inputs
from console.handlers import SUBJECTS
from console.views import NEXT_ACTIONS, STEP_ACTIONS, WORK_ITEM_ACTIONS, expense_actions, expense_view, msp_actions, msp_view
from contracts.procedures import implements
from contracts.roles import KNOWN_TO_EVERY_OFFICER, QUEUE_READERS, known_roles, may_issue, readable_queues, way_out
from contracts.workitems import Queue, TickOff, WorkItemCode, WorkItemStatus
from servicekit.auth import UnauthorizedError, roles_of
from servicekit.logs import get_logger

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.ui")

BASE = pages.BASE
SIGN_IN = f"{BASE}/sign-in"
PAGE_SIZE = 25
MAX_SESSION_ID_CHARS = 64
MAX_ID_CHARS = 200
"""The longest id a page is asked for (a work item's, an MSP's, an expense's): a longer one is no id of ours, and
is refused before it reaches the database or a log line."""
MAX_QUERY_FIELDS = 20
ACTION_TITLES = {
    "RecordPhoneContact": "Record the phone contact", "RecordIncident": "Record an incident",
    "RecordRiskFact": "Record a risk fact", "AuthoriseMspSms": "Authorise the SMS", "DeclineMspSms": "Decline the SMS",
    "AttachMspLetter": "Attach the letter", "RecordLetterDispatch": "Record the letter's dispatch",
    "RecordMspResult": "Record the result", "CeaseExpense": "Cease the expense",
    "VaryOneOffExpense": "Vary the one-off's amount", "CodeOneOffExpense": "Code a one-off expense",
    "RecordExpenseRemoval": "Record the expense's removal", "TickOffWorkItem": "Tick off, with a DOC note",
    "AssignWorkItem": "Assign to a colleague", "DescribeMspBehaviours": "Describe the behaviours",
    "RecordMySupportJob": "Record the mySupport job number",
}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors "
                                 b"'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
]
SUBJECT_QUEUES = {"msp": Queue.MSP, "expense": Queue.INCOME_MANAGEMENT}
"""Who may open an MSP's or an expense's page: whoever may read the queue of its work."""
SUBJECT_ACTIONS = {"msp": "RecordPhoneContact", "expense": "CeaseExpense"}
SUBJECT_READERS = {"msp": "MSP pages are for MSP officers and approved decision makers.",
                   "expense": "Expense pages are for officers trained in Income Management."}
KEY_FIELDS = {subject: key_field for key_field, subject in SUBJECTS.items()} | {"customer": "customer_ref"}
"""A subject's id field (``msp`` -> ``msp_id``), as its events and the audit log name it."""


def handles(path: str) -> bool:
    return path == BASE or path.startswith(BASE + "/")


class Answer(Exception):  # noqa: N818 - a response, raised from deep inside a page
    def __init__(self, status: int, html: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(status)
        self.status, self.html, self.headers = status, html, headers or []


def redirect(location: str, *headers: tuple[bytes, bytes]) -> Answer:
    return Answer(303, "", [(b"location", location.encode("latin-1")), *headers])


async def send_html(send: Send, answer: Answer, content_type: bytes = b"text/html; charset=utf-8") -> None:
    body = answer.html.encode()
    await send({"type": "http.response.start", "status": answer.status, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS,
        *answer.headers]})
    await send({"type": "http.response.body", "body": body})


def make_ui(runtime: ServiceRuntime) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    auth = runtime.settings.bearer_auth()
    settings: Any = runtime.settings
    cookie = sessions.SessionCookie(secure=settings.secure_cookies)
    timeouts = {"idle_s": settings.session_idle_s}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == pages.STYLESHEET:
            await send_html(send, Answer(200, pages.STYLE), b"text/css; charset=utf-8")
            return
        try:
            if path == SIGN_IN:
                raise await _sign_in(scope, receive, method)
            session_id = cookie.value(scope)
            session = None
            if session_id and len(session_id) <= MAX_SESSION_ID_CHARS:
                async with runtime.pool.acquire() as conn:
                    session = await sessions.resume(conn, session_id, **timeouts)
            if session is None or session_id is None:
                raise redirect(SIGN_IN)
            scope = {**scope, "principal": {"sub": session.officer_id, "roles": list(session.roles)}}
            officer = pages.Officer(session.officer_id, tuple(known_roles(session.roles)), session.form_token)
            if method == "POST":
                form = await _form(receive, officer)
                if path == f"{BASE}/sign-out":
                    async with runtime.pool.acquire() as conn:
                        await sessions.revoke(conn, session_id)
                    log.info("signed out", officer_id=officer.officer_id, status=303)
                    raise redirect(SIGN_IN, (b"set-cookie", cookie.clear()))
                raise await _issue(runtime, scope, officer, path.removeprefix(f"{BASE}/commands/"), form)
            if method not in ("GET", "HEAD"):
                raise Answer(405, pages.refused_page(officer, "Not allowed", "Pages are read with GET."))
            raise await _read(runtime, scope, officer, path)
        except Answer as answer:
            await send_html(send, answer)

    async def _sign_in(scope: Scope, receive: Receive, method: str) -> Answer:
        if method == "GET":
            query = _query(scope)
            code = _one_field(query, "code")
            if _last(query, "token"):
                return Answer(400, pages.sign_in_page("Sign-in links no longer carry a token: ask for a new link."))
            if code is None:
                return Answer(200, pages.sign_in_page(None))
            async with runtime.pool.acquire() as conn:
                officer_id = await sessions.code_for(conn, code)
            if officer_id is None:
                return Answer(401, pages.sign_in_page("That link has been used or has expired. Ask for a new one."))
            return Answer(200, pages.sign_in_page(None, code=code, officer_id=officer_id))
        if method != "POST":
            return Answer(405, pages.sign_in_page("Sign in with the form."))
        if (why := cross_site(scope)) is not None:
            log.info("sign-in refused", reason_code="cross-site", status=403)
            return Answer(403, pages.sign_in_page(f"A sign-in from another site is refused ({why}). Open your "
                                                  "sign-in link directly."))
        try:
            form = parse_qs((await api.read_body(receive)).decode("utf-8"), keep_blank_values=True, max_num_fields=4)
        except (api.Refused, UnicodeDecodeError, ValueError):
            return Answer(400, pages.sign_in_page("That is not a sign-in form."))
        code = _one_field(form, "code")
        async with runtime.pool.acquire() as conn:
            if code is None:  # a pasted token: the same one-time code, made and spent at once
                token = _last(form, "token").strip()
                try:
                    claims = auth.verify(f"Bearer {token}" if token else None)
                except UnauthorizedError as exc:
                    log.info("sign-in refused", reason_code=exc.code, status=401)
                    return Answer(401, pages.sign_in_page(f"That token was not accepted ({exc.code}). Ask for a new "
                                                          "link."))
                code = await code_for_claims(runtime, conn, claims)
            made = await sessions.exchange(conn, code, idle_s=settings.session_idle_s,
                                           absolute_s=settings.session_absolute_s)
        if made is None:
            log.info("sign-in refused", reason_code="code-not-valid", status=401)
            return Answer(401, pages.sign_in_page("That link has been used or has expired. Ask for a new one."))
        session_id, session, max_age = made
        log.info("signed in", officer_id=session.officer_id, status=303)
        return redirect(f"{BASE}/", (b"set-cookie", cookie.set(session_id, max_age)))

    return app


async def code_for_claims(runtime: ServiceRuntime, conn: Any, claims: dict[str, Any]) -> str:
    """A one-time sign-in code for a verified token's officer; their roles recorded, for assigning work to them."""
    roles = known_roles(claims.get("roles", []))
    await store.officer_seen(conn, str(claims["sub"]), roles, runtime.clock.now())
    settings: Any = runtime.settings
    return await sessions.new_code(conn, claims, roles, settings.sign_in_code_ttl_s)


def cross_site(scope: Scope) -> str | None:
    """Why a sign-in request comes from another site, or ``None``. A current browser says where a request comes
    from (``Sec-Fetch-Site``: this console's own page, or the address bar); where a browser does not, a form post's
    ``Origin`` must be this console's own (our pages' ``no-referrer`` policy makes a modern browser's ``null``,
    which is why ``Sec-Fetch-Site`` is read first)."""
    headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site[:20]}"
    origin, host = headers.get(b"origin"), headers.get(b"host")
    if origin is not None and (host is None or origin.partition("://")[2] != host):
        return "Origin is another site"
    return None


def _one_field(values: dict[str, list[str]], name: str) -> str | None:
    """A short printable value of ``name`` (the last given), or ``None``."""
    value = _last(values, name).strip()
    return value if value and len(value) <= MAX_SESSION_ID_CHARS and value.isprintable() else None


def _last(values: dict[str, list[str]], name: str) -> str:
    """A query's or a form's value for ``name`` (the last given), or empty."""
    return (values.get(name) or [""])[-1]


def _query(scope: Scope) -> dict[str, list[str]]:
    try:
        return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True,
                        max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise Answer(400, pages.refused_page(None, "Bad address", f"A page takes at most {MAX_QUERY_FIELDS} "
                                             "filters.")) from None


async def _form(receive: Receive, officer: pages.Officer) -> dict[str, list[str]]:
    try:
        raw = await api.read_body(receive)
    except api.Refused as exc:
        raise Answer(exc.status, pages.refused_page(officer, "Too large", exc.body["detail"])) from None
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        form = None
    if form is None or any("\x00" in text for name, values in form.items() for text in (name, *values)):
        raise Answer(400, pages.refused_page(officer, "Not a form", "The request is not a form this console sent."))
    # The cookie comes with any request the browser makes; the form token only with a form this console served.
    if _last(form, "form_token") != officer.form_token:
        log.info("form refused", officer_id=officer.officer_id, reason_code="form-token", status=403)
        raise Answer(403, pages.refused_page(officer, "Form refused", "This form was not served to your session: "
                                             "open the page again and resubmit."))
    return form


def _inputs(name: str, subject: str | None) -> list[Input]:
    """The form fields of the action ``name`` (its key field hidden and set to ``subject``, where given)."""
    kind = api.COMMANDS[name]
    schema, nested = api.request_schema(kind)
    return inputs(kind, schema, nested, subject)


async def _issue(runtime: ServiceRuntime, scope: Scope, officer: pages.Officer, name: str,
                 form: dict[str, list[str]]) -> Answer:
    kind = api.COMMANDS.get(name)
    if kind is None:
        raise Answer(404, pages.refused_page(officer, "Not found", "No such action."))
    key = _last(form, "idempotency_key") or None
    try:
        api.refuse_theirs(form)
        fields = fields_of(_inputs(name, None), {k: v for k, v in form.items() if k not in FORM_FIELDS})
        body, _ = await api.issue(runtime, officer.officer_id, roles_of(scope), kind, fields,
                                  key if key and len(key) <= api.MAX_KEY_CHARS else None)
    except api.Refused as exc:
        log.info("command refused", officer_id=officer.officer_id, code=exc.body["error"], status=exc.status,
                 reason_code=exc.body.get("reason_code"))
        problems = [f"{p['field']}: {p['problem']}" for p in exc.body.get("problems", ())]
        return Answer(exc.status, pages.refused_page(officer, f"{ACTION_TITLES.get(name, name)}: refused",
                                                     exc.body["detail"], exc.body.get("way_out"), problems))
    return redirect(pages.link("/commands", body["command_id"]))


async def _read(runtime: ServiceRuntime, scope: Scope, officer: pages.Officer, path: str) -> Answer:
    readable = sorted(q.value for q in readable_queues(roles_of(scope)))
    kind, _, ident = path.removeprefix(BASE).strip("/").partition("/")  # the server decoded the path once
    if len(ident) > MAX_ID_CHARS or not ident.isprintable():
        return Answer(404, pages.refused_page(officer, "Not found", "No such page."))
    async with runtime.pool.acquire() as conn:
        if kind == "":
            html = await _queue(runtime, conn, officer, _query(scope), readable)
            log.info("work items listed", officer_id=officer.officer_id, page="queue", status=200)
            return Answer(200, html)
        if kind == "customers" and ident:
            return await _audited(officer, "customer", ident, _customer(conn, officer, ident, readable))
        if kind == "work-items" and ident:
            due = pages.Due(runtime.settings.service_levels_h, runtime.clock.now())  # type: ignore[attr-defined]
            return await _audited(officer, "work-item", ident, _work_item(conn, officer, ident, readable, due))
        if kind in ("msp", "expenses") and ident:
            subject = "msp" if kind == "msp" else "expense"
            return await _audited(officer, subject, ident, _subject(conn, officer, subject, ident, readable,
                                                                    runtime.clock.now()))
        if kind == "commands" and ident:
            return await _command(conn, officer, ident)
    return Answer(404, pages.refused_page(officer, "Not found", "No such page."))


async def _audited(officer: pages.Officer, subject: str, ident: str, answer: Awaitable[Answer]) -> Answer:
    """Every read of a customer's case, allowed or not, in the audit log."""
    try:
        result = await answer
    except Answer as refused:
        result = refused
    ids = {KEY_FIELDS[subject]: ident}
    log.info("page read", officer_id=officer.officer_id, page=subject, status=result.status,
             outcome="shown" if result.status == 200 else "refused", **ids)
    return result


def _one(officer: pages.Officer, query: dict[str, list[str]], name: str, allowed: Any = None) -> str | None:
    value = _last(query, name).strip()
    if not value:
        return None
    if (allowed is not None and value not in allowed) or len(value) > 64 or not value.isprintable():
        raise Answer(400, pages.refused_page(officer, "Bad filter", f"{name} has a value this page does not offer."))
    return value


async def _queue(runtime: ServiceRuntime, conn: Any, officer: pages.Officer, query: dict[str, list[str]],
                 readable: list[str]) -> str:
    """The officer's work: open items of their queues, most urgent first, unless the filters say otherwise."""
    try:
        page_no = max(1, min(10_000, int(_last(query, "page") or "1")))
    except ValueError:
        page_no = 1
    status = _one(officer, query, "status", [*(s.value for s in WorkItemStatus), pages.ANY_STATUS])
    wanted = pages.QueueQuery(_one(officer, query, "queue", readable), status or WorkItemStatus.OPEN.value,
                              _one(officer, query, "code", [c.value for c in WorkItemCode]),
                              _one(officer, query, "customer_ref"), page_no, PAGE_SIZE,
                              mine=_one(officer, query, "mine", ["1"]) == "1", search=_one(officer, query, "q"),
                              order=_one(officer, query, "order", list(store.ORDERS)) or "urgency")
    queues = (wanted.queue,) if wanted.queue else tuple(readable)
    levels, now = runtime.settings.service_levels_h, runtime.clock.now()  # type: ignore[attr-defined]
    filters = store.Filters(queues, None if wanted.status == pages.ANY_STATUS else wanted.status, wanted.code,
                            wanted.customer_ref, officer.officer_id if wanted.mine else None, wanted.search,
                            wanted.order, levels, now)
    items, total = await store.work_items(conn, filters, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    return pages.queue_page(officer, wanted, readable, [c.value for c in WorkItemCode], items, total,
                            pages.Due(levels, now))


def _actions(officer: pages.Officer, roles: Any, names: Any, subject: str, queue: Queue | None = None,
             open_: frozenset[str] = frozenset(), prefill: dict[str, str] | None = None,
             choices: dict[str, tuple[str, ...]] | None = None) -> str:
    """The forms of the actions ``names`` the officer's roles allow; ``choices`` turns a field into a choice among
    known values (a colleague to assign to)."""
    forms = []
    for name in names:
        if not may_issue(roles, name, queue):
            continue
        given = None if name == "CodeOneOffExpense" else subject  # a new one-off is coded under its own id
        fields = [replace(f, value=(prefill or {})[f.name]) if f.name in (prefill or {}) else
                  replace(f, kind="select", options=(choices or {})[f.name]) if f.name in (choices or {}) else f
                  for f in _inputs(name, given)]
        forms.append(pages.action_form(name, ACTION_TITLES.get(name, name), fields, officer, str(uuid.uuid4()),
                                       open_=name in open_))
    return "".join(forms)


async def _work_item(conn: Any, officer: pages.Officer, ident: str, readable: list[str], due: pages.Due) -> Answer:
    item = await store.work_item(conn, ident)
    if item is None or (item.queue not in readable and Queue(item.queue) not in KNOWN_TO_EVERY_OFFICER):
        raise Answer(404, pages.refused_page(officer, "Not found", "No such work item in your queues (or not yet "
                                                                   "known here)."))
    queue = Queue(item.queue)
    if item.queue not in readable:  # an Income Management item: every officer learns of it, and the way out
        raise Answer(403, pages.refused_page(
            officer, "Not in your queues", "This is an Income Management work item: only officers trained in Income "
                                           "Management work it.", way_out("TickOffWorkItem", queue)))
    roles = list(officer.roles)
    names = [] if item.status != WorkItemStatus.OPEN.value else [
        n for n in WORK_ITEM_ACTIONS if n != "TickOffWorkItem" or item.details.get("tick_off") == TickOff.MANUAL.value]
    colleagues = await store.officers_opening(conn, [r.value for r in QUEUE_READERS[queue]])
    actions = _actions(officer, roles, names, item.work_item_id, queue, frozenset(names[:1]),
                       choices={"assignee_id": tuple(c for c in colleagues if c != item.assignee_id)})
    if "AssignWorkItem" in names and item.assignee_id != officer.officer_id and may_issue(roles, "AssignWorkItem",
                                                                                          queue):
        actions = pages.assign_to_me(officer, _inputs("AssignWorkItem", item.work_item_id), str(uuid.uuid4())) + actions
    entries = await store.timeline(conn, "work-item", ident)
    commands = await store.commands_on(conn, officer.officer_id, ident)
    notes = await _notes(conn, officer, "work-item", ident)
    return Answer(200, pages.work_item_page(officer, item, entries, actions, commands, notes, due))


async def _notes(conn: Any, officer: pages.Officer, subject: str, ident: str) -> list[store.Note]:
    """The notes colleagues wrote on a record the officer may open; every read audited (how many, never what)."""
    notes = await store.notes_on(conn, ident)
    if notes:
        log.info("notes read", officer_id=officer.officer_id, page=subject, count=len(notes),
                 **{KEY_FIELDS[subject]: ident})
    return notes


@implements("IM-1.1")
async def _customer(conn: Any, officer: pages.Officer, customer_ref: str, readable: list[str]) -> Answer:
    """Everything of a customer an officer may know. 103-01050060 step 1: all staff investigate the work items on
    a customer's record, so an Income Management item shows to every officer (its title and status, no details,
    no action), with the transfer guidance for an officer not trained; another queue's items only to its readers."""
    known = tuple(sorted({*readable, *(q.value for q in KNOWN_TO_EVERY_OFFICER)}))
    items = await store.customer_items(conn, customer_ref, known)
    subjects = await store.customer_subjects(conn, customer_ref)
    if not items and not subjects:
        raise Answer(404, pages.refused_page(officer, "Not found", "Nothing is known here of this customer."))
    opened = frozenset(s for s, q in SUBJECT_QUEUES.items() if q.value in readable)
    not_theirs = {i.queue for i in items if i.queue not in readable}
    guidance = way_out("TickOffWorkItem", Queue.INCOME_MANAGEMENT) if Queue.INCOME_MANAGEMENT.value in not_theirs \
        else None
    return Answer(200, pages.customer_page(officer, customer_ref, subjects, opened, items, readable, guidance))


async def _subject(conn: Any, officer: pages.Officer, subject: str, ident: str, readable: list[str],
                   now: datetime) -> Answer:
    queue = SUBJECT_QUEUES[subject]
    if queue.value not in readable:
        raise Answer(403, pages.refused_page(officer, "Not in your queues", SUBJECT_READERS[subject],
                                             way_out(SUBJECT_ACTIONS[subject])))
    entries = await store.timeline(conn, subject, ident)
    if not entries:
        raise Answer(404, pages.refused_page(officer, "Not found", f"No such {subject} (or not yet known here)."))
    commands = await store.commands_on(conn, officer.officer_id, ident)
    notes = await _notes(conn, officer, subject, ident)
    roles = list(officer.roles)
    if subject == "msp":
        view = msp_view(ident, entries)
        wanted = frozenset(a for s in view.required for a in STEP_ACTIONS[s.step])
        items = await store.work_items_about(conn, ident, tuple(readable))
        actions = _actions(officer, roles, msp_actions(view), ident, open_=wanted)
        return Answer(200, pages.msp_page(officer, view, entries, actions, commands, items, notes))
    expense = expense_view(ident, entries)
    names = list(expense_actions(expense))
    prefill: dict[str, str] = {k: str(expense.facts[k]) for k in ("customer_ref", "payee_id", "state")
                               if k in expense.facts}
    actions = _actions(officer, roles, [*names, "CodeOneOffExpense"], ident, prefill=prefill)
    return Answer(200, pages.expense_page(officer, expense, entries, actions, commands, notes, now))


async def _command(conn: Any, officer: pages.Officer, ident: str) -> Answer:
    try:
        command = await store.get(conn, uuid.UUID(ident))
    except ValueError:
        command = None
    if command is None or command.officer_id != officer.officer_id:
        return Answer(404, pages.refused_page(officer, "Not found", "No such command of yours."))
    subject = SUBJECTS.get(api.COMMANDS[command.command_type].key_field) if command.command_type in api.COMMANDS \
        else None
    back = pages.subject_link(subject, command.subject_id) if subject else None
    return Answer(200, pages.command_page(officer, command, back, _next_action(officer, command)))


def _next_action(officer: pages.Officer, command: store.Command) -> str:
    """The refusal's way out as a form to send at once, where the procedure gives one and the roles allow it."""
    if command.status != "rejected" or command.reason_code not in NEXT_ACTIONS or command.outcomes:
        return ""  # a refusal that started something (the escalation) has been acted on
    name, title, given = NEXT_ACTIONS[command.reason_code]
    if not may_issue(officer.roles, name):
        return ""
    fields = [Input(f.name, f.label, "hidden", value=given[f.name]) if f.name in given else f
              for f in _inputs(name, command.subject_id)]
    return pages.action_form(name, title, fields, officer, str(uuid.uuid4()), open_=True, name="NextAction")
