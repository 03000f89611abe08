"""The console's tables: the commands officers issued (with their outcome), the work items (what the queue page
lists) and every outcome event by its subject (what the MSP, expense and work item pages show)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from console.desk.records import SAFETY_CODES, Command, Entry, Note, WorkItem
from console.sessions import MIGRATION as SESSIONS
from console.sessions import ZONES
from contracts.catalogue import CATALOGUE, STAFF_ACTIONS
from contracts.envelope import Event
from contracts.workitems import WorkItemRaised
from servicekit.db import Migration

SUBJECTS = {"msp_id": "msp", "expense_id": "expense", "work_item_id": "work-item"}
"""The kind of record an event or a command is about, by its key field: what page shows it."""


def subject_of(command_type: str) -> str | None:
    """The kind of record a staff action acts on (``None`` for a type the catalogue does not know)."""
    kind = STAFF_ACTIONS.get(command_type)
    return SUBJECTS.get(kind.key_field) if kind is not None else None


def _subject_case() -> str:
    """SQL: a command type's kind of record, for the notes kept before notes knew theirs."""
    whens = " ".join(f"WHEN '{name}' THEN '{subject_of(name)}'" for name in sorted(STAFF_ACTIONS))
    return f"CASE c.command_type {whens} ELSE 'unknown' END"


MIGRATIONS = (
    Migration(
        "console",
        1,
        "commands",
        """
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
            UNIQUE (officer_id, idempotency_key))""",
    ),
    Migration(
        "console",
        2,
        "work_items",
        """
        CREATE TABLE work_items (work_item_id text PRIMARY KEY, queue text NOT NULL, code text NOT NULL)""",
    ),
    Migration("console", 3, "way_out", "ALTER TABLE commands ADD COLUMN way_out text"),
    Migration(
        "console",
        4,
        "pages",
        """
        ALTER TABLE work_items ADD COLUMN customer_ref text, ADD COLUMN title text,
            ADD COLUMN status text NOT NULL DEFAULT 'open', ADD COLUMN assignee_id text,
            ADD COLUMN raised_at timestamptz, ADD COLUMN details jsonb NOT NULL DEFAULT '{}';
        CREATE INDEX work_items_by_queue ON work_items (queue, status, raised_at DESC);
        CREATE TABLE timeline (
            event_id uuid PRIMARY KEY,
            subject_type text NOT NULL,
            subject_id text NOT NULL,
            event_type text NOT NULL,
            occurred_at timestamptz NOT NULL,
            payload jsonb NOT NULL);
        CREATE INDEX timeline_by_subject ON timeline (subject_type, subject_id, occurred_at);
        CREATE INDEX commands_by_subject ON commands (officer_id, subject_id, submitted_at DESC)""",
    ),
    Migration(
        "console",
        5,
        "officers",
        """
        CREATE TABLE officers (officer_id text PRIMARY KEY, roles text[] NOT NULL, seen_at timestamptz NOT NULL)""",
    ),
    SESSIONS,
    Migration(
        "console",
        7,
        "customers",
        """
        CREATE INDEX work_items_by_customer ON work_items (customer_ref);
        CREATE INDEX timeline_by_customer ON timeline ((payload->>'customer_ref'))""",
    ),
    Migration(
        "console",
        8,
        "notes",
        """
        CREATE TABLE notes (
            command_id uuid PRIMARY KEY REFERENCES commands (command_id),
            subject_id text NOT NULL,
            kind text NOT NULL,
            body text NOT NULL,
            officer_id text NOT NULL,
            written_at timestamptz NOT NULL);
        CREATE INDEX notes_by_subject ON notes (subject_id, written_at)""",
    ),
    ZONES,
    Migration(
        "console",
        10,
        "read_model_versions",
        "ALTER TABLE timeline ADD COLUMN schema_version int",
    ),
    Migration(
        "console",
        11,
        "notes_by_kind",
        f"""
        ALTER TABLE notes ADD COLUMN subject_type text;
        UPDATE notes n SET subject_type = {_subject_case()} FROM commands c WHERE c.command_id = n.command_id;
        ALTER TABLE notes ALTER COLUMN subject_type SET NOT NULL;
        DROP INDEX notes_by_subject;
        CREATE INDEX notes_by_subject ON notes (subject_type, subject_id, written_at)""",
    ),
    Migration(
        "console",
        12,
        "team_notices",
        """
        CREATE TABLE team_notices (
            work_item_id text NOT NULL,
            reason text NOT NULL,
            cause_id uuid NOT NULL,
            correlation_id uuid NOT NULL,
            planned_at timestamptz NOT NULL,
            sent_at timestamptz,
            sent boolean NOT NULL DEFAULT false,
            PRIMARY KEY (work_item_id, reason)
        );
        CREATE INDEX team_notices_unsent ON team_notices (work_item_id) WHERE sent_at IS NULL;
        CREATE INDEX team_notices_recent ON team_notices (sent_at) WHERE sent""",
    ),
)
"""From 10 on, a timeline row and a work item's details keep the whole event as published, with its schema
version, and are read back through the catalogue (upcast and validated): the read model is the contracts' events,
never a dict read by string keys. A row from before keeps its payload without the envelope and no version."""


