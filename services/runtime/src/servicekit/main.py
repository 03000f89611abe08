"""Process entry point shared by the services (``python -m <service>``)."""

from __future__ import annotations

import asyncio

import uvloop

from servicekit.logs import configure_logging
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


def run(spec: ServiceSpec, settings: ServiceSettings) -> None:
    try:
        key = settings.pseudonym_key()
    except ValueError as exc:
        raise SystemExit(f"{spec.name}: not started: {exc}") from None
    configure_logging(service=spec.name, level=settings.log_level, pseudonym_key=key, cache=True)
    loop_factory = uvloop.new_event_loop if settings.event_loop == "uvloop" else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(ServiceRuntime(spec, settings).serve())
