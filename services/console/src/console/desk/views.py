"""What the pages show, worked out from a subject's events: pure (no I/O), so every page's logic is tested alone.

An MSP's steps (104-07050030) as a timeline with what is required next; an expense's retry windows with their
deadlines and calendars, and a one-off's day 1 and day 2 (103-01050060).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from console.desk.localtime import day, shown
from console.desk.records import Entry
from console.desk.words import FACTS, fact
from console.desk.words import calendar as calendar_words
from console.desk.words import event as event_words
from contracts import expenses as x
from contracts import notification as n
from contracts import workitems as w
from contracts.dates import AGENCY_ZONE
from contracts.envelope import Event
from contracts.notification import Step
from contracts.procedures import BY_ID

STEP_ACTIONS: dict[Step, tuple[str, ...]] = {
    Step.DESCRIBE: (n.DescribeMspBehaviours.TYPE,),
    Step.PHONE: (n.RecordPhoneContact.TYPE,),
    Step.SMS: (n.AuthoriseMspSms.TYPE, n.DeclineMspSms.TYPE),
    Step.LETTER: (n.AttachMspLetter.TYPE, n.RecordLetterDispatch.TYPE),
    Step.INCIDENT: (n.RecordIncident.TYPE, n.WithdrawMspIncident.TYPE),
    Step.RECORD_RESULT: (n.RecordMspResult.TYPE,),
}
"""The staff actions that complete each step; ``RecordRiskFact`` belongs to none (a fact can arrive any time)."""
MSP_ACTIONS = (*(a for actions in STEP_ACTIONS.values() for a in actions), n.RecordRiskFact.TYPE)
EXPENSE_ACTIONS = tuple(
    t.TYPE
    for t in (x.CeaseExpense, x.VaryOneOffExpense, x.RecordMySupportJob, x.RecordExpenseRemoval)
)
ONE_OFF_ACTIONS = frozenset(
    t.TYPE for t in (x.VaryOneOffExpense, x.RecordMySupportJob, x.RecordExpenseRemoval)
)
"""103-01050060 step 7: varying the amount and the day-2 removal (mySupport, the ICT Service Desk) are a
one-off's; a regular expense is ceased (step 4)."""
WORK_ITEM_ACTIONS = tuple(t.TYPE for t in (w.TickOffWorkItem, w.AssignWorkItem, w.UnassignWorkItem))

STEP_NAMES = {
    Step.DESCRIBE: "Describe the behaviours (approving officer)",
    Step.PHONE: "Phone the customer (or their nominee / power of attorney)",
    Step.SMS: "SMS decision (approved decision makers only)",
    Step.LETTER: "Signed and approved letter",
    Step.INCIDENT: "Incident record",
    Step.RECORD_RESULT: "Record the result",
}


@dataclass(frozen=True)
class StepView:
    step: Step
    status: str
    """``done``, ``required`` (now), ``scheduled`` (decided, to happen at a time: an authorised SMS) or
    ``to come``."""
    outcome: str | None = None
    instructions: tuple[str, ...] = ()
    approved_decision_makers_only: bool = False
    briefing: tuple[str, ...] = ()
    """The phone step: what this MSP says to explain."""
    number: int | None = None
    """The incident step: which aggressive call's incident (each is a step of its own)."""

    @property
    def name(self) -> str:
        named = STEP_NAMES[self.step]
        return named if self.number is None else f"{named} for aggressive call {self.number}"

    @property
    def actions(self) -> tuple[str, ...]:
        return STEP_ACTIONS[self.step]


@dataclass(frozen=True)
class MspView:
    msp_id: str
    customer_ref: str | None
    agency: str | None
    steps: tuple[StepView, ...]
    completed: bool
    withheld: tuple[str, ...] = ()
    letter_accepted: bool = False
    """The signed and approved letter is attached: what remains of the letter step is its dispatch."""

    @property
    def required(self) -> tuple[StepView, ...]:
        return tuple(s for s in self.steps if s.status == "required")


StepKey = tuple[Step, int | None]
"""A step, and for an incident the aggressive call's number: each numbered incident is a step of its own."""


def _in_order(planned: Sequence[Step], seen: Sequence[StepKey]) -> list[StepKey]:
    """The plan's steps in its order, each planned step that came numbered replaced by its numbered instances (in
    number order), then any step the plan did not name, as it came."""
    numbered = {
        step: sorted({n for s, n in seen if s is step and n is not None}) for step in planned
    }
    order: list[StepKey] = []
    for step in planned:
        order += [(step, n) for n in numbered[step]] or [(step, None)]
    return order + [k for k in dict.fromkeys(seen) if k not in order and k[0] not in numbered]


