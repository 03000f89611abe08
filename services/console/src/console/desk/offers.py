"""Who may see what, and which actions a record offers now: the desk's rules, decided on values alone.

IM-1.1 (103-01050060 step 1): all staff investigate the work items on a customer's record, so an Income
Management item shows to every officer (its title and status, with the transfer guidance while one is open); the
actions, details and notes only to the officers its queue's roles open."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from console.desk.records import Command, Entry, WorkItem
from console.desk.views import NEXT_ACTIONS, WORK_ITEM_ACTIONS, ExpenseView, expense_actions
from contracts import expenses as x
from contracts import notification as n
from contracts.notification import RiskFact
from contracts.procedures import implements
from contracts.roles import KNOWN_TO_EVERY_OFFICER, may_issue, readable_queues, way_out
from contracts.workitems import (
    AssignWorkItem,
    Queue,
    TickOff,
    TickOffWorkItem,
    UnassignWorkItem,
    WorkItemCode,
    WorkItemStatus,
)

SUBJECT_QUEUES = {"msp": Queue.MSP, "expense": Queue.INCOME_MANAGEMENT}
"""Who may open an MSP's or an expense's page: whoever may read the queue of its work."""
SUBJECT_ACTIONS = {"msp": n.RecordPhoneContact.TYPE, "expense": x.CeaseExpense.TYPE}
SUBJECT_READERS = {
    "msp": "MSP pages are for MSP officers and approved decision makers.",
    "expense": "Expense pages are for officers trained in Income Management.",
}


def readable(roles: Iterable[str]) -> list[str]:
    """The queues an officer's roles open, by name."""
    return sorted(q.value for q in readable_queues(frozenset(roles)))


def opened_subjects(readable: Sequence[str]) -> frozenset[str]:
    """The kinds of record (``msp``, ``expense``) whose pages the officer's queues open."""
    return frozenset(s for s, q in SUBJECT_QUEUES.items() if q.value in readable)


def known_queues(readable: Sequence[str]) -> tuple[str, ...]:
    """The queues whose items a customer's page shows the officer: their own, and those every officer learns of."""
    return tuple(sorted({*readable, *(q.value for q in KNOWN_TO_EVERY_OFFICER)}))


@implements("IM-1.1")
def transfer_guidance(items: Sequence[WorkItem], readable: Sequence[str]) -> str | None:
    """The way on for an officer not trained in Income Management, while an IM item of the customer is still open
    (none once all are closed): 103-01050060 step 1 transfers the customer to an officer who is."""
    open_not_theirs = {
        i.queue for i in items if i.queue not in readable and i.status == WorkItemStatus.OPEN.value
    }
    if Queue.INCOME_MANAGEMENT.value in open_not_theirs:
        return way_out(TickOffWorkItem.TYPE, Queue.INCOME_MANAGEMENT)
    return None


def work_item_actions(item: WorkItem) -> list[str]:
    """What an open work item offers: the tick-off where an officer ticks it off (the others close themselves),
    assigning, and handing back while someone holds it; a closed item offers nothing."""
    if item.status != WorkItemStatus.OPEN.value:
        return []
    return [
        name
        for name in WORK_ITEM_ACTIONS
        if (name != TickOffWorkItem.TYPE or item.raised.tick_off is TickOff.MANUAL)
        and (name != UnassignWorkItem.TYPE or item.assignee_id is not None)
    ]


def offers_assign_to_me(
    officer_id: str, roles: Sequence[str], item: WorkItem, names: Sequence[str]
) -> bool:
    """Whether the page offers "Assign to me": an assignable item the officer does not already hold."""
    return (
        AssignWorkItem.TYPE in names
        and item.assignee_id != officer_id
        and may_issue(roles, AssignWorkItem.TYPE, Queue(item.queue))
    )


def next_action(roles: Sequence[str], command: Command) -> tuple[str, str, dict[str, str]] | None:
    """A refusal's way out as an action to take at once (its name, title and given fields), where the procedure
    gives one, nothing came of it yet and the roles allow it."""
    if command.status != "rejected" or command.reason_code not in NEXT_ACTIONS or command.outcomes:
        return None  # a refusal that started something (the escalation) has been acted on
    name, title, given = NEXT_ACTIONS[command.reason_code]
    return (name, title, dict(given)) if may_issue(roles, name) else None


RECORD_STEPS_ON_ITEMS = {
    WorkItemCode.REMOVAL_ESCALATION.value: (x.RecordMySupportJob.TYPE, x.RecordExpenseRemoval.TYPE),
}
"""The record's own actions an item's page offers, where they are the item's next steps (it closes itself when
the record's service records the last)."""


@implements("IM-7.4")
def record_steps_on_item(item: WorkItem, expense: ExpenseView | None) -> tuple[str, ...]:
    """103-01050060 step 7: raise a mySupport webform, then phone the ICT Service Desk quoting the mySupport job
    number to request the removal. The escalation's item offers what of that its expense can take now: the job
    number once the removal is escalated, then the removal; nothing once the item is closed."""
    steps = RECORD_STEPS_ON_ITEMS.get(item.code, ())
    if not steps or expense is None or item.status != WorkItemStatus.OPEN.value:
        return ()
    return tuple(a for a in expense_actions(expense) if a in steps)


RISK_RULES = {RiskFact.SUICIDE_SELF_HARM: "MSP-2.12", RiskFact.FAMILY_DOMESTIC_VIOLENCE: "MSP-2.13"}
"""104-07050030 step 2: the guidelines each risk refers the officer to (the rule a risk response answers)."""


@implements("MSP-2.12", "MSP-2.13")
def risk_answered(item: WorkItem, msp_entries: Sequence[Entry]) -> RiskFact | None:
    """Which risk a risk-response item answers: the MSP's response of the item's number (the item's id names no
    fact, so that no log does)."""
    if item.code != WorkItemCode.MSP_RISK_RESPONSE.value:
        return None
    number = item.work_item_id.rsplit(":", 1)[-1]
    return next(
        (
            e.event.fact
            for e in msp_entries
            if isinstance(e.event, n.MspRiskResponseRequired) and str(e.event.number) == number
        ),
        None,
    )
