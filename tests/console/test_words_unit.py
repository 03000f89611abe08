"""Words for officers (issue 31 item 7): every event and action of the catalogue has officer-facing words, and
no page text is a class name or a code value."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from console.desk import words
from console.desk.localtime import zone_for
from console.desk.records import Entry
from console.desk.views import timeline_facts

from contracts.catalogue import CATALOGUE, STAFF_ACTIONS
from contracts.roles import OPERATIONS, OfficerRole

pytestmark = pytest.mark.unit


def test_every_event_and_action_of_the_catalogue_has_words_an_officer_would_use():
    types = {t for topic in CATALOGUE.topics for t in topic.event_types}
    assert types - set(words.EVENTS) == set(), (
        "a new event type needs its words in console/words.py"
    )
    camel = {
        t: w
        for t, w in words.EVENTS.items()
        if re.search(r"[a-z][A-Z]", w) and "mySupport" not in w
    }
    assert camel == {}, "no class name in the words"
    assert words.event("MspStepDone") == "A step was done"


def test_every_role_has_words_and_an_unknown_type_reads_as_plain_words():
    assert {r.value for r in OfficerRole} | {OPERATIONS} <= set(words.ROLES)
    assert (
        words.roles(("msp-approved-decision-maker", "im-trained"))
        == "approved decision maker, trained in Income Management"
    )
    assert words.roles(()) == "no roles"
    assert words.event("SomethingNewHappened") == "Something new happened"


def test_a_timeline_line_speaks_the_officers_words_never_a_class_name_a_code_or_an_iso_instant():
    """Issue 31 item 7: a timeline line showed an action by its class name, a queue by its code and the reason code
    beside the reason."""
    entry = Entry(
        uuid.uuid4(),
        "WorkItemActionRejected",
        datetime(2026, 12, 2, 13, 0, tzinfo=UTC),
        SimpleNamespace(
            **{
                "action": "TickOffWorkItem",
                "queue": "income-management",
                "reason_code": "doc-note-required",
                "reason": "Record details on a DOC.",
                "step": "phone",
                "doc_recorded": True,
                "circumstance": "customer-cannot-be-contacted-by-phone",
                "window_closes_at": "2026-12-02T13:00:00Z",
                "period_start": "2026-12-01",
                "customer_ref": "CRN-1",
            }
        ),  # the facts of several events at once: a line reads whatever its event has
    )
    facts = dict(timeline_facts(entry, zone_for("ACT")))
    assert facts == {
        "Action": "Tick off the work item",
        "Queue": "Income Management",
        "Reason": "Record details on a DOC.",
        "Step": "Phone the customer (or their nominee / power of attorney)",
        "DOC note kept": "yes",
        "Circumstance": "customer cannot be contacted by phone.",
        "Retry window closes": "Thu 3 Dec 2026, 00:00 AEDT",
        "Period starting": "Tuesday 1 December 2026",
    }, "no reason code, no customer reference on a line"


def test_every_staff_action_has_a_title_for_its_form():
    assert set(STAFF_ACTIONS) - set(words.ACTIONS) == set(), (
        "a new staff action needs its title in console/words.py"
    )
    assert words.action("UnassignWorkItem") == "Hand it back to the queue"
