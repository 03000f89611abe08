"""Process entry point shared by the services (``python -m <service>``)."""

from __future__ import annotations

import asyncio

from servicekit.logs import configure_logging
from servicekit.service import ServiceRuntime, ServiceSpec
from servicekit.settings import ServiceSettings


def run(spec: ServiceSpec, settings: ServiceSettings) -> None:
    configure_logging(service=spec.name, level=settings.log_level,
                      pseudonym_key=settings.log_pseudonym_key.get_secret_value().encode())
    asyncio.run(ServiceRuntime(spec, settings).serve())
