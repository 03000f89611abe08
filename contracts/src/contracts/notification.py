"""Contracts of the MSP implementation procedure (104-07050030): phone, SMS, letter, record the result."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import (
    Briefing,
    Contract,
    CustomerRef,
    Event,
    Lines,
    Name,
    OfficerRoles,
    Text,
)
from contracts.phones import PhoneNumber

PROCEDURE = "104-07050030"


class Agency(StrEnum):
    CENTRELINK = "Centrelink"
    MEDICARE = "Medicare"
    CHILD_SUPPORT = "Child Support"


class Role(StrEnum):
    CUSTOMER = "customer"
    POWER_OF_ATTORNEY = "power-of-attorney"
    NOMINEE = "nominee"
    PERSON_PERMITTED_TO_ENQUIRE = "person-permitted-to-enquire"


class Representative(Contract):
    role: Literal[Role.POWER_OF_ATTORNEY, Role.NOMINEE, Role.PERSON_PERMITTED_TO_ENQUIRE]
    name: str = Field(min_length=1, max_length=120)
    phone: PhoneNumber


class ContactDetails(Contract):
    """Who the customer contacts while the MSP runs."""

    kind: Literal["OMC", "PSSO"] = Field(
        description="One Main Contact or Personalised Services Service Officer."
    )
    name: str = Field(min_length=1, max_length=120)
    phone: PhoneNumber = Field(description="The OMC/PSSO number the SMS carries.")
    urgent_query_voicemail: PhoneNumber | None = None


class SmsCircumstance(StrEnum):
    """The five circumstances in which an approved decision maker may send an MSP SMS."""

    CANNOT_BE_CONTACTED = "customer-cannot-be-contacted-by-phone"
    UNPRODUCTIVE = "telephone-discussion-unproductive"
    CONFIRMATION_HELPS = "successful-contact-confirmation-helps"
    PRELIMINARY_BEFORE_NEXT_DAY_CALL = "preliminary-message-before-next-day-call"
    CAPTURE_CONTACT_NUMBER = "capture-omc-psso-number"


class RiskFact(StrEnum):
    SUICIDE_SELF_HARM = "suicide-or-self-harm"
    FAMILY_DOMESTIC_VIOLENCE = "family-domestic-violence-immediate-threat"
    MOBILE_ON_MULTIPLE_RECORDS = "mobile-on-multiple-records"


class Channel(StrEnum):
    """Where a behaviour happened."""

    PHONE = "phone"
    IN_PERSON = "in-person"
    ONLINE = "online"
    MAIL = "mail"
    SOCIAL_MEDIA = "social-media"


class Behaviour(Contract):
    """A behaviour taken into consideration, described: what happened, when, and on which channel. A date or
    channel not stated is null (a v1 approval's behaviours were one line each, and upcast to nulls); the MSP is
    then planned with a task for the approving officer to describe it, and the customer is phoned once it is."""

    what: Text = Field(
        min_length=1,
        description="What the customer did or said, in words that explain it (not "
        "only 'inappropriate' or 'aggressive').",
    )
    occurred_on: date | None = Field(description="When it happened; null when not stated.")
    channel: Channel | None = Field(
        description="On which channel it happened; null when not stated."
    )


class PhoneOutcome(StrEnum):
    """How a call went (104-07050030 step 1 and the SMS circumstances of step 2)."""

    SUCCESSFUL = "successful"
    UNSUCCESSFUL = "unsuccessful"
    UNPRODUCTIVE = "unproductive"


class Step(StrEnum):
    DESCRIBE = "describe-behaviours"
    PHONE = "phone"
    SMS = "sms-decision"
    LETTER = "letter"
    INCIDENT = "incident"
    RECORD_RESULT = "record-result"


class _MspEvent(Event):
    key_field: ClassVar[str] = "msp_id"
    msp_id: str = Field(min_length=1, max_length=64, examples=["MSP-2026-0042"])


# --------------------------------------------------------------------------- inputs


class MspApproved(_MspEvent):
    """An MSP was approved: the notification procedure starts. v2: each behaviour is described (what happened, when,
    on which channel); v1's were one line each, upcast with no date or channel."""

    schema_version_current: ClassVar[int] = 2
    event_type: Literal["MspApproved"] = "MspApproved"
    customer_ref: str = Field(min_length=1, max_length=32)
    agency: Agency
    approving_officer_id: str = Field(min_length=1, max_length=64)
    behaviours: list[Behaviour] = Field(
        min_length=1,
        max_length=20,
        description="The behaviours taken into consideration, each described.",
    )
    reasons: Text = Field(min_length=1, description="Why the MSP has been implemented.")
    starts_on: date
    ends_on: date
    duration_reasons: Text = Field(min_length=1)
    service_access: Text = Field(
        min_length=1, description="How the customer can access services during the MSP."
    )
    channel_restrictions: Lines = Field(default_factory=list)
    contact: ContactDetails
    customer_mobile: PhoneNumber | None = Field(
        default=None,
        description="The mobile number on file (an SMS is withheld when it is not a mobile).",
    )
    representatives: list[Representative] = Field(default_factory=list, max_length=10)
    phone_customer_appropriate: bool = Field(
        description="False where it is not appropriate to phone the customer."
    )

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> MspApproved:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class _StaffAction(_MspEvent):
    officer_id: str = Field(min_length=1, max_length=64)
    officer_roles: OfficerRoles


class Explained(Contract):
    """What the officer explained during a successful call (Step 1)."""

    reasons_and_behaviours: bool
    duration_and_service_access: bool
    contact_details: bool
    letter_to_follow: bool


class RecordPhoneContact(_StaffAction):
    event_type: Literal["RecordPhoneContact"] = "RecordPhoneContact"
    contacted: Role
    outcome: PhoneOutcome
    explained: Explained | None = None
    aggression_displayed: bool = False
    no_more_attempts: bool = Field(
        default=False,
        description="An unsuccessful or unproductive call after which the officer will "
        "make no further attempt: the phone step resolves.",
    )


class DescribeMspBehaviours(_StaffAction):
    """The approving officer (or an MSP officer) describes the behaviours an approval only labelled or left without
    a date or channel: the list replaces the approval's, and the customer is then phoned."""

    event_type: Literal["DescribeMspBehaviours"] = "DescribeMspBehaviours"
    behaviours: list[Behaviour] = Field(min_length=1, max_length=20)
    reasons: Text | None = Field(
        default=None,
        min_length=1,
        description="The reasons, where the approval's were only a label.",
    )


class RecordIncident(_StaffAction):
    """An incident was recorded in CIMS and linked to the MSP: the oldest aggressive call's still awaited. A CIMS
    incident id is recorded once, for one MSP."""

    event_type: Literal["RecordIncident"] = "RecordIncident"
    incident_id: str = Field(min_length=1, max_length=64)
    linked_to_msp: bool


class WithdrawMspIncident(_StaffAction):
    """An approved decision maker withdraws an incident asked for in error (the same call recorded twice, say): the
    numbered incident (``MspStepRequired.number``) is no longer awaited. The reason is kept in the MSP notes, never
    published."""

    event_type: Literal["WithdrawMspIncident"] = "WithdrawMspIncident"
    number: int = Field(
        ge=1, le=1000, description="The aggressive call's number, as its incident task gives it."
    )
    withdrawal_reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why no incident is needed for this call: kept in the MSP notes, never published.",
    )


