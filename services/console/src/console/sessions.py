"""Officers' browser sessions: a one-time sign-in code exchanged for a server-side session.

An officer's bearer token (from the identity provider, verified like any) never rides in a URL or a cookie.
``POST /sign-in-codes`` with the token in the ``Authorization`` header answers a one-time code (random, short
lived, single use) and the link that carries it; the sign-in page shows who the code is for, and its button
exchanges the code for a session: a random id in the cookie, only its hash in PostgreSQL, with the officer and
roles the token stated. A session ends at sign-out (revoked in the database: the cookie is worthless after), after
an idle spell, at an absolute limit, or when the token it came from expires, whichever comes first.

Sessions and codes keep wall-clock time, not the service's (simulated) clock: a demo moving its clock by a week
does not sign its officers out.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from servicekit.db import Migration

MIGRATION = Migration(
    "console",
    6,
    "sessions",
    """
    CREATE TABLE sign_in_codes (
        code_hash bytea PRIMARY KEY, officer_id text NOT NULL, roles text[] NOT NULL,
        token_expires_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
    CREATE TABLE sessions (
        session_hash bytea PRIMARY KEY, officer_id text NOT NULL, roles text[] NOT NULL,
        created_at timestamptz NOT NULL, seen_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
        revoked_at timestamptz);
    CREATE INDEX sessions_by_expiry ON sessions (expires_at)""",
)
ZONES = Migration(
    "console",
    9,
    "officer_zones",
    """
    ALTER TABLE sign_in_codes ADD COLUMN zoneinfo text;
    ALTER TABLE sessions ADD COLUMN zoneinfo text""",
)
"""The officer's own time zone, from their token's ``zoneinfo`` claim (OpenID Connect's), kept with the session."""
MAX_ZONE_CHARS = 64


def officer_zone(claims: dict[str, Any]) -> str | None:
    """The token's ``zoneinfo`` claim where it names a time zone this system knows (``Australia/Perth``); a
    missing or unknown one is no zone, and the pages show the customer's time alone."""
    zone = claims.get("zoneinfo")
    if not isinstance(zone, str) or not 0 < len(zone) <= MAX_ZONE_CHARS or not zone.isprintable():
        return None
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return zone


@dataclass(frozen=True)
class SessionCookie:
    """The session cookie: ``__Host-`` prefixed and ``Secure`` where the console is served over TLS (a browser
    sets a ``__Host-`` cookie only with ``Secure``), plain over the development run's loopback HTTP; always
    ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other site's request carries it)."""

    secure: bool
    system: str = ""
    """Which system's console this is, in the name (see :func:`system_mark`): two systems served from one host on
    loopback ports share a browser's cookies, so each needs its own, or signing in to one signs out of the other."""

    @property
    def name(self) -> str:
        plain = f"officer_session{'_' + self.system if self.system else ''}"
        return f"__Host-{plain}" if self.secure else plain

    def value(self, scope: MutableMapping[str, Any]) -> str | None:
        for key, value in scope.get("headers") or []:
            if key.lower() != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                name, _, found = part.strip().partition("=")
                if name == self.name and found:
                    return str(found)
        return None

    def _cookie(self, value: str, max_age_s: int) -> bytes:
        secure = "; Secure" if self.secure else ""
        return f"{self.name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}".encode(
            "latin-1"
        )

    def set(self, session_id: str, max_age_s: int) -> bytes:
        return self._cookie(session_id, max_age_s)

    def clear(self) -> bytes:
        return self._cookie("", 0)


@dataclass(frozen=True)
class Session:
    officer_id: str
    roles: tuple[str, ...]
    form_token: str
    """Derived from the session id, which no other site can read: a form carrying it was served to this session."""
    zone: str | None = None
    """The officer's own time zone (:func:`officer_zone`), where their token named one."""


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def form_token(session_id: str) -> str:
    return hashlib.sha256(b"form-token:" + session_id.encode("latin-1")).hexdigest()[:32]


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


async def new_code(
    conn: asyncpg.Connection, claims: dict[str, Any], roles: list[str], ttl_s: float
) -> str:
    """A one-time sign-in code for the officer of ``claims`` (a verified token), valid ``ttl_s`` seconds."""
    code = secrets.token_urlsafe(32)
    now = time.time()
    await conn.execute("DELETE FROM sign_in_codes WHERE expires_at < $1", _at(now))
    await conn.execute(
        "INSERT INTO sign_in_codes (code_hash, officer_id, roles, token_expires_at, expires_at, zoneinfo) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        _hash(code),
        str(claims["sub"]),
        roles,
        _at(float(claims["exp"])),
        _at(min(now + ttl_s, float(claims["exp"]))),
        officer_zone(claims),
    )
    return code


async def code_for(conn: asyncpg.Connection, code: str) -> str | None:
    """The officer a valid, unused code would sign in (what the sign-in page shows before the button)."""
    officer: str | None = await conn.fetchval(
        "SELECT officer_id FROM sign_in_codes WHERE code_hash = $1 AND expires_at > $2",
        _hash(code),
        _at(time.time()),
    )
    return officer


async def exchange(
    conn: asyncpg.Connection, code: str, *, idle_s: float, absolute_s: float
) -> tuple[str, Session, int] | None:
    """Spend ``code`` (once: a second use finds nothing) on a new session: its id (for the cookie), the session and
    the cookie's lifetime in seconds. ``None`` for an unknown, used or expired code."""
    now = time.time()
    row = await conn.fetchrow(
        "DELETE FROM sign_in_codes WHERE code_hash = $1 RETURNING *", _hash(code)
    )
    if row is None or row["expires_at"] <= _at(now):
        return None
    session_id = secrets.token_urlsafe(32)
    ends = min(now + absolute_s, row["token_expires_at"].timestamp())
    await conn.execute(
        "INSERT INTO sessions (session_hash, officer_id, roles, created_at, seen_at, expires_at, zoneinfo) "
        "VALUES ($1, $2, $3, $4, $4, $5, $6)",
        _hash(session_id),
        row["officer_id"],
        row["roles"],
        _at(now),
        _at(ends),
        row["zoneinfo"],
    )
    await conn.execute(
        "DELETE FROM sessions WHERE expires_at < $1 OR seen_at < $2", _at(now), _at(now - idle_s)
    )
    return (
        session_id,
        Session(row["officer_id"], tuple(row["roles"]), form_token(session_id), row["zoneinfo"]),
        int(ends - now),
    )


async def resume(conn: asyncpg.Connection, session_id: str, *, idle_s: float) -> Session | None:
    """The live session of ``session_id`` (its idle time restarted), or ``None``: unknown, revoked, idle too
    long, or past its end."""
    now = time.time()
    row = await conn.fetchrow(
        "UPDATE sessions SET seen_at = $2 WHERE session_hash = $1 AND revoked_at IS NULL AND expires_at > $2 "
        "AND seen_at > $3 RETURNING officer_id, roles, zoneinfo",
        _hash(session_id),
        _at(now),
        _at(now - idle_s),
    )
    return (
        None
        if row is None
        else Session(
            row["officer_id"], tuple(row["roles"]), form_token(session_id), row["zoneinfo"]
        )
    )


async def revoke(conn: asyncpg.Connection, session_id: str) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE session_hash = $1 AND revoked_at IS NULL",
        _hash(session_id),
        _at(time.time()),
    )


def system_mark(database_url: str, topic_prefix: str) -> str:
    """A short mark of the system a console belongs to: its database (host, port and name, never the credentials)
    and its topics' prefix. Two systems on one machine differ in at least one."""
    place = urlsplit(database_url)
    where = f"{place.hostname}:{place.port}{place.path}|{topic_prefix}"
    return hashlib.sha256(where.encode()).hexdigest()[:8]
