"""Creates every topic of the catalogue, and the dead-letter topic of every consumed one, then exits.

    python -m servicekit.provision

For a deployment that provisions topics once, before the services start (the compose file's
``topics`` step), with the services' ``PROVISION_TOPICS=false``. Names, retention and which topics
have a dead-letter topic come from the catalogue (``contracts``), the one place they are defined;
partitions and replication from ``TOPIC_PARTITIONS`` and ``TOPIC_REPLICATION``. Waits for the broker;
never changes a topic that exists.
"""

from __future__ import annotations

import asyncio
import secrets

from contracts.catalogue import CATALOGUE
from servicekit.backoff import Backoff
from servicekit.broker import ensure_topics
from servicekit.logs import configure_logging, get_logger
from servicekit.settings import ServiceSettings

log = get_logger("servicekit.provision")


async def provision(settings: ServiceSettings, attempts: int = 60) -> list[str]:
    topics = [(settings.topic(n), days) for t in CATALOGUE.topics for n, days in t.definitions()]
    backoff = Backoff(cap=5.0)
    for attempt in range(1, attempts + 1):
        try:
            created = await ensure_topics(settings, topics,
                                          partitions=settings.topic_partitions, replication=settings.topic_replication)
            log.info("topics provisioned", count=len(topics), topics=created)
            return created
        except Exception as exc:  # noqa: BLE001 - the broker may still be starting
            delay = backoff.next()
            log.warning("Kafka unavailable, retrying", error_type=type(exc).__name__, attempt=attempt,
                        retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)
    raise SystemExit(f"Kafka at {settings.kafka_bootstrap_servers} did not answer")


def main() -> None:
    settings = ServiceSettings(service_name="provision")
    # It logs no customer reference: a throw-away key, rather than the services' secret.
    configure_logging(service="provision", level=settings.log_level, pseudonym_key=secrets.token_bytes(32))
    asyncio.run(provision(settings))


if __name__ == "__main__":
    main()