class AuthoriseMspSms(_StaffAction):
    """v3: that the mobile number was checked and what the check found are two fields (v2's
    ``mobile_checked_not_on_multiple_records`` said both at once, so an officer who found the number on several
    records could not say so). v2: who is an approved decision maker is the officer's verified roles, no longer a
    boolean the sender asserted (v1's ``approved_decision_maker``, upcast into ``officer_roles``)."""

    schema_version_current: ClassVar[int] = 3
    event_type: Literal["AuthoriseMspSms"] = "AuthoriseMspSms"
    circumstance: SmsCircumstance
    smem_checked: bool = Field(description="The SMS/Email Search (SMEM) screen was checked.")
    mobile_checked: bool = Field(
        description="The officer checked whether the mobile number on file is recorded on "
        "multiple records."
    )
    mobile_on_multiple_records: bool = Field(
        default=False,
        description="What the check found: the mobile number is recorded on multiple records.",
    )
    send_at: AwareDatetime | None = Field(
        default=None, description="Send later (a preliminary message); default now."
    )


class DeclineMspSms(_StaffAction):
    """The officer considered an SMS and decided not to send one."""

    event_type: Literal["DeclineMspSms"] = "DeclineMspSms"


class RecordRiskFact(_StaffAction):
    """A fact that may arrive at any time and stops an SMS. Never free text."""

    event_type: Literal["RecordRiskFact"] = "RecordRiskFact"
    fact: RiskFact


