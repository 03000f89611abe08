"""Failover on a three-node KRaft cluster (replication 3, min.insync.replicas 2), secured like the single broker,
with the three services as processes and 2,000 events in flight through all of them at each fault: the leader of
the busiest partition killed (-9), one node paused (SIGSTOP) for 30 s and resumed, the active controller killed.

After each: every input has exactly one outcome, no work item is raised twice, the dead letters are the poison's,
and every service's /ready recovers by itself; at the end every due window is closed once. Outputs are counted by
``event_id`` (a re-published output keeps its id), as in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.catalogue import MSP_APPROVALS, PAYMENT_ATTEMPTS
from devstack.kafka import LocalKafkaCluster
from tests.faults.test_faults import T0, Load, Stack
from tests.support import kafka_tools
from tests.support.kafka_tools import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

IN_FLIGHT = 1000
"""Payment attempts and as many MSP approvals per fault: 2,000 events (and a poison pair every 40th)."""
PAUSE_S = 30.0
"""How long the paused node stays stopped: the fault's own length, not a wait for anything."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalKafkaCluster]:
    """Three nodes for this module only; the tests' own clients reach them as the admin while it runs."""
    started = LocalKafkaCluster.start(3, quick_start=True)
    before = list(kafka_tools._HARNESS)
    kafka_tools.use_harness(started.access)
    try:
        yield started
    finally:
        kafka_tools._HARNESS[:] = before
        started.stop()


@pytest.fixture
async def stack(cluster, database_url, topic_prefix, tmp_path) -> AsyncIterator[Stack]:
    await cluster.access.provision(
        attempts=30,
        topic_prefix=topic_prefix,
        topic_partitions=6,
        topic_replication=cluster.replication,
    )
    system = Stack(cluster, database_url, topic_prefix, tmp_path)
    await system.start()
    try:
        yield system
    finally:
        system.stop()


async def busiest_partition_leader(
    cluster: LocalKafkaCluster, prefix: str
) -> tuple[int, TopicPartition]:
    """The node leading the input partition that holds the most records, and that partition."""
    consumer = AIOKafkaConsumer(**cluster.access.client(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(prefix + t.name, p)
            for t in (PAYMENT_ATTEMPTS, MSP_APPROVALS)
            for p in consumer.partitions_for_topic(prefix + t.name) or ()
        ]
        ends = await consumer.end_offsets(partitions)
        busiest = max(partitions, key=lambda tp: ends[tp])
        return consumer._client.cluster.leader_for_partition(busiest), busiest
    finally:
        await consumer.stop()


async def all_ready(stack: Stack) -> None:
    """Until every service answers /ready with 200 again, by itself."""

    async def ready() -> bool:
        async with httpx.AsyncClient(timeout=5) as http:
            try:
                answers = [await http.get(f"{s.url}/ready") for s in stack.services.values()]
            except httpx.HTTPError:
                return False
        return all(a.status_code == 200 for a in answers)

    await eventually(ready, timeout=300, what="every service ready again")


async def fault(
    stack: Stack,
    load: Load,
    report: Callable[[str], None],
    name: str,
    *,
    start: Callable[[], object],
    end: Callable[[], object],
    hold_s: float = 0.0,
) -> None:
    """Half the load, the fault once the services are busy with it, the other half during the fault, the end of
    the fault; then the checks."""
    before = await stack.metric("expenses", "messages_consumed_total{")
    await load.publish(IN_FLIGHT // 2)
    await stack.busy("expenses", before)
    start()
    try:  # the fault ends whatever happens during it: a node left paused would fail every test after this one
        started = asyncio.get_running_loop().time()
        await load.publish(IN_FLIGHT // 2)
        if (left := hold_s - (asyncio.get_running_loop().time() - started)) > 0:
            await asyncio.sleep(left)
    finally:
        end()
    await all_ready(stack)
    await stack.check(load)
    report(
        f"cluster failover, {name}: {2 * IN_FLIGHT:,} events in flight ({2 * load.sent:,} so far, "
        f"{load.poison} poison); each of {load.sent:,} attempts and {load.sent:,} approvals had exactly one outcome, "
        f"{load.sent:,} MSP phone tasks raised once, {load.poison} dead letters; /ready recovered"
    )


async def windows_closed_once(stack: Stack, load: Load, report: Callable[[str], None]) -> None:
    """Eight days on, every window is due: each is closed once, on the cluster that went through the fault."""
    async with stack.runner() as runner:
        await runner.move_clocks(T0 + timedelta(days=8))
    await stack.check(load, closed=True)
    report(
        f"cluster failover: then {load.sent:,} retry windows closed once each, {load.sent:,} I059PL raised once each"
    )


@pytest.mark.timeout(900)
async def test_killing_the_leader_of_the_busiest_partition_loses_nothing_and_duplicates_nothing(
    cluster: LocalKafkaCluster, stack: Stack, report
) -> None:
    load = Load(cluster.bootstrap_servers, stack.prefix)
    leader, partition = await busiest_partition_leader(cluster, stack.prefix)
    await fault(
        stack,
        load,
        report,
        f"kill -9 of node {leader}, leader of {partition.topic}-{partition.partition}",
        start=lambda: cluster.kill(leader),
        end=lambda: cluster.restart(leader),
    )
    await windows_closed_once(stack, load, report)


@pytest.mark.timeout(900)
async def test_a_node_paused_for_thirty_seconds_loses_nothing_and_duplicates_nothing(
    cluster: LocalKafkaCluster, stack: Stack, report
) -> None:
    load = Load(cluster.bootstrap_servers, stack.prefix)
    paused, _ = await busiest_partition_leader(cluster, stack.prefix)
    await fault(
        stack,
        load,
        report,
        f"node {paused} (leader of the busiest partition) paused for {PAUSE_S:g} s",
        start=lambda: cluster.pause(paused),
        end=lambda: cluster.resume(paused),
        hold_s=PAUSE_S,
    )
    await windows_closed_once(stack, load, report)


@pytest.mark.timeout(900)
async def test_killing_the_active_controller_loses_nothing_and_duplicates_nothing(
    cluster: LocalKafkaCluster, stack: Stack, report
) -> None:
    load = Load(cluster.bootstrap_servers, stack.prefix)
    controller = cluster.active_controller()
    await fault(
        stack,
        load,
        report,
        f"kill -9 of node {controller}, the active controller",
        start=lambda: cluster.kill(controller),
        end=lambda: cluster.restart(controller),
    )
    await windows_closed_once(stack, load, report)
