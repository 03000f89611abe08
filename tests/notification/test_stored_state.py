"""Stored state is its own model with a version: a row written by an earlier release still reads (issue 16, 17)."""

from __future__ import annotations

import json

import pytest

from contracts.notification import Role, Step
from notification.domain.decide import Policy
from notification.domain.decider import Notification
from notification.domain.model import STATE_VERSION, MspCase, MspState, read_state
from servicekit.decider import published, step
from tests.notification.builders import T0, approval, phone
from workitems.domain.model import read_item

pytestmark = pytest.mark.unit


def v1_row(mobile: str = "0491 570 006") -> bytes:
    """An MSP's row as the release before this one wrote it: the MspApproved event (v1, behaviours a line each,
    numbers as given) embedded whole, and no version."""
    event = json.loads(approval().model_dump_json())
    event |= {
        "schema_version": 1,
        "customer_mobile": mobile,
        "behaviours": ["Shouted threats at counter staff and threw a chair in the service centre."],
    }
    return json.dumps(
        {
            "approval": event,
            "requested": ["phone"],
            "phone": {"status": "pending"},
            "sms": {"status": "pending"},
            "incident": "not-required",
            "risks": [],
            "completed": False,
            "notes": [],
        }
    ).encode()


def test_a_row_of_the_previous_release_reads_as_the_current_state_and_the_procedure_goes_on():
    state = read_state(v1_row())
    assert state.version == STATE_VERSION
    assert state.described, "approved under the rule of its day: its call is already asked for"
    assert state.case.behaviours[0].what.startswith("Shouted threats")
    assert (state.case.behaviours[0].occurred_on, state.case.behaviours[0].channel) == (None, None)
    assert state.case.customer_mobile == "+61491570006", "numbers are compared in one form"
    events = published(step(Notification(Policy()), {state.msp_id: state}, phone(), T0))
    assert [getattr(e, "step", None) for e in events][:1] == [Step.PHONE]


def test_a_mobile_of_the_previous_release_that_is_no_number_is_no_mobile_on_record():
    assert read_state(v1_row(mobile="1")).case.customer_mobile is None


def test_the_current_state_round_trips_and_a_row_newer_than_the_code_is_refused_not_misread():
    state = read_state(v1_row())
    assert read_state(state.model_dump_json()) == state
    newer = json.loads(state.model_dump_json()) | {"version": STATE_VERSION + 1}
    with pytest.raises(ValueError, match="version"):
        read_state(json.dumps(newer))
    assert isinstance(state, MspState)


def test_a_work_item_row_without_a_version_is_of_version_1_and_a_newer_one_is_refused():
    row = {
        "work_item_id": "MSP-PHONE:MSP-1",
        "code": "MSP-PHONE",
        "title": "t",
        "queue": "msp-implementation",
        "customer_ref": "CRN-1",
        "subject_type": "msp",
        "subject_id": "MSP-1",
        "procedure": "104-07050030",
        "instructions": [],
        "tick_off": "automatic",
        "raised_at": "2027-03-01T00:00:00+00:00",
        "correlation_id": "00000000-0000-0000-0000-000000000001",
    }
    assert read_item(json.dumps(row)).version == 1
    with pytest.raises(ValueError, match="version"):
        read_item(json.dumps(row | {"version": 2}))


def test_the_case_taken_from_an_approval_is_what_validating_it_again_would_give():
    """MspCase.of takes the approval's facts as its contract validated them; a copy validated anew is the same."""
    msp = approval(reps=(Role.NOMINEE,))
    validated = MspCase.model_validate(msp.model_dump(include=set(MspCase.model_fields)))
    assert MspCase.of(msp) == validated
    assert MspCase.of(msp).model_dump_json() == validated.model_dump_json()
    assert read_state(MspState(case=MspCase.of(msp)).model_dump_json()).case == validated


@pytest.mark.parametrize(
    ("phone_row", "status", "resolution", "attempts"),
    [
        (
            {"status": "pending", "attempts": ["unsuccessful: customer"]},
            "pending",
            None,
            ["unsuccessful: customer"],
        ),
        (
            {
                "status": "done",
                "outcome": "successful: nominee",
                "attempts": ["unsuccessful: nominee", "successful: nominee"],
            },
            "done",
            "successful: nominee",
            ["unsuccessful: nominee", "successful: nominee"],
        ),
        ({"status": "skipped", "outcome": "skipped", "attempts": []}, "skipped", None, []),
    ],
)
def test_a_v2_row_keeps_each_call_as_its_outcome_and_who_was_contacted(
    phone_row, status, resolution, attempts
):
    """Issue 27: v2 kept each call as one text, its outcome and who was contacted, split back where it was read."""
    v2 = json.loads(read_state(v1_row()).model_dump_json()) | {"version": 2, "phone": phone_row}
    phone_state = read_state(json.dumps(v2)).phone
    assert phone_state.status == status
    assert (str(phone_state.resolution) if phone_state.resolution else None) == resolution
    assert [str(a) for a in phone_state.attempts] == attempts


@pytest.mark.parametrize(
    ("v3", "asked", "recorded", "status"),
    [
        ("not-required", 0, (), "not-required"),
        ("required", 1, (), "required"),
        ("recorded", 1, ("",), "recorded"),
    ],
)
def test_a_v3_row_kept_one_incident_status_and_reads_as_one_incident_asked(
    v3, asked, recorded, status
):
    """v4 counts an incident per aggressive call (issue 28 item 8); a v3 row's one status reads as one or none."""
    current = json.loads(read_state(v1_row()).model_dump_json())
    row = {k: v for k, v in current.items() if k not in ("incidents_asked", "incidents")}
    row |= {"version": 3, "incident": v3}
    state = read_state(json.dumps(row))
    assert (state.incidents_asked, state.incidents, state.incident) == (asked, recorded, status)


def test_a_v1_mobile_that_is_not_text_reads_as_no_mobile_on_record():
    row = json.loads(v1_row())
    row["approval"]["customer_mobile"] = 491570006
    assert read_state(json.dumps(row)).case.customer_mobile is None
