"""Edges of the MSP notification's decisions that mutation testing found unasserted (issue 28 item 16): the SMS's
latest time, what a case keeps, the ids that tie an output to its cause, and a stored row of an older shape."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.envelope import CUT, TEXT_CHARS, clipped, derived_event_id
from contracts.notification import (
    Channel,
    ContactDetails,
    MspSmsAuthorised,
    MspStepDone,
    MspStepRequired,
    RiskFact,
    Step,
)
from notification.domain.decide import phone_briefing, sms_due
from notification.domain.decider import Notification
from notification.domain.labels import only_a_label
from notification.domain.model import CaseBehaviour, MspCase, read_state
from tests.notification.builders import (
    approval,
    authorise,
    decline,
    incident,
    maximal_approval,
    phone,
    result,
    risk,
)
from tests.notification.test_decide import (
    POLICY,
    act,
    centrelink_after_unsuccessful_call,
    complete,
    rejected,
    run,
    start,
)

pytestmark = pytest.mark.unit
SYDNEY = ZoneInfo("Australia/Sydney")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SYDNEY)


def test_an_sms_may_be_scheduled_up_to_the_end_of_the_msps_last_day_in_canberra_and_not_after():
    """ "as soon as possible", and never past the MSP: its last day is 31 August 2027."""
    state = centrelink_after_unsuccessful_call()
    before_end = authorise(send_at=at(2027, 8, 31, 23, 30)).model_copy(
        update={"occurred_at": at(2027, 8, 31, 20, 0)}
    )
    [authorised], _ = act(state, before_end, at(2027, 8, 31, 20, 0))
    assert isinstance(authorised, MspSmsAuthorised)
    after_end = authorise(send_at=at(2027, 9, 1, 0, 30)).model_copy(
        update={"occurred_at": at(2027, 8, 31, 23, 0)}
    )
    assert rejected(act(state, after_end, at(2027, 8, 31, 23, 0))[0]) == "send-at-too-late"


def test_an_sms_authorisation_decided_again_later_schedules_the_same_sms():
    """Issue 39: a database restored from a backup decides an authorisation again, later: "at once" is when the
    approved decision maker authorised it, so the event it publishes is the same (its readers absorb it)."""
    state = centrelink_after_unsuccessful_call()
    authorisation = authorise()
    [first], _ = act(state, authorisation, authorisation.occurred_at)
    [again], _ = act(state, authorisation, authorisation.occurred_at + timedelta(hours=6))
    assert (again.event_id, again.send_at) == (first.event_id, first.send_at)
    assert again.send_at == authorisation.occurred_at


def test_an_sms_decision_is_taken_once():
    state = centrelink_after_unsuccessful_call()
    _, state = act(state, authorise())
    again = act(state, authorise())[0]
    assert rejected(again) == "sms-already-decided"
    declined = act(state, decline())[0]
    assert rejected(declined) == "sms-already-decided"
    assert declined[0].reason == "The SMS is already authorised."


def test_the_timer_carries_the_authorisation_it_answers_and_an_unknown_msp_sends_nothing():
    state = centrelink_after_unsuccessful_call()
    authorisation = authorise()
    [authorised], state = act(state, authorisation)
    due = sms_due(state)
    assert (due.event_id, due.correlation_id) == (authorisation.event_id, authorised.correlation_id)
    assert Notification(POLICY).decide({}, due, at(2027, 3, 1, 12)) == []


def test_each_incident_asked_and_done_has_its_own_id_derived_from_its_cause():
    _, state = start()
    call = phone(outcome="unproductive", explained=None, aggression=True)
    first, state = act(state, call)
    again, _ = act(state.model_copy(update={"incidents_asked": 0}), call)
    [asked] = [e for e in first if isinstance(e, MspStepRequired) and e.step is Step.INCIDENT]
    [asked_again] = [e for e in again if isinstance(e, MspStepRequired) and e.step is Step.INCIDENT]
    assert asked.event_id == asked_again.event_id, "the same call asks with the same id"
    second, state = act(state, call)
    [asked_2] = [e for e in second if isinstance(e, MspStepRequired) and e.step is Step.INCIDENT]
    assert asked_2.event_id != asked.event_id
    assert asked.causation_id == call.event_id
    record = incident(incident_id="CIMS-1")
    [done], _ = act(state, record)
    assert isinstance(done, MspStepDone)
    assert done.causation_id == record.event_id
    plain = [e for e in first if isinstance(e, MspStepRequired) and e.step is Step.SMS]
    assert plain[0].number is None, "only the incident step is numbered"


def test_a_step_done_without_a_number_has_the_id_it_had_before_steps_were_numbered():
    """Ids derive from the cause and the step; only an incident's carry its number, so an unnumbered step's id is
    as it was."""
    _, state = start()
    _, state = act(state, phone())
    _, state = complete(state)
    rec = result()
    [_summary, done], _ = act(state, rec)
    assert (
        done.event_id
        == MspStepDone.derived(
            rec.event_id,
            rec.correlation_id,
            producer="notification",
            occurred_at=done.occurred_at,
            variant="record-result",
            msp_id="MSP-1",
            customer_ref=done.customer_ref,
            step=Step.RECORD_RESULT,
            outcome="recorded",
        ).event_id
    )


def test_the_phone_briefing_keeps_the_urgent_query_voicemail_and_says_when_a_date_or_channel_is_missing():
    contact = ContactDetails(
        kind="OMC",
        name="Pat Officer-Example",
        phone="1800 555 010",
        urgent_query_voicemail="1800 555 011",
    )
    undated = CaseBehaviour(what="Threw a chair at the counter and threatened to come back.")
    case = MspCase.of(approval().model_copy(update={"contact": contact}))
    case = case.model_copy(update={"behaviours": (undated,)})
    briefing = " ".join(phone_briefing(case))
    assert "urgent query voicemail 1800 555 011" in briefing
    assert (
        "Threw a chair at the counter and threatened to come back. (channel not stated)" in briefing
    )
    assert " on " not in briefing.split("Threw a chair")[1].split(")")[0]


def test_what_an_approval_still_lacks_names_each_behaviour_by_its_number_and_first_sixty_characters():
    long = "Shouted at the counter staff about the payment for a long time and would not stop"
    case = MspCase.of(approval()).model_copy(
        update={"behaviours": (CaseBehaviour(what=long, channel=Channel.IN_PERSON),)}
    )
    [gap] = case.gaps()
    assert gap.startswith(f"behaviour 1 ({long[:60]}): ")


def test_the_result_of_a_centrelink_msp_carries_no_child_support_note():
    _, state = start()
    _, state = act(state, phone())
    events, _ = complete(state)
    [asked] = [e for e in events if isinstance(e, MspStepRequired) and e.step is Step.RECORD_RESULT]
    assert not any("Child Support" in line for line in asked.instructions)


def test_a_v3_row_without_an_incident_field_asked_for_none():
    current = json.loads(start()[1].model_dump_json())
    row = {k: v for k, v in current.items() if k not in ("incidents_asked", "incidents")}
    state = read_state(json.dumps(row | {"version": 3}))
    assert (state.incidents_asked, state.incidents) == (0, ())


@pytest.mark.rule("MSP-1.2")
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("INAPPROPRIATE AND AGGRESSIVE", True),
        ("Aggressive at Parramatta Office", True),
        ("Inappropriate Swore at staff", True),
        ("inappropriate, swore at staff", False),
    ],
)
def test_the_label_rule_reads_words_whatever_their_case_and_a_capitalised_word_after_the_first_is_a_name(
    text, label
):
    """104-07050030 step 1: "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without
    explaining why"."""
    assert only_a_label(text) is label