def command_of(row: asyncpg.Record) -> Command:
    return Command(
        row["command_id"],
        row["officer_id"],
        row["command_type"],
        row["subject_id"],
        row["submitted_at"],
        row["status"],
        json.loads(row["outcomes"]),
        row["reason_code"],
        row["reason"],
        row["fingerprint"],
        row["way_out"],
    )


COLUMNS = (
    "command_id, officer_id, command_type, subject_id, submitted_at, status, outcomes, reason_code, reason, "
    "fingerprint, way_out"
)


async def by_key(conn: asyncpg.Connection, officer_id: str, key: str) -> Command | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM commands WHERE officer_id = $1 AND idempotency_key = $2",
        officer_id,
        key,
    )
    return command_of(row) if row else None


async def get(conn: asyncpg.Connection, command_id: uuid.UUID) -> Command | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM commands WHERE command_id = $1", command_id)
    return command_of(row) if row else None


async def insert(conn: asyncpg.Connection, command: Command, key: str | None) -> bool:
    """Record a new command; False if the officer's idempotency key was taken meanwhile (a concurrent retry)."""
    done = await conn.execute(
        "INSERT INTO commands (command_id, officer_id, idempotency_key, fingerprint, command_type, subject_id, "
        "submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (officer_id, idempotency_key) DO NOTHING",
        command.command_id,
        command.officer_id,
        key,
        command.fingerprint,
        command.command_type,
        command.subject_id,
        command.submitted_at,
    )
    return bool(done.endswith(" 1"))


NOTE_FIELDS = {
    "doc_note": "DOC note",
    "msp_note": "MSP note",
    "incident_id": "CIMS incident",
    "withdrawal_reason": "Why no incident is needed",
}
"""What officers write that colleagues must be able to read back (103-01050060 "Record details on a DOC";
104-07050030 "Record this in the MSP notes"; an incident "linked to the MSP"): kept here from the command that
carried it, shown to officers whose roles open the record, never published or logged."""


async def keep_notes(conn: asyncpg.Connection, command: Command, fields: dict[str, Any]) -> None:
    """The notes a command carries (one row per command: its DOC note, MSP note or incident reference), under the
    kind of record the command acts on: a note is that record's only once the service accepted the command
    (:func:`notes_on`), so a note sent with a command on an unknown record, or on an id of another kind, is never
    any record's."""
    subject_type = subject_of(command.command_type)
    for name, kind in NOTE_FIELDS.items():
        if subject_type is not None and isinstance(fields.get(name), str) and fields[name].strip():
            await conn.execute(
                "INSERT INTO notes (command_id, subject_id, kind, body, officer_id, written_at, subject_type) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                command.command_id,
                command.subject_id,
                kind,
                fields[name].strip(),
                command.officer_id,
                command.submitted_at,
                subject_type,
            )
            return


async def notes_on(conn: asyncpg.Connection, subject_type: str, subject_id: str) -> list[Note]:
    """The notes of one record of one kind whose command the service acted on: accepted, or refused but with what
    it started (a day-2 cease in extreme hardship, refused, raises the escalation its DOC note explains). A note
    is never shown while its command awaits the service, nor when the command changed nothing."""
    rows = await conn.fetch(
        "SELECT n.kind, n.body, n.officer_id, n.written_at, n.command_id, c.status FROM notes n "
        "JOIN commands c USING (command_id) WHERE n.subject_type = $1 AND n.subject_id = $2 "
        "AND (c.status = 'accepted' OR (c.status = 'rejected' AND c.outcomes <> '[]'::jsonb)) "
        "ORDER BY n.written_at",
        subject_type,
        subject_id,
    )
    return [
        Note(r["kind"], r["body"], r["officer_id"], r["written_at"], r["command_id"], r["status"])
        for r in rows
    ]


