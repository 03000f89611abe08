"""Read what became of each record you wrote, with aiokafka: accepted, set aside, rejected or dead-lettered, and why.
The same settings as publish_with_aiokafka.py; the topic you publish to is the argument:

    KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
    KAFKA_SASL_PASSWORD_FILE=payments-system.password python read_outcomes_with_aiokafka.py im.payment-attempts

It reads ``<topic>.outcomes`` with your consumer group for outcomes (``<principal>.outcomes``, after the deployment's
prefix), from the earliest outcome not read before, prints one line per record of yours and stops once it has caught
up (a quiet IDLE_S seconds). Each record there answers a run of your records of one partition, in offset order; an
answer holds ids and codes only: your event_id, what became of it, the reason code, and for a dead letter which field
was wrong.
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


def lines(value: bytes) -> list[str]:
    """One line per record answered: a record of outcomes answers a run of your records of one partition."""
    outcomes = json.loads(value)
    return [
        f"event_id={answer['event_id'] or '-'} outcome={answer['outcome']} "
        f"reason={answer.get('reason_code') or '-'} origin={outcomes['partition']}:{answer['offset']} "
        f"detail={answer.get('detail') or ''}"
        for answer in outcomes["answers"]
    ]


async def main(topic: str, password: str) -> None:
    principal, prefix = os.environ["KAFKA_SASL_USERNAME"], os.environ.get("TOPIC_PREFIX", "")
    consumer = AIOKafkaConsumer(
        f"{prefix}{topic}.outcomes",
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cafile=os.environ["KAFKA_SSL_CAFILE"]),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=principal,
        sasl_plain_password=password,
        group_id=f"{prefix}{principal}.outcomes",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while batch := await consumer.getmany(timeout_ms=int(IDLE_S * 1000)):
            for records in batch.values():
                for record in records:
                    for line in lines(record.value):
                        print(line, flush=True)
            await consumer.commit()
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(os.environ["KAFKA_SASL_PASSWORD_FILE"]).read_text().strip()))
