"""The peer row: the expenses decision written the way a typical team would with FastStream.

One FastStream subscriber per topic, FastStream decoding and validating each message into its pydantic model;
per message one database transaction (the inbox claim, the expense loaded and locked, decided, saved), and
after the commit each output published with ``broker.publish`` and awaited, then the offset committed
(``NACK_ON_ERROR``: a failure is redelivered). The decision, the store, the logging and the security are the
service's own, so the difference the bench shows is the design: per-message transactions and publishes, and
FastStream's consume path, against the service's per-poll transactions and its outbox relay.

    python -m bench.peer     (the expenses service's environment; prints "ready" once it consumes)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import uvloop
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy

from contracts.catalogue import CATALOGUE, PAYMENT_ATTEMPTS
from contracts.expenses import PaymentAttempted
from expenses.app import SPEC, ExpensesSettings
from expenses.handlers import on_payment_attempts
from servicekit.broker import make_broker
from servicekit.db import create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS, claim
from servicekit.logs import configure_logging


async def serve(settings: ExpensesSettings) -> None:
    pool = await create_pool(settings.database_dsn(), settings.schema_name, settings.db_pool_size)
    await migrate(pool, settings.schema_name, (*RUNTIME_MIGRATIONS, *SPEC.migrations))
    broker: KafkaBroker = make_broker(settings)
    now = settings.clock_start or datetime.now(UTC)

    @broker.subscriber(
        settings.topic(PAYMENT_ATTEMPTS.name),
        group_id=settings.group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_attempt(attempt: PaymentAttempted) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if not await claim(conn, [(str(attempt.event_id), PAYMENT_ATTEMPTS.name, None)]):
                return  # handled before
            attempts = await on_payment_attempts.load(conn, [attempt])
            outputs = attempts.step(attempt, now)
            await attempts.save(conn)
        for event in outputs:
            await broker.publish(
                event.to_json(),
                settings.topic(CATALOGUE.topic_of(event).name),
                key=event.key.encode(),
                headers={"content-type": "application/json", "event_type": event.event_type},
            )

    await broker.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()
        await pool.close()


def main() -> None:
    settings = ExpensesSettings()
    configure_logging(
        service="peer", level=settings.log_level, pseudonym_key=settings.pseudonym_key(), cache=True
    )
    loop_factory = uvloop.new_event_loop if settings.event_loop == "uvloop" else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
