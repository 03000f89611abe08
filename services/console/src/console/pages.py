"""The console's HTML: plain, server-rendered pages with native forms, no script and nothing from another site.

Accessible by construction: one ``h1`` per page, a skip link, landmarks, every input with its ``label`` (groups
in a ``fieldset`` with a ``legend``), tables with header cells, statuses in words (colour only repeats them) and
refusals announced (``role="alert"``). Every value is escaped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from console.due import due_at, due_text
from console.forms import Input
from console.localtime import AGENCY_ZONE, day, shown, when, zone_for
from console.store import SAFETY_CODES, Command, Entry, Note, WorkItem
from console.views import ExpenseView, MspView, one_off_today, timeline_facts, window_due
from console.words import choice
from console.words import event as label
from console.words import roles as role_words

BASE = "/ui"
STYLESHEET = f"{BASE}/console.css"


def e(value: object) -> str:
    return escape(str(value), quote=True)


def link(path: str, *parts: str) -> str:
    return f"{BASE}{path}" + "".join("/" + quote(p, safe="") for p in parts)


def subject_link(subject_type: str, subject_id: str) -> str:
    return link({"msp": "/msp", "expense": "/expenses", "work-item": "/work-items"}[subject_type], subject_id)


@dataclass(frozen=True)
class Officer:
    officer_id: str
    roles: tuple[str, ...]
    form_token: str


def page(title: str, body: str, officer: Officer | None, *, refresh_s: int | None = None) -> str:
    who = ""
    if officer is not None:
        roles = role_words(officer.roles)
        who = (f'<p class="who">Signed in as <strong>{e(officer.officer_id)}</strong> ({e(roles)})</p>'
               f'<form method="post" action="{BASE}/sign-out" class="inline">'
               f'<input type="hidden" name="form_token" value="{e(officer.form_token)}">'
               '<button type="submit">Sign out</button></form>')
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return ("<!doctype html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><title>{e(title)} – Officers\' console</title>'
            f'<link rel="stylesheet" href="{STYLESHEET}">{refresh}</head><body>'
            '<a class="skip" href="#main">Skip to the content</a>'
            f'<header><p class="brand"><a href="{BASE}/">Officers\' console</a></p>'
            f'<nav aria-label="Main"><ul><li><a href="{BASE}/">Work items</a></li></ul></nav>{who}</header>'
            f'<main id="main" tabindex="-1"><h1>{e(title)}</h1>{body}</main></body></html>')


def notice(text: str, *, kind: str = "info", heading: str | None = None) -> str:
    role = ' role="alert"' if kind == "refused" else ""
    head = f"<h2>{e(heading)}</h2>" if heading else ""
    return f'<div class="notice {e(kind)}"{role}>{head}<p>{e(text)}</p></div>'


def facts(rows: Iterable[tuple[str, object]]) -> str:
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows if v not in (None, ""))
    return f"<dl class=\"facts\">{items}</dl>"


def bullets(lines: Iterable[str]) -> str:
    items = "".join(f"<li>{e(line)}</li>" for line in lines)
    return f"<ul>{items}</ul>" if items else ""


# -------------------------------------------------------------------------------------------------- forms


def _control(field: Input, form: str) -> str:
    """A labelled control of the form ``form``: its id is unique on the page (several forms share field names)."""
    ident = f"f-{form}-" + field.name.replace(".", "-")
    hint_id = f"{ident}-hint"
    hint = f'<span class="hint" id="{hint_id}">{e(field.hint)}</span>' if field.hint else ""
    described = f' aria-describedby="{hint_id}"' if field.hint else ""
    required = " required" if field.required else ""
    marker = ' <span class="required">(required)</span>' if field.required else ""
    if field.kind == "hidden":
        return f'<input type="hidden" name="{e(field.name)}" value="{e(field.value)}">'
    if field.kind in ("group", "list"):
        inner = "".join(_control(c, form) for c in field.children)
        return f'<fieldset><legend>{e(field.label)}</legend>{hint}{inner}</fieldset>'
    if field.kind == "checkbox":
        return (f'<div class="field check"><input type="checkbox" id="{ident}" name="{e(field.name)}" value="true"'
                f'{described}><label for="{ident}">{e(field.label)}</label>{hint}</div>')
    if field.kind == "select":
        # nothing chosen for the officer: a required choice starts on "Choose one", which the form refuses to send
        options = '<option value="">Choose one</option>' if field.required else '<option value="">(none)</option>'
        options += "".join(f'<option value="{e(o)}"{" selected" if o == field.value else ""}>{e(choice(o))}</option>'
                           for o in field.options)
        control = f'<select id="{ident}" name="{e(field.name)}"{required}{described}>{options}</select>'
    elif field.kind == "textarea":
        control = (f'<textarea id="{ident}" name="{e(field.name)}" rows="5" maxlength="{field.max_length}"'
                   f'{required}{described}>{e(field.value)}</textarea>')
    elif field.kind == "datetime":
        control = (f'<input type="datetime-local" id="{ident}" name="{e(field.name)}" value="{e(field.value)}"'
                   f'{required}{described}>')
    else:
        mode = ' inputmode="decimal"' if field.kind == "decimal" else ""
        limit = f' maxlength="{field.max_length}"' if field.max_length else ""
        control = (f'<input type="text" id="{ident}" name="{e(field.name)}" value="{e(field.value)}"{mode}{limit}'
                   f'{required}{described}>')
    return f'<div class="field"><label for="{ident}">{e(field.label)}{marker}</label>{hint}{control}</div>'


def action_form(command_type: str, title: str, form_inputs: Sequence[Input], officer: Officer, key: str, *,
                open_: bool = False, note: str = "", name: str | None = None) -> str:
    """One staff action as a form inside a disclosure (keyboard-operable ``details``); ``name`` tells two forms
    of one action apart on a page (their ids stay unique)."""
    form = name or command_type
    controls = "".join(_control(f, form) for f in form_inputs)
    return (f'<details class="action"{" open" if open_ else ""} id="action-{e(form)}">'
            f"<summary>{e(title)}</summary>{note}"
            f'<form method="post" action="{link("/commands", command_type)}">'
            f'<input type="hidden" name="form_token" value="{e(officer.form_token)}">'
            f'<input type="hidden" name="idempotency_key" value="{e(key)}">{controls}'
            f'<button type="submit">{e(title)}</button></form></details>')


# -------------------------------------------------------------------------------------------------- pages


STATUS_TEXT = {"open": "Open", "ticked-off": "Ticked off", "cancelled": "Cancelled", "pending": "Sent, waiting",
               "accepted": "Accepted", "rejected": "Refused"}


def status_badge(status: str) -> str:
    return f'<span class="status s-{e(status.replace(" ", "-"))}">{e(STATUS_TEXT.get(status, status))}</span>'


@dataclass(frozen=True)
class Due:
    """What a page needs to say when items are due: the agency's service levels, and now."""

    levels: Mapping[str, float]
    now: datetime

    def text(self, item: WorkItem, zone: ZoneInfo) -> str:
        return due_text(item.code, item.raised_at, item.status, self.levels, self.now, zone)

    def when(self, item: WorkItem, zone: ZoneInfo) -> str:
        """The queue's short form: the due time, and whether it has passed."""
        at = due_at(item.code, item.raised_at, self.levels)
        if at is None:
            return "at the customer's next contact"
        return when(at, zone) + (" (overdue)" if item.status == "open" and at < self.now else "")


