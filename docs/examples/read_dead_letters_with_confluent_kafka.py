"""Read your own records' dead letters with confluent-kafka (librdkafka 2.6.1 or later). The same settings as
publish_with_confluent_kafka.py; the topic you publish to is the argument:

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python read_dead_letters_with_confluent_kafka.py im.payment-attempts

librdkafka needs a consumer group (``group.id`` must be set): yours for dead letters is ``<principal>.dead-letters``,
after the deployment's prefix. It reads from the earliest one not read before, prints one line per dead letter and
stops once it has caught up (a quiet IDLE_S seconds after the first assignment). Never the content.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException

IDLE_S = 3.0


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def main(topic: str) -> None:
    principal, prefix = os.environ["KAFKA_SASL_USERNAME"], os.environ.get("TOPIC_PREFIX", "")
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": os.environ["KAFKA_SSL_CAFILE"],
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": principal,
            "sasl.password": Path(os.environ["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip(),
            "group.id": f"{prefix}{principal}.dead-letters",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([f"{prefix}{topic}.dlq"])
    quiet_since = None
    try:
        while quiet_since is None or time.monotonic() - quiet_since < IDLE_S:
            message = consumer.poll(1.0)
            if message is None:
                if consumer.assignment():
                    quiet_since = quiet_since or time.monotonic()
                continue
            if message.error():
                raise KafkaException(message.error())
            quiet_since = None
            headers = {str(h[0]): _text(h[1]) for h in message.headers() or []}
            try:
                event_id = json.loads(message.value() or b"").get("event_id", "-")
            except (ValueError, AttributeError):
                event_id = "-"
            origin = f"{headers.get('dlq.origin.partition', '?')}:{headers.get('dlq.origin.offset', '?')}"
            print(
                f"{message.partition()}:{message.offset()} reason={headers.get('dlq.reason', '?')} "
                f"origin={origin} event_id={event_id} detail={headers.get('dlq.detail', '')}",
                flush=True,
            )
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


if __name__ == "__main__":
    main(sys.argv[1])