async def own_note(conn: asyncpg.Connection, command: Command) -> str | None:
    """The DOC note the officer typed into their own command, refused or not (read back only to them, to carry
    into the action that takes the refusal's way out)."""
    body: str | None = await conn.fetchval(
        "SELECT body FROM notes WHERE command_id = $1 AND kind = $2 AND officer_id = $3",
        command.command_id,
        NOTE_FIELDS["doc_note"],
        command.officer_id,
    )
    return body


Answered = tuple[str, datetime]
"""A command answered for the first time: its type, and when the officer sent it."""


async def accepted(
    conn: asyncpg.Connection, command_id: uuid.UUID, outcome: dict[str, Any]
) -> Answered | None:
    """An event caused by the command: it was accepted (unless already rejected), the event one of its outcomes.
    The command, if this is its first answer."""
    row = await conn.fetchrow(
        "WITH before AS (SELECT command_id, status FROM commands WHERE command_id = $1 FOR UPDATE) "
        "UPDATE commands c SET status = CASE WHEN c.status = 'rejected' THEN c.status ELSE 'accepted' END, "
        "outcomes = CASE WHEN outcomes @> $2::jsonb THEN outcomes ELSE outcomes || $2::jsonb END "
        "FROM before WHERE c.command_id = before.command_id "
        "RETURNING before.status AS was, c.command_type, c.submitted_at",
        command_id,
        json.dumps([outcome]),
    )
    return _first(row)


async def rejected(
    conn: asyncpg.Connection,
    command_id: uuid.UUID,
    reason_code: str,
    reason: str,
    way_out: str | None,
) -> Answered | None:
    """The command was refused, with why. The command, if this is its first answer."""
    row = await conn.fetchrow(
        "WITH before AS (SELECT command_id, status FROM commands WHERE command_id = $1 FOR UPDATE) "
        "UPDATE commands c SET status = 'rejected', reason_code = $2, reason = $3, way_out = $4 "
        "FROM before WHERE c.command_id = before.command_id "
        "RETURNING before.status AS was, c.command_type, c.submitted_at",
        command_id,
        reason_code,
        reason,
        way_out,
    )
    return _first(row)


def _first(row: asyncpg.Record | None) -> Answered | None:
    if row is None or row["was"] != "pending":
        return None
    return row["command_type"], row["submitted_at"]


LIVE_CHANNEL = "console_live_"
"""The channel (with the schema's name: two systems may share a database) on which committed changes are announced
to the pages that watch them (:mod:`console.web.live`)."""


async def announce(conn: asyncpg.Connection, payload: str) -> None:
    """A change, announced when (and only if) the transaction that made it commits."""
    await conn.execute("SELECT pg_notify($1 || current_schema(), $2)", LIVE_CHANNEL, payload)


PLACE = "queue, COALESCE(details->>'subject_type', '') || ':' || COALESCE(details->>'subject_id', '') AS about"
"""SQL: a work item's queue, and the record it is about (``msp:MSP-1``): what a live page watching it needs."""


def _place(row: asyncpg.Record | None) -> tuple[str, str] | None:
    return (row["queue"], row["about"]) if row else None


async def place_of(conn: asyncpg.Connection, work_item_id: str) -> tuple[str, str] | None:
    """A work item's queue, and the record it is about (``msp:MSP-1``)."""
    return _place(
        await conn.fetchrow(f"SELECT {PLACE} FROM work_items WHERE work_item_id = $1", work_item_id)
    )


async def queue_of(conn: asyncpg.Connection, work_item_id: str) -> str | None:
    queue: str | None = await conn.fetchval(
        "SELECT queue FROM work_items WHERE work_item_id = $1", work_item_id
    )
    return queue


