"""The notification service: settings and spec (``python -m notification`` runs it)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.catalogue import CATALOGUE, MSP_APPROVALS, MSP_STAFF_ACTIONS
from notification.domain.decide import Policy
from notification.handlers import Shell
from notification.store import MIGRATIONS
from servicekit.clock import Clock
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notification"
    http_port: int = 8081
    sms_max_fragments: int = Field(
        default=2, ge=1, le=10, description="Longest MSP SMS, in fragments."
    )
    sms_max_delay_h: float = Field(
        default=48,
        gt=0,
        le=24 * 14,
        description="The agency's 'as soon as possible': the latest an authorised SMS may be scheduled, in hours.",
    )


def spec(settings: NotificationSettings) -> ServiceSpec:
    handlers = Shell(
        Policy(
            sms_max_fragments=settings.sms_max_fragments, sms_max_delay_h=settings.sms_max_delay_h
        )
    )
    return ServiceSpec(
        name="notification",
        version="1.0.0",
        description="MSP implementation (104-07050030): phone the customer or their representative, the guarded "
        "SMS (Centrelink only), the signed and approved letter, and recording the result.",
        catalogue=CATALOGUE,
        handlers={MSP_APPROVALS.name: handlers.batched, MSP_STAFF_ACTIONS.name: handlers.batched},
        migrations=MIGRATIONS,
        timers=handlers.timers,
    )


def create_runtime(
    settings: NotificationSettings | None = None, clock: Clock | None = None
) -> ServiceRuntime:
    settings = settings or NotificationSettings()
    return ServiceRuntime(spec(settings), settings, clock)
