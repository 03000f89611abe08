"""Decisions of the MSP implementation procedure (104-07050030): which step next, and what is forbidden.

Steps in order: 1 phone the customer (or their representative), 2 the MSP SMS (Centrelink only,
guarded), 3 the signed and approved letter, 4 record the result. Each step has a "required" and a
"done" event so that workitems can raise and tick off the staff task.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.dates import in_words
from contracts.envelope import Event, clipped, officers_time
from contracts.notification import (
    Agency,
    AttachMspLetter,
    AuthoriseMspSms,
    DeclineMspSms,
    DescribeMspBehaviours,
    MspActionRejected,
    MspApproved,
    MspLetterAccepted,
    MspNotificationCompleted,
    MspNotificationPlanned,
    MspReason,
    MspRiskResponseRequired,
    MspSmsAuthorised,
    MspSmsWithheld,
    MspStepDone,
    MspStepRequired,
    PhoneOutcome,
    RecordIncident,
    RecordLetterDispatch,
    RecordMspResult,
    RecordPhoneContact,
    RecordRiskFact,
    RiskFact,
    Role,
    SmsCircumstance,
    SmsDispatchRequested,
    Step,
    WithdrawMspIncident,
)
from contracts.phones import is_mobile, national
from contracts.procedures import implements
from contracts.roles import OfficerRole, may_issue
from notification.domain.model import (
    BehavioursDescribed,
    CaseBehaviour,
    CaseOpened,
    IncidentRecorded,
    IncidentStatus,
    IncidentWithdrawn,
    MspCase,
    MspNote,
    MspState,
    NoteKept,
    Output,
    PhoneAttempted,
    PhoneCall,
    PhoneStatus,
    RiskRecorded,
    SmsDue,
    SmsStatus,
    described,
)
from notification.domain.sms import msp_sms_text, sms_size

PRODUCER = "notification"


@dataclass(frozen=True)
class Policy:
    sms_max_fragments: int = 2
    sms_max_delay_h: float = 48
    """The agency's reading of "as soon as possible": the latest an authorised SMS may be scheduled, in hours."""


PHONE_INSTRUCTIONS = [
    "Explain the reasons the MSP has been implemented, including a description of the behaviours taken into "
    "consideration. Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without "
    "explaining why.",
    "Explain the reasons for the duration of the MSP and how the customer can access services for its duration.",
    "Provide contact details: One Main Contact (OMC), Personalised Services Service Officer (PSSO) or urgent "
    "query voicemail number.",
    "Advise they will receive a letter explaining the MSP.",
    "If the customer displays aggression or counterproductive behaviour see Customer aggression - Response. "
    "Record a new incident and link it to the MSP.",
]
SMS_INSTRUCTIONS = [
    "SMS can only be sent by approved decision makers, in the procedure's circumstances.",
    "Make sure the mobile number on file is not recorded on multiple records; if it is, the SMS must not be sent.",
    "Before sending a customer aggression related Desktop Electronic message, see the SMS/Email Search (SMEM) screen.",
    "An MSP SMS should not be sent to customers talking about suicide or self-harm, or where family and domestic "
    "violence involving an immediate threat to safety was witnessed.",
    "Sending an SMS will complement, not replace the corresponding letter.",
]
LETTER_INSTRUCTIONS = [
    "Send the signed and approved MSP letter including the OMC/PSSO contact card.",
    "Ensure that only the final approved letter is attached to the MSP.",
    "Staff/Security Guards must not exit the premises to hand deliver the letter to the customer. In some serious "
    "cases the letter may be hand delivered by the local Police (where these arrangements exist): record this in "
    "the MSP notes.",
]
INCIDENT_INSTRUCTIONS = [
    "Record a new incident in the Customer Incident Management System (CIMS) and link it to the MSP."
]
DESCRIBE_INSTRUCTIONS = [
    "Describe the behaviours taken into consideration: what happened, when, and on which channel. The officer who "
    "phones the customer must explain the reasons the MSP has been implemented, including a description of the "
    "behaviours taken into consideration.",
    "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without explaining why.",
    "Customers must be advised of their MSP in writing: the customer is phoned and written to once the behaviours "
    "are described.",
]
RESULT_INSTRUCTIONS = ["Record the result of the customer contact in the MSP record."]
CHILD_SUPPORT_NOTE = (
    "For Child Support customers, see the Proposing/reviewing an MSP to include service channel "
    "restriction table in Personalised Services."
)

REPRESENTATIVE_ORDER = (Role.POWER_OF_ATTORNEY, Role.NOMINEE, Role.PERSON_PERMITTED_TO_ENQUIRE)

MOBILE_ON_MULTIPLE_RECORDS = (
    MspReason.MOBILE_ON_MULTIPLE_RECORDS,
    "The mobile number on file is recorded on multiple "
    "records: the SMS must not be sent and existing phone and letter notification "
    "provisions apply.",
)
GUARDS = (  # (fact, reason code, the procedure's words)
    (
        RiskFact.SUICIDE_SELF_HARM,
        MspReason.SUICIDE_OR_SELF_HARM,
        "A MSP SMS should not be sent to customers talking about suicide or self-harm.",
    ),
    (
        RiskFact.FAMILY_DOMESTIC_VIOLENCE,
        MspReason.FAMILY_DOMESTIC_VIOLENCE,
        "Family and domestic violence involving an immediate threat to safety was witnessed: an MSP SMS should not "
        "be sent.",
    ),
    (RiskFact.MOBILE_ON_MULTIPLE_RECORDS, *MOBILE_ON_MULTIPLE_RECORDS),
)


