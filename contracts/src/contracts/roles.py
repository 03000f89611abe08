"""Officers' roles, as the identity provider states them in a verified token (the ``roles`` claim), and which
work item queues each may read. Authority comes from the token, never from a message body or a query.

104-07050030 step 2: "SMS can only be sent by approved decision makers"; the approved decision makers' queue
holds the tasks only they may do. 103-01050060 step 1: "For Service Officers trained in Income Management,
go to Step 2"; an officer not trained transfers the customer instead, so the income management queue is theirs
to read only when trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from contracts import expenses as x
from contracts import notification as n
from contracts.procedures import implements
from contracts.workitems import Queue


class OfficerRole(StrEnum):
    MSP_OFFICER = "msp-officer"
    """Works the MSP implementation procedure (104-07050030): phone, letter, result."""
    MSP_APPROVED_DECISION_MAKER = "msp-approved-decision-maker"
    """An approved decision maker: may send (or decline) an MSP SMS, works their own queue and the MSP one."""
    IM_TRAINED = "im-trained"
    """Trained in Income Management: works undelivered expenses (103-01050060), ticks off I059PL."""
    TEAM_LEADER = "team-leader"
    """Leads a team: sees, for the queues their other roles open, the open, overdue and assigned items per queue and
    per officer, and gives several items to an officer in one action. It opens no queue by itself."""


OPERATIONS = "ops"
"""The operations role: the platform's operators, not an officer. It opens what operators need (``/metrics``,
``/asyncapi.json``, the simulated clock, the dead-letter tools) and no customer's case; an officer's roles open
none of those."""


QUEUE_READERS: Mapping[Queue, frozenset[OfficerRole]] = {
    Queue.INCOME_MANAGEMENT: frozenset({OfficerRole.IM_TRAINED}),
    Queue.MSP: frozenset({OfficerRole.MSP_OFFICER, OfficerRole.MSP_APPROVED_DECISION_MAKER}),
    Queue.MSP_APPROVED_DECISION_MAKERS: frozenset({OfficerRole.MSP_APPROVED_DECISION_MAKER}),
}
"""Who may read each queue: an officer holding any of its roles."""


KNOWN_TO_EVERY_OFFICER = frozenset({Queue.INCOME_MANAGEMENT})
"""Queues whose items every officer may know exist, without their details or actions. 103-01050060 step 1: "All
staff must investigate any Work Items which present on a customer's record"; an officer not trained in Income
Management learns of the item so as to transfer the customer (IM-1.3). An item of any other queue is, to an
officer whose roles do not open it, like one that does not exist."""


def known_roles(roles: Iterable[str]) -> list[str]:
    """The roles of ``roles`` this system knows, sorted: what goes with an officer's action and into their record."""
    held = set(roles)
    return sorted(r.value for r in OfficerRole if r.value in held)


def readable_queues(roles: Iterable[str]) -> frozenset[Queue]:
    """The queues an officer with ``roles`` may list and read (roles this system does not know give nothing)."""
    held = set(roles)
    return frozenset(q for q, readers in QUEUE_READERS.items() if held & readers)


MSP_WORKERS = frozenset({OfficerRole.MSP_OFFICER, OfficerRole.MSP_APPROVED_DECISION_MAKER})

COMMAND_ROLES: Mapping[str, frozenset[OfficerRole]] = {
    **{
        t.TYPE: MSP_WORKERS
        for t in (
            n.RecordPhoneContact,
            n.RecordIncident,
            n.RecordRiskFact,
            n.AttachMspLetter,
            n.RecordLetterDispatch,
            n.RecordMspResult,
            n.DescribeMspBehaviours,
        )
    },
    # 104-07050030 step 2: "SMS can only be sent by approved decision makers"
    n.AuthoriseMspSms.TYPE: frozenset({OfficerRole.MSP_APPROVED_DECISION_MAKER}),
    n.DeclineMspSms.TYPE: frozenset({OfficerRole.MSP_APPROVED_DECISION_MAKER}),
    # an incident asked for in error is withdrawn by an approved decision maker, with the reason on the record
    n.WithdrawMspIncident.TYPE: frozenset({OfficerRole.MSP_APPROVED_DECISION_MAKER}),
    **{
        t.TYPE: frozenset({OfficerRole.IM_TRAINED})
        for t in (
            x.CeaseExpense,
            x.VaryOneOffExpense,
            x.CodeOneOffExpense,
            x.RecordExpenseRemoval,
            x.RecordMySupportJob,
        )
    },
}
"""Who may issue each staff action but the work item ones, whose roles are those that open the item's queue."""

TRANSFER_GUIDANCE = (
    "Cold transfer the customer to: the Income Management Line; the Indigenous Services queue (if "
    "appropriate); or Multilingual Call (if appropriate). See the Resources page for a link to the "
    "National Transfer numbers."
)
"""103-01050060 step 1, "For Service Officers not trained in Income Management": the way out of a refusal."""


def needed(command_type: str, queue: Queue | None = None) -> frozenset[OfficerRole]:
    """The roles of which an officer needs one to issue ``command_type`` (for a work item command, on an item of
    ``queue``: the roles that open the queue act on its items)."""
    return (
        QUEUE_READERS[queue] if queue is not None else COMMAND_ROLES.get(command_type, frozenset())
    )


@implements("MSP-2.2", "IM-1.2")
def may_issue(roles: Iterable[str], command_type: str, queue: Queue | None = None) -> bool:
    """Whether an officer with ``roles`` may issue ``command_type`` (on an item of ``queue``)."""
    return bool(set(roles) & needed(command_type, queue))


@implements("IM-1.3")
def way_out(command_type: str, queue: Queue | None = None) -> str:
    """What to do instead, when refused for want of a role."""
    roles = needed(command_type, queue)
    if OfficerRole.IM_TRAINED in roles:
        return TRANSFER_GUIDANCE
    if roles == {OfficerRole.MSP_APPROVED_DECISION_MAKER}:
        return "Refer the MSP to an approved decision maker: only they may send an MSP SMS (104-07050030 step 2)."
    return "Refer it to an officer whose role covers it."
