"""Process entry point shared by the services (``python -m <service>``)."""

from __future__ import annotations

import asyncio

from servicekit.logs import configure_logging
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


def run(spec: ServiceSpec, settings: ServiceSettings) -> None:
    try:
        key = settings.pseudonym_key()
    except ValueError as exc:
        raise SystemExit(f"{spec.name}: not started: {exc}") from None
    configure_logging(service=spec.name, level=settings.log_level, pseudonym_key=key)
    asyncio.run(ServiceRuntime(spec, settings).serve())
