"""The notification service's table: one row per MSP, its state as JSON, and the SMS send deadline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from notification.domain.model import MspState, SmsStatus, read_state
from servicekit import tracing
from servicekit.db import Migration, advisory_locks, execute_rows, unnest
from servicekit.timers.scheduler import Due, not_quarantined

MIGRATIONS = (
    Migration(
        "notification",
        1,
        "msps",
        """
        CREATE TABLE msps (
            msp_id      text PRIMARY KEY,
            state       jsonb NOT NULL,
            sms_send_at timestamptz,          -- an authorised SMS waits for this instant
            completed   boolean NOT NULL DEFAULT false,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX msps_sms_due ON msps (sms_send_at) WHERE sms_send_at IS NOT NULL;
    """,
    ),
    Migration(
        "notification",
        2,
        "mobiles",
        "CREATE INDEX msps_by_mobile ON msps ((state->'case'->>'customer_mobile'))",
    ),
    Migration(
        "notification",
        3,
        "incidents",
        "CREATE INDEX msps_by_incident ON msps USING gin ((state->'incidents'))",
    ),
    Migration(
        "notification",
        4,
        "sms_trace_context",
        # The trace context of the authorisation that scheduled the SMS (servicekit.tracing): its sending is
        # traced as linked to that authorisation.
        "ALTER TABLE msps ADD COLUMN sms_trace_context text",
    ),
    Migration(
        "notification",
        5,
        "representative_phones",
        # A customer's mobile that is a representative's number on another MSP is on multiple records too.
        "CREATE INDEX msps_by_representative ON msps USING gin ((state->'case'->'representatives') jsonb_path_ops)",
    ),
)


async def load(conn: asyncpg.Connection, msp_ids: Iterable[str]) -> dict[str, MspState | None]:
    """The state of each MSP (row-locked for this transaction, in id order); None for one not seen before."""
    ids = sorted(set(msp_ids))
    rows = await conn.fetch(
        "SELECT msp_id, state FROM msps WHERE msp_id = ANY($1::text[]) ORDER BY msp_id FOR UPDATE",
        ids,
    )
    found = {r["msp_id"]: read_state(r["state"]) for r in rows}
    return {i: found.get(i) for i in ids}


async def holding_mobiles(conn: asyncpg.Connection, mobiles: Iterable[str]) -> dict[str, MspState]:
    """Every MSP that has one of ``mobiles`` on file (numbers in E.164): as the customer's mobile, or as a
    representative's number. Read, not locked: the decider tells from them whether a number is on multiple
    records (``notification.domain.decide.mobile_held_elsewhere``)."""
    wanted = sorted(set(mobiles))
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT msp_id, state FROM msps WHERE state->'case'->>'customer_mobile' = ANY($1::text[]) "
        "UNION SELECT m.msp_id, m.state FROM unnest($1::text[]) AS n(mobile), msps m "
        "WHERE m.state->'case'->'representatives' @> jsonb_build_array(jsonb_build_object('phone', n.mobile))",
        wanted,
    )
    return {r["msp_id"]: read_state(r["state"]) for r in sorted(rows, key=lambda r: r["msp_id"])}


async def holding_incidents(
    conn: asyncpg.Connection, incident_ids: Iterable[str]
) -> dict[str, MspState]:
    """Every MSP that has one of the CIMS ``incident_ids`` recorded. Each id is locked for the transaction first
    (advisory, in one order), so two MSPs recording one id at once are decided one after the other and the second
    sees the first."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    await advisory_locks(conn, (f"cims-incident:{i}" for i in ids))
    rows = await conn.fetch(
        "SELECT msp_id, state FROM msps WHERE state->'incidents' ?| $1::text[] ORDER BY msp_id", ids
    )
    return {r["msp_id"]: read_state(r["state"]) for r in rows}


async def save(
    conn: asyncpg.Connection, changes: Iterable[tuple[MspState | None, MspState | None]]
) -> None:
    """Write each state that changed between its (before, after) pair, in one statement."""
    rows = {
        after.msp_id: (
            after.msp_id,
            after.model_dump_json(),
            after.sms.send_at if after.sms.status is SmsStatus.AUTHORISED else None,
            after.completed,
            tracing.cause(after.sms.authorised_by_event)
            if after.sms.status is SmsStatus.AUTHORISED
            else None,
        )
        for before, after in changes
        if after is not None and after != before
    }
    await execute_rows(
        conn,
        "INSERT INTO msps (msp_id, state, sms_send_at, completed, sms_trace_context) SELECT i, s::jsonb, a, c, t "
        f"FROM {unnest('text', 'text', 'timestamptz', 'bool', 'text')} AS u(i, s, a, c, t) "
        "ON CONFLICT (msp_id) DO UPDATE SET state = EXCLUDED.state, sms_send_at = EXCLUDED.sms_send_at, "
        "sms_trace_context = CASE WHEN EXCLUDED.sms_send_at IS NULL THEN NULL "
        "ELSE COALESCE(EXCLUDED.sms_trace_context, msps.sms_trace_context) END, "
        "completed = EXCLUDED.completed, updated_at = now()",
        list(rows.values()),
    )


_DUE = f"sms_send_at <= $1 AND {not_quarantined('msp_id')}"


async def claim_due_sms(conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
    """MSPs whose authorised SMS is due, locked, oldest first (rows another instance holds are skipped), each with
    the MSPs that hold its mobile too: the guard is checked again when the SMS is sent."""
    rows = await conn.fetch(
        f"SELECT msp_id, state, sms_trace_context FROM msps WHERE {_DUE} ORDER BY sms_send_at LIMIT $2 "
        "FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    states = {r["msp_id"]: read_state(r["state"]) for r in rows}
    holding = await holding_mobiles(
        conn, (m for s in states.values() if (m := s.case.customer_mobile))
    )
    return [
        Due(
            r["msp_id"],
            DueSms(states[r["msp_id"]], {k: s for k, s in holding.items() if k != r["msp_id"]}),
            r["sms_trace_context"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class DueSms:
    """A due SMS's MSP, and the other MSPs that hold its mobile."""

    state: MspState
    holding: Mapping[str, MspState]


def due_states(due: Due) -> tuple[MspState, dict[str, MspState | None]]:
    """A claimed SMS's MSP, and its working set: the MSP and those holding its mobile."""
    row: DueSms = due.row
    return row.state, {**row.holding, row.state.msp_id: row.state}


async def oldest_due(conn: asyncpg.Connection, now: datetime) -> datetime | None:
    result: datetime | None = await conn.fetchval(
        f"SELECT min(sms_send_at) FROM msps WHERE {_DUE}", now
    )
    return result
