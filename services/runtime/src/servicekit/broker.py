"""Kafka clients configured one way for every service: acks=all, idempotent, no automatic topics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from servicekit.logs import get_logger
from servicekit.settings import ServiceSettings

log = get_logger("servicekit.broker")


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        # faststream's per-message "Received/Processed" lines are debug noise for operators.
        log_level=logging.DEBUG,
        logger=get_logger("faststream"),
    )


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=30000,
    )


async def ensure_topics(bootstrap_servers: str, topics: Sequence[tuple[str, int]], *, partitions: int,
                        replication: int) -> list[str]:
    """Create the (name, retention days) topics that do not exist yet; return the ones created. Existing topics
    are left as they are (changing a live topic's partitions or retention is an operator's decision)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="provisioner")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = {n: days for n, days in topics if n not in existing}
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, num_partitions=partitions, replication_factor=replication,
                          topic_configs={"retention.ms": str(days * 86_400_000)}) for n, days in missing.items()]
            )
            for topic, code, *_ in getattr(response, "topic_errors", getattr(response, "topic_error_codes", [])):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"could not create topic {topic}: error code {code}")
            log.info("topics created", topics=list(missing), count=len(missing))
        return list(missing)
    finally:
        await admin.close()
