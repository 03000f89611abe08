"""Kafka clients configured one way for every service: acks=all, idempotent, no automatic topics, and the
same security (TLS, SASL) for each client a service creates: consumer, producer, admin and faststream's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from servicekit.logs import get_logger
from servicekit.settings import ServiceSettings

log = get_logger("servicekit.broker")


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The aiokafka keyword arguments that connect as the service's principal, as its settings say."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers, "security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile, certfile=settings.kafka_ssl_certfile, keyfile=settings.kafka_ssl_keyfile)
    if protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ValueError(f"{protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        options |= {"sasl_mechanism": settings.kafka_sasl_mechanism, "sasl_plain_username": settings.kafka_sasl_username,
                    "sasl_plain_password": settings.kafka_sasl_password.get_secret_value()}
    return options


def _faststream_security(settings: ServiceSettings) -> BaseSecurity | None:
    options = client_options(settings)
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    if settings.kafka_security_protocol == "SSL":
        return BaseSecurity(ssl_context=options["ssl_context"])
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return kind[settings.kafka_sasl_mechanism](username=options["sasl_plain_username"],
                                               password=options["sasl_plain_password"],
                                               ssl_context=options.get("ssl_context"),
                                               use_ssl=settings.kafka_security_protocol == "SASL_SSL")


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=_faststream_security(settings),
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
        **client_options(settings),
        client_id=f"{settings.service_name}-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=30000,
    )


async def ensure_topics(settings: ServiceSettings, topics: Sequence[tuple[str, int]], *, partitions: int,
                        replication: int) -> list[str]:
    """Create the (name, retention days) topics that do not exist yet; return the ones created. Existing topics
    are left as they are (changing a live topic's partitions or retention is an operator's decision)."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="provisioner")
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
