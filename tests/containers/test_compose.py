"""The whole stack in containers (``deploy/compose.yaml``, images built here by ``devstack.images``): one
scenario of each procedure driven through it from outside, as an upstream system and an officer would."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from devstack.container import docker_available
from devstack.images import ROOT, Images, build_images
from devstack.kafka import KafkaAccess
from devstack.processes import wait_ready
from devstack.procs import free_port
from devstack.scenarios import Runner, Scenario, SystemUnderTest, load_all
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer
from servicekit.tools.localsecrets import KafkaSecrets
from tests.support.kafka_tools import eventually

pytestmark = [pytest.mark.container, pytest.mark.asyncio(loop_scope="module")]

COMPOSE = ROOT / "deploy" / "compose.yaml"
SERVICE_UID = 10001  # the service image's user (deploy/images/service/Dockerfile)
CHOSEN = ("im-02-weekly-not-delivered-i059pl-ticked-off", "msp-02-centrelink-unreachable-sms-sent")
SCENARIOS = sorted((s for s in load_all() if s.id in CHOSEN), key=lambda s: s.starts_at)


@pytest.fixture(scope="module")
def images() -> Images:
    if not docker_available():
        pytest.fail(
            "no Docker engine answers: `./dev test` starts one where Debian's docker.io is installed",
            pytrace=False,
        )
    return build_images(say=lambda line: None)  # reuses what the test command already built


class Compose:
    def __init__(self, images: Images, signer: Signer, log_dir: Path, *overrides: Path) -> None:
        self.signer = signer
        self.files = (COMPOSE, *overrides)
        # The deployment's secrets in a host directory rather than a volume, so that this test can reach the
        # broker as its admin, as an operator would; the `secrets` step runs as the services' user.
        self.secrets = log_dir / "secrets"
        self.secrets.mkdir()
        os.chown(self.secrets, SERVICE_UID, SERVICE_UID)
        self.ports = {
            name: free_port()
            for name in (
                "kafka",
                "kafka_2",
                "kafka_3",
                "postgres",
                "notification",
                "expenses",
                "workitems",
                "console",
            )
        }
        self.project = f"msptest{uuid.uuid4().hex[:8]}"
        self.log_path = log_dir / "compose.log"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
        }
        self.env = {
            **inherited,
            "KAFKA_IMAGE": images.kafka,
            "POSTGRES_IMAGE": images.postgres,
            "SERVICE_IMAGE": images.service,
            "CLOCK": "simulated",
            "MSP_SECRETS": str(self.secrets),
            "CLOCK_START": (SCENARIOS[0].starts_at - timedelta(hours=1)).isoformat(),
            **signer.env(),
            **{f"{name.upper()}_HOST_PORT": str(port) for name, port in self.ports.items()},
            # the tracing profile's stand-in collector, and the services pointed at it (docs/operations.md)
            "COMPOSE_PROFILES": "tracing",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otlp-receiver:4318",
            "OTEL_EXPORTER_OTLP_BEARER_TOKEN_FILE": "/run/msp-im/otlp-receiver.token",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        files = [arg for f in self.files for arg in ("-f", str(f))]
        return subprocess.run(
            ["docker-compose", "-p", self.project, *files, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    @property
    def urls(self) -> dict[str, str]:
        return {
            name: f"http://127.0.0.1:{self.ports[name]}"
            for name in ("notification", "expenses", "workitems", "console")
        }

    def state(self) -> str:
        return f"{self('ps').stdout}\n{self('logs', '--tail=40').stdout}"

    async def wait_ready(self, timeout: float = 180.0) -> None:
        for url in self.urls.values():
            await wait_ready(url, timeout=timeout, interval=0.5, detail=self.state)


def brought_up(stack: Compose) -> Iterator[Compose]:
    """``stack`` up; on the way out its logs kept and the stack taken down with its volumes."""
    up = stack("up", "-d")
    try:
        assert up.returncode == 0, f"docker-compose up failed:\n{up.stderr}"
        yield stack
    finally:
        stack.log_path.write_text(stack("logs", "--no-color").stdout)
        down = stack("down", "-v", "--remove-orphans")
        assert down.returncode == 0, f"docker-compose down failed:\n{down.stderr}"


@pytest.fixture(scope="module")
def compose(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    yield from brought_up(
        Compose(images, Signer(audience=SYSTEM_AUDIENCES), tmp_path_factory.mktemp("compose"))
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def runner(compose: Compose) -> AsyncIterator[Runner]:
    await compose.wait_ready()
    kafka = KafkaAccess(
        f"127.0.0.1:{compose.ports['kafka']}", KafkaSecrets(compose.secrets / "kafka")
    )
    system = SystemUnderTest(
        kafka,
        "",
        compose.urls,
        compose.signer.token("OFF-COMPOSE", expires_in=3600, roles=EVERY_ROLE),
    )
    async with Runner(system) as runner:
        yield runner


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
async def test_a_scenario_of_each_procedure_reaches_its_outcome_through_the_containers(
    runner: Runner, scenario: Scenario
) -> None:
    outcome = await runner.run(scenario)
    assert outcome.ok, "\n".join(outcome.summary())


async def test_after_the_scenarios_every_container_is_healthy_and_the_provision_step_succeeded(
    compose: Compose,
) -> None:
    ps = compose("ps")
    assert ps.returncode == 0
    lines = {line.split()[0]: line for line in ps.stdout.splitlines()[2:] if line.strip()}
    for service in ("kafka", "postgres", "notification", "expenses", "workitems", "console"):
        assert "(healthy)" in lines[f"{compose.project}_{service}_1"], ps.stdout
    for step in ("secrets", "provision"):
        assert "Exit 0" in lines[f"{compose.project}_{step}_1"], (
            f"the {step} step ran and succeeded"
        )


async def test_the_tracing_profile_collects_each_services_spans_with_no_personal_data(
    compose: Compose,
) -> None:
    """Issue 30: "compose gets an optional collector profile where an image can be built locally". Runs after the
    scenarios (file order): their approval's trace reaches the profile's receiver from every service (the services
    export in batches, every few seconds: polled, not assumed)."""

    def spans() -> list[dict[str, Any]]:
        logged = compose("logs", "--no-color", "otlp-receiver").stdout
        return [json.loads(line.partition("|")[2]) for line in logged.splitlines() if "| {" in line]

    def approval_traced() -> bool:
        found = spans()
        approvals = {
            s["trace_id"]
            for s in found
            if s["name"] == "msp.approvals process"
            and s["attributes"]["msp_im.outcome"] == "handled"
        }
        return len(approvals) == 1 and {"notification", "workitems", "console"} <= {
            s["service"] for s in found if s["trace_id"] in approvals
        }

    async def traced() -> bool:
        return approval_traced()

    await eventually(
        traced, timeout=120, what="the approval's trace from notification, workitems and console"
    )
    assert "expenses" in {s["service"] for s in spans()}
    logged = compose("logs", "--no-color", "otlp-receiver").stdout
    assert "Morgan Demo-Officer" not in logged
    assert "0491 570 156" not in logged


async def test_the_stack_takes_no_anonymous_client_and_no_password_less_database_login(
    compose: Compose,
) -> None:
    """Issue 14: "PostgreSQL (embedded and compose) accepts a password-less superuser"; the broker "is PLAINTEXT
    with no authentication"."""
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{compose.ports['postgres']}/postgres"
        )
    anonymous = AIOKafkaAdminClient(
        bootstrap_servers=f"127.0.0.1:{compose.ports['kafka']}", request_timeout_ms=5000
    )
    with pytest.raises(KafkaConnectionError):
        await anonymous.start()
    await anonymous.close()
