"""Words for officers (issue 31 item 7): every event and action of the catalogue has officer-facing words, and
no page text is a class name or a code value."""

from __future__ import annotations

import re

import pytest
from console import words

from contracts.catalogue import CATALOGUE
from contracts.roles import OPERATIONS, OfficerRole

pytestmark = pytest.mark.unit


def test_every_event_and_action_of_the_catalogue_has_words_an_officer_would_use():
    types = {t for topic in CATALOGUE.topics for t in topic.event_types}
    assert types - set(words.EVENTS) == set(), "a new event type needs its words in console/words.py"
    camel = {t: w for t, w in words.EVENTS.items() if re.search(r"[a-z][A-Z]", w) and "mySupport" not in w}
    assert camel == {}, "no class name in the words"
    assert words.event("MspStepDone") == "A step was done"


def test_every_role_has_words_and_an_unknown_type_reads_as_plain_words():
    assert {r.value for r in OfficerRole} | {OPERATIONS} <= set(words.ROLES)
    assert words.roles(("msp-approved-decision-maker", "im-trained")) == \
        "approved decision maker, trained in Income Management"
    assert words.roles(()) == "no roles"
    assert words.event("SomethingNewHappened") == "Something new happened"
