"""What became of each record an upstream system sent: its outcome, on a channel that system may read (issue 41).

An upstream system (``payments-system``, ``msp-approvals``) learns, per record it wrote, one of:

* ``accepted``: the record was taken in (what it caused is on the service's own topics);
* ``set-aside``: it was read and changes nothing, with the reason (a payment attempt outside its window, ...);
* ``rejected``: the procedure forbids what it asks, with the reason (an MSP approved twice, ...);
* ``dead-lettered``: it could not be taken at all, with the reason and the detail (field paths, never a value); the
  record itself is on the topic's dead-letter topic.

An outcome holds ids, codes and where the record was: never a customer's reference, a name or any other content of
the record. The service that reads the records writes their outcomes in the same transaction as what they caused, so
an outcome is there exactly when the decision is: one record on the outcome channel per input partition and
transaction, listing the outcome of each of its records in offset order (an outcome a record of its own cost the
service as much again as the decision's output: issue 42). A record read again (a redelivery, a duplicate) is
answered once; a dead letter replayed after a fix is answered again, and the latest outcome of an event id is its
answer.
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


MAX_ANSWERS = 200
"""Most outcomes one record carries (about 60 KB): a transaction's records of one partition are answered in as many."""


class Answer(Contract):
    """What became of one record."""

    event_id: uuid.UUID | None = Field(
        description="The record's event_id; unset when it had none that could be read (not JSON, say): then its "
        "offset says which record it was.",
    )
    event_type: Name | None = Field(
        default=None, description="Its event_type, when the record was a valid event."
    )
    offset: int = Field(
        ge=0, description="Where the record was, in the partition the outcomes name."
    )
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

    @classmethod
    def of_event(
        cls,
        message: Event,
        offset: int,
        outcome: Outcome,
        *,
        reason_code: str | None = None,
        detail: str | None = None,
    ) -> Answer:
        """A valid event's outcome: every record gets one. Validated as it is made, though its values were validated
        already (the message's, the service's own codes, a bounded detail): pydantic-core's validation costs less than
        ``model_construct``'s copy in Python did (issue 42: 2.8 -> 2.0 us an answer)."""
        return cls(
            event_id=message.event_id,
            event_type=message.event_type,
            offset=offset,
            outcome=outcome,
            reason_code=reason_code,
            detail=detail,
        )

    @classmethod
    def of_record(
        cls, event_id: str | None, offset: int, *, reason_code: str, detail: str
    ) -> Answer:
        """A record that was not a valid event: dead-lettered, with the event id it says it has, if that is a UUID."""
        return cls(
            event_id=_uuid(event_id),
            offset=offset,
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


TopicName = Annotated[str, Field(max_length=255)]


class InputOutcomes(Event):
    """What became of a run of records of one partition an upstream system wrote, in offset order. Ids and codes only:
    no content of the records, no personal information."""

    key_field: ClassVar[str] = "partition"
    topic: TopicName = Field(
        description="The topic the records were on (with the deployment's prefix)."
    )
    partition: int = Field(
        ge=0,
        description="Their partition: the record key, so one partition's outcomes stay in order.",
    )
    answers: list[Answer] = Field(min_length=1, max_length=MAX_ANSWERS)

    @classmethod
    def of_answers(
        cls, topic: str, partition: int, answers: Sequence[Answer], *, producer: str, now: datetime
    ) -> InputOutcomes:
        """The outcomes of a transaction's records of one partition (at most :data:`MAX_ANSWERS`), under an id and a
        correlation made from where they were: the same records answered again make the same record."""
        span = f"{topic}/{partition}/{answers[0].offset}-{answers[-1].offset}"
        batch = derived_event_id(uuid.UUID(int=0), span)
        return cls(
            event_id=derived_event_id(batch, cls.TYPE),
            event_type=cls.TYPE,
            occurred_at=now,
            correlation_id=batch,
            producer=producer,
            topic=topic,
            partition=partition,
            answers=list(answers),
        )


class PaymentAttemptOutcomes(InputOutcomes):
    """What became of the PaymentAttempted records the payments system wrote."""

    event_type: Literal["PaymentAttemptOutcomes"] = "PaymentAttemptOutcomes"


class MspApprovalOutcomes(InputOutcomes):
    """What became of the MspApproved records the approvals system wrote."""

    event_type: Literal["MspApprovalOutcomes"] = "MspApprovalOutcomes"
