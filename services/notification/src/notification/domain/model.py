"""The state of one MSP's notification, and ``evolve``: how each fact changes it.

The state is stored, so it is its own model, not the wire contract: the approval is kept as an ``MspCase`` (the
MSP's facts without the envelope), and a stored row says its ``version``. A row of an older version is read through
:data:`STATE_UPCASTERS`, so a new contract version (or a new state shape) never makes a stored row unreadable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from contracts.catalogue import approval_v1_to_v2
from contracts.envelope import Event
from contracts.notification import (
    Agency,
    Behaviour,
    Channel,
    DescribeMspBehaviours,
    MspApproved,
    MspLetterAccepted,
    MspNotificationCompleted,
    MspSmsAuthorised,
    MspStepDone,
    MspStepRequired,
    PhoneOutcome,
    RiskFact,
    Role,
    SmsCircumstance,
    Step,
)
from contracts.phones import e164
from notification.domain.labels import behaviour_gaps, only_a_label
from servicekit.stored import Stored, Upcaster, upcast_row


class PhoneStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    """Nobody to phone: the customer not appropriate and no representative."""


class PhoneCall(Stored):
    """One call recorded: how it went, and who was contacted."""

    outcome: PhoneOutcome
    contacted: Role

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.contacted.value}"


class PhoneState(Stored):
    status: PhoneStatus = PhoneStatus.PENDING
    resolution: PhoneCall | None = None
    """The call that resolved the step (none while pending, or when skipped)."""
    attempts: tuple[PhoneCall, ...] = ()
    """Every call recorded, resolved or not, in order."""

    @property
    def last_outcome(self) -> PhoneOutcome | PhoneStatus:
        """The outcome that counts now: the resolution's, else the latest attempt's, else the status."""
        latest = self.resolution or (self.attempts[-1] if self.attempts else None)
        return latest.outcome if latest is not None else self.status


class SmsStatus(StrEnum):
    PENDING = "pending"
    NOT_APPLICABLE = "not-applicable"
    AUTHORISED = "authorised"
    SENT = "sent"
    WITHHELD = "withheld"
    DECLINED = "declined"


class IncidentStatus(StrEnum):
    NOT_REQUIRED = "not-required"
    REQUIRED = "required"
    RECORDED = "recorded"


class SmsState(Stored):
    status: SmsStatus = SmsStatus.PENDING
    reason_code: str | None = None
    send_at: datetime | None = None
    circumstance: SmsCircumstance | None = None
    authorised_by_event: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None
    calls_at_authorisation: int | None = None
    """How many calls were recorded when the SMS was authorised (None for one authorised before this was kept): a
    preliminary message is for a call still to come."""

    @property
    def resolved(self) -> bool:
        return self.status in (
            SmsStatus.NOT_APPLICABLE,
            SmsStatus.SENT,
            SmsStatus.WITHHELD,
            SmsStatus.DECLINED,
        )


class MspNote(Stored):
    """A note kept in the MSP's history (the police hand delivery's): free text, never published or logged."""

    at: datetime
    officer_id: str
    about: str
    text: str


class CaseBehaviour(Stored):
    """A behaviour taken into consideration, as the case keeps it."""

    what: str
    occurred_on: date | None = None
    channel: Channel | None = None

    @classmethod
    def of(cls, behaviour: Behaviour) -> CaseBehaviour:
        return cls(
            what=behaviour.what, occurred_on=behaviour.occurred_on, channel=behaviour.channel
        )


class CaseContact(Stored):
    """The One Main Contact or Personalised Services Service Officer the customer is given."""

    kind: Literal["OMC", "PSSO"]
    name: str
    phone: str
    urgent_query_voicemail: str | None = None


class CaseRepresentative(Stored):
    role: Role
    name: str
    phone: str


class MspCase(Stored):
    """What the approval said of the MSP, as the state keeps it (the behaviours as last described): the service's
    own model, mapped from the approval field by field."""

    msp_id: str
    customer_ref: str
    agency: Agency
    approving_officer_id: str
    behaviours: tuple[CaseBehaviour, ...]
    reasons: str
    starts_on: date
    ends_on: date
    duration_reasons: str
    service_access: str
    channel_restrictions: tuple[str, ...] = ()
    contact: CaseContact
    customer_mobile: str | None = None
    representatives: tuple[CaseRepresentative, ...] = ()
    phone_customer_appropriate: bool

    @classmethod
    def of(cls, approval: MspApproved) -> MspCase:
        """The approval's facts as they are, validated by the case's own model: its fields are plain text, dates and
        codes (the contract parsed the phone numbers on the way in), which pydantic-core validates in less time than
        ``model_construct`` took to copy them in Python (issue 42: 9.3 -> 7.3 us an approval)."""
        c = approval.contact
        return cls(
            msp_id=approval.msp_id,
            customer_ref=approval.customer_ref,
            agency=approval.agency,
            approving_officer_id=approval.approving_officer_id,
            behaviours=tuple(CaseBehaviour.of(b) for b in approval.behaviours),
            reasons=approval.reasons,
            starts_on=approval.starts_on,
            ends_on=approval.ends_on,
            duration_reasons=approval.duration_reasons,
            service_access=approval.service_access,
            channel_restrictions=tuple(approval.channel_restrictions),
            contact=CaseContact(
                kind=c.kind,
                name=c.name,
                phone=c.phone,
                urgent_query_voicemail=c.urgent_query_voicemail,
            ),
            customer_mobile=approval.customer_mobile,
            representatives=tuple(
                CaseRepresentative(role=r.role, name=r.name, phone=r.phone)
                for r in approval.representatives
            ),
            phone_customer_appropriate=approval.phone_customer_appropriate,
        )

    def gaps(self) -> list[str]:
        """What the approving officer still has to describe (empty: the behaviours and reasons are described)."""
        reasons = (
            ["the reasons: not only a label such as 'inappropriate' or 'aggressive'"]
            if only_a_label(self.reasons)
            else []
        )
        return reasons + [
            f"behaviour {n} ({b.what[:60]}): {gap}"
            for n, b in enumerate(self.behaviours, 1)
            for gap in behaviour_gaps(b)
        ]


STATE_VERSION: Literal[4] = 4


class MspState(Stored):
    version: Literal[4] = STATE_VERSION
    case: MspCase
    described: bool = True
    """The behaviours and reasons are described; until they are, the customer is not phoned or written to."""
    requested: tuple[Step, ...] = ()
    phone: PhoneState = PhoneState()
    sms: SmsState = SmsState()
    letter_id: str | None = None
    letter_dispatch: str | None = None
    incidents_asked: int = 0
    """Aggressive calls: each asks for a new incident ("Record a new incident and link it to the MSP")."""
    incidents: tuple[str, ...] = ()
    """The CIMS incident ids recorded, in the order of the calls they answer ("" for one recorded before ids were
    kept, state v3)."""
    incidents_withdrawn: tuple[int, ...] = ()
    """The numbers of the aggressive calls whose incident an approved decision maker withdrew, asked for in error.
    An incident recorded answers the oldest call neither recorded nor withdrawn, so the recorded ones are always the
    first of the calls not withdrawn (:meth:`awaited`)."""
    risks: tuple[RiskFact, ...] = ()
    completed: bool = False
    notes: tuple[MspNote, ...] = ()
    mobile_elsewhere: bool = Field(default=False, exclude=True)
    """Known when loaded, never stored: another customer's MSP has this customer's mobile on file."""
    incidents_elsewhere: frozenset[str] = Field(default=frozenset(), exclude=True)
    """Known when loaded, never stored: of the CIMS incident ids being recorded, those already linked to another
    MSP."""

    @property
    def incident(self) -> IncidentStatus:
        if not self.incidents_asked:
            return IncidentStatus.NOT_REQUIRED
        if self.awaited:
            return IncidentStatus.REQUIRED
        return IncidentStatus.RECORDED

    @property
    def awaited(self) -> tuple[int, ...]:
        """The numbers of the aggressive calls still awaiting their incident, oldest first."""
        kept = [n for n in range(1, self.incidents_asked + 1) if n not in self.incidents_withdrawn]
        return tuple(kept[len(self.incidents) :])

    @property
    def msp_id(self) -> str:
        return self.case.msp_id

    @property
    def customer_ref(self) -> str:
        return self.case.customer_ref


def _state_v1_to_v2(row: dict[str, Any]) -> dict[str, Any]:
    """v1 embedded the MspApproved event (v1, behaviours a line each): the case keeps its facts, each behaviour its
    words with no date or channel; such an MSP was approved under the label rule alone, so it stays described."""
    approval = approval_v1_to_v2(
        row["approval"]
    )  # the behaviours as the contract's own upcaster reads them
    case = {k: v for k, v in approval.items() if k in MspCase.model_fields}
    case["customer_mobile"] = _e164_or_none(case.get("customer_mobile"))
    rest = {k: v for k, v in row.items() if k != "approval"}
    return rest | {"case": case, "described": True}


def _e164_or_none(number: object) -> str | None:
    """v1 kept the mobile as given: in E.164 now, or none where it is no number at all (an SMS is then withheld,
    "no mobile on record", never sent to it)."""
    try:
        return e164(number) if isinstance(number, str) else None
    except ValueError:
        return None


def _call(text: str) -> dict[str, str]:
    outcome, _, contacted = text.partition(": ")
    return {"outcome": outcome, "contacted": contacted}


def _state_v2_to_v3(row: dict[str, Any]) -> dict[str, Any]:
    """v2 kept each call as text ("unsuccessful: customer") and the resolution as the step's outcome text ("skipped"
    when nobody was phoned): each call is now its outcome and who was contacted."""
    phone = dict(row.get("phone") or {})
    resolved = phone.pop("outcome", None)
    phone["attempts"] = [_call(a) for a in phone.get("attempts", [])]
    phone["resolution"] = _call(resolved) if resolved and ": " in resolved else None
    return row | {"phone": phone}


def _state_v3_to_v4(row: dict[str, Any]) -> dict[str, Any]:
    """v3 kept one incident per MSP as a status: asked for once, and recorded (its CIMS id not kept) or not."""
    status = row.get("incident", IncidentStatus.NOT_REQUIRED.value)
    rest = {k: v for k, v in row.items() if k != "incident"}
    asked = 0 if status == IncidentStatus.NOT_REQUIRED.value else 1
    recorded = [""] if status == IncidentStatus.RECORDED.value else []
    return rest | {"incidents_asked": asked, "incidents": recorded}


STATE_UPCASTERS: Mapping[int, Upcaster] = {
    1: _state_v1_to_v2,
    2: _state_v2_to_v3,
    3: _state_v3_to_v4,
}
"""Stored version -> the function that reads it as the next version (a row without ``version`` is of 1)."""


def read_state(raw: str | bytes) -> MspState:
    """A stored row as the current state, upcast from the version it was written at."""
    return MspState.model_validate(upcast_row(raw, STATE_VERSION, STATE_UPCASTERS, "MSP state"))


def _done(state: MspState, event: MspStepDone) -> MspState:
    match event.step:
        case Step.PHONE:  # the call that resolved it is the last recorded (decided just before); none when skipped
            skipped = event.outcome == PhoneStatus.SKIPPED
            return state.model_copy(
                update={
                    "phone": state.phone.model_copy(
                        update={
                            "status": PhoneStatus.SKIPPED if skipped else PhoneStatus.DONE,
                            "resolution": None
                            if skipped or not state.phone.attempts
                            else state.phone.attempts[-1],
                        }
                    )
                }
            )
        case Step.SMS:
            sms = state.sms.model_copy(
                update={"status": SmsStatus(event.outcome), "reason_code": event.reason_code}
            )
            return state.model_copy(update={"sms": sms})
        case Step.LETTER:
            return state.model_copy(update={"letter_dispatch": event.outcome})
    # describe: the description itself changed the case (BehavioursDescribed); incident: IncidentRecorded;
    # record-result: MspNotificationCompleted, decided just before it
    return state


# --------------------------------------------------------------------------- internal facts
# What a message's facts leave in the state: decided like any output, folded by ``evolve``, never published (the
# case holds personal details; notes and risk facts are never to leave the service).


@dataclass(frozen=True)
class CaseOpened:
    """An approval's MSP, as the state keeps it."""

    msp_id: str
    case: MspCase
    described: bool


