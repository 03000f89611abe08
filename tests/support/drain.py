"""Waiting for a service to finish its work: a bounded poll on a condition, never a fixed sleep."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from servicekit.service import ServiceRuntime
from tests.support.kafka_tools import consumed_everything, eventually, read_all


async def drained(runtime: ServiceRuntime) -> bool:
    """The service has committed every record of its topics and published every row of its outbox."""
    async with runtime.pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM outbox"):
            return False
    topics = runtime.consumer.topics if runtime.consumer is not None else ()
    return await consumed_everything(
        runtime.settings.kafka_bootstrap_servers, runtime.settings.group_id, topics
    )


async def read_settled(
    runtime: ServiceRuntime, topic: str, *, timeout: float = 60.0
) -> list[ConsumerRecord[Any, Any]]:
    """Everything on ``topic`` once ``runtime`` has drained: what it will ever publish for what it was sent."""
    await eventually(lambda: drained(runtime), timeout=timeout, what=f"{runtime.spec.name} drained")
    return await read_all(runtime.settings.kafka_bootstrap_servers, topic)