def msp_view(msp_id: str, entries: Sequence[Entry]) -> MspView:
    """104-07050030: the MSP's steps as its events give them. Each aggressive call asks for its own incident (MSP-1.7:
    "Record a new incident and link it to the MSP."), so each numbered incident is a step of its own."""
    planned: list[Step] = []
    required: dict[StepKey, n.MspStepRequired] = {}
    done: dict[StepKey, str] = {}
    facts: dict[str, Any] = {}
    withheld: list[str] = []
    scheduled: dict[StepKey, str] = {}
    letter_accepted = False
    for entry in entries:
        event = entry.event
        facts |= {k: v for k in ("customer_ref", "agency") if (v := getattr(event, k, None))}
        match event:
            case n.MspNotificationPlanned():
                planned = [Step(s) for s in event.steps]
            case n.MspStepRequired():
                required[(Step(event.step), event.number)] = event
            case n.MspStepDone():
                done[(Step(event.step), event.number)] = str(event.outcome)
            case n.MspSmsWithheld():
                withheld.append(event.reason)
            case n.MspSmsAuthorised():
                scheduled[(Step.SMS, None)] = _send_time(event)
            case n.MspLetterAccepted():
                letter_accepted = True
    steps = tuple(
        StepView(s, "done", outcome=done[(s, number)], number=number)
        if (s, number) in done
        else StepView(s, "scheduled", outcome=f"authorised, to be sent {scheduled[(s, number)]}")
        if (s, number) in scheduled
        else StepView(
            s,
            "required",
            instructions=tuple(required[(s, number)].instructions),
            approved_decision_makers_only=required[(s, number)].approved_decision_makers_only,
            briefing=tuple(required[(s, number)].briefing or ()),
            number=number,
        )
        if (s, number) in required
        else StepView(s, "to come", number=number)
        for s, number in _in_order(planned, [*required, *done])
    )
    completed = any(isinstance(e.event, n.MspNotificationCompleted) for e in entries)
    agency = facts.get("agency")
    return MspView(
        msp_id,
        facts.get("customer_ref"),
        str(agency) if agency else None,
        steps,
        completed,
        tuple(withheld),
        letter_accepted,
    )


@dataclass
class WindowView:
    """One period's retry window: open until its deadline, then delivered or closed unpaid."""

    period_start: str
    status: str
    """``UNDLVD RI`` (regular) or ``UNDLVD IM`` (one-off)."""
    closes_at: str
    calendar: str
    explanation: str
    procedure_step: int
    officer_options: tuple[str, ...]
    outcome: str = "retrying"
    """``retrying`` (the window is open), ``delivered``, ``closed unpaid`` or ``ceased``."""
    outcome_at: str | None = None
    day_1: str | None = None
    day_2: str | None = None


@dataclass
class ExpenseView:
    expense_id: str
    facts: dict[str, Any] = field(default_factory=dict)
    windows: list[WindowView] = field(default_factory=list)
    day_1: str | None = None
    day_2: str | None = None
    ended: str | None = None
    """``ceased`` or ``removed``, once it is."""
    escalated: bool = False
    """A day-2 removal was escalated for extreme hardship."""
    mysupport_job: str | None = None
    """The job number of the mySupport webform raised for it, once recorded."""

    @property
    def one_off(self) -> bool:
        return self.facts.get("kind") == "one-off"

    @property
    def paid(self) -> str | None:
        """When a one-off was delivered (it has one period): then nothing more can be done to it."""
        if not self.one_off:
            return None
        return next((w.outcome_at for w in self.windows if w.outcome == "delivered"), None)


