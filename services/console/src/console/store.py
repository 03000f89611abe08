"""The console's tables: the commands officers issued (with their outcome) and the work items' queues."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from servicekit.db import Migration

MIGRATIONS = (
    Migration("console", 1, "commands", """
        CREATE TABLE commands (
            command_id uuid PRIMARY KEY,
            officer_id text NOT NULL,
            idempotency_key text,
            fingerprint text NOT NULL,
            command_type text NOT NULL,
            subject_id text NOT NULL,
            submitted_at timestamptz NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
            outcomes jsonb NOT NULL DEFAULT '[]',
            reason_code text,
            reason text,
            UNIQUE (officer_id, idempotency_key))"""),
    Migration("console", 2, "work_items", """
        CREATE TABLE work_items (work_item_id text PRIMARY KEY, queue text NOT NULL, code text NOT NULL)"""),
    Migration("console", 3, "way_out", "ALTER TABLE commands ADD COLUMN way_out text"),
)


@dataclass(frozen=True)
class Command:
    command_id: uuid.UUID
    officer_id: str
    command_type: str
    subject_id: str
    submitted_at: datetime
    status: str
    outcomes: list[dict[str, Any]]
    reason_code: str | None
    reason: str | None
    fingerprint: str
    way_out: str | None = None

    @classmethod
    def of(cls, row: asyncpg.Record) -> Command:
        return cls(row["command_id"], row["officer_id"], row["command_type"], row["subject_id"], row["submitted_at"],
                   row["status"], json.loads(row["outcomes"]), row["reason_code"], row["reason"], row["fingerprint"],
                   row["way_out"])


COLUMNS = ("command_id, officer_id, command_type, subject_id, submitted_at, status, outcomes, reason_code, reason, "
           "fingerprint, way_out")


async def by_key(conn: asyncpg.Connection, officer_id: str, key: str) -> Command | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM commands WHERE officer_id = $1 AND idempotency_key = $2",
                              officer_id, key)
    return Command.of(row) if row else None


async def get(conn: asyncpg.Connection, command_id: uuid.UUID) -> Command | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM commands WHERE command_id = $1", command_id)
    return Command.of(row) if row else None


async def insert(conn: asyncpg.Connection, command: Command, key: str | None) -> bool:
    """Record a new command; False if the officer's idempotency key was taken meanwhile (a concurrent retry)."""
    done = await conn.execute(
        "INSERT INTO commands (command_id, officer_id, idempotency_key, fingerprint, command_type, subject_id, "
        "submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (officer_id, idempotency_key) DO NOTHING",
        command.command_id, command.officer_id, key, command.fingerprint, command.command_type, command.subject_id,
        command.submitted_at)
    return bool(done.endswith(" 1"))


async def accepted(conn: asyncpg.Connection, command_id: uuid.UUID, outcome: dict[str, Any]) -> None:
    """An event caused by the command: it was accepted (unless already rejected), the event one of its outcomes."""
    await conn.execute(
        "UPDATE commands SET status = CASE WHEN status = 'rejected' THEN status ELSE 'accepted' END, "
        "outcomes = CASE WHEN outcomes @> $2::jsonb THEN outcomes ELSE outcomes || $2::jsonb END "
        "WHERE command_id = $1", command_id, json.dumps([outcome]))


async def rejected(conn: asyncpg.Connection, command_id: uuid.UUID, reason_code: str, reason: str,
                   way_out: str | None) -> None:
    await conn.execute("UPDATE commands SET status = 'rejected', reason_code = $2, reason = $3, way_out = $4 "
                       "WHERE command_id = $1", command_id, reason_code, reason, way_out)


async def queue_of(conn: asyncpg.Connection, work_item_id: str) -> str | None:
    queue: str | None = await conn.fetchval("SELECT queue FROM work_items WHERE work_item_id = $1", work_item_id)
    return queue


async def work_item_raised(conn: asyncpg.Connection, work_item_id: str, queue: str, code: str) -> None:
    await conn.execute("INSERT INTO work_items VALUES ($1, $2, $3) ON CONFLICT (work_item_id) DO NOTHING",
                       work_item_id, queue, code)