@dataclass(frozen=True)
class PhoneAttempted:
    """A call recorded (resolving the phone step or not)."""

    msp_id: str
    call: PhoneCall


@dataclass(frozen=True)
class RiskRecorded:
    msp_id: str
    fact: RiskFact


@dataclass(frozen=True)
class NoteKept:
    msp_id: str
    note: MspNote


@dataclass(frozen=True)
class IncidentRecorded:
    """The CIMS incident recorded for the oldest aggressive call still awaiting one."""

    msp_id: str
    incident_id: str


@dataclass(frozen=True)
class IncidentWithdrawn:
    """An approved decision maker withdrew the incident asked for after aggressive call ``number``."""

    msp_id: str
    number: int


@dataclass(frozen=True)
class BehavioursDescribed:
    """The approving officer's description: the case as it now reads."""

    msp_id: str
    case: MspCase


@dataclass(frozen=True)
class SmsDue:
    """The authorised SMS's send time has come (a timer): the authorisation's id and correlation go on, so what
    the sending causes derives from the message that set it."""

    msp_id: str
    event_id: uuid.UUID
    correlation_id: uuid.UUID


Fact = (
    CaseOpened
    | PhoneAttempted
    | RiskRecorded
    | NoteKept
    | BehavioursDescribed
    | IncidentRecorded
    | IncidentWithdrawn
)
"""The internal facts."""
Output = Event | Fact
"""What ``decide`` answers: events to publish, and internal facts."""


