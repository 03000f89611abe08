"""The stack in containers on a three-node cluster (``deploy/compose.cluster.yaml`` over ``deploy/compose.yaml``):
every topic replicated three times with two replicas required in sync, and a scenario through it from outside."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from devstack.images import ROOT, Images
from devstack.kafka import KafkaAccess
from devstack.scenarios import Runner, SystemUnderTest
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer
from servicekit.tools.localsecrets import KafkaSecrets
from tests.containers.test_compose import SCENARIOS, Compose, brought_up, images  # noqa: F401 - images: the fixture

pytestmark = [pytest.mark.container, pytest.mark.asyncio(loop_scope="module")]

CLUSTER = ROOT / "deploy" / "compose.cluster.yaml"


@pytest.fixture(scope="module")
def cluster(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:  # noqa: F811
    yield from brought_up(
        Compose(
            images, Signer(audience=SYSTEM_AUDIENCES), tmp_path_factory.mktemp("cluster"), CLUSTER
        )
    )


def access(stack: Compose) -> KafkaAccess:
    nodes = ",".join(f"127.0.0.1:{stack.ports[n]}" for n in ("kafka", "kafka_2", "kafka_3"))
    return KafkaAccess(nodes, KafkaSecrets(stack.secrets / "kafka"))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def runner(cluster: Compose) -> AsyncIterator[Runner]:
    await cluster.wait_ready(timeout=300)
    system = SystemUnderTest(
        access(cluster),
        "",
        cluster.urls,
        cluster.signer.token("OFF-COMPOSE", expires_in=3600, roles=EVERY_ROLE),
    )
    async with Runner(system) as runner:
        yield runner


async def test_every_topic_of_the_catalogue_has_three_replicas_on_the_three_nodes(
    runner: Runner, cluster: Compose
) -> None:
    admin = AIOKafkaAdminClient(**access(cluster).client())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    assert len(topics) >= 18, "the catalogue's topics and their dead-letter topics"
    replicas = {len(p["replicas"]) for t in described for p in t["partitions"]}
    leaders = {p["leader"] for t in described for p in t["partitions"]}
    assert replicas == {3}
    assert leaders == {1, 2, 3}, "leadership spread over the three nodes"


async def test_a_scenario_reaches_its_outcome_through_the_cluster(runner: Runner) -> None:
    outcome = await runner.run(SCENARIOS[0])
    assert outcome.ok, "\n".join(outcome.summary())