class AttachMspLetter(_StaffAction):
    event_type: Literal["AttachMspLetter"] = "AttachMspLetter"
    letter_id: str = Field(min_length=1, max_length=64)
    final: bool
    signed: bool
    approved: bool
    includes_contact_card: bool


class RecordLetterDispatch(_StaffAction):
    """v2: a hand delivery by the local Police carries the note itself ("Record this in the MSP notes"), kept in
    the MSP's history by notification and never published or logged; v1's ``recorded_in_msp_notes`` was a flag the
    sender vouched for, and upcasts to no note."""

    schema_version_current: ClassVar[int] = 2
    event_type: Literal["RecordLetterDispatch"] = "RecordLetterDispatch"
    method: Literal[
        "post", "local-police-hand-delivery", "staff-hand-delivery", "security-guard-hand-delivery"
    ]
    msp_note: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="The MSP note recorded for a hand delivery by the local Police.",
    )


class RecordMspResult(_StaffAction):
    event_type: Literal["RecordMspResult"] = "RecordMspResult"


# --------------------------------------------------------------------------- outputs


class MspNotificationPlanned(_MspEvent):
    event_type: Literal["MspNotificationPlanned"] = "MspNotificationPlanned"
    customer_ref: CustomerRef
    agency: Agency
    steps: Annotated[list[Step], Field(max_length=10)]
    procedure: Name = PROCEDURE


class MspStepRequired(_MspEvent):
    """A staff task: workitems raises it. ``step`` and ``msp_id`` identify it."""

    event_type: Literal["MspStepRequired"] = "MspStepRequired"
    customer_ref: CustomerRef
    step: Step
    instructions: Lines
    contact_role: Role | None = Field(default=None, description="Phone step: who to phone.")
    approved_decision_makers_only: bool = False
    for_officer: Name | None = Field(
        default=None,
        description="The officer whose task it is (the approving officer "
        "describes the behaviours): workitems assigns it.",
    )
    briefing: Briefing = Field(
        default_factory=list,
        description="Phone step: what this MSP says to explain (its "
        "reasons, each behaviour, the duration and its "
        "reasons, service access, the contact details).",
    )
    number: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Incident step: which aggressive call of the MSP (1, 2, ...) this incident is for; each "
        "asks for a new incident, and workitems raises a task for each.",
    )


class MspStepDone(_MspEvent):
    """The step's task is done (or skipped, or resolved without action); workitems ticks it off."""

    event_type: Literal["MspStepDone"] = "MspStepDone"
    customer_ref: CustomerRef
    step: Step
    outcome: Name
    reason_code: Name | None = None
    number: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Incident step: which aggressive call's incident was recorded (see MspStepRequired).",
    )


class MspSmsWithheld(_MspEvent):
    """The MSP SMS must not be sent; existing phone and letter provisions apply."""

    event_type: Literal["MspSmsWithheld"] = "MspSmsWithheld"
    customer_ref: CustomerRef
    reason_code: Name
    reason: Text


class MspSmsAuthorised(_MspEvent):
    event_type: Literal["MspSmsAuthorised"] = "MspSmsAuthorised"
    officer_id: Name
    circumstance: SmsCircumstance
    send_at: AwareDatetime


class MspLetterAccepted(_MspEvent):
    """The final, signed and approved letter with the OMC/PSSO contact card is attached to the MSP."""

    event_type: Literal["MspLetterAccepted"] = "MspLetterAccepted"
    letter_id: Name


class MspNotificationCompleted(_MspEvent):
    event_type: Literal["MspNotificationCompleted"] = "MspNotificationCompleted"
    customer_ref: CustomerRef
    agency: Agency
    phone: Text
    sms: Text
    letter: Text
    incident: Text
    child_support_note: Text | None = None