def _reject(
    action: Event, state_msp_id: str, now: datetime, code: MspReason, reason: str
) -> list[Event]:
    return [
        MspActionRejected.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            msp_id=state_msp_id,
            action=action.event_type,
            rejected_event_id=str(action.event_id),
            reason_code=code,
            reason=reason,
        )
    ]


@dataclass(frozen=True)
class Cause:
    """What an output derives its id and correlation from: the message handled, or (for a timer) the message
    that set it, long after."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID


def _cause(of: Event | Cause | SmsDue) -> Cause:
    return of if isinstance(of, Cause) else Cause(of.event_id, of.correlation_id)


def _required(
    cause: Event | Cause,
    state: MspState | MspCase,
    now: datetime,
    step: Step,
    instructions: list[str],
    number: int | None = None,
    **extra: object,
) -> Event:
    c = _cause(cause)
    return MspStepRequired.derived(
        c.event_id,
        c.correlation_id,
        producer=PRODUCER,
        occurred_at=now,
        variant=_variant(step, number),
        msp_id=state.msp_id,
        customer_ref=state.customer_ref,
        step=step,
        instructions=instructions,
        number=number,
        **extra,
    )


def _variant(step: Step, number: int | None) -> str:
    """What tells one derived step event of a cause from another: the step, and a numbered incident's number (an
    unnumbered step keeps the id it had before steps were numbered)."""
    return step.value if number is None else f"{step.value}:{number}"


def _done(
    cause: Event | Cause,
    state: MspState | MspCase,
    now: datetime,
    step: Step,
    outcome: str,
    reason_code: MspReason | None = None,
    number: int | None = None,
) -> Event:
    c = _cause(cause)
    return MspStepDone.derived(
        c.event_id,
        c.correlation_id,
        producer=PRODUCER,
        occurred_at=now,
        variant=_variant(step, number),
        msp_id=state.msp_id,
        customer_ref=state.customer_ref,
        step=step,
        outcome=outcome,
        reason_code=reason_code,
        number=number,
    )


@implements("MSP-1.1", "MSP-1.3", "MSP-1.4")
def phone_briefing(approval: MspCase) -> list[str]:
    """104-07050030 step 1, from the MSP itself: "explain the reasons the MSP has been implemented, including a
    description of the behaviours taken into consideration", "explain the reasons for the duration of the MSP and
    how the customer can access services for its duration", and the contact details to give."""
    contact = approval.contact
    voicemail = (
        f"; urgent query voicemail {national(contact.urgent_query_voicemail)}"
        if contact.urgent_query_voicemail
        else ""
    )
    restrictions = (
        " Channel restrictions: " + "; ".join(approval.channel_restrictions) + "."
        if approval.channel_restrictions
        else ""
    )
    lines = [
        f"Reasons the MSP has been implemented: {approval.reasons}",
        *(f"Behaviour taken into consideration: {_behaviour(b)}" for b in approval.behaviours),
        f"Duration: {in_words(approval.starts_on)} to {in_words(approval.ends_on)}. Reasons for the duration: "
        f"{approval.duration_reasons}",
        f"How the customer can access services for its duration: {approval.service_access}{restrictions}",
        f"Contact details to provide: {contact.kind} {contact.name}, {national(contact.phone)}{voicemail}",
    ]
    return [clipped(line) for line in lines]


def _behaviour(b: CaseBehaviour) -> str:
    when = [f"on {in_words(b.occurred_on)}"] if b.occurred_on else []
    return (
        f"{b.what} ({', '.join([*when, b.channel.value if b.channel else 'channel not stated'])})"
    )


@implements("MSP-1.8", "MSP-1.9")
def phone_target(approval: MspCase) -> Role | None:
    """The customer; or, where it is not appropriate to phone them, their Power of Attorney, nominee or person
    permitted to enquire; None when there is no one to phone."""
    if approval.phone_customer_appropriate:
        return Role.CUSTOMER
    present = {r.role for r in approval.representatives}
    return next((role for role in REPRESENTATIVE_ORDER if role in present), None)


@implements("MSP-1.10", "MSP-3.1", "MSP-2.15")
def _follow_ups(state: MspState, cause: Event | Cause, now: datetime) -> list[Event]:
    """The steps that became due: SMS consideration and letter once the phone step is resolved; recording the
    result once phone, SMS, letter (and any incident) are resolved."""
    out: list[Event] = []
    if state.case.agency is not Agency.CENTRELINK and state.sms.status is SmsStatus.PENDING:
        out.append(_done(cause, state, now, Step.SMS, "not-applicable", MspReason.NOT_CENTRELINK))
    if (
        state.phone.status is not PhoneStatus.PENDING or state.phone.attempts
    ):  # resolved, or a call was made
        if (
            state.case.agency is Agency.CENTRELINK
            and Step.SMS not in state.requested
            and state.sms.status is SmsStatus.PENDING
        ):
            out.append(
                _required(
                    cause,
                    state,
                    now,
                    Step.SMS,
                    SMS_INSTRUCTIONS,
                    approved_decision_makers_only=True,
                )
            )
        if Step.LETTER not in state.requested and state.letter_dispatch is None:
            out.append(_required(cause, state, now, Step.LETTER, LETTER_INSTRUCTIONS))
    return out


