"""The workitems service: settings and spec (``python -m workitems`` runs it)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from contracts.catalogue import (
    CATALOGUE,
    EXPENSE_EVENTS,
    MSP_NOTIFICATION_EVENTS,
    WORKITEM_COMMANDS,
)
from servicekit.clock import Clock
from servicekit.service import HttpApi, ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings
from workitems import api
from workitems.handlers import on_events
from workitems.store import MIGRATIONS


class WorkitemsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKITEMS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "workitems"
    http_port: int = 8083


SPEC = ServiceSpec(
    name="workitems",
    version="1.0.0",
    description="Staff work items of both procedures: I059PL and the removal escalation (103-01050060), the MSP "
    "tasks (104-07050030); raised from events, ticked off automatically or by an officer with a DOC.",
    catalogue=CATALOGUE,
    handlers={
        EXPENSE_EVENTS.name: on_events,
        MSP_NOTIFICATION_EVENTS.name: on_events,
        WORKITEM_COMMANDS.name: on_events,
    },
    migrations=MIGRATIONS,
    api=HttpApi.of(api.make_api, api.handles),
)


def create_runtime(
    settings: WorkitemsSettings | None = None, clock: Clock | None = None
) -> ServiceRuntime:
    return ServiceRuntime(SPEC, settings or WorkitemsSettings(), clock)