def _iso(value: object) -> str:
    """A date or an instant as the views keep it (ISO text, shown in words and local time by the pages)."""
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def expense_view(expense_id: str, entries: Sequence[Entry]) -> ExpenseView:
    view = ExpenseView(expense_id)
    windows: dict[str, WindowView] = {}
    for entry in entries:
        event = entry.event
        view.facts |= {
            k: v
            for k in ("customer_ref", "payee_id", "kind", "amount", "state")
            if (v := getattr(event, k, None)) is not None and v != ""
        }
        day_1, day_2 = getattr(event, "day_1", None), getattr(event, "day_2", None)
        view.day_1 = _iso(day_1) if day_1 else view.day_1
        view.day_2 = _iso(day_2) if day_2 else view.day_2
        period = _iso(getattr(event, "period_start", None))
        match event:
            case x.ExpenseUndelivered():
                windows[period] = WindowView(
                    period,
                    event.status,
                    _iso(event.window_closes_at),
                    event.calendar,
                    event.failure_explanation,
                    event.procedure_step,
                    tuple(event.officer_options),
                    day_1=_iso(event.day_1) if event.day_1 else None,
                    day_2=_iso(event.day_2) if event.day_2 else None,
                )
            case x.ExpenseDelivered() | x.ExpenseClosureReversed() if period in windows:
                windows[period].outcome = "delivered"
                windows[period].outcome_at = _iso(event.delivered_at)
            case x.UndeliveredExpensePeriodClosed() if period in windows:
                windows[period].outcome, windows[period].outcome_at = (
                    "closed unpaid",
                    _iso(event.closed_at),
                )
            case x.ExpenseRemovalEscalationRequested():
                view.escalated = True
            case x.MySupportJobRecorded():
                view.mysupport_job = event.mysupport_job
            case x.ExpenseCeased() | x.ExpenseRemoved():
                view.ended = "ceased" if isinstance(event, x.ExpenseCeased) else "removed"
                for closed in map(_iso, event.closed_periods or ()):
                    if closed in windows and windows[closed].outcome == "retrying":
                        windows[closed].outcome = view.ended
    view.windows = sorted(windows.values(), key=lambda w: w.period_start)
    return view


def timeline_facts(entry: Entry, zone: ZoneInfo) -> list[tuple[str, str]]:
    """What a timeline line shows of an event (:data:`console.desk.words.FACTS`), in words: a step by its name, an
    action, a queue or a choice as the officer reads it, its instants in ``zone`` and its dates in words."""
    shown_facts = []
    for name, label in FACTS.items():
        value = getattr(entry.event, name, None)
        if value is None or value in ("", []):
            continue
        named = (
            STEP_NAMES.get(value) if name == "step" else fact(name, value)
        )  # a Step is its own value
        shown_facts.append((label, named or shown(value, zone)))
    return shown_facts


def msp_actions(view: MspView) -> tuple[str, ...]:
    """The actions that can apply to the MSP now: those of a step required now (one numbered incident still
    awaited is enough), the letter's dispatch once a letter is attached (another may replace it until it is sent),
    and a risk fact (it can come at any time);
    none once its notification is complete. An SMS authorised for later is decided: nothing is asked of it."""
    if view.completed:
        return ()
    required = {s.step for s in view.required}
    return (
        *(
            a
            for step, actions in STEP_ACTIONS.items()
            if step in required
            for a in actions
            if view.letter_accepted or a != n.RecordLetterDispatch.TYPE
        ),
        n.RecordRiskFact.TYPE,
    )


def expense_actions(view: ExpenseView) -> tuple[str, ...]:
    """The actions that can apply to the expense now: none once it ended, or once a one-off was delivered; a
    one-off's only on a one-off; the mySupport job number once its removal was escalated (until it is recorded),
    the removal once the job number is known. Varying a one-off's amount is never offered: the expenses service answers it only
    with the procedure's way ("the existing expense needs to be ceased before the new one-off expense can be
    coded"), which is cease, then code (the command stays in the API for those who send it)."""
    if view.ended or view.paid:
        return ()
    return tuple(
        a
        for a in EXPENSE_ACTIONS
        if a != x.VaryOneOffExpense.TYPE
        and (view.one_off or a not in ONE_OFF_ACTIONS)
        and (a != x.RecordMySupportJob.TYPE or (view.escalated and not view.mysupport_job))
        and (a != x.RecordExpenseRemoval.TYPE or view.mysupport_job is not None)
    )


NEXT_ACTIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    # 103-01050060 step 7: "If unable to cease the expense as it is day 2 and there is extreme hardship requiring
    # the new expense to be coded immediately, raise a mySupport webform."
    x.ExpenseReason.ONE_OFF_DAY_2: (
        x.CeaseExpense.TYPE,
        "Escalate the removal: the customer is in extreme hardship",
        {"extreme_hardship": "true"},
    ),
}
"""A refusal's way out as the next action to take (reason code -> the action, its title, the fields it sets)."""


WINDOW_RULES = {"one-off": "IM-6.1", "weekly": "IM-3.1", "fortnightly": "IM-3.5"}
"""The rule that sets each kind's retry window (its words are quoted from the registry, the one place they live)."""


APPROXIMATION = (
    "The customer's record gives their state only: the state's capital's time and the state-wide public holidays "
    "are used (a region's own time or holidays, such as Broken Hill's or a show day, are not known)."
)
"""Said beside every window's explanation: what the record cannot tell (issue 28)."""


