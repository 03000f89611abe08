"""What an upstream system is told of each record it wrote (issue 41): judged from what the record caused, and made
of ids and codes only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.catalogue import CATALOGUE, MSP_APPROVALS, PAYMENT_ATTEMPTS
from contracts.envelope import Event
from contracts.expenses import PaymentAttemptDisregarded
from contracts.notification import MspActionRejected
from contracts.outcomes import (
    MAX_ANSWERS,
    Answer,
    MspApprovalOutcomes,
    Outcome,
    PaymentAttemptOutcomes,
    judged,
)
from tests.expenses.builders import at, attempt
from tests.notification.builders import approval

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, tzinfo=UTC)


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


def test_outcomes_name_each_record_by_its_id_and_never_carry_its_content():
    tried, early = attempt(when=at(2026, 11, 24)), attempt(when=at(2026, 11, 22, 23))
    told = PaymentAttemptOutcomes.of_answers(
        "im.payment-attempts",
        2,
        [
            Answer.of_event(tried, 41, Outcome.ACCEPTED),
            Answer.of_event(early, 42, Outcome.SET_ASIDE, reason_code="before-retry-window"),
        ],
        producer="expenses",
        now=NOW,
    )
    assert told.key == "2", "keyed by the partition: one partition's outcomes stay in order"
    assert [(a.event_id, a.offset, a.outcome) for a in told.answers] == [
        (tried.event_id, 41, Outcome.ACCEPTED),
        (early.event_id, 42, Outcome.SET_ASIDE),
    ]
    text = told.to_json().decode()
    assert tried.customer_ref not in text
    assert tried.payee_id not in text
    again = PaymentAttemptOutcomes.of_answers(
        "im.payment-attempts", 2, told.answers, producer="expenses", now=NOW
    )
    assert again.event_id == told.event_id, "the same records answered again are the same record"


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_answer_made_of_an_event_reads_back_as_it_was_made(outcome):
    """Issue 42: an answer is made of values validated already; whatever way it is built, it is exactly what a reader
    validates of it."""
    tried = attempt(when=at(2026, 11, 24))
    made = Answer.of_event(tried, 41, outcome, reason_code="retry-failed", detail="x" * 1000)
    again = Answer.model_validate_json(made.model_dump_json())
    assert again == made
    assert again.model_dump_json() == made.model_dump_json()


@pytest.mark.parametrize(
    "said", [None, "not-a-uuid-but-thirty-six-characters", "------------------------------------"]
)
def test_a_record_without_a_readable_id_is_answered_by_where_it_was(said):
    told = Answer.of_record(said, 41, reason_code="not-json", detail="Expecting value")
    assert (told.event_id, told.offset) == (None, 41)
    assert (told.outcome, told.reason_code) == (Outcome.DEAD_LETTERED, "not-json")


def test_a_record_carries_a_bounded_number_of_answers():
    tried = attempt(when=at(2026, 11, 24))
    many = [Answer.of_event(tried, n, Outcome.ACCEPTED) for n in range(MAX_ANSWERS + 1)]
    with pytest.raises(ValueError, match="at most"):
        PaymentAttemptOutcomes.of_answers("t", 0, many, producer="expenses", now=NOW)


def test_each_upstream_topic_has_one_outcome_topic_written_by_its_reader_and_read_by_its_writer():
    for upstream, model in (
        (PAYMENT_ATTEMPTS, PaymentAttemptOutcomes),
        (MSP_APPROVALS, MspApprovalOutcomes),
    ):
        answers = CATALOGUE.outcomes_of(upstream.name)
        assert answers is not None
        assert answers.events == (model,)
        assert answers.producer in upstream.consumers
        assert CATALOGUE.reader_of(answers) == upstream.producer
        assert answers.consumers == (), "none of ours reads it: nothing there is dead-lettered"
