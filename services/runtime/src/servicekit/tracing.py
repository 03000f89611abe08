"""OpenTelemetry traces across the services: W3C trace context in Kafka headers, kept through the outbox and the
timers, exported over OTLP when (and only when) an endpoint is configured.

The runtime owns every seam, so the context is never lost where a framework would lose it:

* a consumed record's ``traceparent`` header continues its trace (hostile bytes start a new one); its sampled flag
  and any ``tracestate`` are ignored: sampling is decided here (:func:`our_sampler`);
  its ``process`` span says what became of it (handled, duplicate, dead-lettered and why);
* what a decision sends is written to the outbox with the context of the record (or the officer's request, or the
  timer) that caused it, in the row (``outbox.trace_context``); the relay's ``send`` span is that context's child,
  linked to it, and the record goes out with the ``send`` span's context;
* a timer stores the context of the message that set it; its firing, days later, starts a trace of its own,
  linked to that one.

Standard configuration, read from the environment by the SDK: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) switches tracing on (OTLP over HTTP/protobuf), ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``, and ours,
``OTEL_EXPORTER_OTLP_BEARER_TOKEN_FILE`` (a mounted secret sent as a bearer token: the stand-in receiver's);
the sampler is the trace id's ratio
(``OTEL_TRACES_SAMPLER_ARG``, 1.0 unless set) whatever the parent's flag, unless ``OTEL_TRACES_SAMPLER`` names another;
``OTEL_SDK_DISABLED=true`` turns it off. The web framework's own instrumentation is off
(:data:`servicekit.http.web.TELEMETRY`): its HTTP spans carry the path and query, where sign-in codes and customer
references travel. Off, no span is recorded, but a record's context still passes through to what it causes.

No attribute holds personal data: topics, partitions, offsets, event types and ids, reason codes and rule ids only
(``tests/runtime/test_tracing.py`` checks the spans of real messages).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from faststream.asgi.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts.procedures import APPLIED

PROPAGATOR = TraceContextTextMapPropagator()
HEADERS = ("traceparent",)
"""The trace header read from a record and kept with what it causes. ``tracestate`` is not: it is another vendor's
opaque state, which an upstream system could otherwise have ride on every record downstream."""
MAX_HEADER = 512
"""Longest trace header value read (W3C allows tracestate up to 512 characters); a longer one is ignored."""
TRACER = trace.get_tracer("servicekit")
_provider: Any = None

Carrier = dict[str, str]


def enabled() -> bool:
    """Whether spans are recorded and exported (an OTLP endpoint configured)."""
    return _provider is not None


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Install the SDK's tracer provider with the OTLP exporter when the environment names an endpoint. Returns
    whether it did."""
    global _provider  # noqa: PLW0603 - one provider per process, as the SDK has it
    given = os.environ if env is None else env
    endpoint = given.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or given.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint or given.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    sampler = None  # the SDK's choice from OTEL_TRACES_SAMPLER
    if not given.get("OTEL_TRACES_SAMPLER"):
        sampler = our_sampler(float(given.get("OTEL_TRACES_SAMPLER_ARG") or 1.0))
    resource = Resource.create({"service.name": given.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource, sampler=sampler)
    token_file = given.get("OTEL_EXPORTER_OTLP_BEARER_TOKEN_FILE")
    headers = (
        {"Authorization": f"Bearer {Path(token_file).read_text().strip()}"} if token_file else None
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(headers=headers)))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def our_sampler(ratio: float) -> Any:
    """Sampling decided here, never by whoever sent a record: a record's ``traceparent`` names its parent, but its
    sampled flag is ignored (an upstream system could otherwise have every trace recorded, or none). The trace id
    decides, by ``ratio``: each service decides the same for one trace, so a trace is whole or absent."""
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    ours = TraceIdRatioBased(ratio)
    return ParentBased(ours, remote_parent_sampled=ours, remote_parent_not_sampled=ours)


