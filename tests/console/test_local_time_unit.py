"""Times as officers read them (issue 31): in the customer's own zone, days in words, never a raw ISO instant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console.desk.localtime import day, shown, when, zone_for
from console.desk.views import WindowView, window_due
from console.sessions import officer_zone

pytestmark = pytest.mark.unit


def test_an_act_one_offs_window_ending_at_canberra_midnight_reads_as_that_midnight_not_the_utc_afternoon_before():
    """A one-off's 2 working days end at the customer's midnight: 13:00 UTC on 2 Dec is 00:00 on 3 Dec in
    Canberra, in daylight saving time."""
    closes = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert when(closes, zone_for("ACT")) == "Thu 3 Dec 2026, 00:00 AEDT"
    assert (
        when(datetime(2027, 6, 1, 14, 0, tzinfo=UTC), zone_for("ACT"))
        == "Wed 2 Jun 2027, 00:00 AEST"
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("NSW", "Thu 3 Dec 2026, 00:00 AEDT"),
        ("VIC", "Thu 3 Dec 2026, 00:00 AEDT"),
        ("QLD", "Wed 2 Dec 2026, 23:00 AEST"),
        ("SA", "Wed 2 Dec 2026, 23:30 ACDT"),
        ("NT", "Wed 2 Dec 2026, 22:30 ACST"),
        ("WA", "Wed 2 Dec 2026, 21:00 AWST"),
        ("TAS", "Thu 3 Dec 2026, 00:00 AEDT"),
        ("wa", "Wed 2 Dec 2026, 21:00 AWST"),
        (None, "Thu 3 Dec 2026, 00:00 AEDT"),
        ("XX", "Thu 3 Dec 2026, 00:00 AEDT"),
    ],
)
def test_each_state_reads_in_its_capitals_zone_and_anything_else_in_canberras(state, expected):
    assert when(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), zone_for(state)) == expected


def test_dates_are_in_words_and_stored_iso_values_are_shown_in_the_zone():
    assert day("2026-12-03") == "Thursday 3 December 2026"
    assert day(date(2027, 1, 26)) == "Tuesday 26 January 2027"
    zone = zone_for("WA")
    assert shown("2026-12-02T13:00:00Z", zone) == "Wed 2 Dec 2026, 21:00 AWST"
    assert shown("2026-12-02T13:00:00.123456+00:00", zone) == "Wed 2 Dec 2026, 21:00 AWST", (
        "no microseconds"
    )
    assert shown("2026-12-03", zone) == "Thursday 3 December 2026"
    assert shown("UNDLVD IM", zone) == "UNDLVD IM"
    assert shown("2026-13-45T00:00Z", zone) == "2026-13-45T00:00Z", "not a date after all: as it is"
    assert when(None, zone) == ""


def _window(**given: str) -> WindowView:
    fields: dict[str, Any] = {
        "period_start": "2026-12-04",
        "status": "UNDLVD IM",
        "closes_at": "2026-12-07T13:00:00Z",
        "calendar": "2 working days (Mon-Fri less ACT public holidays, holidays 0.109), "
        "Australia/Sydney",
        "explanation": "",
        "procedure_step": 7,
        "officer_options": (),
        **given,
    }
    return WindowView(**fields)


@pytest.mark.rule("IM-6.1")
def test_a_one_offs_window_says_when_it_closes_in_the_customers_zone_why_and_which_days_were_passed_over():
    """103-01050060 step 6: "When the one-off expense is coded, the expense will attempt to deliver for the next 2
    working days." Coded on Friday 4 December in the ACT: day 2 is Monday 7, the weekend is passed over, and the
    window closes at the customer's midnight after day 2."""
    due = window_due(_window(day_1="2026-12-04", day_2="2026-12-07"), "one-off", zone_for("ACT"))
    assert due.startswith(
        "Closes Tue 8 Dec 2026, 00:00 AEDT: the end of day 2 (Monday 7 December 2026), 2 working "
        "days from day 1 (Friday 4 December 2026); Saturday 5 December 2026 skipped (weekend); "
        "Sunday 6 December 2026 skipped (weekend): until day 2 begins it still counts as day 1 (it can be "
        "ceased or varied)."
    ), "issue 28: the weekend between day 1 and day 2 counts as day 1, and the page says so"
    assert (
        "IM-6.1: “When the one-off expense is coded, the expense will attempt to deliver for the next 2 working "
        "days.”" in due
    )
    assert (
        "Calendar: 2 working days (Mon-Fri less ACT public holidays), Australia/Sydney." in due
    ), (
        "issue 40: the officer reads the days counted, not the versions of the packages that counted them"
    )
    assert "0.109" not in due
    assert due.endswith(
        "(a region's own time or holidays, such as Broken Hill's or a show day, are not known)."
    ), "issue 28: what the record cannot tell is said where the rule is explained"
    holiday = window_due(
        _window(day_1="2026-12-24", day_2="2026-12-29", closes_at="2026-12-29T13:00:00Z"),
        "one-off",
        zone_for("ACT"),
    )
    assert "Friday 25 December 2026 skipped (public holiday)" in holiday


