"""'When the one-off expense is coded, the expense will attempt to deliver for the next 2 working days.'"""

from __future__ import annotations

from datetime import date

import pytest

from contracts.expenses import AustralianState, ExpenseKind
from expenses.domain.calendar import is_working_day, one_off_days, regular_window
from tests.expenses.builders import PERTH, SYDNEY, at, utc

pytestmark = pytest.mark.unit
NSW, WA = AustralianState.NSW, AustralianState.WA


@pytest.mark.rule("IM-6.1")
def test_a_one_off_coded_on_a_working_day_has_that_day_as_day_1_and_the_next_as_day_2():
    """'When the one-off expense is coded, the expense will attempt to deliver for the next 2 working days.'"""
    days = one_off_days(at(2026, 11, 24, 15), NSW)  # Tuesday
    assert (days.day_1, days.day_2) == (date(2026, 11, 24), date(2026, 11, 25))
    # 'it will automatically end on day 3': the window closes at local midnight ending day 2
    assert days.window.closes_at == utc(at(2026, 11, 26, 0))


def test_a_one_off_coded_the_thursday_before_easter_has_its_day_2_after_easter_monday():
    days = one_off_days(
        at(2027, 3, 25, 11), NSW
    )  # Good Friday 26 March, Easter Monday 29 March 2027
    assert (days.day_1, days.day_2) == (date(2027, 3, 25), date(2027, 3, 30))
    assert days.window.closes_at == utc(at(2027, 3, 31, 0))


def test_a_one_off_coded_on_a_weekend_starts_on_the_next_working_day():
    days = one_off_days(at(2026, 11, 28, 9), NSW)  # Saturday
    assert (days.day_1, days.day_2) == (date(2026, 11, 30), date(2026, 12, 1))


def test_a_one_off_coded_on_friday_has_monday_as_day_2():
    days = one_off_days(at(2026, 11, 27, 9), NSW)
    assert days.day_2 == date(2026, 11, 30)


def test_day_boundaries_are_the_customers_local_midnight():
    # 23:30 Friday in Perth is already Saturday in Sydney: day 1 is still Friday for a WA customer.
    days = one_off_days(at(2026, 11, 27, 23, 30, tz=PERTH), WA)
    assert (days.day_1, days.day_2) == (date(2026, 11, 27), date(2026, 11, 30))
    assert days.window.closes_at == utc(at(2026, 12, 1, 0, tz=PERTH))


def test_public_holidays_are_those_of_the_customers_state():
    assert not is_working_day(date(2027, 3, 8), AustralianState.VIC)  # Labour Day (VIC)
    assert is_working_day(date(2027, 3, 8), NSW)
    assert not is_working_day(date(2026, 12, 25), NSW)


@pytest.mark.rule("IM-3.1", "IM-3.5")
@pytest.mark.parametrize(
    ("kind", "days", "closes"),
    [(ExpenseKind.WEEKLY, 7, date(2026, 11, 30)), (ExpenseKind.FORTNIGHTLY, 14, date(2026, 12, 7))],
)
def test_a_regular_expense_tries_for_7_or_14_days_from_its_scheduled_date(kind, days, closes):
    """'the system will attempt to pay the expense for 7 days' / 'the system will attempt to pay the expense for 14
    days'."""
    window = regular_window(date(2026, 11, 23), kind, NSW)
    assert window.opens_at == utc(at(2026, 11, 23, 0, tz=SYDNEY))
    assert window.closes_at == utc(at(closes.year, closes.month, closes.day, 0))
    assert f"{days} calendar days" in window.calendar


def test_the_calendar_is_pinned_and_read_from_its_packages_not_the_host():
    """Deadlines and days are computed once and stored with the calendar named; the packages behind it are pinned
    exactly, and time zones come from the pinned tzdata, so two machines compute the same day 2."""
    import tomllib
    from importlib import metadata
    from pathlib import Path

    from expenses.domain import calendar

    project = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "services/expenses/pyproject.toml").read_text()
    )
    pins = dict(d.split("==") for d in project["project"]["dependencies"] if "==" in d)
    assert pins == {"holidays": metadata.version("holidays"), "tzdata": metadata.version("tzdata")}
    assert f"tzdata {pins['tzdata']}" in calendar.one_off_calendar(calendar.AustralianState.NSW)
    assert f"holidays {pins['holidays']}" in calendar.one_off_calendar(calendar.AustralianState.NSW)
    assert calendar.zone(calendar.AustralianState.WA).key == "Australia/Perth"
