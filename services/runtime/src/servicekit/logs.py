"""structlog JSON logging for operators, with a redaction processor driven by an allowlist.

Only fields named in ``ALLOWED_FIELDS`` reach the output; any other field's value is replaced by
``[redacted]``. Customer references are turned into stable pseudonyms. Names, phone numbers,
addresses, notes and safety flags therefore cannot reach a log line, even by mistake.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import hmac
import logging
import sys
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import structlog

from servicekit.tracing import add_trace_ids

REDACTED = "[redacted]"

ALLOWED_FIELDS = frozenset(
    {
        # structlog's own
        "event",
        "level",
        "timestamp",
        "component",
        # correlation
        "service",
        "instance",
        "event_id",
        "event_type",
        "correlation_id",
        "causation_id",
        "trace_id",
        "span_id",
        "message_id",
        # transport
        "topic",
        "partition",
        "offset",
        "group_id",
        "count",
        "batch",
        "pending",
        "published",
        "duplicates",
        "dead_lettered",
        "handled",
        "attempt",
        "transient",
        "retry_in_s",
        "duration_ms",
        "port",
        "host",
        "version",
        "bootstrap_servers",
        "schema",
        "migration",
        "topics",
        "fired",
        "timer_key",
        "check",
        "checks",
        # aggregates and outcomes (identifiers, never personal data)
        "msp_id",
        "expense_id",
        "work_item_key",
        "work_item_id",
        "step",
        "procedure_step",
        "status",
        "outcome",
        "reason",
        "reason_code",
        "error_type",
        "deadline",
        "kind",
        "queue",
        "agency",
        "code",
        "tick_off",
        # staff identifiers (who read or changed what: the audit trail), never customers'
        "officer_id",
        "page",
    }
)

PSEUDONYMISED_FIELDS = frozenset({"customer_ref"})
PSEUDONYMS_CACHED = 8192
"""Customer references whose pseudonym is remembered (each is an HMAC: a few microseconds saved per line)."""


class Redactor:
    """The processor: keeps allowlisted fields, pseudonymises customer references, redacts the rest."""

    def __init__(self, pseudonym_key: bytes, allowed: Iterable[str] = ALLOWED_FIELDS) -> None:
        self._key = pseudonym_key
        self._allowed = frozenset(allowed)
        self._pseudonym = lru_cache(maxsize=PSEUDONYMS_CACHED)(
            self._hmac
        )  # a case's lines repeat its customer

    def pseudonym(self, value: object) -> str:
        return self._pseudonym(str(value))

    def _hmac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return f"cust-{digest[:12]}"

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key in self._allowed:
                continue
            if key in PSEUDONYMISED_FIELDS:
                event_dict[key] = self.pseudonym(event_dict[key])
            else:
                event_dict[key] = REDACTED
        return event_dict


def _flush_at_exit() -> None:
    for sink in _GATHERING:
        sink.flush()


_GATHERING: list[LineSink] = []
atexit.register(_flush_at_exit)


class LineSink:
    """Where the JSON lines go. To the process's own stdout, the lines logged in one turn of the event loop (a
    poll's transitions, say) are written with one call at the end of that turn; an error, and any line logged
    outside a running loop, is written at once, and whatever waits is written at exit. Any other stream (a test
    reading what was logged) gets each line as it is logged."""

    def __init__(self, stream: Any, *, gather: bool) -> None:
        self._binary = getattr(stream, "buffer", None)
        self._text = stream
        self._gather = gather
        self._pending: list[bytes] = []
        self._scheduled = False
        if gather:
            _GATHERING[:] = [
                self
            ]  # the one flushed at exit: a reconfiguration replaces it, not adds to it

    def write(self, line: bytes, *, now: bool = False) -> None:
        self._pending.append(line)
        if now or not self._gather:
            self.flush()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            loop.call_soon(self.flush)
            self._scheduled = True

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        data = b"\n".join(lines) + b"\n"
        if self._binary is not None:
            self._binary.write(data)
            self._binary.flush()
        else:
            self._text.write(data.decode())
            self._text.flush()


class LineLogger:
    """structlog's logger: hands each rendered line to the sink; errors leave at once."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink

    def msg(self, message: bytes) -> None:
        self._sink.write(message)

    def error(self, message: bytes) -> None:
        self._sink.write(message, now=True)

    log = debug = info = warn = warning = msg
    fatal = failure = err = critical = exception = error


def stamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The line's time, in UTC: :func:`render` writes it (``2026-12-07T20:21:36.155338Z``) without a formatting call
    of its own (structlog's ISO stamper cost 1.3 us a line, this 0.3)."""
    event_dict["timestamp"] = datetime.now(UTC)
    return event_dict


def render(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> bytes:
    """One JSON line as bytes (orjson: a tenth of the standard library's time). Times in RFC 3339 with a ``Z``, ids
    (UUIDs) as their text, and any value orjson does not know as its ``str``."""
    return orjson.dumps(event_dict, default=str, option=orjson.OPT_UTC_Z)


def configure_logging(
    *,
    service: str,
    level: str = "INFO",
    pseudonym_key: bytes,
    stream: Any = None,
    cache: bool = False,
) -> None:
    """JSON lines on stdout. Safe to call again (tests reconfigure per service) unless ``cache``: a process that
    configures once caches each logger on first use, which saves rebuilding it for every line."""
    redactor = Redactor(pseudonym_key)
    sink = LineSink(stream or sys.stdout, gather=stream is None)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            add_trace_ids,
            redactor,
            render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=lambda *_args: LineLogger(sink),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.bind_contextvars(service=service)
    _TRANSITIONS[:] = [
        _Transitions(sink, redactor, logging.getLevelNamesMapping()[level] <= logging.INFO)
    ]
    # Libraries (aiokafka, uvicorn, faststream, asyncpg) log through the standard library: their warnings and
    # errors become the same JSON lines, redacted alike, at the level they deserve; none of their chatter.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, LibraryHandler)]:
        root.removeHandler(handler)
    root.addHandler(LibraryHandler())
    root.setLevel(logging.WARNING)


TRANSIENT_AT_START = (
    "GroupCoordinatorNotAvailableError",
    "not found in cluster metadata",
    "StaleMetadata",
    "NodeNotReadyError",
    "CoordinatorLoadInProgressError",
    "NotCoordinatorForGroupError",
)
"""What aiokafka reports as an error while a cluster is starting, a group forming or a leader moving, and retries
by itself: not an alarm, nor news (issue 41: "Group Coordinator Request failed: [Error 15]" at info was noise in
every start). Written at debug: a service's readiness says whether the group formed."""


def deserved_level(record: logging.LogRecord) -> int:
    """A library record's level as an operator should read it."""
    if (
        record.name.startswith("aiokafka")
        and record.levelno >= logging.WARNING
        and any(marker in record.getMessage() for marker in TRANSIENT_AT_START)
    ):
        return logging.DEBUG
    return record.levelno


LIBRARY_MESSAGE_CHARS = 300
"""Most characters of a library's message that a line carries (its first line only)."""


def library_message(text: str, fields: dict[str, Any]) -> str:
    """A library's message as a line may carry it: its first line, cut short. A traceback logged as text (faststream,
    uvicorn) becomes the exception's type alone, in ``error_type``: its last line may quote a value."""
    if "Traceback (most recent call last)" in text:
        last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
        fields.setdefault("error_type", last.split(":", 1)[0].rsplit(".", 1)[-1].strip()[:64])
        return "traceback"
    return text.split("\n", 1)[0][:LIBRARY_MESSAGE_CHARS]


class LibraryHandler(logging.Handler):
    """The standard library's records as the service's own JSON lines: ``component`` is the library's logger,
    ``event`` its message; an exception is given by its type alone (its text may quote a value)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = deserved_level(record)
            fields: dict[str, Any] = {"component": record.name}
            if record.exc_info and record.exc_info[0] is not None:
                fields["error_type"] = record.exc_info[0].__name__
            structlog.get_logger().log(
                level, library_message(record.getMessage(), fields), **fields
            )
        except Exception:  # noqa: BLE001 - logging must never break the code that logs
            self.handleError(record)


def log_transition(component: str, event: Any, *fields: str) -> None:
    """One line per state transition: the event's type and ids, plus the named fields it has.

    The line is the one ``get_logger(component).info(event.event_type, ...)`` writes, field for field, redacted by the
    same :class:`Redactor`; but built here and handed to the sink, not through structlog's processors, which read
    every context variable, the level and the exception of each line anew (issue 42: a poll writes a line per
    transition; 8.5 -> 5.1 us a line. ``tests/runtime/test_logs.py`` holds the two to the same line)."""
    lines = _TRANSITIONS[0] if _TRANSITIONS else None
    # a model's fields (a missing one costs pydantic an exception through getattr)
    values = vars(event)
    if lines is None:  # logging not configured by configure_logging: structlog's defaults
        extra = {f: v for f in fields if (v := values.get(f)) is not None}
        get_logger(component).info(
            event.event_type, event_id=event.event_id, correlation_id=event.correlation_id, **extra
        )
        return
    if not lines.info:
        return
    line: dict[str, Any] = {
        "component": component,
        "event_id": event.event_id,  # a UUID: the renderer writes it (str() cost 0.5 us each)
        "correlation_id": event.correlation_id,
    }
    for f in fields:
        if (v := values.get(f)) is not None:
            line[f] = v
    line["event"] = event.event_type
    for name, value in structlog.contextvars.get_contextvars().items():
        line.setdefault(name, value)
    line["level"] = "info"
    stamp(None, "info", line)
    lines.sink.write(
        render(None, "info", lines.redactor(None, "info", add_trace_ids(None, "info", line)))
    )


@dataclass(frozen=True)
class _Transitions:
    """Where :func:`log_transition` writes, as :func:`configure_logging` last set it."""

    sink: LineSink
    redactor: Redactor
    info: bool
    """Whether the configured level lets an ``info`` line through."""


_TRANSITIONS: list[_Transitions] = []
"""The one :func:`configure_logging` set last (none before it is called)."""


def get_logger(name: str = "service") -> Any:
    return structlog.get_logger(component=name)
