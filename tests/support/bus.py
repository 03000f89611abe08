"""What an operator does before a service starts, done by the test harness: topics and ACLs, as the admin."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from contracts.catalogue import CATALOGUE
from contracts.topics import Catalogue
from devstack.processes import ServiceProcess
from servicekit.service import ServiceRuntime
from tests.support.kafka_tools import harness


async def provision_catalogue(
    prefix: str, catalogue: Catalogue = CATALOGUE, *, partitions: int = 6
) -> None:
    """Create the topics of ``catalogue`` under ``prefix`` and the ACLs it generates for them, as the run's admin
    (``python -m servicekit.tools.provision`` does the same in a deployment): a service never may."""
    await harness().provision(
        catalogue, attempts=3, topic_prefix=prefix, topic_partitions=partitions
    )


async def provisioned(runtime: ServiceRuntime) -> None:
    """The topics and ACLs ``runtime`` needs: its catalogue's, under its prefix, with its partitions."""
    await provision_catalogue(
        runtime.settings.topic_prefix,
        runtime.spec.catalogue,
        partitions=runtime.settings.topic_partitions,
    )


@contextlib.asynccontextmanager
async def running(runtime: ServiceRuntime) -> AsyncIterator[ServiceRuntime]:
    """``runtime.running()`` once its topics and ACLs are provisioned."""
    await provisioned(runtime)
    async with runtime.running():
        yield runtime


async def start_processes(
    prefix: str, services: Iterable[ServiceProcess], auth: dict[str, str]
) -> None:
    """Services as processes (``python -m <service>``) on the catalogue's topics under ``prefix``: provisioned, all
    started, then each waited for until ready (``auth`` opens its ``/ready`` details)."""
    await provision_catalogue(prefix)
    services = list(services)
    for service in services:
        service.start()
    for service in services:
        await service.ready(auth)


def stop_processes(services: Iterable[ServiceProcess]) -> None:
    for service in services:
        service.stop()