class MspRiskResponseRequired(_MspEvent):
    """A risk fact that needs more than the SMS withheld: the officer follows the procedure's guidelines. Raised as
    a manual work item; the fact's name is for the officer's task, never for a log."""

    event_type: Literal["MspRiskResponseRequired"] = "MspRiskResponseRequired"
    customer_ref: CustomerRef
    fact: RiskFact
    number: int = Field(
        ge=1,
        le=10,
        description="The MSP's first, second, ... risk response: the work item's key, "
        "which names no fact.",
    )
    instructions: Lines


class MspActionRejected(_MspEvent):
    event_type: Literal["MspActionRejected"] = "MspActionRejected"
    action: Name
    rejected_event_id: Name
    reason_code: Name
    reason: Text


class SmsDispatchRequested(_MspEvent):
    """For the desktop messaging gateway: send this text to this number."""

    event_type: Literal["SmsDispatchRequested"] = "SmsDispatchRequested"
    customer_ref: CustomerRef
    mobile: PhoneNumber
    text: Text
    encoding: Literal["GSM-7", "UCS-2"]
    fragments: int


class MspReason(StrEnum):
    """Why an MSP action was refused, an SMS withheld, or a step resolved as it was (the reason_code values)."""

    ALREADY_APPROVED = "already-approved"
    BEHAVIOUR_NOT_DESCRIBED = "behaviour-not-described"
    BEHAVIOURS_ALREADY_DESCRIBED = "behaviours-already-described"
    BEHAVIOURS_NOT_DESCRIBED = "behaviours-not-described"
    CIRCUMSTANCE_NOT_MET = "circumstance-not-met"
    CONTACT_CARD_MISSING = "contact-card-missing"
    CUSTOMER_CONTACT_NOT_APPROPRIATE = "customer-contact-not-appropriate"
    EXPLANATION_INCOMPLETE = "explanation-incomplete"
    FAMILY_DOMESTIC_VIOLENCE = "family-domestic-violence"
    HAND_DELIVERY_BY_STAFF_FORBIDDEN = "hand-delivery-by-staff-forbidden"
    INCIDENT_ALREADY_RECORDED = "incident-already-recorded"
    INCIDENT_NOT_LINKED = "incident-not-linked"
    LETTER_ALREADY_ATTACHED = "letter-already-attached"
    LETTER_ALREADY_DISPATCHED = "letter-already-dispatched"
    LETTER_NOT_APPROVED = "letter-not-approved"
    LETTER_NOT_FINAL = "letter-not-final"
    LETTER_NOT_SIGNED = "letter-not-signed"
    MOBILE_NOT_CHECKED = "mobile-not-checked"
    MOBILE_ON_MULTIPLE_RECORDS = "mobile-on-multiple-records"
    MSP_NOTIFICATION_COMPLETED = "msp-notification-completed"
    NO_APPROVED_LETTER = "no-approved-letter"
    NO_INCIDENT_REQUIRED = "no-incident-required"
    NO_MOBILE_ON_RECORD = "no-mobile-on-record"
    NO_ONE_TO_PHONE = "no-one-to-phone"
    NOT_A_MOBILE = "not-a-mobile"
    NOT_APPROVED_DECISION_MAKER = "not-approved-decision-maker"
    NOT_CENTRELINK = "not-centrelink"
    OFFICER_DECIDED_NOT_TO_SEND = "officer-decided-not-to-send"
    PHONE_ALREADY_RESOLVED = "phone-already-resolved"
    POLICE_DELIVERY_NOT_RECORDED = "police-delivery-not-recorded"
    SMEM_NOT_CHECKED = "smem-not-checked"
    SMS_ALREADY_DECIDED = "sms-already-decided"
    SMS_TOO_LONG = "sms-too-long"
    STEPS_UNRESOLVED = "steps-unresolved"
    SUICIDE_OR_SELF_HARM = "suicide-or-self-harm"
    UNKNOWN_MSP = "unknown-msp"
    UNKNOWN_REPRESENTATIVE = "unknown-representative"
    SEND_AT_TOO_LATE = "send-at-too-late"
    PRELIMINARY_NO_LONGER_NEEDED = "preliminary-no-longer-needed"
    LETTER_NOT_YET_DUE = "letter-not-yet-due"
    ROLE_REQUIRED = "role-required"
    INCIDENT_WITHDRAWN = "incident-withdrawn"
    INCIDENT_NOT_AWAITED = "incident-not-awaited"
