"""What an upstream system is told of each record it wrote (issue 41): judged from what the record caused, and made
of ids and codes only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts.catalogue import CATALOGUE, MSP_APPROVALS, PAYMENT_ATTEMPTS
from contracts.envelope import Event
from contracts.expenses import PaymentAttemptDisregarded
from contracts.notification import MspActionRejected
from contracts.outcomes import (
    MspApprovalOutcome,
    Outcome,
    PaymentAttemptOutcome,
    RecordOrigin,
    judged,
)
from tests.expenses.builders import at, attempt
from tests.notification.builders import approval

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, tzinfo=UTC)
WHERE = RecordOrigin(topic="im.payment-attempts", partition=2, offset=41)


def disregarded(cause: Event, reason: str, names: Event) -> PaymentAttemptDisregarded:
    return PaymentAttemptDisregarded.caused_by(
        cause,
        producer="expenses",
        occurred_at=NOW,
        expense_id="EXP-1",
        reason_code=reason,
        attempted_event_id=str(names.event_id),
    )


def test_an_attempt_is_accepted_set_aside_or_rejected_by_what_it_caused_of_itself():
    tried, other = attempt(when=at(2026, 11, 24)), attempt(when=at(2026, 11, 25))
    assert judged(tried, []) == (Outcome.ACCEPTED, None)
    assert judged(tried, [disregarded(tried, "before-retry-window", tried)]) == (
        Outcome.SET_ASIDE,
        "before-retry-window",
    )
    assert judged(tried, [disregarded(tried, "retry-failed", other)]) == (Outcome.ACCEPTED, None), (
        "an output that sets another record aside says nothing of this one"
    )
    approved = approval()
    refused = MspActionRejected.caused_by(
        approved,
        producer="notification",
        occurred_at=NOW,
        msp_id=approved.msp_id,
        action="MspApproved",
        rejected_event_id=str(approved.event_id),
        reason_code="already-approved",
        reason="This MSP was already approved.",
    )
    assert judged(approved, [refused]) == (Outcome.REJECTED, "already-approved")


def test_an_outcome_names_the_record_by_its_id_and_never_carries_its_content():
    tried = attempt(when=at(2026, 11, 24))
    told = PaymentAttemptOutcome.of_event(
        tried, WHERE, Outcome.ACCEPTED, producer="expenses", now=NOW
    )
    assert told.key == str(tried.event_id)
    assert (told.answered_event_id, told.answered_event_type) == (
        tried.event_id,
        "PaymentAttempted",
    )
    assert (told.correlation_id, told.causation_id) == (tried.correlation_id, tried.event_id)
    text = told.to_json().decode()
    assert tried.customer_ref not in text
    assert tried.payee_id not in text
    assert set(json.loads(text)) <= set(PaymentAttemptOutcome.model_fields)
    again = PaymentAttemptOutcome.of_event(
        tried, WHERE, Outcome.ACCEPTED, producer="expenses", now=NOW
    )
    assert again.event_id == told.event_id, "the same record answered again is the same outcome"


def test_a_dead_letter_is_answered_per_record_so_a_replay_after_a_fix_is_answered_anew():
    tried = attempt(when=at(2026, 11, 24))
    failed = PaymentAttemptOutcome.of_event(
        tried,
        WHERE,
        Outcome.DEAD_LETTERED,
        producer="expenses",
        now=NOW,
        reason_code="handler-failed",
    )
    replayed = RecordOrigin(topic=WHERE.topic, partition=WHERE.partition, offset=99)
    taken = PaymentAttemptOutcome.of_event(
        tried, replayed, Outcome.ACCEPTED, producer="expenses", now=NOW
    )
    assert failed.event_id != taken.event_id


@pytest.mark.parametrize(
    "said", [None, "not-a-uuid-but-thirty-six-characters", "--------------------------------"]
)
def test_a_record_without_a_readable_id_is_answered_by_where_it_was(said):
    told = MspApprovalOutcome.of_record(
        said,
        WHERE,
        producer="notification",
        now=NOW,
        reason_code="not-json",
        detail="Expecting value",
    )
    assert told.answered_event_id is None
    assert told.key == "2/41"
    assert (told.outcome, told.reason_code) == (Outcome.DEAD_LETTERED, "not-json")
    assert told.causation_id is None


def test_each_upstream_topic_has_one_outcome_topic_written_by_its_reader_and_read_by_its_writer():
    for upstream, model in (
        (PAYMENT_ATTEMPTS, PaymentAttemptOutcome),
        (MSP_APPROVALS, MspApprovalOutcome),
    ):
        answers = CATALOGUE.outcomes_of(upstream.name)
        assert answers is not None
        assert answers.events == (model,)
        assert answers.producer in upstream.consumers
        assert CATALOGUE.reader_of(answers) == upstream.producer
        assert answers.consumers == (), "none of ours reads it: nothing there is dead-lettered"


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_outcome_made_without_validating_again_is_the_validated_one(outcome):
    """Issue 42: an outcome is built from values validated already, so it is not validated again; it must be exactly
    what validation would make of it."""
    tried = attempt(when=at(2026, 11, 24))
    made = PaymentAttemptOutcome.of_event(
        tried,
        WHERE,
        outcome,
        producer="expenses",
        now=NOW,
        reason_code="retry-failed",
        detail="x" * 1000,
    )
    again = PaymentAttemptOutcome.model_validate_json(made.to_json())
    assert again == made
    assert again.to_json() == made.to_json()
    assert (
        made.event_id
        == PaymentAttemptOutcome.caused_by(
            tried,
            producer="expenses",
            occurred_at=NOW,
            variant=outcome if outcome is not Outcome.DEAD_LETTERED else "im.payment-attempts/2/41",
            answered_event_id=tried.event_id,
            origin=WHERE,
            outcome=outcome,
        ).event_id
    )