def _result_due(state: MspState, cause: Event | Cause, now: datetime) -> list[Event]:
    if not unresolved(state) and Step.RECORD_RESULT not in state.requested and not state.completed:
        instructions = RESULT_INSTRUCTIONS + (
            [CHILD_SUPPORT_NOTE] if state.case.agency is Agency.CHILD_SUPPORT else []
        )
        return [_required(cause, state, now, Step.RECORD_RESULT, instructions)]
    return []


def react(state: MspState | None, cause: Event | SmsDue, now: datetime) -> list[Event]:
    """What became due once a message's outputs are folded: the next steps (the SMS and the letter after the call),
    and once nothing else is, recording the result. Nothing when quiet."""
    if state is None:
        return []
    return _follow_ups(state, _cause(cause), now) or _result_due(state, _cause(cause), now)


def unresolved(state: MspState) -> list[str]:
    missing = [] if state.described else ["behaviours not described"]
    if state.phone.status is PhoneStatus.PENDING:
        missing.append("phone")
    if not state.sms.resolved:
        missing.append("sms")
    if state.letter_dispatch is None:
        missing.append("letter not dispatched")
    if state.incident is IncidentStatus.REQUIRED:
        missing.append("incident not recorded")
    return missing


# --------------------------------------------------------------------------- approval


@implements("MSP-1.2", "MSP-3.1")
def decide_approval(
    state: MspState | None, approval: MspApproved, now: datetime
) -> Sequence[Output]:
    """Plan the steps. Behaviours only labelled (or without a date or channel) do not end the procedure: "Customers
    must be advised of their MSP in writing", so the steps are planned and the approving officer is asked to
    describe them; the customer is phoned, and then written to, once they are."""
    if state is not None:
        return _reject(
            approval,
            approval.msp_id,
            now,
            MspReason.ALREADY_APPROVED,
            "This MSP was already approved.",
        )
    case = MspCase.of(approval)
    gaps = case.gaps()
    steps = [Step.PHONE, Step.SMS, Step.LETTER, Step.RECORD_RESULT]
    events: list[Output] = [
        CaseOpened(case.msp_id, case, described=not gaps),
        MspNotificationPlanned.caused_by(
            approval,
            producer=PRODUCER,
            occurred_at=now,
            msp_id=approval.msp_id,
            customer_ref=approval.customer_ref,
            agency=approval.agency,
            steps=[Step.DESCRIBE, *steps] if gaps else steps,
        ),
    ]
    if gaps:
        events.append(
            _required(
                approval,
                case,
                now,
                Step.DESCRIBE,
                DESCRIBE_INSTRUCTIONS,
                for_officer=approval.approving_officer_id,
                briefing=gaps[:40],
            )
        )
    else:
        events += _start_contact(approval, case, now)
    return events


def _start_contact(cause: Event, case: MspCase, now: datetime) -> list[Event]:
    """Step 1 begins: the phone task with what to explain, or the step skipped when there is no one to phone."""
    target = phone_target(case)
    if target is None:
        return [_done(cause, case, now, Step.PHONE, "skipped", MspReason.NO_ONE_TO_PHONE)]
    return [
        _required(
            cause,
            case,
            now,
            Step.PHONE,
            PHONE_INSTRUCTIONS,
            contact_role=target,
            briefing=phone_briefing(case),
        )
    ]


@implements("MSP-1.1", "MSP-1.2")
def _describe(state: MspState, action: DescribeMspBehaviours, now: datetime) -> Sequence[Output]:
    if state.described:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.BEHAVIOURS_ALREADY_DESCRIBED,
            "The behaviours of this MSP are already described.",
        )
    case = described(state.case, action)
    if gaps := case.gaps():
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.BEHAVIOUR_NOT_DESCRIBED,
            "Describe the behaviours taken into consideration; still missing: "
            + "; ".join(gaps[:5]),
        )
    return [
        BehavioursDescribed(state.msp_id, case),
        _done(action, case, now, Step.DESCRIBE, "described"),
        *_start_contact(action, case, now),
    ]


_NEEDS_DESCRIPTION = (RecordPhoneContact, AuthoriseMspSms, AttachMspLetter, RecordLetterDispatch)
"""What waits for the behaviours to be described: the call that explains them, and the SMS and letter after it."""


# --------------------------------------------------------------------------- staff actions


