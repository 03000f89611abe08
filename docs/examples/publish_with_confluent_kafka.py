"""Publish one upstream event with confluent-kafka (librdkafka 2.6.1 or later: earlier ones cannot authenticate to
Kafka 4.x with SCRAM). The same settings and envelope as publish_with_aiokafka.py:

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python publish_with_confluent_kafka.py payment-attempt-one-off-failed.json
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

TOPICS = {
    "PaymentAttempted": ("im.payment-attempts", "expense_id"),
    "MspApproved": ("msp.approvals", "msp_id"),
}


def main(path: Path) -> None:
    body = json.loads(path.read_text())
    topic, key_field = TOPICS[body["event_type"]]
    now = datetime.now(UTC).isoformat()
    event = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "correlation_id": str(uuid.uuid4()),
        "producer": os.environ["KAFKA_SASL_USERNAME"],
    } | {k: now if v == "now" else v for k, v in body.items()}
    producer = Producer(
        {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": os.environ["KAFKA_SSL_CAFILE"],
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": os.environ["KAFKA_SASL_USERNAME"],
            "sasl.password": Path(os.environ["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip(),
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": 180_000,
        }
    )
    delivered: list[str] = []

    def report(error: object, message: object) -> None:
        if error is not None:
            raise SystemExit(f"not delivered: {error}")
        delivered.append(f"{message.topic()}[{message.partition()}]@{message.offset()}")  # type: ignore[attr-defined]

    producer.produce(
        os.environ.get("TOPIC_PREFIX", "") + topic,
        json.dumps(event).encode(),
        key=str(event[key_field]).encode(),
        headers=[("content-type", b"application/json")],
        on_delivery=report,
    )
    if producer.flush(60) != 0 or not delivered:
        raise SystemExit("not delivered within 60 s")
    print(f"{event['event_type']} {event[key_field]} -> {delivered[0]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
