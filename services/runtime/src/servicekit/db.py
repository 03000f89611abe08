"""PostgreSQL access: one asyncpg pool per service, its own schema, versioned migrations."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
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


async def advisory_locks(conn: asyncpg.Connection, names: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on ``names``, each once, in one global order (their keys'), so that any
    two transactions locking overlapping names wait for each other and never deadlock. Take them before any row
    lock."""
    keys = sorted({advisory_key(n) for n in names})
    if keys:
        await conn.executemany("SELECT pg_advisory_xact_lock($1)", [(k,) for k in keys])


async def left_as_found(_conn: asyncpg.Connection) -> None:
    """The pool's reset of a connection handed back, after asyncpg's own (an open transaction rolled back): nothing
    more. The services leave no session state on a pooled connection (no session ``SET``, ``LISTEN``, session lock
    or temporary table: ``tests/runtime/test_sessions.py`` reads every statement of theirs; their advisory locks are
    the transaction's, the migrations' is released in a ``finally``, the console listens on a connection of its
    own), so asyncpg's default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) had nothing
    to undo, for a round trip on every release: 190 of the 630 µs of an acquire, a statement and a release here
    (issue 42)."""


async def create_pool(url: str, schema: str, size: int) -> asyncpg.Pool:
    """Connect (waiting for the server if it is still starting) with ``search_path`` set to ``schema``."""
    attempt = 0
    while True:
        try:
            await _ensure_schema(url, schema)
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=size,
                command_timeout=30,
                server_settings={"search_path": schema, "application_name": schema},
                reset=left_as_found,
            )
            assert pool is not None
            return pool
        except TRANSIENT_DB_ERRORS as exc:
            attempt += 1
            delay = min(0.2 * 2**attempt, 5.0)
            log.warning(
                "database unavailable at start-up, retrying",
                error_type=type(exc).__name__,
                attempt=attempt,
                retry_in_s=delay,
            )
            await asyncio.sleep(delay)


async def _ensure_schema(url: str, schema: str) -> None:
    """Create the service's schema if it is missing. A role confined to a schema an administrator made for it
    (``servicekit.tools.provision``) may not create one, not even ``IF NOT EXISTS``: so look first."""
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
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
        await conn.execute(
            "SELECT pg_advisory_lock($1)", key
        )  # before anything: CREATE ... IF NOT EXISTS races
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component text NOT NULL, version int NOT NULL, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"
            )
            done = {
                (r["component"], r["version"])
                for r in await conn.fetch("SELECT component, version FROM schema_migrations")
            }
            for m in sorted(
                migrations, key=lambda m: (m.component != "runtime", m.component, m.version)
            ):
                if (m.component, m.version) in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                        m.component,
                        m.version,
                        m.name,
                    )
                applied.append(f"{m.component}/{m.version:03d}_{m.name}")
                log.info("migration applied", schema=schema, migration=applied[-1])
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
    return applied


@dataclass(frozen=True)
class ServiceRole:
    """A service's own database login: it owns its schema and may do nothing else."""

    role: str
    schema: str
    password: str


async def provision_roles(admin_url: str, roles: Sequence[ServiceRole]) -> None:
    """As an administrator: one login role per service, owner of its schema, with CONNECT on this database and
    nothing else (PUBLIC loses its default privileges on the database). Idempotent; a password is reset."""
    conn = await asyncpg.connect(admin_url)
    try:

        async def ddl(template: str, *names: str) -> None:
            """DDL takes no parameters: the server quotes each identifier (%I) and literal (%L) with format()."""
            placeholders = ", ".join(f"${i}::text" for i in range(1, len(names) + 1))
            await conn.execute(
                await conn.fetchval(f"SELECT format('{template}', {placeholders})", *names)
            )

        database = await conn.fetchval("SELECT current_database()")
        await ddl("REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        for r in roles:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", r.role)
            await ddl(
                f"{'ALTER' if exists else 'CREATE'} ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "PASSWORD %L",
                r.role,
                r.password,
            )
            await ddl("GRANT CONNECT ON DATABASE %I TO %I", database, r.role)
            await ddl("CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", r.schema, r.role)
            await ddl("ALTER SCHEMA %I OWNER TO %I", r.schema, r.role)
    finally:
        await conn.close()