ANY_STATUS = "any"
ORDER_TEXT = {"urgency": "Most urgent first", "oldest": "Oldest first", "newest": "Newest first"}
QUEUE_TEXT = {"income-management": "Income Management", "msp-implementation": "MSP implementation",
              "msp-approved-decision-makers": "Approved decision makers"}


@dataclass(frozen=True)
class QueueQuery:
    queue: str | None
    status: str
    code: str | None
    customer_ref: str | None
    page: int
    size: int
    mine: bool = False
    search: str | None = None
    order: str = "urgency"

    def href(self, page: int | None = None, **changes: object) -> str:
        """This view's address (filters kept in the URL), on ``page`` and with ``changes``."""
        wanted = {"queue": self.queue, "status": self.status, "code": self.code, "customer_ref": self.customer_ref,
                  "mine": "1" if self.mine else None, "q": self.search, "order": self.order, **changes}
        params = {k: str(v) for k, v in wanted.items() if v and not (k == "order" and v == "urgency")}
        return f"{BASE}/?{urlencode(params | {'page': str(page or 1)})}"


def _select(name: str, text: str, options: Iterable[str] | Iterable[tuple[str, str]], chosen: str | None,
            empty: str | None) -> str:
    pairs = [o if isinstance(o, tuple) else (o, o) for o in options]
    items = (f'<option value="">{e(empty)}</option>' if empty is not None else "") + "".join(
        f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(t)}</option>' for v, t in pairs)
    return f'<div class="field"><label for="q-{name}">{e(text)}</label><select id="q-{name}" name="{name}">{items}</select></div>'