def window_due(window: WindowView, kind: str | None, zone: ZoneInfo) -> str:
    """When a retry window closes and why, in the customer's time: the rule's id and words, the days counted, the
    days a one-off's count passed over, and the calendar the deadline was worked out with (stored with it)."""
    closes = shown(window.closes_at, zone)
    rule = BY_ID.get(WINDOW_RULES.get(kind or "", ""))
    if kind == "one-off" and window.day_1 and window.day_2:
        day_1, day_2 = date.fromisoformat(window.day_1), date.fromisoformat(window.day_2)
        passed = [day_1 + timedelta(days=n) for n in range(1, (day_2 - day_1).days)]
        skipped = "; ".join(
            f"{day(d)} skipped ({'weekend' if d.weekday() >= 5 else 'public holiday'})"
            for d in passed
        )
        why = f"the end of day 2 ({day(day_2)}), 2 working days from day 1 ({day(day_1)})" + (
            f"; {skipped}: until day 2 begins it still counts as day 1 (it can be ceased or varied)"
            if skipped
            else ""
        )
    else:
        days = 14 if kind == "fortnightly" else 7
        why = f"{days} days from the scheduled payment date ({day(window.period_start)})"
    cited = f" {rule.id}: “{rule.quote}”" if rule else ""
    return f"Closes {closes}: {why}.{cited} Calendar: {calendar_words(window.calendar)}. {APPROXIMATION}"


def one_off_today(view: ExpenseView, today: date) -> str | None:
    """The banner of a one-off's page, from its stored days and the customer's today: what may be done today."""
    if not view.one_off or not view.day_1 or view.ended:
        return None
    if view.paid:
        return "The one-off was delivered: it can no longer be ceased, varied or removed."
    day_1, day_2 = date.fromisoformat(view.day_1), date.fromisoformat(view.day_2 or view.day_1)
    if today < day_1:
        return f"Day 1 is {day(day_1)}: the one-off can be ceased or varied then."
    if today == day_1:
        return f"Today is day 1: the one-off can still be ceased or varied until day 2, {day(day_2)}, begins."
    if today < day_2:
        return (
            f"Today counts as day 1 (a weekend or public holiday before day 2, {day(day_2)}): the one-off can "
            "still be ceased or varied."
        )
    if today == day_2:
        rule = BY_ID["IM-7.3"]
        return (
            f"Today is day 2: {rule.quote} ({rule.id}). In extreme hardship, escalate the removal."
        )
    return None


def _send_time(authorised: n.MspSmsAuthorised) -> str:
    """When an authorised SMS goes, in Canberra's time (an MSP names no state)."""
    return shown(authorised.send_at, ZoneInfo(AGENCY_ZONE))


def said(event: Event) -> str:
    """What an event a command caused did, in the officer's words and naming which step or item: the result page
    lists these (issue 40: it read "A step was done / A step is required", not which)."""
    match event:
        case n.MspStepDone():
            return f"Done: {StepView(Step(event.step), 'done', number=event.number).name}"
        case n.MspStepRequired():
            return (
                f"Now required: {StepView(Step(event.step), 'required', number=event.number).name}"
            )
        case n.MspSmsAuthorised():
            return f"SMS authorised, to be sent {_send_time(event)}"
        case w.WorkItemRaised():
            return f"Work item raised: {event.title}"
        case w.WorkItemAssigned():
            return f"Work item assigned to {event.assignee_id}"
        case _:
            return event_words(event.event_type)


ESCALATED = "Removal escalated for extreme hardship"
"""A day-2 cease in extreme hardship: refused as a cease ("the expense cannot be ceased or varied on day 2"), it
raises the removal escalation (103-01050060 step 7: "raise a mySupport webform"), which is what the officer did."""


def escalated(command_type: str, caused: Sequence[str]) -> bool:
    """A day-2 cease in extreme hardship: its page and the officer's list name it as the escalation it started
    (raised, and due when the one-off's day 2 ends), not as a refused cease."""
    return (
        command_type == x.CeaseExpense.TYPE and x.ExpenseRemovalEscalationRequested.TYPE in caused
    )


def codes_for(readable: Sequence[str]) -> list[str]:
    """The work item codes an officer may filter their queue by: those of the queues their roles open (an MSP
    task is on the MSP officers' or the approved decision makers' queue; every other item on Income Management's),
    never a code they can never see (issue 40)."""
    msp = any(
        q in readable for q in (w.Queue.MSP.value, w.Queue.MSP_APPROVED_DECISION_MAKERS.value)
    )
    im = w.Queue.INCOME_MANAGEMENT.value in readable
    return [c.value for c in w.WorkItemCode if (msp if c.value.startswith("MSP-") else im)]