def described(case: MspCase, action: DescribeMspBehaviours) -> MspCase:
    """The case with the approving officer's description of the behaviours (and the reasons, where given)."""
    return case.model_copy(
        update={
            "behaviours": tuple(CaseBehaviour.of(b) for b in action.behaviours),
            "reasons": action.reasons or case.reasons,
        }
    )


def evolve(state: MspState | None, output: Output) -> MspState | None:
    """One output of ``decide`` folded into the MSP's state: an event it publishes, or an internal fact."""
    if isinstance(output, CaseOpened):
        return state or MspState(case=output.case, described=output.described)
    if state is None:
        return None
    match output:
        case MspStepRequired():
            asked = state.incidents_asked + (output.step is Step.INCIDENT)
            return state.model_copy(
                update={"requested": (*state.requested, output.step), "incidents_asked": asked}
            )
        case MspStepDone():
            return _done(state, output)
        case MspSmsAuthorised():
            sms = SmsState(
                status=SmsStatus.AUTHORISED,
                send_at=output.send_at,
                circumstance=output.circumstance,
                authorised_by_event=output.causation_id,
                correlation_id=output.correlation_id,
                calls_at_authorisation=len(state.phone.attempts),
            )
            return state.model_copy(update={"sms": sms})
        case RiskRecorded() if output.fact not in state.risks:
            return state.model_copy(update={"risks": (*state.risks, output.fact)})
        case PhoneAttempted():
            return state.model_copy(
                update={
                    "phone": state.phone.model_copy(
                        update={"attempts": (*state.phone.attempts, output.call)}
                    )
                }
            )
        case NoteKept():
            return state.model_copy(update={"notes": (*state.notes, output.note)})
        case IncidentRecorded():
            return state.model_copy(update={"incidents": (*state.incidents, output.incident_id)})
        case IncidentWithdrawn():
            return state.model_copy(
                update={"incidents_withdrawn": (*state.incidents_withdrawn, output.number)}
            )
        case BehavioursDescribed():
            return state.model_copy(
                update={"case": output.case, "described": not output.case.gaps()}
            )
        case MspLetterAccepted():
            return state.model_copy(update={"letter_id": output.letter_id})
        case MspNotificationCompleted():
            return state.model_copy(update={"completed": True})
    return state