async def work_item_raised(
    conn: asyncpg.Connection,
    work_item_id: str,
    queue: str,
    code: str,
    *,
    customer_ref: str,
    title: str,
    raised_at: datetime,
    raised: WorkItemRaised,
) -> None:
    await conn.execute(
        "INSERT INTO work_items (work_item_id, queue, code, customer_ref, title, raised_at, details) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (work_item_id) DO NOTHING",
        work_item_id,
        queue,
        code,
        customer_ref,
        title,
        raised_at,
        raised.model_dump_json(),
    )


async def work_item_changed(
    conn: asyncpg.Connection,
    work_item_id: str,
    *,
    status: str | None = None,
    assignee_id: str | None = None,
    unassigned: bool = False,
) -> tuple[str, str] | None:
    """A work item's new status or assignee (``unassigned``: nobody's now); its place (:func:`place_of`), read in
    the same statement."""
    return _place(
        await conn.fetchrow(
            "UPDATE work_items SET status = coalesce($2, status), assignee_id = CASE WHEN $4 THEN NULL "
            f"ELSE coalesce($3, assignee_id) END WHERE work_item_id = $1 RETURNING {PLACE}",
            work_item_id,
            status,
            assignee_id,
            unassigned,
        )
    )


def work_item_of(row: asyncpg.Record) -> WorkItem:
    return WorkItem(
        row["work_item_id"],
        row["queue"],
        row["code"],
        row["customer_ref"],
        row["title"],
        row["status"],
        row["assignee_id"],
        row["raised_at"],
        read_raised(row["details"], row["raised_at"]),
    )


SORT_COLUMNS: dict[str, str] = {
    "item": "COALESCE(title, code)",
    "about": "details->>'subject_id'",
    "customer": "customer_ref",
    "queue": "queue",
    "status": "status",
    "assignee": "assignee_id",
    "due": "due",
    "raised": "raised_at",
}
"""The queue's sortable columns: each its SQL expression (an ascending order is ``raised``, a descending one
``raised-desc``; ties go to the longest waiting)."""
ORDERS: dict[str, str] = {
    # (an item with no due time is not overdue: a bare "due < now" is NULL for it, which DESC puts first)
    "urgency": "(code = ANY($7::text[])) DESC, (status = 'open') DESC, COALESCE(due < $10, false) DESC, "
    "due ASC NULLS LAST, "
    "raised_at ASC NULLS LAST, work_item_id",
    **{
        f"{name}{suffix}": f"{sql} {direction} NULLS LAST, raised_at ASC NULLS LAST, work_item_id"
        for name, sql in SORT_COLUMNS.items()
        for suffix, direction in (("", "ASC"), ("-desc", "DESC"))
    },
}
"""How a queue can be ordered: most urgent first (safety items, then open ones, then the overdue, then by due time,
then the longest waiting), or by any column, either way."""


def _with_due(first: int) -> str:
    """Work items (``w``) with their due time (``due``: the procedure's own deadline the item carries, else raised
    plus the service level of their code, where one is set), the levels passed as two arrays from parameter
    ``first`` on (codes, hours)."""
    return (
        "SELECT w.*, COALESCE((w.details->>'due_at')::timestamptz, "
        "w.raised_at + make_interval(secs => sl.hours * 3600)) AS due FROM work_items w "
        f"LEFT JOIN unnest(${first}::text[], ${first + 1}::float8[]) AS sl(level_code, hours) "
        "ON sl.level_code = w.code"
    )


@dataclass(frozen=True)
class Filters:
    queues: tuple[str, ...]
    status: str | None = None
    code: str | None = None
    customer_ref: str | None = None
    assignee_id: str | None = None
    search: str | None = None
    """A work item id, the MSP or expense it is about, or a customer reference (CRN)."""
    order: str = "urgency"
    service_levels_h: Mapping[str, float] = field(default_factory=dict)
    """Hours from raising to due, per code (the agency's setting): what orders the overdue before the rest."""
    now: datetime | None = None


