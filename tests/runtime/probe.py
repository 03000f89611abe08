"""A minimal service built on the runtime, used to test the runtime itself on the real broker.

It keeps a running total per probe id; every ProbeRecorded adds its value and emits ProbeCounted.
A value of 13 makes the handler raise, to exercise the handler-failure path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, Literal

import asyncpg
from pydantic import Field

from contracts.envelope import Event
from contracts.topics import Catalogue, Topic
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
