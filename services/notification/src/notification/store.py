"""The notification service's table: one row per MSP, its state as JSON, and the SMS send deadline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from notification.domain.model import MspState
from servicekit.db import Migration

MIGRATIONS = (
    Migration("notification", 1, "msps", """
        CREATE TABLE msps (
            msp_id      text PRIMARY KEY,
            state       jsonb NOT NULL,
            sms_send_at timestamptz,          -- an authorised SMS waits for this instant
            completed   boolean NOT NULL DEFAULT false,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX msps_sms_due ON msps (sms_send_at) WHERE sms_send_at IS NOT NULL;
    """),
)


async def load(conn: asyncpg.Connection, msp_id: str) -> MspState | None:
    raw = await conn.fetchval("SELECT state FROM msps WHERE msp_id = $1 FOR UPDATE", msp_id)
    return MspState.model_validate_json(raw) if raw is not None else None


async def save(conn: asyncpg.Connection, before: MspState | None, after: MspState | None) -> None:
    if after is None or after == before:
        return
    send_at = after.sms.send_at if after.sms.status == "authorised" else None
    await conn.execute(
        "INSERT INTO msps (msp_id, state, sms_send_at, completed) VALUES ($1, $2::jsonb, $3, $4) "
        "ON CONFLICT (msp_id) DO UPDATE SET state = EXCLUDED.state, sms_send_at = EXCLUDED.sms_send_at, "
        "completed = EXCLUDED.completed, updated_at = now()",
        after.msp_id, after.model_dump_json(), send_at, after.completed)


async def claim_due_sms(conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[MspState]:
    rows = await conn.fetch("SELECT state FROM msps WHERE sms_send_at <= $1 ORDER BY sms_send_at LIMIT $2 "
                            "FOR UPDATE SKIP LOCKED", now, limit)
    return [MspState.model_validate_json(r["state"]) for r in rows]