@implements("MSP-2.2")
def _unauthorised(action: Event, msp_id: str, now: datetime) -> list[Event] | None:
    """The officer's verified roles, re-checked here as the expenses and work items services do (the console checks
    them first): the SMS decision is for approved decision makers only ("SMS can only be sent by approved decision
    makers"), the recordings for the MSP officers. The authorisation answers with its own words below."""
    if isinstance(action, AuthoriseMspSms) or may_issue(
        getattr(action, "officer_roles", ()), action.event_type
    ):
        return None
    if isinstance(action, DeclineMspSms):
        return _reject(
            action,
            msp_id,
            now,
            MspReason.NOT_APPROVED_DECISION_MAKER,
            "SMS can only be sent by approved decision makers: the decision not to send it is theirs too.",
        )
    if isinstance(action, WithdrawMspIncident):
        return _reject(
            action,
            msp_id,
            now,
            MspReason.NOT_APPROVED_DECISION_MAKER,
            "Only an approved decision maker withdraws an incident asked for in error.",
        )
    return _reject(
        action,
        msp_id,
        now,
        MspReason.ROLE_REQUIRED,
        "Only an MSP officer or an approved decision maker records this.",
    )


def decide_action(
    state: MspState | None, action: Event, now: datetime, policy: Policy
) -> Sequence[Output]:
    msp_id: str = action.key
    if state is None:
        return _reject(action, msp_id, now, MspReason.UNKNOWN_MSP, "No approved MSP with this id.")
    if (refusal := _unauthorised(action, msp_id, now)) is not None:
        return [*refusal, *_aggression(state, action, now)]
    if isinstance(
        action, RecordRiskFact
    ):  # recorded in the state: it stops an SMS, now or when about to be sent
        return [*_risk_response(state, action, now), RiskRecorded(state.msp_id, action.fact)]
    if state.completed and not isinstance(
        action, RecordIncident | WithdrawMspIncident
    ):  # an incident asked for is still recorded (or withdrawn)
        return [
            *_reject(
                action,
                msp_id,
                now,
                MspReason.MSP_NOTIFICATION_COMPLETED,
                "The MSP notification is already complete.",
            ),
            *_aggression(state, action, now),
        ]
    if not state.described and isinstance(action, _NEEDS_DESCRIPTION):
        return [
            *_reject(
                action,
                msp_id,
                now,
                MspReason.BEHAVIOURS_NOT_DESCRIBED,
                "The approving officer is to describe the behaviours taken into consideration first: the "
                "customer is told the reasons, including a description of the behaviours.",
            ),
            *_aggression(state, action, now),
        ]
    match action:
        case DescribeMspBehaviours():
            return _describe(state, action, now)
        case RecordPhoneContact():
            return _phone(state, action, now)
        case RecordIncident():
            return _incident(state, action, now)
        case WithdrawMspIncident():
            return _withdraw_incident(state, action, now)
        case AuthoriseMspSms():
            return _authorise_sms(state, action, now, policy)
        case DeclineMspSms():
            return (
                _reject(
                    action,
                    msp_id,
                    now,
                    MspReason.SMS_ALREADY_DECIDED,
                    f"The SMS is already {state.sms.status}.",
                )
                if state.sms.status is not SmsStatus.PENDING
                else [
                    _done(
                        action,
                        state,
                        now,
                        Step.SMS,
                        "declined",
                        MspReason.OFFICER_DECIDED_NOT_TO_SEND,
                    )
                ]
            )
        case AttachMspLetter():
            return _attach_letter(state, action, now)
        case RecordLetterDispatch():
            return _dispatch_letter(state, action, now)
        case RecordMspResult():
            return _record_result(state, action, now)
    raise TypeError(f"no decision for {action.event_type}")


@implements("MSP-1.6", "MSP-1.7")
def _aggression(state: MspState, action: Event, now: datetime) -> list[Event]:
    """ "If the customer displays aggression or counterproductive behaviour see Customer aggression - Response. Record
    a new incident and link it to the MSP": whatever becomes of the call's record (refused, the behaviours not yet
    described, the notification already complete), the incident is asked for, a new one for each aggressive call."""
    if not isinstance(action, RecordPhoneContact) or not action.aggression_displayed:
        return []
    number = state.incidents_asked + 1
    return [_required(action, state, now, Step.INCIDENT, INCIDENT_INSTRUCTIONS, number=number)]


@implements("MSP-1.7", "MSP-2.6")
def _phone(state: MspState, action: RecordPhoneContact, now: datetime) -> Sequence[Output]:
    """Step 1. A successful call resolves the step; an unsuccessful or unproductive one is an attempt ("waiting
    until the next day to call the customer may result in a more productive discussion": our reading is that the
    next-day call follows a discussion that was not productive, as much as one that never connected), and the step
    stays open for the next one unless the officer records that none will be made. Aggression during any call asks
    for the incident, even when the record itself is refused: "Record a new incident and link it to the MSP"."""
    refusal = _phone_refusal(state, action)
    incident = _aggression(state, action, now)
    if refusal is not None:
        return [*_reject(action, state.msp_id, now, *refusal), *incident]
    resolves = action.outcome is PhoneOutcome.SUCCESSFUL or action.no_more_attempts
    done = (
        [_done(action, state, now, Step.PHONE, f"{action.outcome}: {action.contacted.value}")]
        if resolves
        else []
    )
    return [
        PhoneAttempted(state.msp_id, PhoneCall(outcome=action.outcome, contacted=action.contacted)),
        *done,
        *incident,
    ]