def shutdown() -> None:
    """Export what is buffered (a stopping service)."""
    if _provider is not None:
        _provider.shutdown()


def carrier_from_headers(headers: Iterable[tuple[bytes, bytes | None]]) -> Carrier:
    """The trace headers of a record, read as bytes: names compared without case, values kept only when ASCII and
    short. Anything else is ignored (a new trace starts), never raised."""
    found: Carrier = {}
    for name, value in headers:
        wanted = name.lower().decode("ascii", "replace")
        if wanted in HEADERS and value is not None and len(value) <= MAX_HEADER and value.isascii():
            found.setdefault(wanted, value.decode("ascii"))
    return found


def context_of(carrier: Mapping[str, str] | None) -> Context:
    """The context a carrier names; an empty one when it names none (or an invalid one)."""
    return PROPAGATOR.extract(dict(carrier)) if carrier else Context()


def carrier_of(span: Span) -> Carrier:
    """``span``'s context as trace headers (empty when it has no valid context)."""
    carrier: Carrier = {}
    # a span of no trace has nothing to say (issue 42: 0.8 us a record)
    if span.get_span_context().is_valid:
        PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier


def stored(carrier: Mapping[str, str]) -> str | None:
    """A carrier as the outbox and timer rows keep it."""
    return json.dumps(dict(carrier), separators=(",", ":")) if carrier else None


def loaded(text: str | None) -> Carrier:
    """A stored carrier (``None``, or text that does not read as one, is none)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in HEADERS and isinstance(v, str)}


def current_carrier() -> Carrier:
    """The current span's context as trace headers (what an officer's request, say, passes to its command)."""
    return carrier_of(trace.get_current_span())


def link_to(context: Context) -> list[Link]:
    """A link to the span ``context`` names, if it names a valid one."""
    span_context = trace.get_current_span(context).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


def ids(span: Span | None = None) -> tuple[str, str] | None:
    """(trace id, span id) of ``span`` (the current one by default), as hex; ``None`` without a valid context."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on every line written inside one."""
    found = ids()
    if found is not None:
        event_dict.setdefault("trace_id", found[0])
        event_dict.setdefault("span_id", found[1])
    return event_dict


CASE_FIELDS = frozenset({"msp_id", "expense_id", "work_item_id"})
"""The ids a span may name its case by (issue 41: find a case's traces by its id). Never a customer reference:
an MSP's, an expense's or a work item's id is the system's own, and no personal data."""
MAX_CASE_CHARS = 200


def case(span: Span, key_field: str, key: str) -> None:
    """Name the case a span is about (``msp_im.case_id``, and its kind in ``msp_im.case_kind``), where ``key_field``
    is one of :data:`CASE_FIELDS` and the id is printable and bounded; nothing otherwise."""
    if key_field in CASE_FIELDS and case_key(span, key):
        span.set_attribute("msp_im.case_kind", key_field.removesuffix("_id"))


def current_span() -> Span:
    return trace.get_current_span()


def case_key(span: Span, key: str) -> bool:
    """Name the case of a record the service itself keyed (its output's key is the aggregate id the catalogue names:
    an MSP's, an expense's or a work item's), where the kind is not known here; whether it was named (a span that
    is recorded, an id printable and bounded)."""
    named = span.is_recording() and 0 < len(key) <= MAX_CASE_CHARS and key.isprintable()
    if named:
        span.set_attribute("msp_im.case_id", key)
    return named


def failed(span: Span, reason: str) -> None:
    """Mark ``span`` as not done, with the reason code (never a value of the message)."""
    span.set_attribute("msp_im.reason", reason)
    span.set_status(Status(StatusCode.ERROR, reason))


def raised(span: Span, exc: BaseException) -> None:
    """An exception on ``span``: its type only. An exception's message may quote what it was given (a field of the
    message, a customer's text), so it never leaves the process in a span: the SDK's ``record_exception`` (the
    message and the stack) is never used."""
    span.set_attribute("error.type", type(exc).__name__)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@contextlib.contextmanager
