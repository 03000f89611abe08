"""Migrations on a real PostgreSQL server: several instances of a service may start at the same moment."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from servicekit.db import Migration, create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS

pytestmark = pytest.mark.integration

SERVICE = (Migration("svc", 1, "things", "CREATE TABLE things (id int PRIMARY KEY)"),)


async def test_instances_starting_together_on_a_fresh_database_apply_each_migration_once(
    database_url,
):
    # Found by the scale-out benchmark: two expenses instances started together, and one exited on
    # "duplicate key value violates unique constraint pg_type_typname_nsp_index" from
    # CREATE TABLE IF NOT EXISTS schema_migrations, which is not safe when run concurrently.
    for attempt in range(5):
        schema = f"race{attempt}"
        pools = [await create_pool(database_url, schema, 2) for _ in range(4)]
        try:
            applied = await asyncio.gather(
                *(migrate(p, schema, (*RUNTIME_MIGRATIONS, *SERVICE)) for p in pools)
            )
        finally:
            for p in pools:
                await p.close()
        assert sorted(len(a) for a in applied) == [0, 0, 0, len(RUNTIME_MIGRATIONS) + 1], (
            "one instance applies them all, once"
        )
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                f'SELECT component, version FROM "{schema}".schema_migrations ORDER BY 1'
            )
        finally:
            await conn.close()
        assert [(r["component"], r["version"]) for r in rows] == [
            *(("runtime", m.version) for m in RUNTIME_MIGRATIONS),
            ("svc", 1),
        ]


async def test_the_embedded_server_refuses_a_connection_without_its_password(postgres):
    """No connection is trusted: PostgreSQL accepted a password-less superuser."""
    if postgres.local is None:
        pytest.fail("this test checks the embedded server (unset DATABASE_URL)")
    without = f"postgresql://postgres@127.0.0.1:{postgres.local.port}/postgres"
    wrong = f"postgresql://postgres:not-the-password@127.0.0.1:{postgres.local.port}/postgres"
    for url in (without, wrong):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(url)
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    assert (
        oct(postgres.local.workdir.joinpath("superuser.password").stat().st_mode & 0o777) == "0o600"
    )


async def test_each_service_role_owns_its_schema_and_may_touch_nothing_else(database_url):
    """Least privilege: a service's login reaches its own tables only."""
    from servicekit.db import ServiceRole, provision_roles

    roles = [
        ServiceRole("svc_a", "svc_a", "password-of-a"),
        ServiceRole("svc_b", "svc_b", "password-of-b"),
    ]
    await provision_roles(database_url, roles)
    await provision_roles(database_url, roles)  # idempotent
    host, _, database = database_url.rpartition("@")[2].partition("/")
    as_a, as_b = (f"postgresql://{r.role}:{r.password}@{host}/{database}" for r in roles)
    pool = await create_pool(
        as_a, "svc_a", 2
    )  # the service's own start-up path: schema, then migrations
    try:
        applied = await migrate(pool, "svc_a", (*RUNTIME_MIGRATIONS, *SERVICE))
    finally:
        await pool.close()
    assert applied, "the role migrates its own schema"
    b = await asyncpg.connect(as_b)
    try:
        for sql in (
            "SELECT count(*) FROM svc_a.inbox",
            'CREATE SCHEMA "elsewhere"',
            "CREATE TABLE public.x (y int)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await b.execute(sql)
    finally:
        await b.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(as_a.replace("password-of-a", "password-of-b"))
