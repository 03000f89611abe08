"""Publish one upstream event the way the integration guide says: a complete, working example with aiokafka.

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python publish_with_aiokafka.py payment-attempt-one-off-failed.json

The file is the event's body; this adds the envelope (a fresh event_id and correlation_id, the producer, occurred_at
now; a value "now" becomes the current instant), keys the record by the event's id field and sends it with the
content-type header, acks from every in-sync replica, and idempotence on. TOPIC_PREFIX, when the deployment uses one,
goes before the topic's name.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

TOPICS = {
    "PaymentAttempted": ("im.payment-attempts", "expense_id"),
    "MspApproved": ("msp.approvals", "msp_id"),
}


async def publish(body: dict[str, str], password: str) -> None:
    topic, key_field = TOPICS[body["event_type"]]
    now = datetime.now(UTC).isoformat()
    event = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "correlation_id": str(uuid.uuid4()),
        "producer": os.environ["KAFKA_SASL_USERNAME"],
    } | {k: now if v == "now" else v for k, v in body.items()}
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cafile=os.environ["KAFKA_SSL_CAFILE"]),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=os.environ["KAFKA_SASL_USERNAME"],
        sasl_plain_password=password,
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            os.environ.get("TOPIC_PREFIX", "") + topic,
            json.dumps(event).encode(),
            key=str(event[key_field]).encode(),
            headers=[("content-type", b"application/json")],
        )
    finally:
        await producer.stop()
    print(
        f"{event['event_type']} {event[key_field]} -> {sent.topic}[{sent.partition}]@{sent.offset}"
    )


if __name__ == "__main__":
    body = json.loads(Path(sys.argv[1]).read_text())
    password = Path(os.environ["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip()
    asyncio.run(publish(body, password))