def current(span: Span) -> Iterator[Span]:
    """``span`` current for a while (log lines written meanwhile carry it), not ended; an exception that passes is
    recorded by its type only (:func:`raised`)."""
    with trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    ):
        try:
            yield span
        except BaseException as exc:
            raised(span, exc)
            raise


def decision(parent: Span, event_type: str) -> contextlib.AbstractContextManager[Span]:
    """A ``decide`` span under ``parent`` (current while it runs, so log lines carry it), with the rules whose code
    ran and the kinds of event decided (:func:`decided`). Under a span that is not recorded (tracing off, or a trace
    not sampled) no child is made: ``parent`` is current instead, and costs nothing more; under no trace at all (a
    record without one, tracing off) nothing is made current, by a plain ``nullcontext`` (issue 42: a generator's
    context cost a record 1 us more)."""
    if not parent.is_recording():
        if not parent.get_span_context().is_valid:
            return contextlib.nullcontext(parent)
        return current(parent)
    return _decision(parent, event_type)


@contextlib.contextmanager
def _decision(parent: Span, event_type: str) -> Iterator[Span]:
    with TRACER.start_as_current_span(
        f"decide {event_type}",
        context=trace.set_span_in_context(parent),
        attributes={"msp_im.event_type": event_type},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        token = APPLIED.set(set()) if span.is_recording() else None
        try:
            yield span
        except BaseException as exc:
            raised(span, exc)
            raise
        finally:
            if token is not None:
                span.set_attribute("msp_im.rules", sorted(APPLIED.get() or ()))
                APPLIED.reset(token)


def decided(span: Span, outputs: Iterable[Any]) -> None:
    if span.is_recording():
        span.set_attribute("msp_im.outputs", [type(e).__name__ for e in outputs])


def consume_span(topic: str, partition: int, offset: int, carrier: Carrier, group: str) -> Span:
    """A consumed record's ``process`` span, continuing the trace its headers name (OpenTelemetry's messaging
    conventions); not current: the pipeline makes it current where it works on that record. Tracing off and no
    trace named, the span is the invalid one, as the no-op tracer would make it, without its attributes built first
    (issue 42)."""
    if not carrier and not enabled():
        return INVALID_SPAN
    return TRACER.start_span(
        f"{topic} process",
        context=context_of(carrier),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "messaging.consumer.group.name": group,
        },
    )


def sampled(carrier: Mapping[str, str]) -> bool:
    """Whether the context a carrier names is sampled (its ``traceparent`` flags): a row caused in a trace that is
    not sampled is sent with that context as it is, with no span of its own."""
    flags = carrier.get("traceparent", "")[-2:]
    try:
        return bool(int(flags, 16) & 1)
    except ValueError:
        return False


def send_span(topic: str, carrier: Carrier, event_id: str) -> Span:
    """The relay's ``send`` span of one outbox row: a child of the context stored with the row (the record, the
    request or the timer that caused it), and linked to it."""
    cause = context_of(carrier)
    return TRACER.start_span(
        f"{topic} send",
        context=cause,
        kind=SpanKind.PRODUCER,
        links=link_to(cause),
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
        },
    )


CAUSES: ContextVar[Mapping[str, str] | None] = ContextVar("trace_causes", default=None)
"""While a poll is handled: each handled event's id -> the stored context of its ``process`` span (what a service
keeps with a timer the event sets, :func:`cause`)."""


def cause(event_id: object) -> str | None:
    """The stored trace context of the event ``event_id`` being handled now, if any."""
    return (CAUSES.get() or {}).get(str(event_id))


