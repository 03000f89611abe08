"""A minimal service built on the runtime, used to test the runtime itself on the real broker.

It keeps a running total per probe id; every ProbeRecorded adds its value and emits ProbeCounted.
A value of 13 makes the handler raise, to exercise the handler-failure path. ``BATCHED_SPEC`` is the
same service with its handler in batch form; there a value too large for the ``int`` column makes the
batch's save fail, to exercise the fall-back to one message at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

import asyncpg
from pydantic import Field

from contracts.envelope import Event
from contracts.topics import Catalogue, Topic
from servicekit.consumer import Batched
from servicekit.db import Migration
from servicekit.service import ServiceSpec


class ProbeRecorded(Event):
    key_field: ClassVar[str] = "probe_id"
    event_type: Literal["ProbeRecorded"] = "ProbeRecorded"
    probe_id: str
    value: int = Field(ge=0)


class ProbeCounted(Event):
    key_field: ClassVar[str] = "probe_id"
    event_type: Literal["ProbeCounted"] = "ProbeCounted"
    probe_id: str
    total: int


CATALOGUE = Catalogue((
    Topic("probe.in", "probe_id", (ProbeRecorded,), "tests", ("probe",), "Values to add."),
    Topic("probe.out", "probe_id", (ProbeCounted,), "probe", ("tests",), "Running totals."),
))

MIGRATIONS = (Migration("probe", 1, "totals", "CREATE TABLE totals (probe_id text PRIMARY KEY, total int NOT NULL)"),)


class UnluckyError(Exception):
    pass


async def handle(conn: asyncpg.Connection, event: ProbeRecorded, now: datetime) -> Sequence[Event]:
    if event.value == 13:
        raise UnluckyError("13 is refused by the probe handler")
    total = await conn.fetchval(
        "INSERT INTO totals VALUES ($1, $2) ON CONFLICT (probe_id) DO UPDATE SET total = totals.total + $2 "
        "RETURNING total", event.probe_id, event.value)
    return [ProbeCounted.caused_by(event, producer="probe", occurred_at=now, probe_id=event.probe_id, total=total)]


SPEC = ServiceSpec(name="probe", version="1", description="runtime test probe", catalogue=CATALOGUE,
                   handlers={"probe.in": handle}, migrations=MIGRATIONS)


@dataclass
class Totals:
    before: dict[str, int]
    after: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    @classmethod
    async def load(cls, conn: asyncpg.Connection, events: Sequence[ProbeRecorded]) -> Totals:
        rows = await conn.fetch("SELECT probe_id, total FROM totals WHERE probe_id = ANY($1::text[]) FOR UPDATE",
                                [e.probe_id for e in events])
        before = {r["probe_id"]: r["total"] for r in rows}
        return cls(before)

    def step(self, event: ProbeRecorded, now: datetime) -> Sequence[Event]:
        if event.value == 13:
            raise UnluckyError("13 is refused by the probe handler")
        total = self.after[event.probe_id] = self.after.get(event.probe_id, 0) + event.value
        return [ProbeCounted.caused_by(event, producer="probe", occurred_at=now, probe_id=event.probe_id, total=total)]

    async def save(self, conn: asyncpg.Connection) -> None:
        await conn.executemany(
            "INSERT INTO totals VALUES ($1, $2) ON CONFLICT (probe_id) DO UPDATE SET total = EXCLUDED.total",
            [(k, v) for k, v in self.after.items() if self.before.get(k) != v])


BATCHED_SPEC = ServiceSpec(name="probe", version="1", description="runtime test probe, batch form",
                           catalogue=CATALOGUE, handlers={"probe.in": Batched(Totals.load)}, migrations=MIGRATIONS)
