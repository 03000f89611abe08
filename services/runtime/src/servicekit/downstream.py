"""How far behind a downstream system is: one that reads a topic this service writes and writes nothing back (the
desktop messaging gateway reading ``msp.sms-dispatch``). Nothing else tells the service that what it asked for (an
SMS to send) is not being done: the gateway's consumer group's committed offsets against the topic's end, per
topic, as the gauge ``downstream_lag{topic, group}``. The catalogue's ACLs let a producer describe that group
(``contracts.access``); offsets only, never a record."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.access import downstream
from contracts.topics import Catalogue
from servicekit.broker import client_options
from servicekit.metrics import Metrics
from servicekit.settings import ServiceSettings

UNWATCHED = frozenset({"operations"})
"""Downstream readers whose lag is their own concern: the operations team's reader of ``workitems.events`` reads
what it likes when it likes, and a lag that only grows (under ``./dev run``, where nobody reads it) means nothing
to an officer or a customer (issue 41). The gateway's groups are watched: an SMS or a notice unread is a customer
or a team not told."""


def watched(catalogue: Catalogue, producer: str, prefix: str) -> list[tuple[str, str]]:
    """(topic, consumer group) for each downstream system reading a topic ``producer`` writes, prefix applied; not
    the :data:`UNWATCHED`."""
    outside = downstream(catalogue) - UNWATCHED
    return [
        (prefix + topic.name, prefix + consumer)
        for topic in catalogue.topics
        if topic.producer == producer
        for consumer in topic.consumers
        if consumer in outside
    ]


@dataclass
class DownstreamWatch:
    settings: ServiceSettings
    pairs: list[tuple[str, str]]
    _admin: AIOKafkaAdminClient | None = field(default=None, init=False)
    _reader: AIOKafkaConsumer | None = field(default=None, init=False)
    _partitions: dict[str, list[TopicPartition]] = field(default_factory=dict, init=False)
    """Each watched topic's partitions, read once (a topic's partitions are only ever added by an operator, who
    restarts the services)."""

    async def run(self, metrics: Metrics, interval_s: float) -> None:
        """Set ``downstream_lag`` every ``interval_s``, off the readiness path: an answer the broker is slow to give
        delays no ``/ready`` and no scrape. A reading that fails leaves the gauge as it was, and is tried again."""
        while True:
            with contextlib.suppress(Exception):
                for (topic, group), lag in (await asyncio.wait_for(self.lags(), 10.0)).items():
                    metrics.downstream_lag.labels(topic=topic, group=group).set(lag)
            await asyncio.sleep(interval_s)

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._reader is None:
            options = client_options(self.settings)
            admin = AIOKafkaAdminClient(**options, client_id=f"{self.settings.service_name}-watch")
            reader = AIOKafkaConsumer(
                **options,
                group_id=None,
                enable_auto_commit=False,
                client_id=f"{self.settings.service_name}-watch",
            )
            try:
                await admin.start()
                await reader.start()
            except BaseException:
                await self._close(admin, reader)
                raise
            self._admin, self._reader = admin, reader
        return self._admin, self._reader

    async def lags(self) -> dict[tuple[str, str], int]:
        """Records written and not yet committed by the group, per (topic, group); a group that never committed
        has read nothing. Raises when the broker cannot say (the gauge then keeps its last value)."""
        if not self.pairs:
            return {}
        admin, reader = await self._clients()
        found: dict[tuple[str, str], int] = {}
        for topic, group in self.pairs:
            parts = self._partitions.get(topic)
            if not parts:  # not read yet, or the topic had none then (not yet created)
                [described] = await admin.describe_topics([topic])
                parts = self._partitions[topic] = [
                    TopicPartition(topic, p["partition"]) for p in described["partitions"]
                ]
            ends = await reader.end_offsets(parts)
            committed = await admin.list_consumer_group_offsets(group, partitions=parts)
            found[(topic, group)] = sum(
                max(ends[tp] - max(committed[tp].offset if tp in committed else 0, 0), 0)
                for tp in parts
            )
        return found

    @staticmethod
    async def _close(admin: AIOKafkaAdminClient | None, reader: AIOKafkaConsumer | None) -> None:
        if reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.stop(), 10)
        if admin is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), 10)

    async def close(self) -> None:
        await self._close(self._admin, self._reader)
        self._admin = self._reader = None