@implements("MSP-1.1", "MSP-1.3", "MSP-1.4", "MSP-1.5", "MSP-1.9")
def _phone_refusal(state: MspState, action: RecordPhoneContact) -> tuple[MspReason, str] | None:
    approval = state.case
    if state.phone.status is not PhoneStatus.PENDING:
        return MspReason.PHONE_ALREADY_RESOLVED, "The phone step is already resolved."
    if action.contacted is Role.CUSTOMER and not approval.phone_customer_appropriate:
        return (
            MspReason.CUSTOMER_CONTACT_NOT_APPROPRIATE,
            "A decision was made not to contact the customer directly: "
            "contact their Power of Attorney, nominee or person permitted to enquire.",
        )
    if action.contacted is not Role.CUSTOMER and action.contacted not in {
        r.role for r in approval.representatives
    }:
        return (
            MspReason.UNKNOWN_REPRESENTATIVE,
            f"The customer has no {action.contacted.value} on the MSP.",
        )
    explained = action.explained
    if action.outcome == "successful" and not (explained and all(explained.model_dump().values())):
        return (
            MspReason.EXPLANATION_INCOMPLETE,
            "A successful contact must explain the reasons and behaviours, the duration "
            "and access to services, the contact details, and the letter to follow.",
        )
    return None


RISK_RESPONSES = {
    RiskFact.SUICIDE_SELF_HARM: [
        "A MSP SMS should not be sent to customers talking about suicide or self-harm, refer to Customers talking "
        "about suicide or self-harm.",
    ],
    RiskFact.FAMILY_DOMESTIC_VIOLENCE: [
        "If a staff member witnesses through any channel family and domestic violence involving an immediate threat "
        "to safety, staff are to follow their local response guidelines, An MSP SMS should not be sent refer to "
        "Family and domestic violence.",
    ],
}
"""104-07050030 step 2: what a risk fact asks of the officer beyond withholding the SMS (the procedure's words)."""


@implements("MSP-2.12", "MSP-2.13")
def _risk_response(state: MspState, action: RecordRiskFact, now: datetime) -> list[Event]:
    instructions = RISK_RESPONSES.get(action.fact)
    if (
        instructions is None or action.fact in state.risks
    ):  # nothing more to do, or already asked for
        return []
    number = 1 + sum(1 for r in state.risks if r in RISK_RESPONSES)
    return [
        MspRiskResponseRequired.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            msp_id=state.msp_id,
            customer_ref=state.customer_ref,
            fact=action.fact,
            number=number,
            instructions=instructions,
        )
    ]


@implements("MSP-1.7")
def _incident(state: MspState, action: RecordIncident, now: datetime) -> Sequence[Output]:
    """ "Record a new incident and link it to the MSP": the oldest aggressive call still awaiting its incident gets
    this one; a CIMS incident already recorded (for this MSP's other call, or for another MSP) is not new."""
    refusal: tuple[MspReason, str] | None = None
    if state.incident is not IncidentStatus.REQUIRED:
        refusal = (
            MspReason.NO_INCIDENT_REQUIRED,
            "No incident is awaited for this MSP."
            if state.incident is IncidentStatus.NOT_REQUIRED
            else "Every incident asked for is recorded.",
        )
    elif not action.linked_to_msp:
        refusal = (MspReason.INCIDENT_NOT_LINKED, "Record the incident and link it to the MSP.")
    elif action.incident_id in state.incidents or action.incident_id in state.incidents_elsewhere:
        refusal = (
            MspReason.INCIDENT_ALREADY_RECORDED,
            "This CIMS incident is already recorded"
            + (" for this MSP" if action.incident_id in state.incidents else " for another MSP")
            + ": each aggressive call needs a new incident, linked to its MSP.",
        )
    if refusal is not None:
        return _reject(action, state.msp_id, now, *refusal)
    return [
        IncidentRecorded(state.msp_id, action.incident_id),
        _done(action, state, now, Step.INCIDENT, "recorded", number=state.awaited[0]),
    ]


@implements("MSP-1.7")
def _withdraw_incident(
    state: MspState, action: WithdrawMspIncident, now: datetime
) -> Sequence[Output]:
    """ "Record a new incident and link it to the MSP" is asked for each aggressive call; one asked for in error (the
    same call recorded twice, say) is withdrawn by an approved decision maker with the reason, kept in the MSP
    notes, and its task is ticked off. Only an incident still awaited can be withdrawn: one recorded stands."""
    if action.number not in state.awaited:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.INCIDENT_NOT_AWAITED,
            f"No incident is awaited for aggressive call {action.number}: only one asked for and not yet "
            "recorded or withdrawn can be withdrawn.",
        )
    note = MspNote(
        at=action.occurred_at,
        officer_id=action.officer_id,
        about=f"incident {action.number} withdrawn",
        text=action.withdrawal_reason,
    )
    return [
        IncidentWithdrawn(state.msp_id, action.number),
        NoteKept(state.msp_id, note),
        _done(
            action,
            state,
            now,
            Step.INCIDENT,
            "withdrawn",
            MspReason.INCIDENT_WITHDRAWN,
            number=action.number,
        ),
    ]


