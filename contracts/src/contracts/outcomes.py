"""What became of each record an upstream system sent: its outcome, on a channel that system may read (issue 41).

An upstream system (``payments-system``, ``msp-approvals``) learns, per record it wrote, one of:

* ``accepted``: the record was taken in (what it caused is on the service's own topics);
* ``set-aside``: it was read and changes nothing, with the reason (a payment attempt outside its window, ...);
* ``rejected``: the procedure forbids what it asks, with the reason (an MSP approved twice, ...);
* ``dead-lettered``: it could not be taken at all, with the reason and the detail (field paths, never a value); the
  record itself is on the topic's dead-letter topic.

An outcome holds ids, codes and where the record was: never a customer's reference, a name or any other content of
the record. The service that reads the record writes its outcome in the same transaction as what the record caused,
so the outcome is there exactly when the decision is. A record read again (a redelivery, a duplicate) is answered
once; a dead letter replayed after a fix is answered again, under another id, and the latest outcome of an event id
is its answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from contracts.envelope import Contract, Event, Name, Text, derived_event_id
from contracts.expenses import ExpenseActionRejected, PaymentAttemptDisregarded
from contracts.notification import MspActionRejected
from contracts.workitems import WorkItemActionRejected


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    SET_ASIDE = "set-aside"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead-lettered"


JUDGEMENTS: dict[type[Event], tuple[Outcome, str]] = {
    PaymentAttemptDisregarded: (Outcome.SET_ASIDE, "attempted_event_id"),
    MspActionRejected: (Outcome.REJECTED, "rejected_event_id"),
    ExpenseActionRejected: (Outcome.REJECTED, "rejected_event_id"),
    WorkItemActionRejected: (Outcome.REJECTED, "rejected_event_id"),
}
"""The outputs that say a message was set aside or refused, and the field of each that names that message."""


def judged(message: Event, outputs: Sequence[Event]) -> tuple[Outcome, str | None]:
    """The outcome of a message its service handled, and the reason code, from what the message caused: set aside or
    rejected where an output says so of it, accepted otherwise."""
    for output in outputs:
        judgement = JUDGEMENTS.get(type(output))
        if judgement is not None and getattr(output, judgement[1]) == str(message.event_id):
            return judgement[0], getattr(output, "reason_code", None)
    return Outcome.ACCEPTED, None


TopicName = Annotated[str, Field(max_length=255)]


class RecordOrigin(Contract):
    """Where the answered record was: its topic (with the deployment's prefix), partition and offset."""

    topic: TopicName
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class InputOutcome(Event):
    """What became of one record an upstream system wrote: accepted, set aside, rejected or dead-lettered, and why.
    No content of the record, no personal information."""

    key_field: ClassVar[str] = "answered_event_id"
    answered_event_id: uuid.UUID | None = Field(
        description="The event_id of the record answered; unset when the record had none that could be read (not "
        "JSON, say): then origin says which record it was, and the record key is '<partition>/<offset>'.",
    )
    answered_event_type: Name | None = Field(
        default=None, description="Its event_type, when the record was a valid event."
    )
    origin: RecordOrigin
    outcome: Outcome
    reason_code: Name | None = Field(
        default=None,
        description="Why it was set aside, rejected or dead-lettered (a stable code: docs/integration.md lists "
        "them); unset when accepted.",
    )
    detail: Text | None = Field(
        default=None,
        description="For a dead letter, which field and what is wrong (field paths and rules, never a value).",
    )

    @property
    def key(self) -> str:
        """The answered event's id; for a record without a readable one, where it was."""
        if self.answered_event_id is not None:
            return str(self.answered_event_id)
        return f"{self.origin.partition}/{self.origin.offset}"

    @classmethod
    def of_event(
        cls,
        message: Event,
        origin: RecordOrigin,
        outcome: Outcome,
        *,
        producer: str,
        now: datetime,
        reason_code: str | None = None,
        detail: str | None = None,
    ) -> InputOutcome:
        """The outcome of a valid event: its ids, under its own correlation. Accepted, set aside or rejected once per
        event id; dead-lettered (its handler failed, or its id was reused) once per record."""
        variant = outcome if outcome is not Outcome.DEAD_LETTERED else _where(origin)
        # Made of values validated already (the message's, our own codes, a bounded detail): not validated again, as
        # every record an upstream writes gets one (issue 42). A test holds it equal to the validated one.
        return cls.model_construct(
            event_id=derived_event_id(message.event_id, f"{cls.TYPE}/{variant}"),
            event_type=cls.TYPE,
            schema_version=cls.schema_version_current,
            occurred_at=now,
            correlation_id=message.correlation_id,
            causation_id=message.event_id,
            producer=producer,
            answered_event_id=message.event_id,
            answered_event_type=message.event_type,
            origin=origin,
            outcome=outcome,
            reason_code=reason_code,
            detail=detail,
        )

    @classmethod
    def of_record(
        cls,
        event_id: str | None,
        origin: RecordOrigin,
        *,
        producer: str,
        now: datetime,
        reason_code: str,
        detail: str,
    ) -> InputOutcome:
        """The outcome of a record that was not a valid event: dead-lettered, with the event id it says it has (if
        any), under a correlation id derived from where it was."""
        where = derived_event_id(uuid.UUID(int=0), _where(origin))
        return cls(
            event_id=derived_event_id(where, cls.TYPE),
            event_type=cls.TYPE,
            occurred_at=now,
            correlation_id=where,
            producer=producer,
            answered_event_id=_uuid(event_id),
            origin=origin,
            outcome=Outcome.DEAD_LETTERED,
            reason_code=reason_code,
            detail=detail,
        )


def _uuid(text: str | None) -> uuid.UUID | None:
    """The id a record says it has, if it is a UUID (a record that is not an event may say anything)."""
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _where(origin: RecordOrigin) -> str:
    return f"{origin.topic}/{origin.partition}/{origin.offset}"


class PaymentAttemptOutcome(InputOutcome):
    """What became of one PaymentAttempted the payments system wrote."""

    event_type: Literal["PaymentAttemptOutcome"] = "PaymentAttemptOutcome"


class MspApprovalOutcome(InputOutcome):
    """What became of one MspApproved the approvals system wrote."""

    event_type: Literal["MspApprovalOutcome"] = "MspApprovalOutcome"
