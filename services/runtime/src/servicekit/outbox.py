"""Inbox (ids of messages already handled) and outbox (messages to publish), in the service's schema.

Both are written in the same transaction as the service's state: the inbox makes a redelivered
message a no-op, the outbox makes "state changed" and "event will be published" one atomic fact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from servicekit.db import Migration, execute_rows, unnest

RUNTIME_MIGRATIONS = (
    Migration("runtime", 1, "inbox_outbox", """
        CREATE TABLE inbox (
            message_id text PRIMARY KEY,
            topic      text NOT NULL,
            handled_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX inbox_handled_at ON inbox (handled_at);
        CREATE TABLE outbox (
            id         bigserial PRIMARY KEY,
            event_id   text NOT NULL,
            topic      text NOT NULL,
            key        bytea,
            value      bytea NOT NULL,
            headers    jsonb NOT NULL DEFAULT '[]',
            created_at timestamptz NOT NULL DEFAULT now()
        );
    """),
)


@dataclass(frozen=True)
class OutboundMessage:
    """One row of the outbox: a fully addressed Kafka message."""

    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, str], ...] = ()


async def claim(conn: asyncpg.Connection, messages: Sequence[tuple[str, str]]) -> set[str]:
    """Record each (message id, topic) as handled, in one statement; returns the ids not handled before.

    An id absent from the answer was claimed earlier (a redelivery or a replay) or twice in ``messages``.
    """
    if not messages:
        return set()
    ids, topics = zip(*messages, strict=True)
    rows = await conn.fetch(
        "INSERT INTO inbox (message_id, topic) SELECT * FROM unnest($1::text[], $2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING message_id", list(ids), list(topics))
    return {r["message_id"] for r in rows}


async def enqueue(conn: asyncpg.Connection, messages: Iterable[OutboundMessage]) -> int:
    """Add ``messages`` to the outbox, in this order, with one statement."""
    rows = [(m.event_id, m.topic, m.key, m.value, json.dumps(m.headers)) for m in messages]
    await execute_rows(conn, "INSERT INTO outbox (event_id, topic, key, value, headers) "
                             f"SELECT e, t, k, v, h::jsonb FROM {unnest('text', 'text', 'bytea', 'bytea', 'text')} "
                             "WITH ORDINALITY AS u(e, t, k, v, h, n) ORDER BY n", rows)
    return len(rows)


async def pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox"))


async def purge_inbox(conn: asyncpg.Connection, retention_days: int) -> int:
    result: str = await conn.execute(
        "DELETE FROM inbox WHERE handled_at < now() - make_interval(days => $1)", retention_days
    )
    return int(result.rsplit(maxsplit=1)[-1])


def decode_headers(raw: str | Sequence[Sequence[str]]) -> list[tuple[str, bytes]]:
    pairs = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(k), str(v).encode()) for k, v in pairs]