_CIRCUMSTANCE_NEEDS: dict[SmsCircumstance, tuple[PhoneOutcome | PhoneStatus, ...]] = {
    # which phone outcomes make each circumstance true (pending: no call made yet)
    # (CANNOT_BE_CONTACTED: see circumstance_met, which reads every call, not the last)
    # "telephone discussion with the customer was unproductive"
    SmsCircumstance.UNPRODUCTIVE: (PhoneOutcome.UNPRODUCTIVE,),
    # "telephone contact was successful and [...] the customer may benefit from confirmation of MSP details by SMS"
    SmsCircumstance.CONFIRMATION_HELPS: (PhoneOutcome.SUCCESSFUL,),
    # "waiting until the next day to call the customer may result in a more productive discussion": the call that
    # matters is still to come, so not after a successful or unproductive one
    SmsCircumstance.PRELIMINARY_BEFORE_NEXT_DAY_CALL: (
        PhoneStatus.PENDING,
        PhoneOutcome.UNSUCCESSFUL,
        PhoneOutcome.UNPRODUCTIVE,
    ),
}


_WITH_THE_CUSTOMER = frozenset({SmsCircumstance.UNPRODUCTIVE, SmsCircumstance.CONFIRMATION_HELPS})
"""The circumstances about a discussion with the customer themselves: a call with a representative is not one."""


@implements("MSP-2.3", "MSP-2.4", "MSP-2.5", "MSP-2.6", "MSP-2.7")
def circumstance_met(state: MspState, circumstance: SmsCircumstance) -> bool:
    """Whether the phone step bears out the circumstance the approved decision maker gave (the fifth, capturing the
    OMC/PSSO number, holds whatever the call)."""
    if circumstance is SmsCircumstance.CANNOT_BE_CONTACTED:
        # "customer cannot be contacted by phone": the customer was tried and not reached (a representative phoned
        # instead is not a try), or there was no one to phone
        return state.phone.status is PhoneStatus.SKIPPED or any(
            call.contacted is Role.CUSTOMER and call.outcome is PhoneOutcome.UNSUCCESSFUL
            for call in state.phone.attempts
        )
    needs = _CIRCUMSTANCE_NEEDS.get(circumstance)
    if needs is None:
        return True
    resolution = state.phone.resolution
    phone_outcome = state.phone.last_outcome
    latest = resolution or (state.phone.attempts[-1] if state.phone.attempts else None)
    if circumstance in _WITH_THE_CUSTOMER and (
        latest is None or latest.contacted is not Role.CUSTOMER
    ):
        return False  # "telephone discussion with the customer", "contact was successful": the customer's own
    return phone_outcome in needs


@implements("MSP-2.9", "MSP-2.11", "MSP-2.13")
def _guard(state: MspState) -> tuple[MspReason, str] | None:
    if not state.case.customer_mobile:
        return MspReason.NO_MOBILE_ON_RECORD, "There is no mobile number on the customer's record."
    if not is_mobile(state.case.customer_mobile):
        return (
            MspReason.NOT_A_MOBILE,
            "The number on the customer's record is not a mobile number: an SMS cannot reach it.",
        )
    for fact, code, reason in GUARDS:
        if fact in state.risks:
            return code, reason
    return _shared(state)


@implements("MSP-2.8", "MSP-2.9")
def _shared(state: MspState) -> tuple[MspReason, str] | None:
    """ "the approved decision maker needs to make sure the mobile number on file is not recorded on multiple
    records": what the system itself knows, it checks (numbers compared in E.164): the customer's mobile is also a
    representative's number on this MSP, or on another customer's MSP. What it cannot know (records in other
    systems) stays the approved decision maker's check."""
    mobile = state.case.customer_mobile
    if any(r.phone == mobile for r in state.case.representatives):
        return (
            MspReason.MOBILE_ON_MULTIPLE_RECORDS,
            "The mobile number on file is also the number of the customer's representative: the SMS must not be "
            "sent and existing phone and letter notification provisions apply.",
        )
    if state.mobile_elsewhere:
        return (
            MspReason.MOBILE_ON_MULTIPLE_RECORDS,
            "The mobile number on file is also on another MSP (another customer's mobile, or a representative's "
            "number): the SMS must not be sent and existing phone and letter notification provisions apply.",
        )
    return None


@implements("MSP-2.8", "MSP-2.9")
def mobile_held_elsewhere(state: MspState, others: Iterable[MspState]) -> bool:
    """Whether the customer's mobile is recorded on another of ``others``: as another customer's mobile, or as a
    representative's number on any other MSP (the customer's own MSPs included: the number is then the
    representative's)."""
    mobile = state.case.customer_mobile
    return bool(mobile) and any(
        (o.case.customer_mobile == mobile and o.customer_ref != state.customer_ref)
        or any(r.phone == mobile for r in o.case.representatives)
        for o in others
        if o.msp_id != state.msp_id
    )


@implements("MSP-1.7")
def incident_held_elsewhere(incident_id: str, others: Iterable[MspState]) -> bool:
    """ "Record a new incident and link it to the MSP": a CIMS incident another MSP has is not new."""
    return any(incident_id in o.incidents for o in others)


def _withhold(
    cause: Event | Cause, state: MspState, now: datetime, code: MspReason, reason: str
) -> list[Event]:
    c = _cause(cause)
    withheld = MspSmsWithheld.derived(
        c.event_id,
        c.correlation_id,
        producer=PRODUCER,
        occurred_at=now,
        msp_id=state.msp_id,
        customer_ref=state.customer_ref,
        reason_code=code,
        reason=reason,
    )
    return [withheld, _done(c, state, now, Step.SMS, "withheld", code)]


