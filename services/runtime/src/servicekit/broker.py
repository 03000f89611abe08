"""Kafka clients configured one way for every service: acks=all, idempotent, no automatic topics, and the
same security (TLS, SASL) for each client a service creates: consumer, producer, admin and faststream's."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts.access import Acl, Operation, Resource
from servicekit.logs import get_logger
from servicekit.settings import ServiceSettings

log = get_logger("servicekit.broker")


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The aiokafka keyword arguments that connect as the service's principal, as its settings say."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if protocol.startswith("SASL_"):
        password = settings.kafka_password()
        if password is None:
            raise ValueError(
                f"{protocol} needs the principal's password: KAFKA_SASL_PASSWORD or "
                "KAFKA_SASL_PASSWORD_FILE (with the service's prefix)"
            )
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_principal,
            "sasl_plain_password": password,
        }
    return options


def _faststream_security(settings: ServiceSettings) -> BaseSecurity | None:
    options = client_options(settings)
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    if settings.kafka_security_protocol == "SSL":
        return BaseSecurity(ssl_context=options["ssl_context"])
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return kind[settings.kafka_sasl_mechanism](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=options.get("ssl_context"),
        use_ssl=settings.kafka_security_protocol == "SASL_SSL",
    )


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers.split(
            ","
        ),  # faststream takes a comma-separated string for one host
        security=_faststream_security(settings),
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        # faststream's per-message "Received/Processed" lines are debug noise for operators.
        log_level=logging.DEBUG,
        logger=get_logger("faststream"),
    )


@lru_cache(maxsize=16384)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def keyed_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioner (the Java client's murmur2 of the key), its pure-Python hash remembered per key: a
    case's outputs share its key, and hashing one cost more than the rest of handing the record over."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


BATCH_BYTES = 128 * 1024
"""The largest batch per partition: a busy pass's rows for one partition go in one batch, not eight (16 KiB, the
client's default, split them). The relay fills and closes each batch itself (``create_batch``): a closed batch goes
at once, so no linger applies."""
MAX_REQUEST_BYTES = 1024 * 1024
"""The largest record the producer sends (the client's default, stated: the relay checks it itself before a record
joins a batch, as the client's own ``send`` does)."""


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=f"{settings.service_name}-relay",
        partitioner=keyed_partitioner,
        acks="all",
        enable_idempotence=True,
        max_batch_size=BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=30000,
    )


async def ensure_topics(
    settings: ServiceSettings,
    topics: Sequence[tuple[str, int]],
    *,
    partitions: int,
    replication: int,
) -> list[str]:
    """Create the (name, retention days) topics that do not exist yet; return the ones created. Existing topics
    are left as they are (changing a live topic's partitions or retention is an operator's decision)."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="provisioner")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = {n: days for n, days in topics if n not in existing}
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=partitions,
                        replication_factor=replication,
                        topic_configs={"retention.ms": str(days * 86_400_000)},
                    )
                    for n, days in missing.items()
                ]
            )
            for topic, code, *_ in getattr(
                response, "topic_errors", getattr(response, "topic_error_codes", [])
            ):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"could not create topic {topic}: error code {code}")
            log.info("topics created", topics=list(missing), count=len(missing))
        return list(missing)
    finally:
        await admin.close()


# Kafka's wire codes (org.apache.kafka.common.acl / resource): resource type, pattern type, operation, permission.
_RESOURCE = {Resource.TOPIC: 2, Resource.GROUP: 3}
_OPERATION = {
    Operation.READ: 3,
    Operation.WRITE: 4,
    Operation.DESCRIBE: 8,
    Operation.DESCRIBE_CONFIGS: 10,
}
_LITERAL, _ALLOW = 3, 3


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # aiokafka's protocol is untyped
    """Kafka's CreateAcls (v1, literal and prefixed patterns) with every entry in one request; aiokafka's own
    request class carries one entry, and has no admin method for it yet."""

    API_KEY = 30

    def __init__(self, entries: Sequence[Acl]) -> None:
        self.creations = [
            (
                _RESOURCE[a.resource],
                a.name,
                _LITERAL,
                a.kafka_principal,
                "*",
                _OPERATION[a.operation],
                _ALLOW,
            )
            for a in entries
        ]

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self.creations)


async def create_acls(
    settings: ServiceSettings, entries: Sequence[Acl], *, timeout: float = 30.0
) -> None:
    """Create each ALLOW entry (as the admin principal: nobody else may) and wait until the broker enforces
    them (its authoriser applies them from the metadata log, a moment later). Creating one that exists
    changes nothing, so this is safe to repeat; an entry the broker refuses raises."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="provisioner")
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(entries))
        refused = [
            (acl, code, message)
            for acl, (code, message) in zip(entries, response.creation_responses, strict=True)
            if code != 0
        ]
        if refused:
            raise RuntimeError(f"the broker refused {len(refused)} ACLs, the first {refused[0]}")
        deadline = time.monotonic() + timeout
        while missing := set(entries) - await _described(admin):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(missing)} ACLs created but not in force after {timeout:.0f}s"
                )
            await asyncio.sleep(0.05)
        log.info("ACLs created", count=len(entries))
    finally:
        await admin.close()


async def describe_acls(settings: ServiceSettings) -> set[Acl]:
    """Every literal ALLOW entry on topics and groups the broker enforces (what :func:`create_acls` made)."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="provisioner")
    await admin.start()
    try:
        return await _described(admin)
    finally:
        await admin.close()


async def _described(admin: AIOKafkaAdminClient) -> set[Acl]:
    any_ = 1
    response = await admin._send_request(
        DescribeAclsRequest(any_, None, any_, None, None, any_, any_)
    )
    if response.error_code:
        raise RuntimeError(
            f"the broker refused to describe its ACLs: error code {response.error_code}"
        )
    resources = {code: r for r, code in _RESOURCE.items()}
    operations = {code: o for o, code in _OPERATION.items()}
    return {
        Acl(principal.removeprefix("User:"), resources[rtype], name, operations[op])
        for rtype, name, pattern, entries in response.resources
        if rtype in resources and pattern == _LITERAL
        for principal, _host, op, permission in entries
        if op in operations and permission == _ALLOW
    }


async def too_short_retention(
    settings: ServiceSettings, topics: Sequence[str], hours: float
) -> dict[str, float]:
    """Of ``topics``, those that keep records for less than ``hours`` (a restore further back would find its
    position gone), with what they keep, in hours; a topic kept for ever (``retention.ms`` -1) is not one."""
    admin = AIOKafkaAdminClient(
        **client_options(settings), client_id=f"{settings.service_name}-retention"
    )
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t, configs={"retention.ms": None})
                for t in topics
            ]
        )
    finally:
        await admin.close()
    kept: dict[str, float] = {}
    for response in responses:
        for error_code, error_message, _kind, name, entries in response.resources:
            if error_code != 0:
                raise RuntimeError(
                    f"could not read the retention of {name}: {error_message or error_code}"
                )
            for entry in entries:
                if entry[0] == "retention.ms" and entry[1] is not None and int(entry[1]) >= 0:
                    kept[name] = int(entry[1]) / 3_600_000
    return {t: h for t, h in sorted(kept.items()) if h < hours}
