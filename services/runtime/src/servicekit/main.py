"""Process entry point shared by the services (``python -m <service>``)."""

from __future__ import annotations

import asyncio

import uvloop

from servicekit.logs import configure_logging
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings
from servicekit.tracing import configure_tracing
from servicekit.tracing import shutdown as shutdown_tracing


def run(spec: ServiceSpec, settings: ServiceSettings) -> None:
    try:
        key = settings.pseudonym_key()
    except ValueError as exc:
        raise SystemExit(f"{spec.name}: not started: {exc}") from None
    configure_logging(service=spec.name, level=settings.log_level, pseudonym_key=key, cache=True)
    configure_tracing(spec.name)  # off unless OTEL_EXPORTER_OTLP_ENDPOINT names a collector
    loop_factory = uvloop.new_event_loop if settings.event_loop == "uvloop" else None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(ServiceRuntime(spec, settings).serve())
    finally:
        shutdown_tracing()  # what is buffered is exported before the process ends
