"""The console's HTML: plain, server-rendered pages with native forms, no script and nothing from another site.

The pages are Jinja2 templates (``templates/``) rendered with autoescape on: every value is escaped by the
environment, and nothing is marked safe. Accessible by construction: one ``h1`` per page, a skip link, landmarks,
every input with its ``label`` (groups in a ``fieldset`` with a ``legend``), tables with header cells, statuses in
words (colour only repeats them) and refusals announced (``role="alert"``). This module chooses what a page says
(pure: no I/O); the templates say how it looks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from console.desk.due import due_at, due_text
from console.desk.localtime import day, shown, when, zone_for
from console.desk.offers import RISK_RULES
from console.desk.records import SAFETY_CODES, Command, Entry, Note, WorkItem
from console.desk.team import MAX_BULK, Counts
from console.desk.views import (
    ESCALATED,
    ExpenseView,
    MspView,
    escalated,
    one_off_today,
    timeline_facts,
    window_due,
)
from console.desk.words import KINDS, OUTCOMES, QUEUES, TICK_OFF, choice
from console.desk.words import event as label
from console.desk.words import roles as role_words
from console.forms import Input
from console.store import SORT_COLUMNS
from contracts.dates import AGENCY_ZONE
from contracts.notification import RiskFact

BASE = "/ui"
STYLESHEET = f"{BASE}/console.css"
STYLE = files("console").joinpath("static/console.css").read_text()


def link(path: str, *parts: str) -> str:
    return f"{BASE}{path}" + "".join("/" + quote(p, safe="") for p in parts)


def subject_link(subject_type: str, subject_id: str) -> str:
    return link(
        {"msp": "/msp", "expense": "/expenses", "work-item": "/work-items"}[subject_type],
        subject_id,
    )


@dataclass(frozen=True)
class Officer:
    officer_id: str
    roles: tuple[str, ...]
    form_token: str
    zone: ZoneInfo | None = None
    """The officer's own time zone, where their token named one: a time that reads otherwise there says both."""


@dataclass(frozen=True)
class ActionForm:
    """A staff action offered on a page: its form's fields, the command's fresh idempotency key, and whether it
    opens unfolded. ``form`` tells two forms of one action apart on a page (their ids stay unique)."""

    command_type: str
    title: str
    inputs: Sequence[Input]
    key: str
    open: bool = False
    form: str = ""

    def __post_init__(self) -> None:
        if not self.form:
            object.__setattr__(self, "form", self.command_type)


STATUS_TEXT = {
    "open": "Open",
    "ticked-off": "Ticked off",
    "cancelled": "Cancelled",
    "pending": "Sent, waiting",
    "accepted": "Accepted",
    "rejected": "Refused",
}
STEP_STATUS = {
    "done": "Done",
    "required": "Required now",
    "scheduled": "Decided",
    "to come": "To come",
}
QUEUE_TEXT = QUEUES
ANY_STATUS = "any"
COLUMN_TEXT = {
    "item": "Work item",
    "about": "About",
    "customer": "Customer",
    "queue": "Queue",
    "status": "Status",
    "assignee": "Assigned to",
    "due": "Due",
    "raised": "Raised",
}
ORDER_TEXT = {
    "urgency": "Most urgent first",
    "raised": "Oldest first",
    "raised-desc": "Newest first",
    "due": "Soonest due first",
} | {
    f"{c}{s}": f"by {t.lower()}{', descending' if s else ''}"
    for c, t in COLUMN_TEXT.items()
    for s in ("", "-desc")
    if f"{c}{s}" not in ("raised", "raised-desc", "due")
}
"""Every order the queue offers (:data:`console.store.ORDERS`), as the officer reads it."""
assert set(COLUMN_TEXT) == set(SORT_COLUMNS)


