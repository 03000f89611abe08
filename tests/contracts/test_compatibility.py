"""Contracts change only on purpose: JSON Schemas are snapshotted, and the integration guide's topic table is generated.

A failing test here means a contract changed. If the change is compatible, regenerate with
`.venv/bin/python -m contracts.docs --write` and commit the snapshot with the change. If it is
breaking, raise the event's ``schema_version_current`` and add an upcaster from the old version.
"""

from __future__ import annotations

import json
import uuid

import pytest

from contracts.catalogue import CATALOGUE, MSP_APPROVALS, MSP_STAFF_ACTIONS
from contracts.docs import events, readme_with_tables, schema_file, schema_of
from contracts.notification import AuthoriseMspSms, MspApproved, RecordLetterDispatch
from contracts.topics import ContractError
from devstack.contract_docs import README, SCHEMA_DIR
from notification.domain.labels import behaviour_gaps

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", events(), ids=lambda m: m.__name__)
def test_the_json_schema_of_each_event_matches_its_snapshot(model):
    path = SCHEMA_DIR / schema_file(model)
    assert path.exists(), (
        f"no snapshot {path.name}: a new event or version; run devstack.contract_docs --write"
    )
    assert schema_of(model) == json.loads(path.read_text()), (
        f"{model.__name__} changed (see this module's docstring)"
    )


def test_every_snapshot_still_has_its_event_and_every_older_version_an_upcaster():
    """Removing an event type (or a version) is a breaking change too. An older version's snapshot stays, as the
    shape old messages have, as long as an upcaster reads it."""
    current = {schema_file(m) for m in events()}
    upcast = {
        f"{event_type}.v{version}.json"
        for t in CATALOGUE.topics
        for event_type, version in t.upcasters
    }
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} <= current | upcast
    assert upcast <= {p.name for p in SCHEMA_DIR.glob("*.json")}, (
        "each upcast version keeps its snapshot"
    )


@pytest.mark.rule("MSP-2.2")
def test_an_authorisation_of_v1_keeps_its_meaning_the_asserted_boolean_becomes_the_role_or_nothing():
    """104-07050030 step 2: "SMS can only be sent by approved decision makers". v1 let the sender assert it; v2
    carries the officer's verified roles, and an old message upcasts to the role only where it said true."""
    v1 = {
        "event_id": str(uuid.uuid4()),
        "event_type": "AuthoriseMspSms",
        "occurred_at": "2027-03-01T10:00:00+11:00",
        "correlation_id": str(uuid.uuid4()),
        "producer": "staff-ui",
        "msp_id": "MSP-1",
        "officer_id": "ADM-3",
        "circumstance": "customer-cannot-be-contacted-by-phone",
        "smem_checked": True,
        "mobile_checked_not_on_multiple_records": True,
    }
    said_yes = MSP_STAFF_ACTIONS.parse(json.dumps({**v1, "approved_decision_maker": True}).encode())
    said_no = MSP_STAFF_ACTIONS.parse(json.dumps({**v1, "approved_decision_maker": False}).encode())
    assert isinstance(said_yes, AuthoriseMspSms)
    assert isinstance(said_no, AuthoriseMspSms)
    assert said_yes.officer_roles == ["msp-approved-decision-maker"]
    assert said_no.officer_roles == []
    with pytest.raises(ContractError):
        MSP_STAFF_ACTIONS.parse(
            json.dumps({**v1, "schema_version": 2, "approved_decision_maker": True}).encode()
        )


