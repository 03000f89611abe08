"""The console's sessions on the real database: a code works once, a session ends when idle, at its absolute end
and at sign-out (issue 26: "signing out revokes nothing ... a token expiring in 2100 was accepted")."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pytest
from console import sessions

pytestmark = pytest.mark.integration

IDLE_S, ABSOLUTE_S = 1800.0, 12 * 3600.0


async def schema(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    for migration in (sessions.MIGRATION, sessions.ZONES):
        await conn.execute(migration.sql)
    return conn


def claims(lifetime_s: float = 3600) -> dict[str, Any]:
    return {"sub": "OFF-1", "exp": time.time() + lifetime_s, "iat": time.time()}


async def test_a_code_is_spent_once_and_its_session_ends_when_idle_at_its_end_and_at_sign_out(
    database_url,
):
    conn = await schema(database_url)
    try:
        code = await sessions.new_code(conn, claims(), ["im-trained"], ttl_s=120)
        assert await sessions.code_for(conn, code) == "OFF-1"
        made = await sessions.exchange(conn, code, idle_s=IDLE_S, absolute_s=ABSOLUTE_S)
        assert made is not None
        session_id, session, max_age = made
        assert (session.officer_id, session.roles) == ("OFF-1", ("im-trained",))
        assert 3590 <= max_age <= 3600, "no longer than the token it came from"
        assert await sessions.exchange(conn, code, idle_s=IDLE_S, absolute_s=ABSOLUTE_S) is None, (
            "spent once"
        )
        assert await sessions.resume(conn, session_id, idle_s=IDLE_S) is not None

        await conn.execute("UPDATE sessions SET seen_at = now() - interval '31 minutes'")
        assert await sessions.resume(conn, session_id, idle_s=IDLE_S) is None, (
            "30 idle minutes end it"
        )
        await conn.execute(
            "UPDATE sessions SET seen_at = now(), expires_at = now() - interval '1 second'"
        )
        assert await sessions.resume(conn, session_id, idle_s=IDLE_S) is None, (
            "its absolute end ends it"
        )
        await conn.execute("UPDATE sessions SET expires_at = now() + interval '1 hour'")
        assert await sessions.resume(conn, session_id, idle_s=IDLE_S) is not None
        await sessions.revoke(conn, session_id)
        assert await sessions.resume(conn, session_id, idle_s=IDLE_S) is None, "sign-out revokes it"

        expired = await sessions.new_code(conn, claims(), [], ttl_s=120)
        await conn.execute("UPDATE sign_in_codes SET expires_at = now() - interval '1 second'")
        assert (
            await sessions.exchange(conn, expired, idle_s=IDLE_S, absolute_s=ABSOLUTE_S) is None
        ), "too late"
        long_token = await sessions.new_code(conn, claims(lifetime_s=30 * 86400), [], ttl_s=120)
        made = await sessions.exchange(conn, long_token, idle_s=IDLE_S, absolute_s=ABSOLUTE_S)
        assert made is not None
        assert made[2] <= ABSOLUTE_S, "12 hours at most, whatever the token says"
        stored = await conn.fetchval(
            "SELECT count(*) FROM sessions WHERE session_hash = $1", made[0].encode()
        )
        assert stored == 0, "only the session id's hash is stored"
    finally:
        await conn.close()
