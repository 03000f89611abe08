"""Times as officers read them (issue 31): in the customer's own zone, days in words, never a raw ISO instant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from console.localtime import day, shown, when, zone_for

pytestmark = pytest.mark.unit


def test_an_act_one_offs_window_ending_at_canberra_midnight_reads_as_that_midnight_not_the_utc_afternoon_before():
    """A one-off's 2 working days end at the customer's midnight: 13:00 UTC on 2 Dec is 00:00 on 3 Dec in
    Canberra, in daylight saving time."""
    closes = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert when(closes, zone_for("ACT")) == "Thu 3 Dec 2026, 00:00 AEDT"
    assert when(datetime(2027, 6, 1, 14, 0, tzinfo=UTC), zone_for("ACT")) == "Wed 2 Jun 2027, 00:00 AEST"


@pytest.mark.parametrize(("state", "expected"), [
    ("NSW", "Thu 3 Dec 2026, 00:00 AEDT"), ("VIC", "Thu 3 Dec 2026, 00:00 AEDT"),
    ("QLD", "Wed 2 Dec 2026, 23:00 AEST"), ("SA", "Wed 2 Dec 2026, 23:30 ACDT"),
    ("NT", "Wed 2 Dec 2026, 22:30 ACST"), ("WA", "Wed 2 Dec 2026, 21:00 AWST"),
    ("TAS", "Thu 3 Dec 2026, 00:00 AEDT"), ("wa", "Wed 2 Dec 2026, 21:00 AWST"),
    (None, "Thu 3 Dec 2026, 00:00 AEDT"), ("XX", "Thu 3 Dec 2026, 00:00 AEDT"),
])
def test_each_state_reads_in_its_capitals_zone_and_anything_else_in_canberras(state, expected):
    assert when(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), zone_for(state)) == expected


def test_dates_are_in_words_and_stored_iso_values_are_shown_in_the_zone():
    assert day("2026-12-03") == "Thursday 3 December 2026"
    assert day(date(2027, 1, 26)) == "Tuesday 26 January 2027"
    zone = zone_for("WA")
    assert shown("2026-12-02T13:00:00Z", zone) == "Wed 2 Dec 2026, 21:00 AWST"
    assert shown("2026-12-02T13:00:00.123456+00:00", zone) == "Wed 2 Dec 2026, 21:00 AWST", "no microseconds"
    assert shown("2026-12-03", zone) == "Thursday 3 December 2026"
    assert shown("UNDLVD IM", zone) == "UNDLVD IM"
    assert shown("2026-13-45T00:00Z", zone) == "2026-13-45T00:00Z", "not a date after all: as it is"
    assert when(None, zone) == ""
