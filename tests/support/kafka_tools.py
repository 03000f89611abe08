"""Test helpers that talk to the real broker directly (no service code in between)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition, errors
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import murmur2
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.util import calc_crc32c

from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from devstack.kafka import KafkaAccess

_HARNESS: list[KafkaAccess] = []


def use_harness(access: KafkaAccess) -> None:
    """The run's broker, which the tests' own clients reach as its admin (the conftest's ``kafka`` fixture)."""
    _HARNESS[:] = [access]


def harness() -> KafkaAccess:
    if not _HARNESS:
        raise RuntimeError("no broker yet: use the `kafka` fixture")
    return _HARNESS[0]


def client(bootstrap: str) -> dict[str, Any]:
    """aiokafka options for a client of the test harness itself: the admin of the run's broker at ``bootstrap``."""
    if not _HARNESS or _HARNESS[0].bootstrap_servers != bootstrap:
        raise RuntimeError(f"{bootstrap} is not the run's broker: use the `kafka` fixture")
    return _HARNESS[0].client()


async def publish(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    *,
    key: bytes | Callable[[bytes], bytes | None] | None = b"k",
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish ``values`` in order; ``key`` is one key for all, or a function of each value."""
    producer = AIOKafkaProducer(**client(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(
                topic, value, key=key(value) if callable(key) else key, headers=headers or []
            )
    finally:
        await producer.stop()


@dataclass(frozen=True)
class RawRecord:
    """A record as bytes on the wire: any key, value, header names and values (None is Kafka's null)."""

    value: bytes | None
    key: bytes | None = b"k"
    headers: tuple[tuple[bytes, bytes | None], ...] = ()


def _varint(value: int) -> bytes:
    zigzag, out = (value << 1) ^ (value >> 63), bytearray()
    while zigzag & ~0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _sized(data: bytes | None) -> bytes:
    return _varint(-1) if data is None else _varint(len(data)) + data


def encode_batch(records: Sequence[RawRecord]) -> bytes:
    """One Kafka v2 record batch, uncompressed, written field by field, so nothing is checked or decoded."""
    body = bytearray()
    for delta, r in enumerate(records):
        record = (
            b"\x00"
            + _varint(0)
            + _varint(delta)
            + _sized(r.key)
            + _sized(r.value)
            + _varint(len(r.headers))
        )
        record += b"".join(_sized(name) + _sized(value) for name, value in r.headers)
        body += _varint(len(record)) + record
    now = int(time.time() * 1000)
    after_crc = struct.pack(
        ">hiqqqhii", 0, len(records) - 1, now, now, -1, -1, -1, len(records)
    ) + bytes(body)
    return (
        struct.pack(">qiibI", 0, 4 + 1 + 4 + len(after_crc), -1, 2, calc_crc32c(after_crc))
        + after_crc
    )


RETRIABLE_PRODUCE_ERRORS = {3, 5, 6}
"""UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER: a topic just created, a leader moving."""


async def publish_events(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    """Each event on its catalogue topic (under ``prefix``), keyed by its aggregate, as its producer would."""
    for event in events:
        await publish(
            bootstrap,
            prefix + CATALOGUE.topic_of(event).name,
            [event.to_json()],
            key=event.key.encode(),
        )


class RawPublisher:
    """One connection that writes batches as they are, bypassing every client-side check a producer makes: for a
    test that writes many (each new connection costs a TLS and SCRAM handshake)."""

    def __init__(self, bootstrap: str) -> None:
        self.raw = AIOKafkaClient(**client(bootstrap))

    async def start(self) -> RawPublisher:
        await self.raw.bootstrap()
        return self

    async def close(self) -> None:
        await self.raw.close()

    async def __aenter__(self) -> RawPublisher:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def publish(
        self, topic: str, records: Sequence[RawRecord], *, partition: int = 0, timeout: float = 30.0
    ) -> int:
        """Write ``records`` to one partition as one batch; returns the offset of the first. Retries what a
        producer retries (fresh metadata), up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            await self.raw._wait_on_metadata(topic)
            leader = self.raw.cluster.leader_for_partition(TopicPartition(topic, partition))
            request = ProduceRequest(
                transactional_id=None,
                required_acks=-1,
                timeout=30000,
                topics=[(topic, [(partition, encode_batch(records))])],
            )
            response = await self.raw.send(leader, request)
            [(_, [(_, error_code, offset, *_)])] = response.topics
            if error_code == 0:
                return int(offset)
            if error_code not in RETRIABLE_PRODUCE_ERRORS or time.monotonic() > deadline:
                raise RuntimeError(f"the broker refused the batch: error code {error_code}")
            await self.raw.force_metadata_update()
            await asyncio.sleep(0.1)


async def publish_raw(
    bootstrap: str,
    topic: str,
    records: Sequence[RawRecord],
    *,
    partition: int = 0,
    timeout: float = 30.0,
) -> int:
    """:meth:`RawPublisher.publish` over a connection of its own."""
    async with RawPublisher(bootstrap) as publisher:
        return await publisher.publish(topic, records, partition=partition, timeout=timeout)


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0, settle: float = 0.0
) -> list[ConsumerRecord[Any, Any]]:
    """Every record on ``topic`` from the beginning, once at least ``at_least`` arrived (then ``settle`` more
    seconds, to catch any extra ones a duplicate-free assertion must not miss)."""
    consumer = AIOKafkaConsumer(**client(bootstrap), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} does not exist")
                await asyncio.sleep(0.1)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[Any, Any]] = []
        settle_until: float | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            now = time.monotonic()
            if len(records) >= at_least and settle_until is None:
                settle_until = now + settle
            if settle_until is not None and now >= settle_until:
                return records
            if now > deadline:
                raise TimeoutError(
                    f"{topic}: {len(records)} records after {timeout}s, expected {at_least}"
                )
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the group's committed offsets over the topic's partitions (0 where none)."""
    admin = AIOKafkaAdminClient(**client(bootstrap))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(
            meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
        )
    finally:
        await admin.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{what} not reached within {timeout}s")


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as every client computes it)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def read_all(
    bootstrap: str, topic: str, *, timeout: float = 30.0
) -> list[ConsumerRecord[Any, Any]]:
    """Every record on ``topic`` now: read from the beginning up to the end offsets taken at the start."""
    consumer = AIOKafkaConsumer(**client(bootstrap), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise TimeoutError(f"topic {topic} does not exist")
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}: read {len(records)} records, the end not reached in {timeout}s"
                )
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(
                    r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
        return records
    finally:
        await consumer.stop()


async def configure_topic(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """Set ``topic``'s configuration, as the admin. AlterConfigs replaces the topic's whole configuration: whatever
    ``configs`` does not name goes back to the broker's default (so name the retention, which the services check)."""
    admin = AIOKafkaAdminClient(**client(bootstrap))
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)]
        )
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topic: str) -> int:
    """Sum of the topic's end offsets over its partitions (how many records were ever written)."""
    consumer = AIOKafkaConsumer(**client(bootstrap), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def consumed_everything(bootstrap: str, group: str, topics: Sequence[str]) -> bool:
    """Whether ``group`` has committed every record written to ``topics`` so far; not yet, while the broker cannot
    say (a new group's coordinator still being elected on a busy broker is a retry, not a failure)."""
    try:
        for topic in topics:
            if await committed_offsets(bootstrap, group, topic) != await end_offsets(
                bootstrap, topic
            ):
                return False
    except (
        errors.GroupCoordinatorNotAvailableError,
        errors.CoordinatorLoadInProgressError,
        errors.NotCoordinatorForGroupError,
    ):
        return False
    return True


def metric_sum(registry: Any, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels`` (a service's own registry)."""
    return float(
        sum(
            s.value
            for m in registry.collect()
            for s in m.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )
    )