@dataclass(frozen=True)
class Due:
    """What a page needs to say when items are due: the agency's service levels, and now."""

    levels: Mapping[str, float]
    now: datetime
    officers: ZoneInfo | None = None
    """The officer's own time zone, where known."""

    def text(self, item: WorkItem, zone: ZoneInfo, rule_id: str = "MSP-2.1") -> str:
        return due_text(
            item.code,
            item.raised_at,
            item.status,
            self.levels,
            self.now,
            zone,
            self.officers,
            item.raised.due_at,
            rule_id,
        )

    def when(self, item: WorkItem, zone: ZoneInfo) -> str:
        """The queue's short form: the due time, and whether it has passed."""
        at = due_at(item.code, item.raised_at, self.levels, item.raised.due_at)
        if at is None:
            return "at the customer's next contact"
        return when(at, zone, self.officers) + (
            " (overdue)" if item.status == "open" and at < self.now else ""
        )


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
        wanted = {
            "queue": self.queue,
            "status": self.status,
            "code": self.code,
            "customer_ref": self.customer_ref,
            "mine": "1" if self.mine else None,
            "q": self.search,
            "order": self.order,
            **changes,
        }
        params = {
            k: str(v) for k, v in wanted.items() if v and not (k == "order" and v == "urgency")
        }
        return f"{BASE}/?{urlencode(params | {'page': str(page or 1)})}"


@dataclass(frozen=True)
class Column:
    name: str
    """Its key in :data:`COLUMN_TEXT` (and :data:`console.store.SORT_COLUMNS`): the header and each row's cell."""
    text: str
    href: str
    sorted: str | None
    """``ascending`` or ``descending`` where the table is ordered by this column (``aria-sort``)."""


def columns(query: QueueQuery) -> list[Column]:
    """The queue's column headers, each a link that orders by it (ascending first; again, descending)."""
    made = []
    for name, text in COLUMN_TEXT.items():
        direction = (
            "ascending"
            if query.order == name
            else "descending"
            if query.order == f"{name}-desc"
            else None
        )
        made.append(
            Column(
                name,
                text,
                query.href(order=f"{name}-desc" if direction == "ascending" else name),
                direction,
            )
        )
    return made


