"""Inbox (ids of messages already handled) and outbox (messages to publish), in the service's schema.

Both are written in the same transaction as the service's state: the inbox makes a redelivered
message a no-op, the outbox makes "state changed" and "event will be published" one atomic fact.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from servicekit.db import Migration, unnest

RUNTIME_MIGRATIONS = (
    Migration(
        "runtime",
        1,
        "inbox_outbox",
        """
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
    """,
    ),
    Migration(
        "runtime",
        2,
        "bytes_headers_fingerprints_parking",
        """
        -- Headers as bytes (servicekit.delivery.outbox.pack_headers): jsonb refuses NUL and a text round trip can
        -- refuse bytes that are not UTF-8, so a dead letter of such a record could not be written at all.
        ALTER TABLE outbox ADD COLUMN header_bytes bytea;
        ALTER TABLE outbox ALTER COLUMN headers DROP NOT NULL;
        ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
        -- What the message was: a reused id with other content is not a duplicate.
        ALTER TABLE inbox ADD COLUMN fingerprint bytea;
        -- Rows the broker refuses for good (too large, invalid topic, not authorised): kept for operators,
        -- out of the relay's way.
        CREATE TABLE outbox_parked (
            id          bigint PRIMARY KEY,
            event_id    text NOT NULL,
            topic       text NOT NULL,
            key         bytea,
            value       bytea,
            headers     jsonb,
            header_bytes bytea,
            created_at  timestamptz NOT NULL,
            parked_at   timestamptz NOT NULL DEFAULT now(),
            reason      text NOT NULL
        );
        -- Timers that could not be fired (state unreadable, decision or save refused): out of every pass.
        CREATE TABLE timer_quarantine (
            timer_key      text PRIMARY KEY,
            reason         text NOT NULL,
            error_type     text NOT NULL,
            quarantined_at timestamptz NOT NULL DEFAULT now()
        );
    """,
    ),
    Migration(
        "runtime",
        3,
        "outbox_trace_context",
        """
        -- The trace context of what caused the row (servicekit.tracing): the relay sends the record in that trace.
        ALTER TABLE outbox ADD COLUMN trace_context text;
    """,
    ),
    Migration(
        "runtime",
        4,
        "consumer_positions",
        """
        -- Where each consumer group is in each partition: the next offset to read, written in the transaction that
        -- handled the records before it (with the state, the inbox and the outbox). On assignment the consumer
        -- seeks here, so a database restored from a backup re-reads what it no longer knows (Kafka's committed
        -- offsets are a copy, for lag and monitoring).
        CREATE TABLE consumer_positions (
            group_id    text NOT NULL,
            topic       text NOT NULL,
            partition   integer NOT NULL,
            next_offset bigint NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, topic, partition)
        );
    """,
    ),
)

Header = tuple[bytes, bytes | None]
"""A Kafka header as bytes on the wire: name, value (``None`` is Kafka's null)."""
_LENGTH = struct.Struct(">i")


def pack_headers(headers: Iterable[Header]) -> bytes:
    """Length-prefixed names and values (-1 for a null value): any bytes, stored as they are."""
    out = bytearray()
    for name, value in headers:
        out += _LENGTH.pack(len(name)) + name
        out += _LENGTH.pack(-1) if value is None else _LENGTH.pack(len(value)) + value
    return bytes(out)


def unpack_headers(data: bytes) -> list[Header]:
    headers, pos = [], 0
    while pos < len(data):
        (n,) = _LENGTH.unpack_from(data, pos)
        name, pos = data[pos + 4 : pos + 4 + n], pos + 4 + n
        (n,) = _LENGTH.unpack_from(data, pos)
        value, pos = (None, pos + 4) if n < 0 else (data[pos + 4 : pos + 4 + n], pos + 4 + n)
        headers.append((name, value))
    return headers


@dataclass(frozen=True)
class OutboundMessage:
    """One row of the outbox: a fully addressed Kafka message."""

    event_id: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    trace: str | None = None
    """The stored trace context of its cause (``servicekit.tracing.stored``); the relay sends it in that trace."""


async def claim(
    conn: asyncpg.Connection, messages: Sequence[tuple[str, str, bytes | None]]
) -> set[str]:
    """Record each (message id, topic, content fingerprint) as handled, in one statement; returns the ids not
    handled before. An id absent from the answer was claimed earlier (a redelivery, a replay or a reused id) or
    twice in ``messages``: :func:`fingerprints` tells which content claimed it.
    """
    if not messages:
        return set()
    ids, topics, prints = zip(*messages, strict=True)
    rows = await conn.fetch(
        "INSERT INTO inbox (message_id, topic, fingerprint) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) "
        "ON CONFLICT DO NOTHING RETURNING message_id",
        list(ids),
        list(topics),
        list(prints),
    )
    return {r["message_id"] for r in rows}


async def fingerprints(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, bytes | None]:
    """The content fingerprint each id was claimed with (``None`` for rows claimed before fingerprints)."""
    rows = await conn.fetch(
        "SELECT message_id, fingerprint FROM inbox WHERE message_id = ANY($1::text[])", list(ids)
    )
    return {r["message_id"]: r["fingerprint"] for r in rows}


Queued = tuple[int, OutboundMessage]
"""An outbox row as its transaction wrote it: its id (the order the relay keeps) and the message."""


async def enqueue(conn: asyncpg.Connection, messages: Iterable[OutboundMessage]) -> list[Queued]:
    """Add ``messages`` to the outbox, in this order, with one statement; returns each with its row id. The ids
    rise in the order given (the rows are inserted in ``n`` order, each taking the next id)."""
    messages = list(messages)
    if not messages:
        return []
    rows = [
        (m.event_id, m.topic, m.key, m.value, pack_headers(m.headers), m.trace) for m in messages
    ]
    ids = await conn.fetch(
        "INSERT INTO outbox (event_id, topic, key, value, header_bytes, trace_context) "
        f"SELECT e, t, k, v, h, c FROM {unnest('text', 'text', 'bytea', 'bytea', 'bytea', 'text')} "
        "WITH ORDINALITY AS u(e, t, k, v, h, c, n) ORDER BY n RETURNING id",
        *(list(column) for column in zip(*rows, strict=True)),
    )
    return list(zip(sorted(r["id"] for r in ids), messages, strict=True))


async def backlog(conn: asyncpg.Connection) -> tuple[int, float, int]:
    """(rows waiting, age in seconds of the oldest, rows parked): what readiness and the gauges report."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM outbox) AS pending, "
        "COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(created_at) FROM outbox)), 0)::float8 AS oldest, "
        "(SELECT count(*) FROM outbox_parked) AS parked"
    )
    return int(row["pending"]), float(row["oldest"]), int(row["parked"])


async def park(conn: asyncpg.Connection, reasons: dict[int, str]) -> None:
    """Move outbox rows the broker refused for good to ``outbox_parked``, each with why."""
    await conn.execute(
        "WITH moved AS (DELETE FROM outbox o USING unnest($1::bigint[], $2::text[]) AS r(id, reason) WHERE o.id = r.id "
        "RETURNING o.*, r.reason) INSERT INTO outbox_parked "
        "(id, event_id, topic, key, value, headers, header_bytes, created_at, reason) "
        "SELECT id, event_id, topic, key, value, headers, header_bytes, created_at, reason FROM moved",
        list(reasons),
        list(reasons.values()),
    )


async def park_messages(
    conn: asyncpg.Connection, refused: Sequence[tuple[int, OutboundMessage, datetime, str]]
) -> None:
    """Keep rows the broker refused for good in ``outbox_parked`` from memory (their outbox rows already deleted):
    (row id, message, when it was written, why)."""
    await conn.execute(
        "INSERT INTO outbox_parked (id, event_id, topic, key, value, header_bytes, created_at, reason) "
        f"SELECT * FROM {unnest('bigint', 'text', 'text', 'bytea', 'bytea', 'bytea', 'timestamptz', 'text')}",
        [i for i, _, _, _ in refused],
        [m.event_id for _, m, _, _ in refused],
        [m.topic for _, m, _, _ in refused],
        [m.key for _, m, _, _ in refused],
        [m.value for _, m, _, _ in refused],
        [pack_headers(m.headers) for _, m, _, _ in refused],
        [at for _, _, at, _ in refused],
        [reason for _, _, _, reason in refused],
    )


async def purge_inbox(conn: asyncpg.Connection, retention_days: int) -> int:
    result: str = await conn.execute(
        "DELETE FROM inbox WHERE handled_at < now() - make_interval(days => $1)", retention_days
    )
    return int(result.rsplit(maxsplit=1)[-1])


def stored_headers(header_bytes: bytes | None, legacy: str | None) -> list[Header]:
    """A row's headers: bytes, or the JSON text rows written before migration runtime/2 carry."""
    if header_bytes is not None:
        return unpack_headers(header_bytes)
    return [(str(k).encode(), str(v).encode()) for k, v in json.loads(legacy or "[]")]