def queue_page(officer: Officer, query: QueueQuery, readable: Sequence[str], codes: Sequence[str],
               items: Sequence[WorkItem], total: int, due: Due) -> str:
    if not readable:
        return page("Work items", notice("Your roles open no work item queue. Ask your manager for the role your "
                                         "work needs.", kind="refused"), officer)
    current = ' aria-current="page"'
    views = (f'<nav aria-label="Views" class="views"><a href="{e(query.href(mine=None))}"'
             f'{current if not query.mine else ""}>All my queues</a> '
             f'<a href="{e(query.href(mine="1"))}"{current if query.mine else ""}>My work</a></nav>')
    statuses = [("open", "Open"), ("ticked-off", "Ticked off"), ("cancelled", "Cancelled"), (ANY_STATUS, "Any status")]
    filters = (f'<form method="get" action="{BASE}/" class="filters" aria-label="Find and filter the work items">'
               '<div class="field"><label for="q-q">Find: work item, MSP or expense id, or CRN</label>'
               f'<input type="search" id="q-q" name="q" value="{e(query.search or "")}" maxlength="64"></div>'
               + _select("queue", "Queue", [(q, QUEUE_TEXT.get(q, q)) for q in readable], query.queue,
                         "All my queues")
               + _select("status", "Status", statuses, query.status, None)
               + _select("code", "Code", codes, query.code, "Any code")
               + _select("order", "Order", ORDER_TEXT.items(), query.order, None)
               + ('<input type="hidden" name="mine" value="1">' if query.mine else "")
               + (f'<input type="hidden" name="customer_ref" value="{e(query.customer_ref)}">'
                  if query.customer_ref else "")
               + '<button type="submit">Show</button></form>')
    safety, flag = ' class="safety"', '<strong class="flag">Safety first</strong> '
    rows = "".join(
        f'<tr{safety if i.code in SAFETY_CODES else ""}>'
        f'<td>{flag if i.code in SAFETY_CODES else ""}'
        f'<a href="{link("/work-items", i.work_item_id)}">{e(i.title or i.code)}</a></td>'
        f"<td>{e(i.details.get('subject_id') or '')}</td><td>{e(i.customer_ref or '')}</td>"
        f"<td>{e(QUEUE_TEXT.get(i.queue, i.queue))}</td><td>{status_badge(i.status)}</td>"
        f"<td>{e(i.assignee_id or 'nobody')}</td><td>{e(due.when(i, zone_for(i.details.get('state'))))}</td>"
        f"<td>{e(when(i.raised_at, zone_for(i.details.get('state'))))}</td></tr>" for i in items)
    first = (query.page - 1) * query.size
    shown_ = f"{first + 1}–{first + len(items)} of {total}" if items else "none"
    what = "Your work" if query.mine else "Work items in your queues"
    table = (f'<table><caption>{e(what)}: {e(shown_)} ({e(ORDER_TEXT[query.order].lower())})</caption><thead><tr>'
             '<th scope="col">Work item</th><th scope="col">About</th><th scope="col">Customer</th>'
             '<th scope="col">Queue</th><th scope="col">Status</th><th scope="col">Assigned to</th>'
             '<th scope="col">Due</th>'
             f'<th scope="col"><a href="{e(query.href(order="newest" if query.order == "oldest" else "oldest"))}">'
             'Raised</a></th></tr></thead>'
             f"<tbody>{rows}</tbody></table>") if items else notice("No work item matches these filters.")
    pages_ = []
    if query.page > 1:
        pages_.append(f'<a href="{e(query.href(query.page - 1))}" rel="prev">Previous page</a>')
    if first + len(items) < total:
        pages_.append(f'<a href="{e(query.href(query.page + 1))}" rel="next">Next page</a>')
    paging = f'<nav aria-label="Pages" class="paging">{" ".join(pages_)}</nav>' if pages_ else ""
    customer = (f'<p><a href="{link("/customers", query.search)}">Everything of customer {e(query.search)}</a>, '
                "whatever the queue</p>") if query.search else ""
    return page("Work items", views + filters + customer + table + paging, officer)


