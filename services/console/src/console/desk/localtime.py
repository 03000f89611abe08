"""Times as an officer reads them: in the customer's own time zone, dates in words, never a raw ISO instant.

103-01050060's windows turn on the customer's days ("attempt to deliver for the next 2 working days"; "cannot be
ceased or varied on day 2"): a day ends at the customer's midnight, so an instant is shown in the time zone of
the customer's state (the one their expense records), with the zone's own abbreviation (AEDT, ACST, AWST …). A
state stands for its capital's zone: Broken Hill (NSW, on South Australian time) is the known exception the
expense record cannot tell apart. Where no state is known (an MSP's pages) the agency's own zone, Canberra's,
is used and named.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.dates import in_words, zone_name


def zone_for(state: object) -> ZoneInfo:
    """The time zone of an Australian state or territory's capital; the agency's for anything else."""
    return ZoneInfo(zone_name(state))


def when(instant: datetime | None, zone: ZoneInfo, officers: ZoneInfo | None = None) -> str:
    """``Thu 3 Dec 2026, 00:00 AEDT``: an instant in ``zone``, its day in words and the zone's abbreviation; where
    the officer's own zone (``officers``) reads it otherwise, their time too: ``Thu 3 Dec 2026, 00:00 AEDT (Wed 2
    Dec 2026, 21:00 AWST your time)``."""
    if instant is None:
        return ""
    shown_ = _at(instant.astimezone(zone))
    if officers is None:
        return shown_
    theirs = _at(instant.astimezone(officers))
    return shown_ if theirs == shown_ else f"{shown_} ({theirs} your time)"


def _at(local: datetime) -> str:
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def day(value: date | str | None) -> str:
    """``Thursday 3 December 2026``: a calendar date in words (a customer's day 1, a period's start)."""
    if value is None or value == "":
        return ""
    return in_words(date.fromisoformat(value) if isinstance(value, str) else value)


def shown(value: object, zone: ZoneInfo) -> str:
    """A value as a page shows it: an instant (a ``datetime`` or its ISO text) in ``zone``, a date in words,
    anything else as it is."""
    if isinstance(value, datetime):
        return when(value, zone)
    if isinstance(value, date):
        return day(value)
    text = str(value)
    if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-" and text[:4].isdigit():
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        return (
            when(instant, zone)
            if instant.tzinfo is not None and len(text) > 10
            else day(instant.date())
        )
    return text
