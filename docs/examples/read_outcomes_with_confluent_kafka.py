"""Read what became of each record you wrote, with confluent-kafka (librdkafka 2.6.1 or later): accepted, set aside,
rejected or dead-lettered, and why. The same settings as publish_with_confluent_kafka.py; the topic you publish to is
the argument:

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python read_outcomes_with_confluent_kafka.py im.payment-attempts

It reads ``<topic>.outcomes`` with your consumer group for outcomes (``<principal>.outcomes``, after the deployment's
prefix), from the earliest outcome not read before, prints one line per record of yours and stops once it has caught
up (a quiet IDLE_S seconds after the first assignment). Ids and codes only.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException

IDLE_S = 3.0


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
            "group.id": f"{prefix}{principal}.outcomes",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([f"{prefix}{topic}.outcomes"])
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
            outcomes = json.loads(
                message.value()
            )  # a run of your records of one partition, in offset order
            for answer in outcomes["answers"]:
                print(
                    f"event_id={answer['event_id'] or '-'} outcome={answer['outcome']} "
                    f"reason={answer.get('reason_code') or '-'} origin={outcomes['partition']}:{answer['offset']} "
                    f"detail={answer.get('detail') or ''}",
                    flush=True,
                )
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()


if __name__ == "__main__":
    main(sys.argv[1])
