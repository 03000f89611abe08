"""Read your own records' dead letters with aiokafka: which of them the system set aside, why, and where each was.
The same settings as publish_with_aiokafka.py; the topic you publish to is the argument:

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python read_dead_letters_with_aiokafka.py im.payment-attempts

It reads with your consumer group for dead letters (``<principal>.dead-letters``, after the deployment's prefix),
from the earliest one not read before, prints one line per dead letter and stops once it has caught up (a quiet
IDLE_S seconds). The lines name the record (its event_id), the reason and where it was; never its content.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer

IDLE_S = 3.0


def line(record: object) -> str:
    headers = {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers}  # type: ignore[attr-defined]
    try:
        event_id = json.loads(record.value).get("event_id", "-")  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        event_id = "-"  # not JSON, or not an object: the reason says so
    origin = f"{headers.get('dlq.origin.partition', '?')}:{headers.get('dlq.origin.offset', '?')}"
    return (
        f"{record.partition}:{record.offset} reason={headers.get('dlq.reason', '?')} "  # type: ignore[attr-defined]
        f"origin={origin} event_id={event_id} detail={headers.get('dlq.detail', '')}"
    )


async def main(topic: str, password: str) -> None:
    principal, prefix = os.environ["KAFKA_SASL_USERNAME"], os.environ.get("TOPIC_PREFIX", "")
    consumer = AIOKafkaConsumer(
        f"{prefix}{topic}.dlq",
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cafile=os.environ["KAFKA_SSL_CAFILE"]),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=principal,
        sasl_plain_password=password,
        group_id=f"{prefix}{principal}.dead-letters",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while batch := await consumer.getmany(timeout_ms=int(IDLE_S * 1000)):
            for records in batch.values():
                for record in records:
                    print(line(record), flush=True)
            await consumer.commit()
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(os.environ["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip()))