@implements("MSP-2.1", "MSP-2.2", "MSP-2.8", "MSP-2.9", "MSP-2.10")
def _authorise_sms(
    state: MspState, action: AuthoriseMspSms, now: datetime, policy: Policy
) -> list[Event]:
    def no(code: MspReason, reason: str) -> list[Event]:
        return _reject(action, state.msp_id, now, code, reason)

    if state.case.agency is not Agency.CENTRELINK:
        return no(MspReason.NOT_CENTRELINK, "An MSP SMS is for Centrelink customers only.")
    if state.sms.status is not SmsStatus.PENDING:
        return no(MspReason.SMS_ALREADY_DECIDED, f"The SMS is already {state.sms.status}.")
    if OfficerRole.MSP_APPROVED_DECISION_MAKER not in action.officer_roles:
        return no(
            MspReason.NOT_APPROVED_DECISION_MAKER,
            "SMS can only be sent by approved decision makers.",
        )
    if not action.smem_checked:
        return no(
            MspReason.SMEM_NOT_CHECKED,
            "See the SMS/Email Search (SMEM) screen before sending an aggression related "
            "Desktop Electronic message.",
        )
    if not action.mobile_checked:
        return no(
            MspReason.MOBILE_NOT_CHECKED,
            "Make sure the mobile number on file is not recorded on multiple records.",
        )
    if (
        action.mobile_on_multiple_records
    ):  # "If it is, the SMS must not be sent": withheld, the step resolved
        code, reason = MOBILE_ON_MULTIPLE_RECORDS
        return _withhold(action, state, now, code, reason)
    if not state.case.phone_customer_appropriate:
        return no(
            MspReason.CUSTOMER_CONTACT_NOT_APPROPRIATE,
            "A decision was made not to contact the customer directly: an SMS to their mobile is direct contact. "
            "Decline the SMS; the letter advises them in writing.",
        )
    if not circumstance_met(state, action.circumstance):
        return no(
            MspReason.CIRCUMSTANCE_NOT_MET,
            f"'{action.circumstance.value}' does not match the phone step ({state.phone.status}).",
        )
    if (guard := _guard(state)) is not None:
        return _withhold(action, state, now, *guard)
    text = msp_sms_text(
        state.case.contact.kind,
        national(state.case.contact.phone),
        state.case.starts_on.isoformat(),
    )
    if sms_size(text).fragments > policy.sms_max_fragments:
        return _withhold(
            action,
            state,
            now,
            MspReason.SMS_TOO_LONG,
            f"The SMS would need more than {policy.sms_max_fragments} fragments.",
        )
    # From when the decision maker authorised it (the officer's time), not when it was handled: the same
    # authorisation decided again (a database restored from a backup) schedules the same SMS.
    decided = officers_time(action, now)
    send_at = max(action.send_at or decided, decided)
    latest = min(decided + timedelta(hours=policy.sms_max_delay_h), _end_of(state.case))
    if send_at > latest:
        return no(
            MspReason.SEND_AT_TOO_LATE,
            "It is important that customers are notified of the MSP decisions as soon as possible: schedule the SMS "
            f"within {policy.sms_max_delay_h:g} hours, and before the MSP ends.",
        )
    return [
        MspSmsAuthorised.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            msp_id=state.msp_id,
            officer_id=action.officer_id,
            circumstance=action.circumstance,
            send_at=send_at,
        )
    ]


def _end_of(case: MspCase) -> datetime:
    """The end of the MSP's last day, in Canberra (the agency's time; an SMS is never scheduled past the MSP)."""
    return datetime.combine(case.ends_on + timedelta(days=1), time(0), ZoneInfo("Australia/Sydney"))


def sms_due(state: MspState) -> SmsDue:
    """The timer's message: the authorised SMS of this MSP, from the authorisation that set its send time."""
    assert state.sms.authorised_by_event is not None
    assert state.sms.correlation_id is not None
    return SmsDue(state.msp_id, state.sms.authorised_by_event, state.sms.correlation_id)


@implements("MSP-2.1", "MSP-2.11", "MSP-2.13")
def decide_send(state: MspState, due: SmsDue, now: datetime, policy: Policy) -> list[Event]:
    """At the moment of sending the guards are checked again: a risk fact recorded after the authorisation
    still stops the SMS."""
    sms = state.sms
    if sms.status is not SmsStatus.AUTHORISED or sms.send_at is None or now < sms.send_at:
        return []
    cause = _cause(due)  # the authorisation that set this send time
    approval = state.case
    text = msp_sms_text(
        approval.contact.kind, national(approval.contact.phone), approval.starts_on.isoformat()
    )
    size = sms_size(text)
    if (guard := _guard(state)) is not None:
        events = _withhold(cause, state, now, *guard)
    elif sms.circumstance is SmsCircumstance.PRELIMINARY_BEFORE_NEXT_DAY_CALL and _call_made_since(
        state
    ):
        events = _withhold(
            cause,
            state,
            now,
            MspReason.PRELIMINARY_NO_LONGER_NEEDED,
            "The call the preliminary message was to prepare has since been made: the message is not sent.",
        )
    elif size.fragments > policy.sms_max_fragments:
        events = _withhold(
            cause,
            state,
            now,
            MspReason.SMS_TOO_LONG,
            f"More than {policy.sms_max_fragments} fragments.",
        )
    else:
        assert approval.customer_mobile is not None
        events = [
            SmsDispatchRequested.derived(
                cause.event_id,
                cause.correlation_id,
                producer=PRODUCER,
                occurred_at=now,
                msp_id=state.msp_id,
                customer_ref=state.customer_ref,
                mobile=approval.customer_mobile,
                text=text,
                encoding=size.encoding,
                fragments=size.fragments,
            ),
            _done(cause, state, now, Step.SMS, "sent"),
        ]
    return events


