"""A minimal service built on the runtime, used to test the runtime itself on the real broker.

It keeps a running total per probe id; every ProbeRecorded adds its value and emits ProbeCounted.
A value of 13 makes the handler raise, to exercise the handler-failure path. ``BATCHED_SPEC`` is the
same service with its handler in batch form; there a value too large for the ``int`` column makes the
batch's save fail, to exercise the fall-back to one message at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

import asyncpg
from pydantic import Field

from contracts.envelope import Event
from contracts.topics import Catalogue, Topic
from servicekit.consume.consumer import Batched
from servicekit.db import Migration
from servicekit.service import ServiceSpec
from servicekit.timers.scheduler import Due, Fired, not_quarantined


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


CATALOGUE = Catalogue(
    (
        Topic("probe.in", "probe_id", (ProbeRecorded,), "tests", ("probe",), "Values to add."),
        Topic("probe.out", "probe_id", (ProbeCounted,), "probe", ("tests",), "Running totals."),
    )
)

MIGRATIONS = (
    Migration(
        "probe", 1, "totals", "CREATE TABLE totals (probe_id text PRIMARY KEY, total int NOT NULL)"
    ),
)


class UnluckyError(Exception):
    pass


async def handle(conn: asyncpg.Connection, event: ProbeRecorded, now: datetime) -> Sequence[Event]:
    if event.value == 13:
        raise UnluckyError("13 is refused by the probe handler")
    total = await conn.fetchval(
        "INSERT INTO totals VALUES ($1, $2) ON CONFLICT (probe_id) DO UPDATE SET total = totals.total + $2 "
        "RETURNING total",
        event.probe_id,
        event.value,
    )
    return [
        ProbeCounted.caused_by(
            event, producer="probe", occurred_at=now, probe_id=event.probe_id, total=total
        )
    ]


SPEC = ServiceSpec(
    name="probe",
    version="1",
    description="runtime test probe",
    catalogue=CATALOGUE,
    handlers={"probe.in": handle},
    migrations=MIGRATIONS,
)


@dataclass
class Totals:
    before: dict[str, int]
    after: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    @classmethod
    async def load(cls, conn: asyncpg.Connection, events: Sequence[ProbeRecorded]) -> Totals:
        rows = await conn.fetch(
            "SELECT probe_id, total FROM totals WHERE probe_id = ANY($1::text[]) FOR UPDATE",
            [e.probe_id for e in events],
        )
        before = {r["probe_id"]: r["total"] for r in rows}
        return cls(before)

    def step(self, event: ProbeRecorded, now: datetime) -> Sequence[Event]:
        if event.value == 13:
            raise UnluckyError("13 is refused by the probe handler")
        total = self.after[event.probe_id] = self.after.get(event.probe_id, 0) + event.value
        return [
            ProbeCounted.caused_by(
                event, producer="probe", occurred_at=now, probe_id=event.probe_id, total=total
            )
        ]

    async def save(self, conn: asyncpg.Connection) -> None:
        await conn.executemany(
            "INSERT INTO totals VALUES ($1, $2) ON CONFLICT (probe_id) DO UPDATE SET total = EXCLUDED.total",
            [(k, v) for k, v in self.after.items() if self.before.get(k) != v],
        )


BATCHED_SPEC = ServiceSpec(
    name="probe",
    version="1",
    description="runtime test probe, batch form",
    catalogue=CATALOGUE,
    handlers={"probe.in": Batched(Totals.load)},
    migrations=MIGRATIONS,
)


ALARM_MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "probe",
        2,
        "alarms",
        """
    CREATE TABLE alarms (alarm_id text PRIMARY KEY, due_at timestamptz NOT NULL, payload text NOT NULL,
                         total int, rang boolean NOT NULL DEFAULT false);
""",
    ),
)
_ALARM_DUE = f"NOT rang AND due_at <= $1 AND {not_quarantined('alarm_id')}"


class Alarms:
    """Timers of the probe: each alarm rings once, emitting ProbeCounted with its total. Payload ``explode``
    makes ``fire`` raise (a decision that fails); ``unreadable`` a row that no longer reads; a total too large
    for the ``int`` column makes ``save`` fail for that alarm alone."""

    @staticmethod
    async def claim(conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
        rows = await conn.fetch(
            f"SELECT alarm_id, payload FROM alarms WHERE {_ALARM_DUE} ORDER BY due_at LIMIT $2 "
            "FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [Due(r["alarm_id"], r) for r in rows]

    @staticmethod
    def fire(due: Due, now: datetime) -> Fired:
        payload = due.row["payload"]
        if payload == "explode":
            raise UnluckyError("the alarm's decision fails")
        total = int(
            payload
        )  # "unreadable" raises here, as a stored state that no longer loads would
        event = ProbeCounted(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, due.key),
            event_type="ProbeCounted",
            occurred_at=now,
            correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, due.key),
            producer="probe",
            probe_id=due.key,
            total=total,
        )
        return Fired((due.key, total), [event])

    @staticmethod
    async def save(conn: asyncpg.Connection, changes: Sequence[tuple[str, int]]) -> None:
        await conn.executemany(
            "UPDATE alarms SET rang = true, total = $2 WHERE alarm_id = $1", changes
        )

    @staticmethod
    async def oldest_due(conn: asyncpg.Connection, now: datetime) -> datetime | None:
        oldest: datetime | None = await conn.fetchval(
            f"SELECT min(due_at) FROM alarms WHERE {_ALARM_DUE}", now
        )
        return oldest


TIMED_SPEC = ServiceSpec(
    name="probe",
    version="1",
    description="runtime test probe with timers",
    catalogue=CATALOGUE,
    handlers={"probe.in": handle},
    migrations=ALARM_MIGRATIONS,
    timers=Alarms(),
)
