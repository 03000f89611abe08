"""Dates as officers read them, in every service's texts: in words, never ISO (``Thursday 3 December 2026``)."""

from __future__ import annotations

from datetime import date


def in_words(day: date) -> str:
    """``Thursday 3 December 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"
