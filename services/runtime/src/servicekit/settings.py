"""Settings common to every service; each service subclasses with its own env prefix."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, AwareDatetime, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.http.auth import ASYMMETRIC_ALGORITHMS, BearerAuth

SHARED = (
    "kafka_bootstrap_servers",
    "database_url",
    "topic_prefix",
    "topic_partitions",
    "topic_replication",
    "log_pseudonym_key",
    "log_pseudonym_key_file",
    "clock",
    "clock_start",
    "development",
    "jwt_public_keys",
    "jwt_issuer",
    "jwt_algorithms",
    "jwt_leeway_s",
    "jwt_max_lifetime_s",
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_ssl_cafile",
    "event_loop",
)
"""Settings every service also reads under an unprefixed name, so one variable can set them for the whole system."""


MIN_PSEUDONYM_KEY_CHARS = 16
PUBLIC_KEYS = frozenset({"development-only-pseudonym-key"})
"""Keys that have been published (an earlier default): refused like a missing one."""


def _read_shared_names(cls: type[BaseSettings]) -> None:
    """Each shared setting is read from ``<PREFIX><NAME>`` first, then from ``<NAME>``: the service's own wins."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name in SHARED:
        cls.model_fields[name].validation_alias = AliasChoices(
            f"{prefix}{name}".upper(), name.upper()
        )
    cls.model_rebuild(force=True)


