"""The days an officer reads: in English words, whatever the process's locale."""

from __future__ import annotations

import locale
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.dates import in_words

pytestmark = pytest.mark.unit


def test_a_day_in_words_names_its_weekday_day_month_and_year() -> None:
    assert in_words(date(2026, 12, 3)) == "Thursday 3 December 2026"
    assert in_words(date(2027, 1, 31)) == "Sunday 31 January 2027"


@given(st.dates())
def test_any_day_in_words_is_what_the_c_locales_strftime_says(day: date) -> None:
    assert locale.setlocale(locale.LC_TIME) == "C"
    assert in_words(day) == f"{day:%A} {day.day} {day:%B} {day.year}"
