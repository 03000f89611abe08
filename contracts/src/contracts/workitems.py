"""Contracts of the staff work items both procedures raise: I059PL, the removal escalation and the MSP tasks."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Briefing, CustomerRef, Event, Lines, Name, OfficerRoles, Text


class WorkItemCode(StrEnum):
    I059PL = "I059PL"
    """103-01050060 steps 5 and 8: 'A previous expense was not delivered, please discuss with customer'."""
    REMOVAL_ESCALATION = "IM-REMOVAL-ESCALATION"
    """103-01050060 step 7: day 2, extreme hardship: mySupport webform, then the ICT Service Desk."""
    ONE_OFF_CONFLICT = "IM-ONE-OFF-CONFLICT"
    """103-01050060 step 7: two one-offs for the same customer and payee trying at once (the payments system coded
    the second before the first was ceased): an officer resolves it, with a DOC note."""
    PAID_TWICE = "IM-PAID-TWICE"
    """103-01050060 step 7: a one-off paid by a delivery processed late (after it was ceased or its window closed)
    while a replacement was coded meanwhile: both may pay; an officer resolves it, with a DOC note."""
    ADVICE_WRONG = "IM-ADVICE-WRONG"
    """103-01050060 steps 5 and 8: the officer advised the customer that a period was not delivered and ticked the
    I059PL off; a delivery attempted before the window closed, processed later, shows it was paid: the customer is
    told, and a one-off issued in its place is checked (issue 38)."""
    MSP_DESCRIBE_BEHAVIOURS = "MSP-DESCRIBE-BEHAVIOURS"
    """104-07050030 step 1: the approving officer describes the behaviours an approval only labelled."""
    MSP_PHONE = "MSP-PHONE"
    MSP_SMS_DECISION = "MSP-SMS-DECISION"
    MSP_LETTER = "MSP-LETTER"
    MSP_INCIDENT = "MSP-INCIDENT"
    MSP_RECORD_RESULT = "MSP-RECORD-RESULT"
    MSP_RISK_RESPONSE = "MSP-RISK-RESPONSE"
    """104-07050030: suicide or self-harm, or family and domestic violence with an immediate threat to safety:
    follow the guidelines the procedure refers to (ticked off by the officer, with a DOC note)."""


class Queue(StrEnum):
    INCOME_MANAGEMENT = "income-management"
    MSP = "msp-implementation"
    MSP_APPROVED_DECISION_MAKERS = "msp-approved-decision-makers"


class WorkItemStatus(StrEnum):
    OPEN = "open"
    TICKED_OFF = "ticked-off"
    CANCELLED = "cancelled"


class TickOff(StrEnum):
    MANUAL = "manual"
    """An officer ticks it off, recording details on a DOC (I059PL)."""
    AUTOMATIC = "automatic"
    """Ticked off when the event that completes it arrives (the MSP tasks, the escalation)."""


class WorkItemEvent(Event):
    """Every work-item event and request: keyed by the work item."""

    key_field: ClassVar[str] = "work_item_id"
    work_item_id: str = Field(
        min_length=1,
        max_length=200,
        description="Deterministic: the same cause, the same item.",
        examples=["I059PL:EXP-000123:2026-11-02"],
    )


# --------------------------------------------------------------------------- inputs: staff actions


class TickOffWorkItem(WorkItemEvent):
    """An officer ticks off a manual work item; the procedure says 'Record details on a DOC'."""

    schema_version_current: ClassVar[int] = 2
    event_type: Literal["TickOffWorkItem"] = "TickOffWorkItem"
    officer_id: str = Field(min_length=1, max_length=64)
    officer_roles: OfficerRoles
    doc_note: str | None = Field(
        default=None,
        max_length=4000,
        description="The DOC recorded for the customer. Required; a tick-off without one "
        "is rejected (not dead-lettered) so the officer is told why.",
    )


class HandOverReason(StrEnum):
    """Why an item changes hands: a hand-back to the queue, or an item given to another officer while someone holds
    it (a choice, not free text: it goes with the published events)."""

    WORKLOAD = "workload"
    AWAY = "away"
    SKILLS = "skills"
    CONFLICT = "conflict-of-interest"
    CUSTOMER_CONTACT = "customer-contact"


class AssignWorkItem(WorkItemEvent):
    """An officer takes (or gives) an open work item."""

    schema_version_current: ClassVar[int] = 2
    event_type: Literal["AssignWorkItem"] = "AssignWorkItem"
    officer_id: str = Field(min_length=1, max_length=64, description="Who assigns.")
    officer_roles: OfficerRoles
    assignee_id: str = Field(min_length=1, max_length=64, description="Who will action the item.")
    expected_assignee_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Who the officer saw holding the item when they asked. Given (or expects_nobody): the "
        "request is refused, naming who holds it now, when that has changed meanwhile (two officers taking one "
        "item: one wins, the other is told). Neither: not checked (a client from before it was given).",
    )
    expects_nobody: bool = Field(
        default=False,
        description="The officer saw the item held by nobody (see expected_assignee_id).",
    )
    reason: HandOverReason | None = Field(
        default=None,
        description="Why the item is given to another officer while someone holds it (the console asks for it "
        "then); recorded on WorkItemAssigned.",
    )


class UnassignWorkItem(WorkItemEvent):
    """An officer hands an open work item back to its queue: nobody is working it now, and whoever opens the queue
    may take it."""

    event_type: Literal["UnassignWorkItem"] = "UnassignWorkItem"
    officer_id: str = Field(min_length=1, max_length=64, description="Who hands it back.")
    officer_roles: OfficerRoles
    reason: HandOverReason | None = Field(
        default=None,
        description="Why it is handed back (the console asks for it); recorded on WorkItemUnassigned.",
    )


# --------------------------------------------------------------------------- outputs


class WorkItemRaised(WorkItemEvent):
    event_type: Literal["WorkItemRaised"] = "WorkItemRaised"
    code: WorkItemCode
    title: Text
    queue: Queue
    customer_ref: CustomerRef
    subject_type: Literal["expense", "msp"]
    subject_id: Name = Field(description="The expense id or MSP id the item is about.")
    procedure: Name
    procedure_step: int | None = Field(
        default=None, description="The procedure step that applies (5 or 8 for I059PL)."
    )
    period_start: date | None = Field(
        default=None, description="I059PL: the period that was not delivered."
    )
    instructions: Lines
    guidance: Lines = Field(
        default_factory=list,
        description="For officers not trained in Income Management (103-01050060 step 1).",
    )
    briefing: Briefing = Field(
        default_factory=list,
        description="MSP phone task: what this MSP says to explain (from MspStepRequired).",
    )
    tick_off: TickOff
    approved_decision_makers_only: bool = False
    actor: Name = Field(description="Who raised it: the producing service of the cause.")
    due_at: AwareDatetime | None = Field(
        default=None,
        description="A deadline the procedure itself gives (103-01050060 step 7: a later one-off can be ceased "
        "until its day 2 begins, a removal helps until day 2 ends), from the cause's act_by. None: the agency's "
        "service levels, if any, set the due time.",
    )
    time_zone: Name | None = Field(
        default=None,
        description="The customer's time zone (IANA, from their state) where the cause names it: the item's dates "
        "are read on the customer's day. None: the agency's (Canberra's) time.",
    )


class WorkItemAssigned(WorkItemEvent):
    event_type: Literal["WorkItemAssigned"] = "WorkItemAssigned"
    code: WorkItemCode
    assignee_id: Name
    actor: Name
    previous_assignee_id: Name | None = Field(
        default=None, description="Who held it before: set when it changed hands (a reassignment)."
    )
    reason: HandOverReason | None = Field(
        default=None, description="Why it changed hands, where said."
    )


class WorkItemUnassigned(WorkItemEvent):
    """Back in its queue, assigned to nobody."""

    event_type: Literal["WorkItemUnassigned"] = "WorkItemUnassigned"
    code: WorkItemCode
    previous_assignee_id: Name = Field(description="Who had it.")
    actor: Name
    reason: HandOverReason | None = Field(
        default=None, description="Why it was handed back, where said."
    )


class NoticeReason(StrEnum):
    SAFETY_ITEM_RAISED = "safety-item-raised"
    """An item about a customer's or an officer's safety was raised: the team acts on it first."""
    OVERDUE = "overdue"
    """An open item passed its due time (the procedure's deadline or the agency's service level)."""


class TeamNotificationRequested(WorkItemEvent):
    """For the messaging gateway: tell the team that works a queue (the officers whose roles open it, its team
    leader first) that a safety item was raised or an item is overdue. Ids, the procedure's title and times only:
    no customer, no note."""

    event_type: Literal["TeamNotificationRequested"] = "TeamNotificationRequested"
    code: WorkItemCode
    queue: Queue
    title: Text
    reason: NoticeReason
    due_at: AwareDatetime | None = Field(default=None, description="When the item is (or was) due.")
    notify: list[Name] = Field(
        description="The roles whose officers work the queue (the team to tell), team leaders first.",
        max_length=8,
    )


class WorkItemTickedOff(WorkItemEvent):
    """Done. ``doc_recorded`` says a DOC note was kept; the note itself stays in the service (it is free text)."""

    event_type: Literal["WorkItemTickedOff"] = "WorkItemTickedOff"
    code: WorkItemCode
    customer_ref: CustomerRef
    actor: Name = Field(
        description="The officer (manual) or the service whose event completed it (automatic)."
    )
    tick_off: TickOff
    outcome: Name | None = Field(default=None, description="Automatic: what completed it.")
    doc_recorded: bool = False


class WorkItemCancelled(WorkItemEvent):
    """Its cause no longer holds (a late delivery reopened the period as paid): cancelled, not ticked off."""

    event_type: Literal["WorkItemCancelled"] = "WorkItemCancelled"
    code: WorkItemCode
    customer_ref: CustomerRef
    actor: Name
    reason_code: Name
    reason: Text


class WorkItemActionRejected(WorkItemEvent):
    event_type: Literal["WorkItemActionRejected"] = "WorkItemActionRejected"
    action: Literal["TickOffWorkItem", "AssignWorkItem", "UnassignWorkItem"]
    rejected_event_id: Name
    officer_id: Name
    reason_code: Name
    reason: Text
    way_out: Text | None = Field(
        default=None, description="What the procedure says to do instead, where it says."
    )


class WorkItemReason(StrEnum):
    """Why a work item request was refused or an item cancelled (the reason_code values)."""

    ALREADY_CLOSED = "already-closed"
    ASSIGNED_MEANWHILE = "assigned-meanwhile"
    DOC_NOTE_REQUIRED = "doc-note-required"
    EXPENSE_CEASED = "expense-ceased"
    EXPENSE_DELIVERED = "expense-delivered"
    EXPENSE_ENDED = "expense-ended"
    NOTHING_TO_DO = "nothing-to-do"
    PERIOD_PAID_LATE = "period-paid-late"
    REMOVED_BY_SERVICE_DESK = "removed-by-service-desk"
    ROLE_REQUIRED = "role-required"
    TICKED_OFF_AUTOMATICALLY = "ticked-off-automatically"
    UNKNOWN_WORK_ITEM = "unknown-work-item"
