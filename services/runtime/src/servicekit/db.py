"""PostgreSQL access: one asyncpg pool per service, its own schema, versioned migrations."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from servicekit.logs import get_logger

log = get_logger("servicekit.db")

# Errors that mean "the database is not there right now": retried, never dead-lettered.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.InsufficientResourcesError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_DB_ERRORS)


@dataclass(frozen=True)
class Migration:
    """One schema change. ``component`` namespaces versions (the runtime's tables and the service's)."""

    component: str
    version: int
    name: str
    sql: str


def unnest(*types: str) -> str:
    """``unnest($1::text[], $2::date[], ...)``: rows passed as one array per column, for :func:`execute_rows`."""
    return "unnest(" + ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1)) + ")"


async def execute_rows(conn: asyncpg.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (written with :func:`unnest`) once for all ``rows``: one statement, one round trip, one plan.

    Much cheaper for the server than ``executemany``, which executes the statement once per row. An
    ``ON CONFLICT DO UPDATE`` statement must not be given two rows with the same key.
    """
    if rows:
        await conn.execute(sql, *(list(column) for column in zip(*rows, strict=True)))


def advisory_key(text: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` derived from a name."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


async def create_pool(url: str, schema: str, size: int) -> asyncpg.Pool:
    """Connect (waiting for the server if it is still starting) with ``search_path`` set to ``schema``."""
    attempt = 0
    while True:
        try:
            await _ensure_schema(url, schema)
            pool = await asyncpg.create_pool(url, min_size=1, max_size=size, command_timeout=30,
                                             server_settings={"search_path": schema, "application_name": schema})
            assert pool is not None
            return pool
        except TRANSIENT_DB_ERRORS as exc:
            attempt += 1
            delay = min(0.2 * 2**attempt, 5.0)
            log.warning("database unavailable at start-up, retrying", error_type=type(exc).__name__,
                        attempt=attempt, retry_in_s=delay)
            await asyncio.sleep(delay)


async def _ensure_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:  # two instances raced to create it
        pass
    finally:
        await conn.close()


async def migrate(pool: asyncpg.Pool, schema: str, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet applied, in order, each in its own transaction, under a lock.

    Several instances starting together serialise on an advisory lock; each migration runs once.
    """
    applied: list[str] = []
    async with pool.acquire() as conn:
        key = advisory_key(f"migrate:{schema}")
        await conn.execute("SELECT pg_advisory_lock($1)", key)  # before anything: CREATE ... IF NOT EXISTS races
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component text NOT NULL, version int NOT NULL, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"
            )
            done = {(r["component"], r["version"]) for r in await conn.fetch("SELECT component, version FROM schema_migrations")}
            for m in sorted(migrations, key=lambda m: (m.component != "runtime", m.component, m.version)):
                if (m.component, m.version) in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute("INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                                       m.component, m.version, m.name)
                applied.append(f"{m.component}/{m.version:03d}_{m.name}")
                log.info("migration applied", schema=schema, migration=applied[-1])
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
    return applied
