"""The workitems service: settings and spec (``python -m workitems`` runs it)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.catalogue import CATALOGUE, EXPENSE_EVENTS, MSP_NOTIFICATION_EVENTS, WORKITEM_COMMANDS
from servicekit.auth import ASYMMETRIC_ALGORITHMS, BearerAuth
from servicekit.clock import Clock
from servicekit.logs import get_logger
from servicekit.service import HttpApi, ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings
from workitems import api
from workitems.handlers import on_events
from workitems.store import MIGRATIONS

log = get_logger("workitems")


class WorkitemsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WORKITEMS_", extra="ignore", populate_by_name=True)

    service_name: str = "workitems"
    http_port: int = 8083
    jwt_public_keys: list[str] = Field(
        default_factory=list,
        description="PEM public keys (inline, or paths of PEM files) whose signatures the API accepts, as a JSON "
                    "list. None configured: every API request is refused.")
    jwt_issuer: str = Field(default="https://login.internal/officers", description="Required `iss` of API tokens.")
    jwt_audience: str = Field(default="workitems", description="Required `aud` of API tokens.")
    jwt_algorithms: list[str] = Field(default_factory=lambda: list(ASYMMETRIC_ALGORITHMS),
                                      description="Accepted signature algorithms (asymmetric only).")
    jwt_leeway_s: float = Field(default=30.0, ge=0, le=300, description="Clock skew allowed on exp and nbf.")

    def bearer_auth(self) -> BearerAuth:
        return BearerAuth(public_keys=self.jwt_public_keys, issuer=self.jwt_issuer, audience=self.jwt_audience,
                          algorithms=self.jwt_algorithms, leeway_s=self.jwt_leeway_s)


def spec(settings: WorkitemsSettings) -> ServiceSpec:
    auth = settings.bearer_auth()

    def http_api(runtime: ServiceRuntime) -> HttpApi:
        if not auth.configured:
            log.warning("no JWT public key configured: the API refuses every request (WORKITEMS_JWT_PUBLIC_KEYS)")
        return HttpApi(app=api.make_api(runtime), handles=api.handles, auth=auth)

    return ServiceSpec(
        name="workitems",
        version="1.0.0",
        description="Staff work items of both procedures: I059PL and the removal escalation (103-01050060), the MSP "
                    "tasks (104-07050030); raised from events, ticked off automatically or by an officer with a DOC.",
        catalogue=CATALOGUE,
        handlers={EXPENSE_EVENTS.name: on_events, MSP_NOTIFICATION_EVENTS.name: on_events,
                  WORKITEM_COMMANDS.name: on_events},
        migrations=MIGRATIONS,
        api=http_api,
    )


def create_runtime(settings: WorkitemsSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    settings = settings or WorkitemsSettings()
    return ServiceRuntime(spec(settings), settings, clock)