def test_a_withheld_sms_and_a_refusal_name_the_message_they_answer():
    state = centrelink_after_unsuccessful_call()
    _, state = act(state, risk(RiskFact.MOBILE_ON_MULTIPLE_RECORDS))
    request = authorise()
    withheld, done = act(state, request)[0]
    assert (withheld.event_type, withheld.causation_id) == ("MspSmsWithheld", request.event_id)
    assert done.causation_id == request.event_id
    refusal_cause = authorise(adm=False)
    [refused] = act(centrelink_after_unsuccessful_call(), refusal_cause)[0]
    assert refused.rejected_event_id == str(refusal_cause.event_id)


def test_an_unnumbered_step_asked_for_has_the_id_it_had_before_steps_were_numbered():
    cause = approval()
    events, _ = act(None, cause)
    [asked] = [e for e in events if isinstance(e, MspStepRequired)]
    assert asked.event_id == derived_event_id(cause.event_id, "MspStepRequired/phone")


@pytest.mark.rule("MSP-4.1")
def test_a_result_recorded_too_early_names_every_step_still_open():
    """Step 4: "Record the result of the customer contact in the MSP record", once there is a result."""
    _, state = start()
    [refused], _ = act(state, result())
    assert refused.reason == "The notification is not complete: phone, sms, letter not dispatched."


@pytest.mark.rule("MSP-1.1")
def test_an_approval_with_every_field_at_its_bound_is_implemented_and_what_is_built_from_it_is_cut_visibly():
    """104-07050030 step 1: "explain the reasons the MSP has been implemented, including a description of the
    behaviours taken into consideration": a briefing line is a label and the customer's text, so a text at its
    bound made a line over the bound and the approval failed inside decide (issue 37, finding 4)."""
    events, _ = run(None, maximal_approval())
    [required] = [e for e in events if isinstance(e, MspStepRequired)]
    assert required.step is Step.PHONE, "implemented: the phone step is asked for"
    assert len(required.briefing) == 24
    assert all(len(line) <= TEXT_CHARS for line in required.briefing)
    cut = [line for line in required.briefing if line.endswith(CUT)]
    assert cut, "a line over the bound is cut, and says so"
    assert required.briefing[0].startswith(
        "Reasons the MSP has been implemented: Repeated threats"
    ), "a cut line keeps its start"
    assert MspStepRequired.model_validate_json(required.to_json()) == required


def test_a_text_is_cut_only_past_its_bound_and_then_to_exactly_its_bound():
    assert clipped("x" * TEXT_CHARS) == "x" * TEXT_CHARS
    longer = clipped("x" * (TEXT_CHARS + 1))
    assert len(longer) == TEXT_CHARS
    assert longer.endswith(CUT)
    assert longer.startswith("x" * (TEXT_CHARS - len(CUT)))
