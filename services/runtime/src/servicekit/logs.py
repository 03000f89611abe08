"""structlog JSON logging for operators, with a redaction processor driven by an allowlist.

Only fields named in ``ALLOWED_FIELDS`` reach the output; any other field's value is replaced by
``[redacted]``. Customer references are turned into stable pseudonyms. Names, phone numbers,
addresses, notes and safety flags therefore cannot reach a log line, even by mistake.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

ALLOWED_FIELDS = frozenset({
    # structlog's own
    "event", "level", "timestamp", "component",
    # correlation
    "service", "instance", "event_id", "event_type", "correlation_id", "causation_id", "message_id",
    # transport
    "topic", "partition", "offset", "group_id", "count", "batch", "pending", "published", "duplicates",
    "dead_lettered", "handled", "attempt", "transient", "retry_in_s", "duration_ms", "port", "version", "bootstrap_servers",
    "schema", "migration", "topics", "fired", "timer_key", "check", "checks",
    # aggregates and outcomes (identifiers, never personal data)
    "msp_id", "expense_id", "work_item_key", "work_item_id", "step", "procedure_step", "status", "outcome",
    "reason", "reason_code", "error_type", "deadline", "kind", "queue", "agency", "code", "tick_off",
    # staff identifiers (who read or changed what: the audit trail), never customers'
    "officer_id", "page",
})

PSEUDONYMISED_FIELDS = frozenset({"customer_ref"})


class Redactor:
    """The processor: keeps allowlisted fields, pseudonymises customer references, redacts the rest."""

    def __init__(self, pseudonym_key: bytes, allowed: Iterable[str] = ALLOWED_FIELDS) -> None:
        self._key = pseudonym_key
        self._allowed = frozenset(allowed)

    def pseudonym(self, value: object) -> str:
        digest = hmac.new(self._key, str(value).encode(), hashlib.sha256).hexdigest()
        return f"cust-{digest[:12]}"

    def __call__(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key in self._allowed:
                continue
            if key in PSEUDONYMISED_FIELDS:
                event_dict[key] = self.pseudonym(event_dict[key])
            else:
                event_dict[key] = REDACTED
        return event_dict


def configure_logging(*, service: str, level: str = "INFO", pseudonym_key: bytes, stream: Any = None) -> None:
    """JSON lines on stdout. Safe to call again (tests reconfigure per service)."""
    redactor = Redactor(pseudonym_key)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn, faststream) log through the standard library: keep their
    # warnings, in plain text on stderr, and nothing of their per-message chatter.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def log_transition(log: Any, event: Any, *fields: str) -> None:
    """One line per state transition: the event's type and ids, plus the named fields it has."""
    extra = {f: getattr(event, f) for f in fields if getattr(event, f, None) is not None}
    log.info(event.event_type, event_id=str(event.event_id), correlation_id=str(event.correlation_id), **extra)


def get_logger(name: str = "service") -> Any:
    return structlog.get_logger(component=name)
