"""Dates as officers read them, in every service's texts: in words, never ISO (``Thursday 3 December 2026``), on the
customer's own day: the time zone of their state, or the agency's (Canberra's) where no state is known."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

STATE_ZONES = {
    "ACT": "Australia/Sydney",
    "NSW": "Australia/Sydney",
    "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "WA": "Australia/Perth",
    "TAS": "Australia/Hobart",
    "NT": "Australia/Darwin",
}
"""Each Australian state or territory's time, its capital's (Broken Hill, in NSW on South Australian time, is the
known exception a state cannot tell apart)."""
AGENCY_ZONE = "Australia/Sydney"
"""Canberra's time: the agency's, for what is about no state in particular."""


def zone_name(state: object) -> str:
    """The IANA zone of an Australian state or territory (its code, or an enum whose value is the code); the
    agency's for anything else."""
    return STATE_ZONES.get(str(getattr(state, "value", state) or "").upper(), AGENCY_ZONE)


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def in_words(day: date) -> str:
    """``Thursday 3 December 2026``, in English whatever the process's locale (``strftime``'s names are the
    locale's, and cost a formatting call each)."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def day_in_words(instant: datetime, zone: str | None) -> str:
    """The day of ``instant`` in ``zone`` (the customer's), in words; in Canberra's time, and saying so, where no
    zone is known."""
    if zone is None:
        return f"{in_words(instant.astimezone(ZoneInfo(AGENCY_ZONE)).date())} (Canberra time)"
    return in_words(instant.astimezone(ZoneInfo(zone)).date())