async def work_items(
    conn: asyncpg.Connection, filters: Filters, limit: int, offset: int
) -> tuple[list[WorkItem], int]:
    """A page of the items in ``filters.queues`` in the filters' order, and how many match in all."""
    where = (
        "queue = ANY($1::text[]) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR code = $3) "
        "AND ($4::text IS NULL OR customer_ref = $4) AND ($5::text IS NULL OR assignee_id = $5) "
        "AND ($6::text IS NULL OR work_item_id = $6 OR details->>'subject_id' = $6 OR customer_ref = $6)"
    )
    args = (
        list(filters.queues),
        filters.status,
        filters.code,
        filters.customer_ref,
        filters.assignee_id,
        filters.search,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM work_items WHERE {where}", *args)
    levels = dict(filters.service_levels_h)
    rows = await conn.fetch(
        f"SELECT * FROM ({_with_due(11)} WHERE {where}) AS x WHERE $7::text[] IS NOT NULL AND $10::timestamptz IS NOT NULL "
        f"ORDER BY {ORDERS[filters.order]} LIMIT $8 OFFSET $9",
        *args,
        list(SAFETY_CODES),
        limit,
        offset,
        filters.now or datetime.now(UTC),
        list(levels),
        list(levels.values()),
    )
    return [work_item_of(r) for r in rows], int(total)


async def overdue_counts(
    conn: asyncpg.Connection, levels: Mapping[str, float], now: datetime
) -> dict[tuple[str, str], int]:
    """How many open items of each (queue, code) are past their due time (the agency's service levels)."""
    rows = await conn.fetch(
        f"SELECT queue, code, count(*) AS n FROM ({_with_due(1)}) AS x WHERE status = 'open' AND due < $3 "
        "GROUP BY queue, code",
        list(levels),
        list(levels.values()),
        now,
    )
    return {(r["queue"], r["code"]): int(r["n"]) for r in rows}


async def team_counts(
    conn: asyncpg.Connection, queues: list[str], levels: Mapping[str, float], now: datetime
) -> list[asyncpg.Record]:
    """Per queue and holder (``assignee_id`` NULL: nobody), the open items and how many are past their due time."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT queue, assignee_id, count(*) AS open, count(*) FILTER (WHERE due < $3) AS overdue "
        f"FROM ({_with_due(1)}) AS x WHERE status = 'open' AND queue = ANY($4::text[]) "
        "GROUP BY queue, assignee_id ORDER BY queue, assignee_id NULLS FIRST",
        list(levels),
        list(levels.values()),
        now,
        queues,
    )
    return rows


async def plan_notice(
    conn: asyncpg.Connection, raised: WorkItemRaised, reason: str, sent_at: datetime | None
) -> None:
    """A notice to the item's team: sent now (a safety item raised), or planned for when the item falls due (sent
    then if it is still open; see :class:`console.notices.Notices`)."""
    await conn.execute(
        "INSERT INTO team_notices (work_item_id, reason, cause_id, correlation_id, planned_at, sent_at, sent) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        raised.work_item_id,
        reason,
        raised.event_id,
        raised.correlation_id,
        raised.occurred_at,
        sent_at,
        sent_at is not None,
    )


NOTICE_KEY = "notice:"
"""A planned notice's timer key (``notice:<work item id>``), which quarantine names."""
_DUE_NOTICES = (
    f"FROM team_notices n JOIN ({_with_due(1)}) AS w USING (work_item_id) WHERE n.sent_at IS NULL AND w.due <= $3 "
    f"AND NOT EXISTS (SELECT 1 FROM timer_quarantine q WHERE q.timer_key = '{NOTICE_KEY}' || n.work_item_id)"
)
"""SQL: the planned notices whose item has fallen due, but a quarantined one (levels from $1, now $3)."""


