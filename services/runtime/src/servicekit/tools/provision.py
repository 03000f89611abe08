"""Creates every topic of the catalogue, the dead-letter topic of every consumed one, and the ACLs that say
who may use them (and, when asked, a database role per service); then exits.

    python -m servicekit.tools.provision

Run once per deployment, and again after a catalogue change, as the admin principal (``PROVISION_*``
settings): it is the only client that may create topics and ACLs, and the services never connect as it.
Names, retention, dead-letter topics and the ACLs all come from the catalogue (``contracts``), the one
place they are defined; partitions and replication from ``TOPIC_PARTITIONS`` and ``TOPIC_REPLICATION``.
Waits for the broker; never changes a topic that exists; creating an ACL that exists changes nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.access import acls
from contracts.catalogue import CATALOGUE
from contracts.topics import Catalogue
from servicekit.backoff import Backoff
from servicekit.broker import create_acls, ensure_topics
from servicekit.db import ServiceRole, provision_roles
from servicekit.logs import configure_logging, get_logger
from servicekit.settings import ServiceSettings

log = get_logger("servicekit.tools.provision")


class ProvisionSettings(ServiceSettings):
    """The provisioning step's settings: ``PROVISION_`` first, then the shared unprefixed names."""

    model_config = SettingsConfigDict(
        env_prefix="PROVISION_", extra="ignore", populate_by_name=True
    )
    service_name: str = "provision"
    kafka_sasl_username: str = Field(
        default="admin", description="The admin principal (a super user)."
    )
    acls: bool = Field(
        default=True,
        description="Create the catalogue's ACLs. Only false for a broker without an "
        "authoriser, where every client may do anything.",
    )
    database_roles: list[str] = Field(
        default_factory=list,
        description="Services given a login role that owns their schema and nothing else, "
        "made with DATABASE_URL as an administrator (a JSON list).",
    )
    database_passwords_dir: Path | None = Field(
        default=None,
        description="Where each of those roles' passwords is kept, as <role>.password.",
    )

    def service_roles(self) -> list[ServiceRole]:
        if self.database_roles and self.database_passwords_dir is None:
            raise ValueError("PROVISION_DATABASE_ROLES needs PROVISION_DATABASE_PASSWORDS_DIR")
        return [
            ServiceRole(
                role, role, (self.database_passwords_dir / f"{role}.password").read_text().strip()
            )
            for role in self.database_roles
            if self.database_passwords_dir is not None
        ]


async def provision(
    settings: ServiceSettings,
    catalogue: Catalogue = CATALOGUE,
    *,
    with_acls: bool = True,
    attempts: int = 60,
) -> list[str]:
    """Create what is missing of ``catalogue`` under the settings' topic prefix: topics, then ACLs. Returns the
    topics created."""
    topics = [(settings.topic(n), days) for t in catalogue.topics for n, days in t.definitions()]
    entries = acls(catalogue, settings.topic_prefix) if with_acls else []
    backoff = Backoff(cap=5.0)
    for attempt in range(1, attempts + 1):
        try:
            created = await ensure_topics(
                settings,
                topics,
                partitions=settings.topic_partitions,
                replication=settings.topic_replication,
            )
            if entries:
                await create_acls(settings, entries)
            log.info("topics provisioned", topics=created, count=len(topics))
            return created
        except Exception as exc:  # noqa: BLE001 - the broker may still be starting
            delay = backoff.next()
            log.warning(
                "Kafka unavailable, retrying",
                error_type=type(exc).__name__,
                attempt=attempt,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)
    raise SystemExit(f"Kafka at {settings.kafka_bootstrap_servers} did not answer")


def main() -> None:
    settings = ProvisionSettings()
    # It logs no customer reference: a throw-away key, rather than the services' secret.
    configure_logging(
        service="provision", level=settings.log_level, pseudonym_key=secrets.token_bytes(32)
    )
    asyncio.run(provision(settings, with_acls=settings.acls))
    if roles := settings.service_roles():
        asyncio.run(provision_roles(settings.database_dsn(), roles))
        log.info("database roles provisioned", count=len(roles))


if __name__ == "__main__":
    main()
