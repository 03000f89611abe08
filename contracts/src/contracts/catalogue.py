"""The system's topic catalogue. Names are without the deployment's topic prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.envelope import Event
from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseActionRejected,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    ExpenseUndelivered,
    MySupportJobRecorded,
    OneOffConflictDetected,
    OneOffExpenseCoded,
    OneOffExpenseVaried,
    OneOffPaidTwice,
    PaymentAttemptDisregarded,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    UndeliveredExpensePeriodClosed,
    VaryOneOffExpense,
)
from contracts.notification import (
    AttachMspLetter,
    AuthoriseMspSms,
    DeclineMspSms,
    DescribeMspBehaviours,
    MspActionRejected,
    MspApproved,
    MspLetterAccepted,
    MspNotificationCompleted,
    MspNotificationPlanned,
    MspRiskResponseRequired,
    MspSmsAuthorised,
    MspSmsWithheld,
    MspStepDone,
    MspStepRequired,
    RecordIncident,
    RecordLetterDispatch,
    RecordMspResult,
    RecordPhoneContact,
    RecordRiskFact,
    SmsDispatchRequested,
    WithdrawMspIncident,
)
from contracts.outcomes import MspApprovalOutcomes, PaymentAttemptOutcomes
from contracts.roles import OfficerRole
from contracts.topics import Catalogue, Topic
from contracts.workitems import (
    AssignWorkItem,
    TeamNotificationRequested,
    TickOffWorkItem,
    UnassignWorkItem,
    WorkItemActionRejected,
    WorkItemAssigned,
    WorkItemCancelled,
    WorkItemRaised,
    WorkItemTickedOff,
    WorkItemUnassigned,
)


def authorise_sms_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 carried ``approved_decision_maker``, asserted by the sender; v2 carries the officer's verified roles. An
    old request keeps its meaning: true becomes the role, false (or missing) none."""
    upcast = {k: v for k, v in data.items() if k != "approved_decision_maker"}
    adm = data.get("approved_decision_maker") is True
    return upcast | {
        "officer_roles": [OfficerRole.MSP_APPROVED_DECISION_MAKER.value] if adm else []
    }


def authorise_sms_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2's ``mobile_checked_not_on_multiple_records`` was true only when the number was checked and found on one
    record: it becomes ``mobile_checked`` with nothing found; false said nothing of what was found."""
    upcast = {k: v for k, v in data.items() if k != "mobile_checked_not_on_multiple_records"}
    return upcast | {
        "mobile_checked": data.get("mobile_checked_not_on_multiple_records") is True,
        "mobile_on_multiple_records": False,
    }


def letter_dispatch_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1's ``recorded_in_msp_notes`` said a note was written without carrying it: it upcasts to no note, so a police
    delivery of v1 is refused until the note itself is given."""
    return {k: v for k, v in data.items() if k != "recorded_in_msp_notes"}


def approval_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1's behaviours were a line each: each keeps its words as what happened, with no date or channel stated, so
    the MSP is planned with a task to describe it (104-07050030 step 1)."""
    lines = data.get("behaviours")
    if not isinstance(lines, list):
        return data  # not a v1 approval's shape: validation says what is wrong
    return data | {
        "behaviours": [{"what": line, "occurred_on": None, "channel": None} for line in lines]
    }


def without_verified_roles(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 expense or work item request carried no verified roles: it upcasts to none, so a rule that needs one
    refuses it."""
    return data | {"officer_roles": []}


MSP_APPROVALS = Topic(
    "msp.approvals",
    "msp_id",
    (MspApproved,),
    "msp-approvals",
    ("notification",),
    "Managed Service Plans approved: the notification procedure starts.",
    upcasters={("MspApproved", 1): approval_v1_to_v2},
)
MSP_APPROVAL_OUTCOMES = Topic(
    "msp.approvals.outcomes",
    "partition",
    (MspApprovalOutcomes,),
    "notification",
    (),
    "What became of each MSP approval the approvals system wrote: accepted, rejected or dead-lettered, and why "
    "(ids and codes only; a record per input partition and transaction, keyed by that partition). The approvals "
    "system reads it.",
    answers="msp.approvals",
)
MSP_STAFF_ACTIONS = Topic(
    "msp.staff-actions",
    "msp_id",
    (
        RecordPhoneContact,
        RecordIncident,
        WithdrawMspIncident,
        AuthoriseMspSms,
        DeclineMspSms,
        RecordRiskFact,
        AttachMspLetter,
        RecordLetterDispatch,
        RecordMspResult,
        DescribeMspBehaviours,
    ),
    "console",
    ("notification",),
    "What officers did and recorded for an MSP: phone contact, incidents, SMS decisions, risk facts, letter, result, "
    "behaviours described.",
    upcasters={
        ("AuthoriseMspSms", 1): authorise_sms_v1_to_v2,
        ("AuthoriseMspSms", 2): authorise_sms_v2_to_v3,
        ("RecordLetterDispatch", 1): letter_dispatch_v1_to_v2,
    },
)
MSP_NOTIFICATION_EVENTS = Topic(
    "msp.notification-events",
    "msp_id",
    (
        MspNotificationPlanned,
        MspStepRequired,
        MspStepDone,
        MspSmsAuthorised,
        MspSmsWithheld,
        MspLetterAccepted,
        MspNotificationCompleted,
        MspRiskResponseRequired,
        MspActionRejected,
    ),
    "notification",
    ("workitems", "console"),
    "The MSP notification's steps: required and done (staff tasks), SMS withheld, risk responses, completion, "
    "rejections.",
)
SMS_DISPATCH = Topic(
    "msp.sms-dispatch",
    "msp_id",
    (SmsDispatchRequested,),
    "notification",
    ("desktop-messaging-gateway",),
    "MSP SMS for the desktop messaging gateway to send (guards already checked at the moment of sending).",
)

