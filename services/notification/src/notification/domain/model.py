"""The state of one MSP's notification, and ``evolve``: how each fact changes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from contracts.envelope import Contract, Event
from contracts.notification import (
    MspActionRejected,
    MspApproved,
    MspLetterAccepted,
    MspNotificationCompleted,
    MspSmsAuthorised,
    MspStepDone,
    MspStepRequired,
    RecordLetterDispatch,
    RecordPhoneContact,
    RecordRiskFact,
    RiskFact,
    SmsCircumstance,
    Step,
)


class PhoneState(Contract):
    status: Literal["pending", "done", "skipped"] = "pending"
    outcome: str | None = None
    attempts: tuple[str, ...] = ()
    """Every call recorded, resolved or not ("unsuccessful: customer", ...), in order."""

    @property
    def last_outcome(self) -> str:
        """The outcome that counts now: the resolution, else the latest attempt's, else "pending"."""
        latest = self.outcome or (self.attempts[-1] if self.attempts else None)
        return latest.partition(": ")[0] if latest else self.status


class SmsState(Contract):
    status: Literal["pending", "not-applicable", "authorised", "sent", "withheld", "declined"] = "pending"
    reason_code: str | None = None
    send_at: datetime | None = None
    circumstance: SmsCircumstance | None = None
    authorised_by_event: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None

    @property
    def resolved(self) -> bool:
        return self.status in ("not-applicable", "sent", "withheld", "declined")


class MspNote(Contract):
    """A note kept in the MSP's history (the police hand delivery's): free text, never published or logged."""

    at: datetime
    officer_id: str
    about: str
    text: str


class MspState(Contract):
    approval: MspApproved
    requested: tuple[Step, ...] = ()
    phone: PhoneState = PhoneState()
    sms: SmsState = SmsState()
    letter_id: str | None = None
    letter_dispatch: str | None = None
    incident: Literal["not-required", "required", "recorded"] = "not-required"
    risks: tuple[RiskFact, ...] = ()
    completed: bool = False
    notes: tuple[MspNote, ...] = ()

    @property
    def msp_id(self) -> str:
        return self.approval.msp_id

    @property
    def customer_ref(self) -> str:
        return self.approval.customer_ref


_SMS_STATUS: dict[str, Literal["sent", "withheld", "declined", "not-applicable"]] = {
    "sent": "sent", "withheld": "withheld", "declined": "declined", "not-applicable": "not-applicable"}


def _done(state: MspState, event: MspStepDone) -> MspState:
    match event.step:
        case Step.PHONE:
            return state.model_copy(update={"phone": state.phone.model_copy(update={
                "status": "skipped" if event.outcome == "skipped" else "done", "outcome": event.outcome})})
        case Step.SMS:
            sms = state.sms.model_copy(update={"status": _SMS_STATUS[event.outcome], "reason_code": event.reason_code})
            return state.model_copy(update={"sms": sms})
        case Step.LETTER:
            return state.model_copy(update={"letter_dispatch": event.outcome})
        case Step.INCIDENT:
            return state.model_copy(update={"incident": "recorded"})
        case Step.RECORD_RESULT:
            return state.model_copy(update={"completed": True})
    return state  # pragma: no cover - Step is closed


def evolve(state: MspState | None, event: Event) -> MspState | None:
    """Apply a fact: an input that is a recorded fact, or an output of ``decide``."""
    if isinstance(event, MspApproved):
        return state or MspState(approval=event)
    if state is None:
        return None
    match event:
        case MspStepRequired():
            incident = "required" if event.step is Step.INCIDENT else state.incident
            return state.model_copy(update={"requested": (*state.requested, event.step), "incident": incident})
        case MspStepDone():
            return _done(state, event)
        case MspSmsAuthorised():
            sms = SmsState(status="authorised", send_at=event.send_at, circumstance=event.circumstance,
                           authorised_by_event=event.causation_id, correlation_id=event.correlation_id)
            return state.model_copy(update={"sms": sms})
        case RecordRiskFact() if event.fact not in state.risks:
            return state.model_copy(update={"risks": (*state.risks, event.fact)})
        case RecordPhoneContact():
            attempt = f"{event.outcome}: {event.contacted.value}"
            return state.model_copy(update={"phone": state.phone.model_copy(
                update={"attempts": (*state.phone.attempts, attempt)})})
        case RecordLetterDispatch() if event.msp_note:
            note = MspNote(at=event.occurred_at, officer_id=event.officer_id, about=event.method, text=event.msp_note)
            return state.model_copy(update={"notes": (*state.notes, note)})
        case MspLetterAccepted():
            return state.model_copy(update={"letter_id": event.letter_id})
        case MspNotificationCompleted():
            return state.model_copy(update={"completed": True})
    return state


def apply(state: MspState | None, message: Event, outputs: Iterable[Event]) -> MspState | None:
    """The state after handling ``message``: a rejected message changes nothing."""
    outputs = list(outputs)
    if any(isinstance(e, MspActionRejected) for e in outputs):  # the message is refused; what it still caused holds
        return evolve_all(state, [e for e in outputs if not isinstance(e, MspActionRejected)])
    return evolve_all(state, [message, *outputs])


def evolve_all(state: MspState | None, events: Iterable[Event]) -> MspState | None:
    for event in events:
        state = evolve(state, event)
    return state