_ENV = Environment(
    loader=PackageLoader("console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
NOTICE_TEXT = {"safety-item-raised": "Safety item raised", "overdue": "Overdue"}
"""What the team was told, in words (:class:`contracts.workitems.NoticeReason`)."""
_ENV.globals.update(
    NOTICE_TEXT=NOTICE_TEXT,
    BASE=BASE,
    STYLESHEET=STYLESHEET,
    STATUS_TEXT=STATUS_TEXT,
    STEP_STATUS=STEP_STATUS,
    QUEUE_TEXT=QUEUE_TEXT,
    ORDER_TEXT=ORDER_TEXT,
    TICK_OFF=TICK_OFF,
    SAFETY_CODES=SAFETY_CODES,
    link=link,
    subject_link=subject_link,
    when=when,
    day=day,
    shown=shown,
    zone_for=zone_for,
    label=label,
    choice=choice,
    role_words=role_words,
    timeline_facts=timeline_facts,
    window_due=window_due,
    agency_zone=ZoneInfo(AGENCY_ZONE),
    KINDS=KINDS,
    OUTCOMES=OUTCOMES,
    ESCALATED=ESCALATED,
    escalated=escalated,
)


READ_AT: ContextVar[float | None] = ContextVar("read_at", default=None)
"""When the request that renders a page began (before its reads): the moment its live updates start from."""


def render(
    template: str,
    title: str,
    officer: Officer | None,
    *,
    refresh: int | None = None,
    watch: str | None = None,
    **context: Any,
) -> str:
    """A page: its template with the officer (and their time zone: every instant is shown in the customer's time,
    and the officer's too where it reads otherwise). A page that ``watch``es something is kept up to date from the
    moment its request began (:mod:`console.web.live`)."""
    officers = officer.zone if officer is not None else None
    return tidy(
        _ENV.get_template(template).render(
            title=title,
            officer=officer,
            refresh_s=refresh,
            watch=watch,
            since=f"{READ_AT.get() or time.time():.3f}",
            when=lambda instant, zone: when(instant, zone, officers),
            **context,
        )
    )


_TAG = re.compile(r"<[a-zA-Z/][^<>]*>")
_QUOTED = re.compile(r'("[^"]*")')


def tidy(page: str) -> str:
    """A rendered page with each tag on one line: the templates break a long tag between its attributes (a diff
    reads one element per line); the page says each tag as one. Quoted values are kept as they are."""
    return _TAG.sub(
        lambda tag: "".join(
            part if part.startswith('"') else re.sub(r"\s+", " ", part)
            for part in _QUOTED.split(tag.group())
        ),
        page,
    )


def action_form(form: ActionForm, officer: Officer) -> str:
    """One action's form alone (the page templates place them)."""
    return tidy(_ENV.get_template("_macros.html").module.action_form(form, officer))  # type: ignore[attr-defined]


def control(field: Input, form: str) -> str:
    return str(_ENV.get_template("_macros.html").module.control(field, form))  # type: ignore[attr-defined]


def queue_page(
    officer: Officer,
    query: QueueQuery,
    readable: Sequence[str],
    codes: Sequence[str],
    items: Sequence[WorkItem],
    total: int,
    due: Due,
    records: Sequence[tuple[str, str]] = (),
) -> str:
    statuses = [
        ("open", "Open"),
        ("ticked-off", "Ticked off"),
        ("cancelled", "Cancelled"),
        (ANY_STATUS, "Any status"),
    ]
    return render(
        "queue.html",
        "Work items",
        officer,
        watch="queue",
        query=query,
        readable=readable,
        items=items,
        total=total,
        due=due,
        first=(query.page - 1) * query.size,
        columns=columns(query),
        statuses=statuses,
        queues=[(q, QUEUE_TEXT.get(q, q)) for q in readable],
        codes=[(c, c) for c in codes],
        orders=[(k, ORDER_TEXT[k]) for k in ("urgency", "raised", "raised-desc", "due")]
        + (
            [(query.order, ORDER_TEXT[query.order])]
            if query.order not in ("urgency", "raised", "raised-desc", "due")
            else []
        ),
        records=records,
    )


def customer_page(
    officer: Officer,
    customer_ref: str,
    records: Sequence[tuple[str, str]],
    items: Sequence[WorkItem],
    readable: Sequence[str],
    guidance: str | None,
) -> str:
    """A customer's MSPs, expenses and work items: what every officer must know when the customer calls. Only the
    records the officer's roles open: a page never tells that others exist (an MSP says much of a customer)."""
    return render(
        "customer.html",
        f"Customer {customer_ref}",
        officer,
        items=items,
        readable=readable,
        records=records,
        guidance=guidance,
    )


def work_item_page(
    officer: Officer,
    item: WorkItem,
    entries: Sequence[Entry],
    actions: Sequence[ActionForm],
    commands: Sequence[Command],
    notes: Sequence[Note],
    due: Due,
    risk: RiskFact | None = None,
) -> str:
    """A work item: what it asks, by when and why, its actions, notes and history. Its times are the customer's
    (the zone the item carries), else the agency's; a risk response says which risk and the rule it answers."""
    return render(
        "work_item.html",
        item.title or item.work_item_id,
        officer,
        watch=f"work-item:{item.work_item_id}",
        item=item,
        entries=entries,
        actions=actions,
        commands=commands,
        notes=notes,
        due=due,
        zone=ZoneInfo(item.raised.time_zone or AGENCY_ZONE),
        risk=choice(risk) if risk else None,
        rule_id=RISK_RULES.get(risk, "MSP-2.1") if risk else "MSP-2.1",
    )


def msp_page(
    officer: Officer,
    view: MspView,
    entries: Sequence[Entry],
    actions: Sequence[ActionForm],
    commands: Sequence[Command],
    items: Sequence[WorkItem],
    notes: Sequence[Note] = (),
) -> str:
    still_open = [i for i in items if i.status == "open"]
    required = (
        "Required next: " + "; ".join(s.name for s in view.required)
        if view.required
        else "The notification is complete."
        if view.completed and not still_open
        else "The notification's steps are done; still open: "
        + "; ".join(i.title or i.code for i in still_open)
        + "."
        if view.completed
        else "Nothing is required of an officer now."
    )
    return render(
        "msp.html",
        f"MSP {view.msp_id}",
        officer,
        watch=f"msp:{view.msp_id}",
        view=view,
        entries=entries,
        actions=actions,
        commands=commands,
        items=items,
        notes=notes,
        required=required,
        zone=ZoneInfo(AGENCY_ZONE),
    )


def expense_page(
    officer: Officer,
    view: ExpenseView,
    entries: Sequence[Entry],
    actions: Sequence[ActionForm],
    commands: Sequence[Command],
    notes: Sequence[Note],
    now: datetime,
) -> str:
    zone = zone_for(view.facts.get("state"))
    return render(
        "expense.html",
        f"Expense {view.expense_id}",
        officer,
        watch=f"expense:{view.expense_id}",
        view=view,
        entries=entries,
        actions=actions,
        commands=commands,
        notes=notes,
        zone=zone,
        today=one_off_today(view, now.astimezone(zone).date()),
        options=[w for w in view.windows if w.outcome == "retrying"],
    )


def command_page(
    officer: Officer, command: Command, back: str | None, next_action: ActionForm | None = None
) -> str:
    raised = escalated(command.command_type, [o.get("event_type", "") for o in command.outcomes])
    title = (
        f"{ESCALATED}: raised"
        if raised
        else f"{label(command.command_type)}: {STATUS_TEXT.get(command.status, command.status)}"
    )
    return render(
        "command.html",
        title,
        officer,
        command=command,
        back=back,
        next_action=next_action,
        # what each caused, as it was said when it came (an outcome kept before then: by its kind)
        caused=[o.get("said") or label(o.get("event_type", "")) for o in command.outcomes],
        links=[
            subject_link(o["subject"], o["key"]) if o.get("subject") and o.get("key") else None
            for o in command.outcomes
        ],
        refresh=2 if command.status == "pending" else None,
        watch=f"command:{command.command_id}",
        escalated=raised,
    )


def team_page(
    officer: Officer,
    queues: Mapping[str, Counts],
    officers: Mapping[str, Counts],
    items: Sequence[WorkItem],
    total: int,
    colleagues: Sequence[str],
    reasons: Sequence[str],
    due: Due,
    queue: str | None,
    holder: str | None,
    notices: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A team leader's view: what the team was told lately (first: a safety item raised, an item overdue), counts
    per queue and per officer, and the open items (of one queue, or one officer's) to give in one action."""
    return render(
        "team.html",
        "Your team",
        officer,
        watch="queue",
        queues=queues,
        officers=officers,
        items=items,
        total=total,
        colleagues=colleagues,
        reasons=reasons,
        due=due,
        queue=queue,
        holder=holder,
        zone=ZoneInfo(AGENCY_ZONE),
        max_bulk=MAX_BULK,
        notices=notices,
    )


def given_page(
    officer: Officer, commands: Sequence[Command], not_sent: Sequence[tuple[str, str]]
) -> str:
    """What became of each item a team leader gave in one action, kept up to date as the answers come."""
    ids = ",".join(str(c.command_id) for c in commands)
    return render(
        "given.html",
        "Items given",
        officer,
        watch=f"commands:{ids}" if commands else None,
        commands=commands,
        not_sent=not_sent,
    )


def refused_page(
    officer: Officer | None,
    title: str,
    reason: str,
    way_out: str | None = None,
    details: Sequence[str] = (),
) -> str:
    return render("refused.html", title, officer, reason=reason, way_out=way_out, details=details)


def sign_in_page(
    reason: str | None, *, code: str | None = None, officer_id: str | None = None
) -> str:
    return render("sign_in.html", "Sign in", None, reason=reason, code=code, signs_in=officer_id)