@implements("MSP-2.6")
def _call_made_since(state: MspState) -> bool:
    """ "waiting until the next day to call the customer may result in a more productive discussion": a call recorded
    since the preliminary message was authorised is that call (for one authorised before the count was kept, a
    successful call is)."""
    before = state.sms.calls_at_authorisation
    if before is None:
        resolution = state.phone.resolution
        return resolution is not None and resolution.outcome is PhoneOutcome.SUCCESSFUL
    return len(state.phone.attempts) > before


@implements("MSP-3.2", "MSP-3.3")
def _attach_letter(state: MspState, action: AttachMspLetter, now: datetime) -> list[Event]:
    """ "Ensure that only the final approved letter is attached to the MSP." Our reading: one letter is attached at a
    time, and until it is sent another final approved letter replaces it (a letter attached by mistake is not stuck
    there); once sent, the letter attached is the one that went."""
    if state.letter_dispatch is not None:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.LETTER_ALREADY_DISPATCHED,
            "The letter was already sent: the letter attached is the one that went.",
        )
    if state.letter_id == action.letter_id:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.LETTER_ALREADY_ATTACHED,
            "Ensure that only the final approved letter is attached to the MSP: this one already is.",
        )
    for ok, code, reason in (
        (action.final, MspReason.LETTER_NOT_FINAL, "Only the final letter may be attached."),
        (action.signed, MspReason.LETTER_NOT_SIGNED, "The MSP letter must be signed."),
        (action.approved, MspReason.LETTER_NOT_APPROVED, "The MSP letter must be approved."),
        (
            action.includes_contact_card,
            MspReason.CONTACT_CARD_MISSING,
            "The letter must include the OMC/PSSO contact card.",
        ),
    ):
        if not ok:
            return _reject(action, state.msp_id, now, code, reason)
    return [
        MspLetterAccepted.caused_by(
            action,
            producer=PRODUCER,
            occurred_at=now,
            msp_id=state.msp_id,
            letter_id=action.letter_id,
        )
    ]


@implements("MSP-3.4", "MSP-3.5", "MSP-3.6")
def _dispatch_letter(
    state: MspState, action: RecordLetterDispatch, now: datetime
) -> Sequence[Output]:
    if action.method in ("staff-hand-delivery", "security-guard-hand-delivery"):
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.HAND_DELIVERY_BY_STAFF_FORBIDDEN,
            "Staff/Security Guards must not exit the premises to hand deliver the letter to the customer.",
        )
    if state.letter_dispatch is not None:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.LETTER_ALREADY_DISPATCHED,
            "The letter was already sent.",
        )
    if state.letter_id is None:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.NO_APPROVED_LETTER,
            "Attach the signed and approved MSP letter before sending it.",
        )
    if Step.LETTER not in state.requested:
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.LETTER_NOT_YET_DUE,
            "The letter follows the call: send it once the customer has been phoned (or the phone step resolved).",
        )
    if action.method == "local-police-hand-delivery" and not (action.msp_note or "").strip():
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.POLICE_DELIVERY_NOT_RECORDED,
            "Hand delivery by the local Police must be recorded in the MSP notes: give the note.",
        )
    note = (
        [
            NoteKept(
                state.msp_id,
                MspNote(
                    at=action.occurred_at,
                    officer_id=action.officer_id,
                    about=action.method,
                    text=action.msp_note,
                ),
            )
        ]
        if action.msp_note
        else []
    )
    return [*note, _done(action, state, now, Step.LETTER, action.method)]


@implements("MSP-4.1", "MSP-4.2", "MSP-2.15")
def _record_result(state: MspState, action: RecordMspResult, now: datetime) -> list[Event]:
    if missing := unresolved(state):
        return _reject(
            action,
            state.msp_id,
            now,
            MspReason.STEPS_UNRESOLVED,
            f"The notification is not complete: {', '.join(missing)}.",
        )
    approval = state.case
    summary = MspNotificationCompleted.caused_by(
        action,
        producer=PRODUCER,
        occurred_at=now,
        msp_id=state.msp_id,
        customer_ref=state.customer_ref,
        agency=approval.agency,
        phone=f"{state.phone.status}: {state.phone.resolution or state.phone.status}",
        sms=state.sms.status + (f": {state.sms.reason_code}" if state.sms.reason_code else ""),
        letter=f"dispatched: {state.letter_dispatch}",
        incident=state.incident,
        child_support_note=CHILD_SUPPORT_NOTE if approval.agency is Agency.CHILD_SUPPORT else None,
    )
    return [summary, _done(action, state, now, Step.RECORD_RESULT, "recorded")]
