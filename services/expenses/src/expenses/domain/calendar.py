"""Retry windows in time: calendar days for regular expenses, working days for one-offs.

"When the one-off expense is coded, the expense will attempt to deliver for the next 2 working
days." Working days are Monday to Friday less the public holidays of the customer's state or
territory; day boundaries are that state's local midnight. Deadlines are absolute UTC instants,
computed once and stored with a description of the calendar used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import metadata, resources
from zoneinfo import ZoneInfo

import holidays

from contracts.dates import zone_name
from contracts.expenses import AustralianState, ExpenseKind
from contracts.procedures import implements

_HOLIDAYS_VERSION = metadata.version("holidays")
TZDATA_VERSION = metadata.version("tzdata")

STATE_TIMEZONE = {state: zone_name(state) for state in AustralianState}
# A regular expense's window is counted in calendar days; without a state, in Canberra time.
DEFAULT_STATE = AustralianState.ACT

RETRY_DAYS = {ExpenseKind.WEEKLY: 7, ExpenseKind.FORTNIGHTLY: 14}
"""'the system will attempt to pay the expense for 7 days' (1 weekly) / 'for 14 days' (2 weekly)."""


@lru_cache(maxsize=16)
def _zone(key: str) -> ZoneInfo:
    """The zone from the pinned tzdata package, not the host's database: every machine computes the same days."""
    with resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).open("rb") as data:
        return ZoneInfo.from_file(data, key=key)


def zone(state: AustralianState | None) -> ZoneInfo:
    return _zone(STATE_TIMEZONE[state or DEFAULT_STATE])


@lru_cache(maxsize=256)
def _public_holidays(state: AustralianState, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("AU", subdiv=state.value, years=year)


def is_working_day(day: date, state: AustralianState) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(state, day.year)


def working_day_on_or_after(day: date, state: AustralianState) -> date:
    while not is_working_day(day, state):
        day += timedelta(days=1)
    return day


def start_of(day: date, state: AustralianState | None) -> datetime:
    """The UTC instant of local midnight at the start of ``day`` in the state's time zone."""
    return datetime.combine(day, time(0), tzinfo=zone(state)).astimezone(UTC)


def local_date(instant: datetime, state: AustralianState | None) -> date:
    return instant.astimezone(zone(state)).date()


@dataclass(frozen=True)
class Window:
    opens_at: datetime
    closes_at: datetime
    calendar: str


@dataclass(frozen=True)
class OneOffDays:
    day_1: date
    day_2: date
    window: Window


@implements("IM-3.1", "IM-3.5")
def regular_window(scheduled_on: date, kind: ExpenseKind, state: AustralianState | None) -> Window:
    days = RETRY_DAYS[kind]
    tz = STATE_TIMEZONE[state or DEFAULT_STATE]
    return Window(
        start_of(scheduled_on, state),
        start_of(scheduled_on + timedelta(days=days), state),
        f"{days} calendar days from the scheduled payment date, {tz}",
    )


@implements("IM-6.1", "IM-7.1")
def one_off_days(coded_at: datetime, state: AustralianState) -> OneOffDays:
    """Day 1 is the working day of coding (the next one if coded on a weekend or public holiday), day 2 the
    next working day; the expense 'will automatically end on day 3', i.e. at the end of day 2."""
    day_1 = working_day_on_or_after(local_date(coded_at, state), state)
    day_2 = working_day_on_or_after(day_1 + timedelta(days=1), state)
    return OneOffDays(
        day_1,
        day_2,
        Window(coded_at, start_of(day_2 + timedelta(days=1), state), one_off_calendar(state)),
    )


def one_off_calendar(state: AustralianState) -> str:
    """How a one-off's days are counted, and by which calendar data: stored with them."""
    return (
        f"2 working days (Mon-Fri less {state.value} public holidays, holidays {_HOLIDAYS_VERSION}), "
        f"{STATE_TIMEZONE[state]} (tzdata {TZDATA_VERSION})"
    )