async def due_notices(
    conn: asyncpg.Connection, levels: Mapping[str, float], now: datetime, limit: int
) -> list[asyncpg.Record]:
    """Planned notices whose item has fallen due (locked; a quarantined one never), soonest due first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT n.work_item_id, n.reason, n.cause_id, n.correlation_id, w.queue, w.code, w.title, w.status, w.due "
        f"{_DUE_NOTICES} ORDER BY w.due LIMIT $4 FOR UPDATE OF n SKIP LOCKED",
        list(levels),
        list(levels.values()),
        now,
        limit,
    )
    return rows


async def oldest_due_notice(
    conn: asyncpg.Connection, levels: Mapping[str, float], now: datetime
) -> datetime | None:
    """When the oldest of :data:`_DUE_NOTICES` fell due (``None``: none is)."""
    oldest: datetime | None = await conn.fetchval(
        f"SELECT min(w.due) {_DUE_NOTICES}",
        list(levels),
        list(levels.values()),
        now,
    )
    return oldest


async def notices_done(
    conn: asyncpg.Connection, done: list[tuple[str, str, bool, datetime]]
) -> None:
    """Notices handled: each sent (or not, its item no longer open), when it was."""
    await conn.execute(
        "UPDATE team_notices n SET sent_at = d.at, sent = d.sent FROM unnest($1::text[], $2::text[], "
        "$3::bool[], $4::timestamptz[]) AS d(work_item_id, reason, sent, at) "
        "WHERE n.work_item_id = d.work_item_id AND n.reason = d.reason",
        [d[0] for d in done],
        [d[1] for d in done],
        [d[2] for d in done],
        [d[3] for d in done],
    )


async def recent_notices(
    conn: asyncpg.Connection, queues: list[str], since: datetime, limit: int = 20
) -> list[asyncpg.Record]:
    """The notices sent to the teams of ``queues`` since ``since``, newest first, with their item."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT n.reason, n.sent_at, w.work_item_id, w.title, w.code, w.queue, w.status, w.assignee_id "
        "FROM team_notices n JOIN work_items w USING (work_item_id) WHERE n.sent AND n.sent_at >= $1 "
        "AND w.queue = ANY($2::text[]) ORDER BY n.sent_at DESC LIMIT $3",
        since,
        queues,
        limit,
    )
    return rows


async def oldest_pending_command_age(conn: asyncpg.Connection, now: datetime) -> float:
    """Seconds since the oldest command still waiting for its outcome was submitted (0 when none waits)."""
    oldest = await conn.fetchval("SELECT min(submitted_at) FROM commands WHERE status = 'pending'")
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


async def work_item(conn: asyncpg.Connection, work_item_id: str) -> WorkItem | None:
    row = await conn.fetchrow("SELECT * FROM work_items WHERE work_item_id = $1", work_item_id)
    return work_item_of(row) if row else None


async def customer_items(
    conn: asyncpg.Connection, customer_ref: str, queues: tuple[str, ...]
) -> list[WorkItem]:
    """Every work item of a customer in ``queues``: open ones first, then the most recent."""
    rows = await conn.fetch(
        "SELECT * FROM work_items WHERE customer_ref = $1 AND queue = ANY($2::text[]) "
        "ORDER BY (status = 'open') DESC, raised_at DESC NULLS LAST, work_item_id",
        customer_ref,
        list(queues),
    )
    return [work_item_of(r) for r in rows]


async def customer_subjects(conn: asyncpg.Connection, customer_ref: str) -> list[tuple[str, str]]:
    """(subject type, subject id) of every MSP and expense the console has seen of a customer."""
    rows = await conn.fetch(
        "SELECT DISTINCT subject_type, subject_id FROM timeline WHERE payload->>'customer_ref' = $1 "
        "AND subject_type IN ('msp', 'expense') ORDER BY subject_type, subject_id",
        customer_ref,
    )
    return [(r["subject_type"], r["subject_id"]) for r in rows]


async def work_items_about(
    conn: asyncpg.Connection, subject_id: str, queues: tuple[str, ...]
) -> list[WorkItem]:
    rows = await conn.fetch(
        "SELECT * FROM work_items WHERE details->>'subject_id' = $1 AND queue = ANY($2::text[]) "
        "ORDER BY raised_at",
        subject_id,
        list(queues),
    )
    return [work_item_of(r) for r in rows]


def read_event(
    event_type: str, raw: str, *, event_id: uuid.UUID | None, occurred_at: datetime
) -> Event:
    """A stored event as its contract reads it now: upcast from the version it was published at, and validated. A
    row kept before versions were (its payload without the envelope) is validated with the envelope its columns
    give; one no longer valid is taken as it was written."""
    data = json.loads(raw)
    topic = CATALOGUE.topic_of(event_type)
    if "event_id" in data:
        return topic.parse_object(data)
    kind = topic.model_of(event_type)
    stand_in = event_id or uuid.uuid5(
        uuid.NAMESPACE_URL, raw
    )  # a work item's row keeps no event id
    envelope = {
        "event_id": stand_in,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "correlation_id": stand_in,
        "producer": data.pop("producer", "unknown"),
    }
    try:
        return kind.model_validate(data | envelope)
    except ValueError:
        return kind.model_construct(**data, **envelope)