@pytest.mark.rule("IM-3.1", "IM-3.5")
def test_a_regular_expenses_window_counts_its_calendar_days_from_the_scheduled_payment_date():
    """103-01050060 step 3: "if the regular expense fails, the system will attempt to pay the expense for 7 days."
    and, fortnightly, "if the regular expense fails, the system will attempt to pay the expense for 14 days." """
    weekly = window_due(
        _window(period_start="2027-03-01", closes_at="2027-03-07T13:00:00Z", status="UNDLVD RI"),
        "weekly",
        zone_for("NSW"),
    )
    assert weekly.startswith(
        "Closes Mon 8 Mar 2027, 00:00 AEDT: 7 days from the scheduled payment date "
        "(Monday 1 March 2027). IM-3.1:"
    )
    fortnightly = window_due(
        _window(period_start="2027-03-01", closes_at="2027-03-14T13:00:00Z"),
        "fortnightly",
        zone_for("WA"),
    )
    assert "14 days from the scheduled payment date" in fortnightly
    assert "IM-3.5" in fortnightly
    assert fortnightly.startswith("Closes Sun 14 Mar 2027, 21:00 AWST")


def test_an_officer_in_another_zone_reads_the_customers_time_first_and_their_own_beside_it():
    """Issue 31: instants in the customer's state time zone, and the officer's where they differ. A Perth officer
    working an ACT one-off sees the window close at Canberra's midnight, and what that is in Perth."""
    closes = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    perth = ZoneInfo("Australia/Perth")
    assert (
        when(closes, zone_for("ACT"), perth)
        == "Thu 3 Dec 2026, 00:00 AEDT (Wed 2 Dec 2026, 21:00 AWST your time)"
    )
    assert (
        when(closes, zone_for("ACT"), ZoneInfo("Australia/Melbourne"))
        == "Thu 3 Dec 2026, 00:00 AEDT"
    ), "the same reading is not repeated"
    assert when(closes, zone_for("WA"), perth) == "Wed 2 Dec 2026, 21:00 AWST"
    assert when(closes, zone_for("ACT"), None) == "Thu 3 Dec 2026, 00:00 AEDT"


@pytest.mark.parametrize(
    ("claim", "zone"),
    [
        ("Australia/Perth", "Australia/Perth"),
        ("Australia/Darwin", "Australia/Darwin"),
        (None, None),
        ("", None),
        ("Mars/Olympus_Mons", None),
        ("../../etc/passwd", None),
        ("Australia/Perth\x00", None),
        (42, None),
        ("A" * 65, None),
    ],
)
def test_the_officers_zone_comes_from_their_tokens_zoneinfo_claim_when_it_names_a_real_zone(
    claim, zone
):
    """OpenID Connect's zoneinfo claim; anything else is no zone, and the customer's time is shown alone."""
    assert officer_zone({"sub": "OFF-1", "zoneinfo": claim}) == zone