@pytest.mark.rule("MSP-2.8")
def test_an_authorisation_of_v2_keeps_its_meaning_checked_and_found_on_one_record():
    """104-07050030: "the approved decision maker needs to make sure the mobile number on file is not recorded on
    multiple records." v2 said both (checked, and on one record only) in one boolean; v3 says what was checked and
    what was found, so a v2 true is a check that found one record and a v2 false is no check."""
    v2 = {
        "event_id": str(uuid.uuid4()),
        "event_type": "AuthoriseMspSms",
        "schema_version": 2,
        "occurred_at": "2027-03-01T10:00:00+11:00",
        "correlation_id": str(uuid.uuid4()),
        "producer": "console",
        "msp_id": "MSP-1",
        "officer_id": "ADM-3",
        "officer_roles": ["msp-approved-decision-maker"],
        "circumstance": "customer-cannot-be-contacted-by-phone",
        "smem_checked": True,
    }
    checked = MSP_STAFF_ACTIONS.parse(
        json.dumps({**v2, "mobile_checked_not_on_multiple_records": True}).encode()
    )
    unchecked = MSP_STAFF_ACTIONS.parse(
        json.dumps({**v2, "mobile_checked_not_on_multiple_records": False}).encode()
    )
    assert isinstance(checked, AuthoriseMspSms)
    assert isinstance(unchecked, AuthoriseMspSms)
    assert (checked.schema_version, checked.mobile_checked, checked.mobile_on_multiple_records) == (
        3,
        True,
        False,
    )
    assert (unchecked.mobile_checked, unchecked.mobile_on_multiple_records) == (False, False)


@pytest.mark.rule("MSP-3.5")
def test_a_letter_dispatch_of_v1_keeps_no_vouched_for_flag_the_police_note_is_the_note_itself():
    """104-07050030 step 3: "In some serious cases, the letter may be hand delivered by the local Police [...]".
    v1 carried a flag saying a note was written; v2 carries the note, and a v1 message upcasts to none."""
    v1 = {
        "event_id": str(uuid.uuid4()),
        "event_type": "RecordLetterDispatch",
        "occurred_at": "2027-03-01T10:00:00+11:00",
        "correlation_id": str(uuid.uuid4()),
        "producer": "console",
        "msp_id": "MSP-1",
        "officer_id": "OFF-1",
        "officer_roles": ["msp-officer"],
        "method": "local-police-hand-delivery",
        "recorded_in_msp_notes": True,
    }
    upcast = MSP_STAFF_ACTIONS.parse(json.dumps(v1).encode())
    assert isinstance(upcast, RecordLetterDispatch)
    assert (upcast.schema_version, upcast.msp_note) == (2, None)


def test_the_readme_topic_and_acl_tables_are_generated_from_the_catalogue():
    text = README.read_text()
    assert readme_with_tables(text) == text, (
        "docs/integration.md tables are stale: run devstack.contract_docs --write"
    )


@pytest.mark.rule("MSP-1.1")
def test_an_approval_of_v1_keeps_each_behaviours_words_with_no_date_or_channel_stated():
    """104-07050030 step 1: "explain the reasons the MSP has been implemented, including a description of the
    behaviours taken into consideration". v1 carried a line per behaviour; v2 says what happened, when and on which
    channel, and a v1 approval upcasts to its words with neither (the approving officer is then asked for them)."""
    v1 = {
        "event_id": str(uuid.uuid4()),
        "event_type": "MspApproved",
        "occurred_at": "2027-03-01T10:00:00+11:00",
        "correlation_id": str(uuid.uuid4()),
        "producer": "msp-approvals",
        "msp_id": "MSP-1",
        "customer_ref": "CRN-1",
        "agency": "Centrelink",
        "approving_officer_id": "OFF-1",
        "behaviours": ["Threw a chair at the counter officer."],
        "reasons": "Threats to the safety of staff.",
        "starts_on": "2027-03-01",
        "ends_on": "2027-08-31",
        "duration_reasons": "Six months.",
        "service_access": "Phone only.",
        "contact": {"kind": "OMC", "name": "O", "phone": "1800 555 061"},
        "phone_customer_appropriate": True,
    }
    upcast = MSP_APPROVALS.parse(json.dumps(v1).encode())
    assert isinstance(upcast, MspApproved)
    assert upcast.schema_version == 2
    [behaviour] = upcast.behaviours
    assert (behaviour.what, behaviour.occurred_on, behaviour.channel) == (
        "Threw a chair at the counter officer.",
        None,
        None,
    )
    assert behaviour_gaps(behaviour) == ["when it happened", "on which channel"]
    assert upcast.contact.phone == "+611800555061"


def test_the_committed_examples_and_asyncapi_documents_are_current():
    from devstack.contract_docs import generated

    stale = [str(p) for p, text in generated().items() if not p.exists() or p.read_text() != text]
    assert stale == [], "stale: run python -m devstack.contract_docs --write"