def transaction_span(records: Iterable[Span]) -> Span:
    """A poll's database transaction: one span (the poll mixes traces), under the first recorded record's
    ``process`` span and linked to each that is recorded; none when no record of the poll is (tracing off, or none
    sampled)."""
    recorded = [s for s in records if s.is_recording()]
    if not recorded:  # tracing off, or none of the poll's records sampled
        return INVALID_SPAN
    links = [Link(s.get_span_context()) for s in recorded]
    # under the poll's first recorded record, linked to each: no trace of its own (issue 41: a trace list of
    # single-span "transaction" roots)
    return TRACER.start_span(
        "transaction",
        context=trace.set_span_in_context(recorded[0]),
        kind=SpanKind.CLIENT,
        links=links,
        attributes={
            "db.system.name": "postgresql",
            "db.operation.name": "transaction",
            "messaging.batch.message_count": len(links),
        },
    )


def fire_span(key: str, cause: str | None) -> Span:
    """A timer's ``fire`` span: a trace of its own (days may have passed), linked to the stored context of the
    message that set the deadline. ``key`` is the timer's key (an aggregate id and a period: no personal data)."""
    return TRACER.start_span(
        "timer fire",
        context=Context(),
        kind=SpanKind.INTERNAL,
        links=link_to(context_of(loaded(cause))),
        attributes={"msp_im.timer.key": key},
    )


UNTRACED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Requests that change nothing get no span (issue 41: every page view was a trace of its own, flooding the list)."""


def requests(app: ASGIApp) -> ASGIApp:
    """An HTTP ``server`` span for each request that may change something (an officer's action: a POST, ...), the
    root of its trace: what the request does (the officer's command, and all it causes) happens under it. Named by
    its method and route template (``POST /commands/CeaseExpense``), never its path or query, where references
    and sign-in codes travel; it says the response's status."""

    async def traced(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in UNTRACED_METHODS:
            await app(scope, receive, send)
            return
        method = str(scope["method"])
        with TRACER.start_as_current_span(
            method,
            context=Context(),  # a browser's or a client's trace context is not taken
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            async def answered(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, str(status)))
                await send(message)

            try:
                await app(scope, receive, answered)
            except BaseException as exc:
                raised(span, exc)
                raise
            finally:
                # the route's template; under a mount (the console's pages at /ui), with the mount's path
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    route = str(scope.get("root_path") or "") + route
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")

    return traced


@contextlib.contextmanager
def officer_command(command_type: str) -> Iterator[Span]:
    """An officer's action (the console's command API or a page): a span under the officer's request (its
    :func:`requests` span; a trace of its own where there is none), current while the command is checked and
    written, so the command goes out in it. Its outcome comes later, from the service: :func:`command_answered`."""
    under_request = trace.get_current_span().get_span_context().is_valid
    # Under a request, the current context (None) holds the request's span; else a trace of its own.
    with TRACER.start_as_current_span(
        f"officer command {command_type}",
        context=None if under_request else Context(),
        kind=SpanKind.INTERNAL if under_request else SpanKind.SERVER,
        attributes={"msp_im.command_type": command_type},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            status = getattr(span, "status", None)  # the SDK's recorded span; the API's has none
            if status is None or status.status_code is not StatusCode.ERROR:
                raised(span, exc)  # a refusal has said its reason code already
            raise


def command_answered(
    command_type: str, command_id: str, waited_s: float, outcome: str, reason: str | None
) -> None:
    """The outcome of an officer's command, once its service answered, in the command's trace (the answer's record
    continues it): a span under what is current (the answer's ``decide``), with how long the officer waited by the
    service's clock. A command's trace reads from the officer's request to its outcome."""
    span = TRACER.start_span(
        f"officer command {command_type} answered",
        kind=SpanKind.INTERNAL,
        attributes={
            "msp_im.command_type": command_type,
            "messaging.message.id": command_id,
            "msp_im.outcome": outcome,
            "msp_im.waited_s": round(waited_s, 3),
        },
    )
    if reason:
        failed(span, reason)
    span.end()