def timeline(entries: Sequence[Entry], zone: ZoneInfo) -> str:
    if not entries:
        return notice("Nothing has happened yet.")
    items = "".join(
        f'<li><time datetime="{e(x.occurred_at.isoformat())}">{e(when(x.occurred_at, zone))}'
        f"</time> <strong>{e(label(x.event_type))}</strong>{facts(timeline_facts(x, zone))}</li>" for x in entries)
    return f'<ol class="timeline">{items}</ol>'


def your_commands(commands: Sequence[Command]) -> str:
    if not commands:
        return ""
    rows = "".join(f'<tr><td><a href="{link("/commands", str(c.command_id))}">{e(label(c.command_type))}</a></td>'
                   f"<td>{status_badge(c.status)}</td><td>{e(c.reason or '')}</td></tr>" for c in commands)
    return ('<section aria-labelledby="yours"><h2 id="yours">Your commands here</h2><table><thead><tr>'
            '<th scope="col">Command</th><th scope="col">Status</th><th scope="col">Reason</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></section>")


def section(ident: str, title: str, body: str) -> str:
    return f'<section aria-labelledby="{ident}"><h2 id="{ident}">{e(title)}</h2>{body}</section>'


def assign_to_me(officer: Officer, form_inputs: Sequence[Input], key: str) -> str:
    """One press to take an item: the assign form with the officer as the assignee."""
    mine = [Input(f.name, f.label, "hidden", value=officer.officer_id) if f.name == "assignee_id" else f
            for f in form_inputs]
    return action_form("AssignWorkItem", "Assign to me", mine, officer, key, open_=True, name="AssignToMe")


def customer_link(customer_ref: object) -> str:
    """A link to everything the console knows of the customer (every record of theirs links here)."""
    if not customer_ref:
        return ""
    return f'<p><a href="{link("/customers", str(customer_ref))}">Everything of customer {e(customer_ref)}</a></p>'


def customer_page(officer: Officer, customer_ref: str, subjects: Sequence[tuple[str, str]], opened: frozenset[str],
                  items: Sequence[WorkItem], readable: Sequence[str], guidance: str | None) -> str:
    """A customer's MSPs, expenses and work items: what every officer must know when the customer calls, and the
    way on (the transfer guidance) where the work is not theirs."""
    rows = "".join(
        f"<tr><td>{_item_link(i, readable)}</td><td>{e(QUEUE_TEXT.get(i.queue, i.queue))}</td>"
        f"<td>{status_badge(i.status)}</td><td>{e(i.details.get('subject_id') or '')}</td></tr>" for i in items)
    table = ('<table><caption>Work items on the customer\'s record</caption><thead><tr><th scope="col">Work item'
             '</th><th scope="col">Queue</th><th scope="col">Status</th><th scope="col">About</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>") if items else notice("No work item on this customer's record.")
    mine = [(t, i) for t, i in subjects if t in opened]
    records = bullets_html(f'<a href="{subject_link(t, i)}">{e("MSP" if t == "msp" else "Expense")} {e(i)}</a>'
                           for t, i in mine)
    hidden = len(subjects) - len(mine)
    if hidden:
        records += (f"<p>{hidden} more {'record' if hidden == 1 else 'records'} of this customer "
                    f"{'is' if hidden == 1 else 'are'} for officers with other roles.</p>")
    body = ((section("way-on", "What to do", f'<p class="way-out">{e(guidance)}</p>') if guidance else "")
            + section("items", "Work items", table)
            + section("records", "MSPs and expenses", records or notice("None that your roles open.")))
    return page(f"Customer {customer_ref}", body, officer)


def _item_link(item: WorkItem, readable: Sequence[str]) -> str:
    text = e(item.title or item.code)
    return f'<a href="{link("/work-items", item.work_item_id)}">{text}</a>' if item.queue in readable else text


def bullets_html(items: Iterable[str]) -> str:
    """A list of HTML already escaped (links)."""
    inner = "".join(f"<li>{i}</li>" for i in items)
    return f"<ul>{inner}</ul>" if inner else ""


def notes_section(notes: Sequence[Note], zone: ZoneInfo) -> str:
    """What colleagues wrote on the record (DOC notes, MSP notes, incident references), oldest first."""
    if not notes:
        return ""
    refused = " (refused: the action it went with was not done)"
    items = "".join(
        f'<li><p><strong>{e(n.kind)}</strong> by {e(n.officer_id)}, <time datetime="{e(n.written_at.isoformat())}">'
        f'{e(when(n.written_at, zone))}</time>{refused if n.status == "rejected" else ""}'
        f'</p><p class="note">{e(n.body)}</p></li>' for n in notes)
    return section("notes", "Notes", f'<ol class="notes">{items}</ol>')


def work_item_page(officer: Officer, item: WorkItem, entries: Sequence[Entry], actions: str,
                   commands: Sequence[Command], notes: Sequence[Note], due: Due) -> str:
    d = item.details
    zone = zone_for(d.get("state"))
    subject = d.get("subject_type"), d.get("subject_id")
    about = (f'<p>About <a href="{subject_link(str(subject[0]), str(subject[1]))}">{e(subject[0])} '
             f"{e(subject[1])}</a></p>") if all(subject) else ""
    details = facts([("Status", STATUS_TEXT.get(item.status, item.status)), ("Code", item.code),
                     ("Queue", item.queue), ("Customer", item.customer_ref), ("Procedure", d.get("procedure")),
                     ("Procedure step", d.get("procedure_step")), ("Period", day(d.get("period_start"))),
                     ("Tick-off", d.get("tick_off")), ("Assigned to", item.assignee_id or "unassigned"),
                     ("Raised", when(item.raised_at, zone)),
                     ("Approved decision makers only", "yes" if d.get("approved_decision_makers_only") else None)])
    body = (about + customer_link(item.customer_ref) + notice(due.text(item, zone), heading="When") + details
            + section("instructions", "Instructions", bullets(d.get("instructions") or ()))
            + (section("briefing", "What to explain", bullets(d["briefing"])) if d.get("briefing") else "")
            + (section("guidance", "Guidance", bullets(d.get("guidance") or ())) if d.get("guidance") else "")
            + section("actions", "Actions", actions or notice("No action is open to you on this item."))
            + notes_section(notes, zone) + your_commands(commands) + section("history", "History", timeline(entries, zone)))
    return page(f"{item.code}: {item.title or item.work_item_id}", body, officer)


STEP_STATUS = {"done": "Done", "required": "Required now", "to come": "To come"}


def msp_page(officer: Officer, view: MspView, entries: Sequence[Entry], actions: str, commands: Sequence[Command],
             items: Sequence[WorkItem], notes: Sequence[Note] = ()) -> str:
    steps = "".join(
        f'<li class="step {e(s.status.replace(" ", "-"))}"><span class="step-status">{e(STEP_STATUS[s.status])}'
        f"</span> <strong>{e(s.name)}</strong>{': ' + e(s.outcome) if s.outcome else ''}"
        + (bullets(s.instructions) if s.status == "required" else "")
        + (f"<p><strong>What to explain</strong></p>{bullets(s.briefing)}" if s.status == "required" and s.briefing
           else "") + "</li>" for s in view.steps)
    still_open = [i for i in items if i.status == "open"]
    required = ("Required next: " + "; ".join(s.name for s in view.required) if view.required
                else "The notification is complete." if view.completed and not still_open
                else "The notification's steps are done; still open: " + "; ".join(i.title or i.code for i in still_open)
                + "." if view.completed
                else "Nothing is required of an officer now.")
    related = bullets(f"{i.code} ({STATUS_TEXT.get(i.status, i.status)})" for i in items)
    body = (facts([("Customer", view.customer_ref), ("Agency", view.agency)]) + customer_link(view.customer_ref)
            + notice(required)
            + "".join(notice(w, heading="SMS withheld") for w in view.withheld)
            + section("steps", "Steps", f'<ol class="steps">{steps}</ol>' if steps else notice("Not planned yet."))
            + section("actions", "Actions", actions or notice("Your roles allow no action on this MSP."))
            + (section("items", "Work items", related) if items else "")
            + notes_section(notes, ZoneInfo(AGENCY_ZONE))
            + your_commands(commands) + section("history", "Timeline", timeline(entries, ZoneInfo(AGENCY_ZONE))))
    return page(f"MSP {view.msp_id}", body, officer)


def expense_page(officer: Officer, view: ExpenseView, entries: Sequence[Entry], actions: str,
                 commands: Sequence[Command], notes: Sequence[Note], now: datetime) -> str:
    f = view.facts
    zone = zone_for(f.get("state"))
    today = one_off_today(view, now.astimezone(zone).date())
    days = notice(today, heading="Today") if today else ""
    if view.one_off and view.day_1:
        days += section("days", "One-off: day 1 and day 2", facts([
            ("Day 1 (cease or vary allowed)", day(view.day_1)),
            ("Day 2 (it cannot be ceased or varied)", day(view.day_2)),
        ]))
    windows = "".join(
        f"<tr><th scope=\"row\">{e(day(w.period_start))}</th><td>{e(w.status)}</td>"
        f"<td>{e(window_due(w, f.get('kind'), zone))}</td><td>{status_badge(w.outcome)}"
        f"{' ' + e(shown(w.outcome_at, zone)) if w.outcome_at else ''}</td></tr>" for w in view.windows)
    table = ('<table><caption>Each undelivered period and how long the system keeps trying</caption><thead><tr>'
             '<th scope="col">Period</th><th scope="col">Marked</th><th scope="col">Retry window closes, and why</th>'
             '<th scope="col">Outcome</th></tr></thead>'
             f"<tbody>{windows}</tbody></table>") if windows else notice("No undelivered period.")
    options = [w for w in view.windows if w.outcome == "retrying"]
    guidance = (section("options", f"What to discuss (procedure step {options[-1].procedure_step})",
                        f"<p>{e(options[-1].explanation)}</p>" + bullets(options[-1].officer_options))
                if options else "")
    body = (facts([("Customer", f.get("customer_ref")), ("Payee", f.get("payee_id")), ("Kind", f.get("kind")),
                   ("Amount (AUD)", f.get("amount")), ("State", f.get("state")), ("Ended", view.ended)])
            + customer_link(f.get("customer_ref"))
            + days + section("windows", "Retry windows", table) + guidance
            + section("actions", "Actions", actions or notice("Your roles allow no action on this expense."))
            + notes_section(notes, zone) + your_commands(commands) + section("history", "Timeline", timeline(entries, zone)))
    return page(f"Expense {view.expense_id}", body, officer)


def command_page(officer: Officer, command: Command, back: str | None, next_action: str = "") -> str:
    """A command the officer issued: pending, accepted with what it caused, or refused with why, what it did cause
    all the same (a day-2 cease in extreme hardship escalates the removal), and the way out, as the next action
    where there is one."""
    title = f"{label(command.command_type)}: {STATUS_TEXT.get(command.status, command.status)}"
    back_link = f'<p><a href="{e(back)}">Back to {e(command.subject_id)}</a></p>' if back else ""
    if command.status == "pending":
        body = (notice("Sent. The service has not answered yet; this page checks again every 2 seconds.")
                + f'<p><a href="{link("/commands", str(command.command_id))}">Check again now</a></p>')
    elif command.status == "accepted":
        body = notice("Accepted.", kind="ok") + section(
            "outcomes", "What it caused", bullets(label(o.get("event_type", "")) for o in command.outcomes))
    else:
        caused = ("".join(notice(label(o.get("event_type", "")), kind="ok", heading="It did start this")
                          for o in command.outcomes))
        body = (caused + notice(command.reason or "", kind="refused", heading="Refused")
                + (section("way-out", "What to do instead", f'<p class="way-out">{e(command.way_out)}</p>'
                           + next_action) if command.way_out or next_action else ""))
    body += facts([("Action", label(command.command_type)), ("About", command.subject_id),
                   ("Submitted", when(command.submitted_at, ZoneInfo(AGENCY_ZONE))), ("Command id", command.command_id)])
    return page(title, body + back_link, officer, refresh_s=2 if command.status == "pending" else None)


def refused_page(officer: Officer | None, title: str, reason: str, way_out: str | None = None,
                 details: Sequence[str] = ()) -> str:
    body = notice(reason, kind="refused", heading=title) + bullets(details)
    if way_out:
        body += section("way-out", "What to do instead", f'<p class="way-out">{e(way_out)}</p>')
    return page(title, body + f'<p><a href="{BASE}/">Back to the work items</a></p>', officer)


def sign_in_page(reason: str | None, *, code: str | None = None, officer_id: str | None = None) -> str:
    """Where a sign-in link lands: who the link signs in and the button that does it (nothing happens before the
    officer presses it); without a valid link, how to get one, or a token to paste."""
    why = notice(reason, kind="refused") if reason else ""
    if code is not None and officer_id is not None:
        body = (why + f"<p>This link signs you in as <strong>{e(officer_id)}</strong>. If that is not you, close this "
                "page and ask for a new link.</p>"
                f'<form method="post" action="{BASE}/sign-in"><input type="hidden" name="code" value="{e(code)}">'
                f'<button type="submit">Sign in as {e(officer_id)}</button></form>')
        return page("Sign in", body, None)
    body = (why + "<p>Sign in with the link your identity provider gave you (each link works once, for two "
            "minutes), or paste your token here.</p>"
            f'<form method="post" action="{BASE}/sign-in"><div class="field"><label for="token">Token</label>'
            '<textarea id="token" name="token" rows="4" required autocomplete="off"></textarea></div>'
            '<button type="submit">Sign in</button></form>')
    return page("Sign in", body, None)


STYLE = """
:root { font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1b1b; background: #fff; }
body { margin: 0 auto; max-width: 70rem; padding: 0 1rem 3rem; }
a { color: #0b4f9c; } a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus,
main:focus-visible { outline: 3px solid #c25400; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; border-bottom: 2px solid #1b1b1b; }
header .brand { font-weight: bold; margin-right: auto; } nav ul { list-style: none; padding: 0; display: flex; }
.who { margin: 0; } form.inline { display: inline; }
.views { margin: 1rem 0 0; } .views a { margin-right: 1rem; } .views a[aria-current] { font-weight: bold; }
tr.safety { background: #fdecea; } .flag { color: #8a1c0e; }
.note { white-space: pre-wrap; margin-top: 0; } ol.notes { padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; } caption { text-align: left; font-weight: bold; }
th, td { border: 1px solid #767676; padding: .3rem .5rem; text-align: left; vertical-align: top; }
.field { margin: .6rem 0; display: flex; flex-direction: column; max-width: 40rem; }
.field.check { flex-direction: row; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
.hint { color: #454545; font-size: .9rem; } .required { font-weight: normal; font-size: .9rem; }
.filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-end; }
input[type=text], input[type=search], select, textarea { font: inherit; padding: .3rem; border: 2px solid #1b1b1b; }
button { font: inherit; padding: .4rem 1rem; border: 2px solid #1b1b1b; background: #e8eef6; cursor: pointer; }
.notice { border-left: 6px solid #0b4f9c; padding: .5rem 1rem; margin: 1rem 0; background: #f2f6fb; }
.notice.refused { border-color: #a4000f; background: #fbeff0; } .notice.ok { border-color: #1e6b30; }
.way-out { font-weight: bold; } details.action { border: 1px solid #767676; padding: .5rem 1rem; margin: .5rem 0; }
summary { cursor: pointer; font-weight: bold; } fieldset { margin: .6rem 0; max-width: 40rem; }
.status { font-weight: bold; } .s-ticked-off, .s-delivered, .s-accepted { color: #1e6b30; }
.s-rejected, .s-closed-unpaid { color: #a4000f; }
.steps li { margin: .4rem 0; } .step-status { display: inline-block; min-width: 8rem; font-weight: bold; }
.step.required .step-status { color: #a4000f; } .step.done .step-status { color: #1e6b30; }
.timeline { padding-left: 1.2rem; } .timeline dl, dl.facts { display: grid; grid-template-columns: max-content auto;
gap: 0 1rem; margin: .3rem 0; } dt { font-weight: bold; } dd { margin: 0; }
.paging { display: flex; gap: 2rem; }
"""
