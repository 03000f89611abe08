"""A connection goes back to the pool as it was found: the pool's reset does nothing past asyncpg's rollback of an
open transaction (``servicekit.db.left_as_found``, issue 42: a round trip on every release saved). That holds only
while no statement of the services leaves state in its session past the transaction, which this module checks: every
SQL text in the services' code is read, and on the real database a pooled connection keeps nothing of what the
services did on it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from servicekit.db import create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]

SESSION_STATE = re.compile(
    r"(?:^|;)\s*(?:SET\s+(?!LOCAL\b)|RESET\b|LISTEN\b|PREPARE\b|DECLARE\b[^;]*\bWITH\s+HOLD)"
    r"|\bpg_advisory_lock(?:_shared)?\(|\bCREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\b|\bset_config\(",
)
"""SQL that leaves state in a database session past its transaction (the services write SQL's words in capitals, so
prose that begins "Set the gauges" is not taken for it)."""

KNOWN = {("services/runtime/src/servicekit/db.py", "SELECT pg_advisory_lock($1)")}
"""The migrations' lock, taken before their first transaction and released in a ``finally``."""


def _texts(path: Path) -> list[str]:
    """Every string constant of a module (an f-string's literal parts included) but its docstrings (a string that is
    a statement of its own is never sent to the database)."""
    tree = ast.parse(path.read_text())
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sql", "leaves_state"),
    [
        ("SET statement_timeout = 0", True),
        ("SELECT 1; SET SESSION search_path TO x", True),
        ("LISTEN changes", True),
        ("SELECT pg_advisory_lock($1)", True),
        ("CREATE TEMP TABLE t (x int)", True),
        ("SELECT set_config('x', 'y', false)", True),
        ("SET LOCAL statement_timeout = 0", False),
        ("INSERT INTO t VALUES (1) ON CONFLICT (k) DO UPDATE SET state = EXCLUDED.state", False),
        ("UPDATE msps SET state = $1", False),
        ("SELECT pg_advisory_xact_lock($1)", False),
        ("SELECT pg_try_advisory_xact_lock($1)", False),
    ],
)
def test_the_check_knows_session_state_from_transaction_state(sql: str, leaves_state: bool) -> None:
    assert bool(SESSION_STATE.search(sql)) is leaves_state


@pytest.mark.unit
def test_no_statement_of_the_services_leaves_state_in_its_session() -> None:
    sources = sorted((ROOT / "services").glob("*/src/**/*.py"))
    assert len(sources) > 50, "the services' code was found"
    found = {
        (str(path.relative_to(ROOT)), text)
        for path in sources
        for text in _texts(path)
        if SESSION_STATE.search(text)
    }
    assert found == KNOWN


async def _fail_mid_transaction(pool: Any, backends: list[int]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        backends.append(await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.execute("SELECT pg_advisory_xact_lock(42)")
        raise RuntimeError("a handler failed mid-transaction")


@pytest.mark.integration
async def test_a_pooled_connection_keeps_nothing_of_the_migrations_lock_or_an_unfinished_transaction(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, "sessions", 1)
    try:
        await migrate(pool, "sessions", RUNTIME_MIGRATIONS)
        backends: list[int] = []
        with pytest.raises(RuntimeError):
            await _fail_mid_transaction(pool, backends)
        async with pool.acquire() as conn:  # the pool's one connection, handed back twice
            in_transaction = (
                conn.is_in_transaction()
            )  # the server's own word, in its last ReadyForQuery
            backends.append(await conn.fetchval("SELECT pg_backend_pid()"))
            locks = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
    finally:
        await pool.close()
    assert backends[0] == backends[1], "the same session, handed back and taken again"
    assert locks == 0, "the migrations' lock was released and the transaction's went with it"
    assert not in_transaction, "the failed transaction was rolled back, not left open"
