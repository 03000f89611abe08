"""The injected clock. Production reads the wall clock; a simulated clock is an explicit setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Wall-clock time shifted by an offset that tests and demos move forward (never backward)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset

    @classmethod
    def starting_at(cls, instant: datetime) -> SimulatedClock:
        return cls(instant - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("time only moves forward")
        self._offset += by
        return self.now()

    def set(self, to: datetime) -> datetime:
        return self.advance(max(to - self.now(), timedelta(0)))