PAYMENT_ATTEMPTS = Topic(
    "im.payment-attempts",
    "expense_id",
    (PaymentAttempted,),
    "payments-system",
    ("expenses",),
    "Every attempt to pay an Income Management expense, delivered or failed.",
)
PAYMENT_ATTEMPT_OUTCOMES = Topic(
    "im.payment-attempts.outcomes",
    "partition",
    (PaymentAttemptOutcomes,),
    "expenses",
    (),
    "What became of each payment attempt the payments system wrote: accepted, set aside, or dead-lettered, and "
    "why (ids and codes only; a record per input partition and transaction, keyed by that partition). The "
    "payments system reads it.",
    answers="im.payment-attempts",
)
EXPENSE_ACTIONS = Topic(
    "im.expense-actions",
    "expense_id",
    (CeaseExpense, VaryOneOffExpense, CodeOneOffExpense, RecordMySupportJob, RecordExpenseRemoval),
    "console",
    ("expenses",),
    "Officers' requests on expenses: cease, vary a one-off, code a one-off, record the mySupport job of an "
    "escalated removal, record a Service Desk removal.",
    upcasters={
        (t.TYPE, 1): without_verified_roles
        for t in (CeaseExpense, VaryOneOffExpense, CodeOneOffExpense, RecordExpenseRemoval)
    },
)
EXPENSE_EVENTS = Topic(
    "im.expense-events",
    "expense_id",
    (
        ExpenseUndelivered,
        ExpenseDelivered,
        UndeliveredExpensePeriodClosed,
        ExpenseClosureReversed,
        ExpenseCeased,
        OneOffExpenseVaried,
        OneOffExpenseCoded,
        ExpenseRemoved,
        ExpenseActionRejected,
        ExpenseRemovalEscalationRequested,
        MySupportJobRecorded,
        OneOffConflictDetected,
        OneOffPaidTwice,
        PaymentAttemptDisregarded,
    ),
    "expenses",
    ("workitems", "console"),
    "What the expenses procedure decided: undelivered (UNDLVD RI / UNDLVD IM), delivered, windows closed "
    "unpaid (I059PL), reversals, ceases, rejections, escalations and their mySupport jobs, one-off conflicts, "
    "one-offs paid twice.",
)

WORKITEM_COMMANDS = Topic(
    "workitems.commands",
    "work_item_id",
    (TickOffWorkItem, AssignWorkItem, UnassignWorkItem),
    "console",
    ("workitems",),
    "Officers' requests on work items: tick off an I059PL with its DOC note, assign an item, hand it "
    "back to its queue.",
    upcasters={
        (TickOffWorkItem.TYPE, 1): without_verified_roles,
        (AssignWorkItem.TYPE, 1): without_verified_roles,
    },
)
WORKITEM_EVENTS = Topic(
    "workitems.events",
    "work_item_id",
    (
        WorkItemRaised,
        WorkItemAssigned,
        WorkItemUnassigned,
        WorkItemTickedOff,
        WorkItemCancelled,
        WorkItemActionRejected,
    ),
    "workitems",
    ("console", "operations"),
    "Every work item transition (raised, assigned, unassigned, ticked off, cancelled) and every rejected request.",
)

TEAM_NOTIFICATIONS = Topic(
    "workitems.team-notifications",
    "work_item_id",
    (TeamNotificationRequested,),
    "console",
    ("desktop-messaging-gateway",),
    "For the desktop messaging gateway: tell the team that works a queue that a safety item was raised or an "
    "item is overdue (issue 40: work pushed to people, not only to the operator's pager).",
)

CATALOGUE = Catalogue(
    (
        MSP_APPROVALS,
        MSP_APPROVAL_OUTCOMES,
        MSP_STAFF_ACTIONS,
        MSP_NOTIFICATION_EVENTS,
        SMS_DISPATCH,
        PAYMENT_ATTEMPTS,
        PAYMENT_ATTEMPT_OUTCOMES,
        EXPENSE_ACTIONS,
        EXPENSE_EVENTS,
        WORKITEM_COMMANDS,
        WORKITEM_EVENTS,
        TEAM_NOTIFICATIONS,
    )
)

STAFF_ACTIONS: Mapping[str, type[Event]] = {
    e.TYPE: e
    for t in CATALOGUE.topics
    if t.producer == "console" and t is not TEAM_NOTIFICATIONS
    for e in t.events
}
"""Every staff action: the requests of the topics the officers' console writes (the one list, by type name)."""
