"""The console service: settings and spec (``python -m console`` runs it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from faststream.asgi.types import ASGIApp
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from console import api, store, ui
from console.desk.due import SERVICE_LEVELS_H
from console.handlers import on_outcome
from console.notices import Notices
from console.store import MIGRATIONS
from contracts.catalogue import CATALOGUE, EXPENSE_EVENTS, MSP_NOTIFICATION_EVENTS, WORKITEM_EVENTS
from contracts.workitems import Queue, WorkItemCode
from servicekit.clock import Clock
from servicekit.service import HttpApi, ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", populate_by_name=True)

    service_name: str = "console"
    http_port: int = 8084
    secure_cookies: bool = Field(
        default=True,
        description="The console is served over TLS (behind its proxy): the session cookie is "
        "`__Host-` prefixed and `Secure`. Only the development run, over loopback HTTP, "
        "turns it off (a browser keeps no `Secure` cookie from a plain-HTTP page).",
    )
    session_idle_s: float = Field(
        default=30 * 60,
        gt=0,
        le=12 * 3600,
        description="A session unused this long ends (the officer signs in again).",
    )
    session_absolute_s: float = Field(
        default=12 * 3600,
        gt=0,
        le=24 * 3600,
        description="A session ends this long after sign-in, used or not (and never "
        "after the token it came from expires).",
    )
    sign_in_code_ttl_s: float = Field(
        default=120,
        gt=0,
        le=900,
        description="How long a one-time sign-in code (a sign-in link) stays valid.",
    )
    service_levels_h: dict[str, float] = Field(
        default_factory=lambda: dict(SERVICE_LEVELS_H),
        description="The agency's service levels: hours from a task's raising to its due time, per work item code "
        "(JSON). The procedure says 'as soon as possible'; how soon is the agency's.",
    )


OWN_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "work_items_overdue": (
        "Open work items past their due time (the agency's service levels).",
        ("queue",),
    ),
    "work_items_overdue_by_code": (
        "Open work items past their due time, by work item code (I059PL, MSP-RISK-RESPONSE, ...).",
        ("code",),
    ),
    "commands_awaiting_outcome_oldest_seconds": (
        "Seconds the oldest officer's command has waited for its outcome from the services (0: none waits).",
        (),
    ),
}
"""The console's own gauges: name -> (documentation, labels). The alert rules may query these."""


async def overdue_gauges(runtime: ServiceRuntime, conn: Any) -> None:
    """Open items past their due time, by queue and by code, and how long the oldest command has waited for its
    outcome; set whenever /metrics is read."""
    settings: Any = runtime.settings
    now = runtime.clock.now()

    def gauge(name: str) -> Any:
        return runtime.metrics.own_gauge(name, *OWN_GAUGES[name])

    overdue = await store.overdue_counts(conn, settings.service_levels_h, now)
    for queue in Queue:
        gauge("work_items_overdue").labels(queue=queue.value).set(
            sum(n for (q, _), n in overdue.items() if q == queue.value)
        )
    for code in WorkItemCode:
        gauge("work_items_overdue_by_code").labels(code=code.value).set(
            sum(n for (_, c), n in overdue.items() if c == code.value)
        )
    gauge("commands_awaiting_outcome_oldest_seconds").set(
        await store.oldest_pending_command_age(conn, now)
    )


def make_front(runtime: ServiceRuntime) -> ASGIApp:
    """The command API and the web console, on one port: the pages mounted under ``/ui``, the API beside them."""
    front = api.make_api(runtime)
    front.mount(ui.BASE, ui.make_ui(runtime))
    return front


SPEC = ServiceSpec(
    name="console",
    version="1.0.0",
    description="The officers' front door: every staff action as a command from a verified officer (identity and "
    "roles from the token), written through the outbox to its staff-action topic; its outcome learnt "
    "from the services' events.",
    catalogue=CATALOGUE,
    handlers={
        MSP_NOTIFICATION_EVENTS.name: on_outcome,
        EXPENSE_EVENTS.name: on_outcome,
        WORKITEM_EVENTS.name: on_outcome,
    },
    migrations=MIGRATIONS,
    api=HttpApi.of(
        make_front, lambda path: api.handles(path) or ui.handles(path), own_auth=ui.handles
    ),
    gauges=overdue_gauges,
)


def create_runtime(
    settings: ConsoleSettings | None = None, clock: Clock | None = None
) -> ServiceRuntime:
    settings = settings or ConsoleSettings()
    # the overdue notices fall due by the service levels this deployment sets
    return ServiceRuntime(replace(SPEC, timers=Notices(settings.service_levels_h)), settings, clock)
