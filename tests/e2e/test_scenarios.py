"""The bundled scenarios (``scenarios/*.json``), one per branch of both procedures, through all three services
on the real broker and database, with the simulated clock; then the whole run's logs are scanned for every
name, phone number, note and risk fact of the sample data."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from devstack.procs import free_port
from devstack.scenarios import Runner, Scenario, SystemUnderTest, load_all, personal_strings
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from notification.app import NotificationSettings
from notification.app import create_runtime as notification_runtime
from servicekit.logs import configure_logging
from tests.support.http import served
from workitems.app import WorkitemsSettings
from workitems.app import create_runtime as workitems_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SCENARIOS = load_all()


@dataclass
class Run:
    runner: Runner
    logs: io.StringIO


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def run(kafka, postgres) -> AsyncIterator[Run]:
    """The three services, in this process, on one database and fresh topics, their clocks at the first scenario."""
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = f"{postgres.url.rpartition('/')[0]}/{name}"
    prefix, signer = f"e2e{uuid.uuid4().hex[:8]}.", Signer(audience=SYSTEM_AUDIENCES)
    common: dict[str, Any] = {
        "database_url": database_url,
        "topic_prefix": prefix,
        "clock": "simulated",
        "clock_start": SCENARIOS[0].starts_at - timedelta(hours=1),
        "jwt_public_keys": [signer.public_pem],
        "jwt_issuer": signer.issuer,
    }
    runtimes = {
        "notification": notification_runtime(
            NotificationSettings(**common, **kafka.settings("notification"), http_port=free_port())
        ),
        "expenses": expenses_runtime(
            ExpensesSettings(**common, **kafka.settings("expenses"), http_port=free_port())
        ),
        "workitems": workitems_runtime(
            WorkitemsSettings(**common, **kafka.settings("workitems"), http_port=free_port())
        ),
    }
    logs = io.StringIO()
    configure_logging(service="e2e", level="DEBUG", pseudonym_key=b"e2e", stream=logs)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for runtime in runtimes.values():
                await stack.enter_async_context(served(runtime))
            urls = {n: f"http://127.0.0.1:{r.settings.http_port}" for n, r in runtimes.items()}
            system = SystemUnderTest(
                kafka.access,
                prefix,
                urls,
                signer.token("OFF-E2E", expires_in=3600, roles=EVERY_ROLE),
            )
            async with Runner(system) as runner:
                yield Run(runner, logs)
    finally:
        configure_logging(service="tests", level="INFO", pseudonym_key=b"tests")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
async def test_scenario_reaches_its_expected_outcome(run: Run, scenario: Scenario) -> None:
    outcome = await run.runner.run(scenario)
    assert outcome.ok, "\n".join(outcome.summary())


async def test_no_personal_data_of_the_sample_reached_a_log_line(run: Run) -> None:
    """Runs after the scenarios (file order): every name, phone number, note, behaviour, risk fact and raw
    customer reference of the sample data is looked for in everything the three services logged."""
    logs = run.logs.getvalue()
    secrets = personal_strings(SCENARIOS)
    assert len(secrets) > 30, "the scan has something to look for"
    assert logs.count("\n") > 200, "the services logged the run"
    leaked = sorted(s for s in secrets if s in logs)
    assert not leaked, f"personal data in the logs: {leaked}"