def read_raised(raw: str, raised_at: datetime) -> WorkItemRaised:
    raised = read_event(WorkItemRaised.TYPE, raw, event_id=None, occurred_at=raised_at)
    assert isinstance(raised, WorkItemRaised)
    return raised


async def remember(
    conn: asyncpg.Connection, subject_type: str, subject_id: str, event: Event
) -> None:
    """The whole event, with the version it was published at."""
    await conn.execute(
        "INSERT INTO timeline (event_id, subject_type, subject_id, event_type, occurred_at, payload, "
        "schema_version) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        event.event_id,
        subject_type,
        subject_id,
        event.event_type,
        event.occurred_at,
        event.model_dump_json(),
        event.schema_version,
    )


async def known(conn: asyncpg.Connection, subject_type: str, subject_id: str) -> bool:
    """Whether the service published anything of this record but a refusal: a refused command on an id the
    service does not know (or an id of another kind) makes no record here."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM timeline WHERE subject_type = $1 AND subject_id = $2 "
        "AND NOT payload ? 'rejected_event_id')",
        subject_type,
        subject_id,
    )
    return found


async def kinds_of(conn: asyncpg.Connection, subject_id: str) -> list[str]:
    """The kinds of record known by this id (a page asked for under another kind is a cross-kind read)."""
    rows = await conn.fetch(
        "SELECT DISTINCT subject_type FROM timeline WHERE subject_id = $1 "
        "AND NOT payload ? 'rejected_event_id' ORDER BY subject_type",
        subject_id,
    )
    return [r["subject_type"] for r in rows]


async def timeline(
    conn: asyncpg.Connection, subject_type: str, subject_id: str, limit: int = 500
) -> list[Entry]:
    rows = await conn.fetch(
        "SELECT event_id, event_type, occurred_at, payload FROM timeline WHERE subject_type = $1 "
        "AND subject_id = $2 ORDER BY occurred_at, event_id LIMIT $3",
        subject_type,
        subject_id,
        limit,
    )
    return [
        Entry(
            r["event_id"],
            r["event_type"],
            r["occurred_at"],
            read_event(
                r["event_type"], r["payload"], event_id=r["event_id"], occurred_at=r["occurred_at"]
            ),
        )
        for r in rows
    ]


async def commands_of(
    conn: asyncpg.Connection, officer_id: str, command_ids: list[uuid.UUID]
) -> list[Command]:
    """Those of ``command_ids`` the officer issued."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM commands WHERE officer_id = $1 AND command_id = ANY($2::uuid[])",
        officer_id,
        command_ids,
    )
    return [command_of(r) for r in rows]


async def commands_on(
    conn: asyncpg.Connection, officer_id: str, subject_id: str, limit: int = 50
) -> list[Command]:
    """The officer's own commands on a subject, newest first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM commands WHERE officer_id = $1 AND subject_id = $2 "
        "ORDER BY submitted_at DESC LIMIT $3",
        officer_id,
        subject_id,
        limit,
    )
    return [command_of(r) for r in rows]


async def officer_seen(
    conn: asyncpg.Connection, officer_id: str, roles: list[str], seen_at: datetime
) -> None:
    """An officer's verified roles, as their latest token stated them."""
    await conn.execute(
        "INSERT INTO officers VALUES ($1, $2, $3) ON CONFLICT (officer_id) DO UPDATE SET "
        "roles = excluded.roles, seen_at = excluded.seen_at WHERE officers.seen_at <= excluded.seen_at",
        officer_id,
        roles,
        seen_at,
    )


async def officers_opening(conn: asyncpg.Connection, roles: list[str]) -> list[str]:
    """The officers whose latest verified roles hold one of ``roles``: whom an item of that queue may go to."""
    found: list[str] = [
        r["officer_id"]
        for r in await conn.fetch(
            "SELECT officer_id FROM officers WHERE roles && $1::text[] ORDER BY officer_id", roles
        )
    ]
    return found


async def officer_roles(conn: asyncpg.Connection, officer_id: str) -> list[str] | None:
    """The roles an officer's latest verified token stated; None for an officer never seen here."""
    roles: list[str] | None = await conn.fetchval(
        "SELECT roles FROM officers WHERE officer_id = $1", officer_id
    )
    return roles