class ServiceSettings(BaseSettings):
    """Environment-driven settings. Subclasses set ``env_prefix`` (``EXPENSES_``, ...).

    The settings named in :data:`SHARED` are read unprefixed too (``KAFKA_BOOTSTRAP_SERVERS``,
    ``DATABASE_URL``, ...), so one variable sets the whole system; the prefixed name wins.
    """

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore", populate_by_name=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _read_shared_names(cls)

    service_name: str = "service"
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="Kafka bootstrap servers, comma separated.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="SASL_SSL",
        description="How the service's Kafka clients connect: authenticated (SASL) and "
        "encrypted (TLS) unless said otherwise. PLAINTEXT only for a broker "
        "nobody else can reach.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (with SASL_SSL or SASL_PLAINTEXT)."
    )
    kafka_sasl_username: str = Field(
        default="",
        description="The service's own Kafka principal; defaults to the "
        "service name, the principal the ACLs are made for.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="Its password: a secret, never logged and never in /metrics."
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None,
        description="A file holding the password (a mounted secret), when KAFKA_SASL_PASSWORD is "
        "not set.",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM CA bundle the broker's certificate is "
        "checked against; the system's when unset.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM), for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Its private key (PEM).")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL URL; each service keeps its tables in its own schema.",
    )
    database_password_file: Path | None = Field(
        default=None,
        description="A file holding the password of DATABASE_URL's user (a mounted secret), when the "
        "URL carries none.",
    )
    db_schema: str = Field(
        default="", description="Schema for this service's tables; defaults to the service name."
    )
    db_pool_size: int = 10
    topic_prefix: str = Field(
        default="",
        description="Prefix added to every topic name (isolates environments sharing one cluster).",
    )
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    consumer_group: str = Field(
        default="", description="Kafka consumer group; defaults to the service name."
    )
    max_batch: int = Field(
        default=500, ge=1, description="Most records handled in one database transaction."
    )
    poll_timeout_ms: int = Field(
        default=10,
        ge=1,
        description="How long a poll waits for records before the consumer idles as long again. Records that "
        "arrive are taken at once; this bounds the extra latency of a quiet topic.",
    )
    max_record_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest record (key, value and headers) a consumer accepts; a larger one is dead-lettered.",
    )
    dlq_max_bytes: int = Field(
        default=512 * 1024,
        ge=4096,
        description="Largest dead letter written; past it the original is cut (the source topic keeps it whole). "
        "Must stay below the broker's message.max.bytes.",
    )
    dlq_seal_key_file: Path | None = Field(
        default=None,
        description="This service's Ed25519 private key (PEM), with which it seals each dead letter it writes, so "
        "that the operators' replay can tell it wrote it (servicekit.seal). Unset: dead letters go unsealed, and "
        "their own copies are never replayed.",
    )
    ready_stall_s: float = Field(
        default=60.0,
        gt=0,
        description="/ready fails when the consumer has lag and has made no progress for this long.",
    )
    ready_outbox_age_s: float = Field(
        default=60.0,
        gt=0,
        description="/ready fails when the oldest unpublished outbox row is older than this.",
    )
    ready_timer_overdue_s: float = Field(
        default=300.0,
        gt=0,
        description="/ready fails when a due timer has waited longer than this.",
    )
    relay_interval_s: float = Field(
        default=0.05, gt=0, description="Outbox relay poll interval when idle."
    )
    relay_batch: int = Field(default=1000, ge=1)
    scheduler_interval_s: float = Field(default=0.25, gt=0)
    downstream_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the consumer groups of downstream systems are read (the gauge downstream_lag).",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="The event loop: uvloop (libuv; less CPU per event, TLS included), or the "
        "standard library's asyncio loop.",
    )
    inbox_retention_days: int = Field(default=30, ge=1)
    restore_window_h: float = Field(
        default=168,
        ge=0,
        description="The oldest database backup an operator may restore, in hours: every topic the service reads "
        "must keep its records at least this long (retention.ms), or the service refuses to start, naming it.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC key that turns customer references into stable pseudonyms in logs (16 characters or "
        "more). There is no default: without it a service refuses to start, unless in development.",
    )
    log_pseudonym_key_file: Path | None = Field(
        default=None,
        description="A file holding the pseudonym key (a secret mounted into a container), when "
        "LOG_PSEUDONYM_KEY is not set.",
    )
    development: bool = Field(
        default=False,
        description="Development: a missing pseudonym key is replaced by a random one per process. Implied by the "
        "simulated clock; never set in production.",
    )
    clock: Literal["system", "simulated"] = Field(
        default="system",
        description="`simulated` lets demos and black-box tests move time; never set it in production.",
    )

    clock_start: AwareDatetime | None = Field(
        default=None,
        description="With the simulated clock: the instant it starts at (ISO 8601 with offset); default now.",
    )

    jwt_public_keys: list[str] = Field(
        default_factory=list,
        description="PEM public keys (inline, or paths of PEM files) whose signatures the HTTP endpoints accept, as a "
        "JSON list. None configured: every request but /health and /ready is refused.",
    )
    jwt_issuer: str = Field(
        default="https://login.internal/officers", description="Required `iss` of tokens."
    )
    jwt_audience: str = Field(
        default="", description="Required `aud` of tokens; defaults to the service name."
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: list(ASYMMETRIC_ALGORITHMS),
        description="Accepted signature algorithms (asymmetric only).",
    )
    jwt_leeway_s: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew allowed on exp and nbf."
    )
    jwt_max_lifetime_s: float = Field(
        default=12 * 3600,
        gt=0,
        le=7 * 86400,
        description="The longest a token may live (exp - iat; iat is required).",
    )

    def bearer_auth(self) -> BearerAuth:
        return BearerAuth(
            public_keys=self.jwt_public_keys,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience or self.service_name,
            algorithms=self.jwt_algorithms,
            leeway_s=self.jwt_leeway_s,
            max_lifetime_s=self.jwt_max_lifetime_s,
        )

    @field_validator(
        "clock_start",
        "log_pseudonym_key",
        "log_pseudonym_key_file",
        "kafka_sasl_password",
        "kafka_sasl_password_file",
        "kafka_ssl_cafile",
        "database_password_file",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "dlq_seal_key_file",
        mode="before",
    )
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return (
            None if value == "" else value
        )  # CLOCK_START= (a compose file's empty default) means "not set"

    def pseudonym_key(self) -> bytes:
        """The log pseudonym key; refuses (``ValueError``) a missing or short one outside development, where a
        missing one is a random key for this process only (pseudonyms then differ between processes)."""
        key = (
            self.log_pseudonym_key.get_secret_value() if self.log_pseudonym_key is not None else ""
        )
        if not key and self.log_pseudonym_key_file is not None:
            key = self.log_pseudonym_key_file.read_text().strip()
        if len(key) >= MIN_PSEUDONYM_KEY_CHARS and key not in PUBLIC_KEYS:
            return key.encode()
        if self.development or self.clock == "simulated":
            return secrets.token_hex(32).encode()
        raise ValueError(
            f"LOG_PSEUDONYM_KEY must be a secret of at least {MIN_PSEUDONYM_KEY_CHARS} characters (e.g. "
            "`openssl rand -hex 32`): a known or missing key lets anyone map pseudonyms back to customers"
        )

    @property
    def kafka_principal(self) -> str:
        return self.kafka_sasl_username or self.service_name

    def kafka_password(self) -> str | None:
        """The SASL password, from the setting or else its file; None when neither is set."""
        if self.kafka_sasl_password is not None:
            return self.kafka_sasl_password.get_secret_value()
        if self.kafka_sasl_password_file is not None:
            return self.kafka_sasl_password_file.read_text().strip()
        return None

    def database_dsn(self) -> str:
        """DATABASE_URL, with the password from DATABASE_PASSWORD_FILE when that is set."""
        if self.database_password_file is None:
            return self.database_url
        url = urlsplit(self.database_url)
        password = quote(self.database_password_file.read_text().strip(), safe="")
        host = f"[{url.hostname}]" if ":" in (url.hostname or "") else url.hostname
        netloc = f"{url.username or ''}:{password}@{host}{f':{url.port}' if url.port else ''}"
        return urlunsplit(url._replace(netloc=netloc))

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.topic_prefix}{self.service_name}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


_read_shared_names(ServiceSettings)
