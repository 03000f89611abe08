"""The expenses service: settings and spec (``python -m expenses`` runs it)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from contracts.catalogue import CATALOGUE, EXPENSE_ACTIONS, PAYMENT_ATTEMPTS
from expenses import handlers
from expenses.store import MIGRATIONS
from servicekit.clock import Clock
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


class ExpensesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXPENSES_", extra="ignore", populate_by_name=True)

    service_name: str = "expenses"
    http_port: int = 8082


SPEC = ServiceSpec(
    name="expenses",
    version="1.0.0",
    description="Undelivered Income Management expenses (103-01050060): retry windows of 7 days (weekly), "
    "14 days (fortnightly) and 2 working days (one-off); UNDLVD RI / UNDLVD IM; cease rules.",
    catalogue=CATALOGUE,
    handlers={
        PAYMENT_ATTEMPTS.name: handlers.on_payment_attempts,
        EXPENSE_ACTIONS.name: handlers.on_staff_action,
    },
    migrations=MIGRATIONS,
    timers=handlers.window_timers,
)


def create_runtime(
    settings: ExpensesSettings | None = None, clock: Clock | None = None
) -> ServiceRuntime:
    return ServiceRuntime(SPEC, settings or ExpensesSettings(), clock)
