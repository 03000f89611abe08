"""The workitems service's tables: one row per work item (its state as JSON plus the columns the API filters
on) and its history, one row per transition."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from servicekit.db import Migration, advisory_locks, execute_rows, unnest
from workitems.domain.model import HistoryEntry, WorkItem, read_item

MIGRATIONS = (
    Migration(
        "workitems",
        1,
        "work_items_and_history",
        """
        CREATE TABLE work_items (
            work_item_id text PRIMARY KEY,
            seq          bigserial UNIQUE,        -- raising order; the API's page cursor
            code         text NOT NULL,
            queue        text NOT NULL,
            customer_ref text NOT NULL,
            status       text NOT NULL,
            assignee_id  text,
            raised_at    timestamptz NOT NULL,
            closed_at    timestamptz,
            item         jsonb NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX work_items_by_customer ON work_items (customer_ref, seq);
        CREATE INDEX work_items_by_queue ON work_items (queue, status, seq);
        CREATE TABLE work_item_history (
            work_item_id   text NOT NULL REFERENCES work_items (work_item_id),
            seq            integer NOT NULL,
            transition     text NOT NULL,
            actor          text NOT NULL,
            at             timestamptz NOT NULL,
            event_id       uuid NOT NULL UNIQUE,
            cause_event_id uuid,
            detail         jsonb NOT NULL DEFAULT '{}',
            PRIMARY KEY (work_item_id, seq)
        );
    """,
    ),
)


async def load(conn: asyncpg.Connection, work_item_ids: Iterable[str]) -> dict[str, WorkItem]:
    """The items that exist among ``work_item_ids``, locked for this transaction.

    An advisory lock per id (taken in a fixed order) also covers ids not raised yet, so two instances
    handling the same cause during a rebalance cannot both raise it.
    """
    ids = sorted(set(work_item_ids))
    if not ids:
        return {}
    await advisory_locks(conn, (f"work-item:{i}" for i in ids))
    rows = await conn.fetch(
        "SELECT item FROM work_items WHERE work_item_id = ANY($1::text[]) FOR UPDATE", ids
    )
    items = (read_item(r["item"]) for r in rows)
    return {item.work_item_id: item for item in items}


async def save(
    conn: asyncpg.Connection, items: Mapping[str, WorkItem], history: Sequence[HistoryEntry]
) -> None:
    await execute_rows(
        conn,
        "INSERT INTO work_items (work_item_id, code, queue, customer_ref, status, assignee_id, raised_at, "
        "closed_at, item) SELECT i, c, q, r, s, a, ra, ca, it::jsonb FROM "
        f"{unnest('text', 'text', 'text', 'text', 'text', 'text', 'timestamptz', 'timestamptz', 'text')} "
        "WITH ORDINALITY AS u(i, c, q, r, s, a, ra, ca, it, n) ORDER BY n "  # raising order is the page order
        "ON CONFLICT (work_item_id) DO UPDATE SET status = EXCLUDED.status, assignee_id = EXCLUDED.assignee_id, "
        "closed_at = EXCLUDED.closed_at, item = EXCLUDED.item, updated_at = now()",
        [
            (
                i.work_item_id,
                i.code.value,
                i.queue.value,
                i.customer_ref,
                i.status.value,
                i.assignee_id,
                i.raised_at,
                i.closed_at,
                i.model_dump_json(),
            )
            for i in items.values()
        ],
    )
    if history:
        await conn.executemany(
            "INSERT INTO work_item_history (work_item_id, seq, transition, actor, at, event_id, cause_event_id, "
            "detail) SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7::jsonb "
            "FROM work_item_history WHERE work_item_id = $1",
            [
                (
                    h.work_item_id,
                    h.transition,
                    h.actor,
                    h.at,
                    h.event_id,
                    h.cause_event_id,
                    json.dumps(h.detail),
                )
                for h in history
            ],
        )


# --------------------------------------------------------------------------- the read side (HTTP API)


@dataclass(frozen=True)
class Filters:
    customer_ref: str | None = None
    queue: str | None = None
    status: str | None = None
    code: str | None = None
    assignee_id: str | None = None
    queues: tuple[str, ...] = ()
    """The queues the reader may see: nothing outside them is listed, whatever the other filters say."""


async def list_items(
    conn: asyncpg.Connection, filters: Filters, after: int, limit: int
) -> tuple[list[WorkItem], int | None]:
    """One page of items in raising order, and the cursor of the next page (None on the last)."""
    rows = await conn.fetch(
        "SELECT seq, item FROM work_items WHERE seq > $1 "
        "AND ($2::text IS NULL OR customer_ref = $2) AND ($3::text IS NULL OR queue = $3) "
        "AND ($4::text IS NULL OR status = $4) AND ($5::text IS NULL OR code = $5) "
        "AND ($6::text IS NULL OR assignee_id = $6) AND queue = ANY($8::text[]) ORDER BY seq LIMIT $7",
        after,
        filters.customer_ref,
        filters.queue,
        filters.status,
        filters.code,
        filters.assignee_id,
        limit + 1,
        list(filters.queues),
    )
    page = rows[:limit]
    next_after = page[-1]["seq"] if len(rows) > limit else None
    return [read_item(r["item"]) for r in page], next_after


async def get_item(
    conn: asyncpg.Connection, work_item_id: str
) -> tuple[WorkItem, list[HistoryEntry]] | None:
    raw = await conn.fetchval("SELECT item FROM work_items WHERE work_item_id = $1", work_item_id)
    if raw is None:
        return None
    rows = await conn.fetch(
        "SELECT work_item_id, transition, actor, at, event_id, cause_event_id, detail FROM work_item_history "
        "WHERE work_item_id = $1 ORDER BY seq",
        work_item_id,
    )
    history = [HistoryEntry(**{**dict(r), "detail": json.loads(r["detail"])}) for r in rows]
    return read_item(raw), history
