"""Assembles one service from its spec: broker and subscribers, database, relay, scheduler, HTTP.

A service provides only a :class:`ServiceSpec` (its handlers, migrations, timers and routes);
everything about delivery, failure and operations lives here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker

from contracts.asyncapi import document
from contracts.envelope import Event
from contracts.roles import OPERATIONS
from contracts.topics import Catalogue
from servicekit import tracing
from servicekit.backoff import Backoff
from servicekit.broker import make_broker, make_producer, too_short_retention
from servicekit.clock import Clock, SimulatedClock, SystemClock
from servicekit.consume.consumer import (
    Batched,
    BatchPipeline,
    ConsumerLoop,
    Handler,
    Route,
    to_outbound,
)
from servicekit.db import Migration, create_pool, migrate
from servicekit.delivery.outbox import (
    RUNTIME_MIGRATIONS,
    OutboundMessage,
    Queued,
    backlog,
    purge_inbox,
)
from servicekit.delivery.relay import OutboxRelay
from servicekit.downstream import DownstreamWatch, watched
from servicekit.http.auth import guarded, needs_role
from servicekit.http.endpoints import operational_routes, with_timeout
from servicekit.logs import get_logger
from servicekit.metrics import Metrics
from servicekit.settings import ServiceSettings
from servicekit.timers.scheduler import Scheduler, Timers, quarantined

log = get_logger("servicekit.service")

Routes = Callable[["ServiceRuntime"], Sequence[tuple[str, ASGIApp]]]
CONSUME_OUTCOMES = ("handled", "duplicate", "dead_lettered")
"""What becomes of a consumed message (``messages_consumed_total{outcome}``)."""
OPEN_PATHS = frozenset({"/health", "/ready"})
"""Liveness and readiness answer without a token, whatever the service's API guard."""
OPERATIONS_PATHS = frozenset({"/metrics", "/asyncapi.json", "/clock"})
"""What only a token with the operations role opens (:data:`contracts.roles.OPERATIONS`): never an officer's."""


@dataclass(frozen=True)
class HttpApi:
    """A service's own HTTP API, served beside the operational endpoints on the same port."""

    app: ASGIApp
    handles: Callable[[str], bool]
    """Which request paths go to ``app`` (prefix routes, such as ``/work-items/{id}``)."""
    own_auth: Callable[[str], bool] | None = None
    """Paths whose app authenticates every request itself (a console's pages, by their server-side session); every
    other path needs the bearer header."""

    @classmethod
    def of(
        cls,
        make_api: Callable[[ServiceRuntime], ASGIApp],
        handles: Callable[[str], bool],
        own_auth: Callable[[str], bool] | None = None,
    ) -> Callable[[ServiceRuntime], HttpApi]:
        """What :attr:`ServiceSpec.api` takes: the API made for a runtime, and the paths it handles."""
        return lambda runtime: cls(app=make_api(runtime), handles=handles, own_auth=own_auth)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    version: str
    description: str
    catalogue: Catalogue
    handlers: Mapping[str, Handler | Batched]
    """Catalogue topic name -> handler for that topic's events (one at a time, or in batch form)."""
    migrations: tuple[Migration, ...] = ()
    timers: Timers | None = None
    routes: Routes | None = None
    api: Callable[[ServiceRuntime], HttpApi] | None = None
    gauges: Callable[[ServiceRuntime, asyncpg.Connection], Awaitable[None]] | None = None
    """The service's own gauges, set from its database whenever /metrics is read (the console's overdue items)."""


class _DrainingServer(uvicorn.Server):
    """The HTTP server, which says when it begins to shut down (before it waits for open answers to end)."""

    def __init__(self, config: uvicorn.Config, draining: asyncio.Event) -> None:
        super().__init__(config)
        self.draining = draining

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining.set()
        await super().shutdown(sockets)


class ServiceRuntime:
    def __init__(
        self, spec: ServiceSpec, settings: ServiceSettings, clock: Clock | None = None
    ) -> None:
        self.spec, self.settings = spec, settings
        self.clock: Clock = clock or self._clock_of(settings)
        self.metrics = Metrics(spec.name)
        self.broker: KafkaBroker = make_broker(settings)
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.scheduler: Scheduler | None = None
        self.downstream: DownstreamWatch | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.draining = asyncio.Event()
        """Set when the HTTP server begins to shut down: a long-lived answer (the console's live updates) ends
        then, so that the server need not wait for it."""
        self._relay_task: asyncio.Task[None] | None = None
        self.consumer = self._consumer() if spec.handlers else None
        routes = [*operational_routes(self), *(spec.routes(self) if spec.routes else ())]
        self.app = AsgiFastStream(
            self.broker,
            asgi_routes=routes,
            logger=None,
            on_startup=[self._start_infrastructure],
            after_startup=[self._start_loops],
            after_shutdown=[self._stop_infrastructure],
        )
        self.api = spec.api(self) if spec.api else None
        self.http_app: ASGIApp = self._front()

    @staticmethod
    def _clock_of(settings: ServiceSettings) -> Clock:
        if settings.clock == "system":
            return SystemClock()
        return (
            SimulatedClock.starting_at(settings.clock_start)
            if settings.clock_start
            else SimulatedClock()
        )

    # -- wiring -------------------------------------------------------------------------------

    def _consumer(self) -> ConsumerLoop:
        """One consumer for all the service's topics: one group member per instance, so one join at start-up
        and one rebalance per instance joining or leaving, and one transaction per poll whatever the topics."""
        routes = {
            self.settings.topic(name): Route.of(
                self.spec.catalogue[name], handler, self.settings, self.spec.catalogue
            )
            for name, handler in self.spec.handlers.items()
        }
        pipeline = BatchPipeline(
            routes=routes,
            catalogue=self.spec.catalogue,
            settings=self.settings,
            pool=lambda: self.pool,
            clock=self.clock,
            metrics=self.metrics,
            on_committed=self.hand_to_relay,
        )
        for (
            topic
        ) in routes:  # each series from the start, at 0: silence after a restart is seen (issue 41)
            for outcome in CONSUME_OUTCOMES:
                self.metrics.consumed(topic=topic, outcome=outcome)
        return ConsumerLoop(
            topics=list(routes), settings=self.settings, pipeline=pipeline, metrics=self.metrics
        )

    def _front(self) -> ASGIApp:
        """Every path but ``OPEN_PATHS`` needs a verified bearer token, in every service alike: ``/metrics``,
        ``/asyncapi.json`` and ``/clock`` as much as an API that holds personal information, and those three the
        operations role besides."""
        api, operational = self.api, needs_role(self.app, OPERATIONS, OPERATIONS_PATHS)
        auth = self.settings.bearer_auth()
        if not auth.configured:
            log.warning(
                "no JWT public key configured: every path but /health and /ready is refused (JWT_PUBLIC_KEYS)"
            )
        if api is None:
            return tracing.requests(guarded(operational, auth, OPEN_PATHS))

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and api.handles(scope["path"]):
                await api.app(scope, receive, send)
            else:
                await operational(scope, receive, send)

        return tracing.requests(guarded(front, auth, OPEN_PATHS, api.own_auth))

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service is not started")
        return self._pool

    def route(self, event: Event) -> OutboundMessage:
        """``event`` addressed to its topic, in the current span's trace (an officer's request, a timer's firing)."""
        return replace(
            to_outbound(event, self.spec.catalogue, self.settings),
            trace=tracing.stored(tracing.current_carrier()),
        )

    def hand_to_relay(self, queued: Sequence[Queued]) -> None:
        """A transaction's outbox rows, just committed: the relay publishes them without reading them back."""
        if self.relay is not None:
            self.relay.hand(queued)

    # -- lifecycle ----------------------------------------------------------------------------

    async def _start_infrastructure(self) -> None:
        s = self.settings
        self._pool = await create_pool(s.database_dsn(), s.schema_name, s.db_pool_size)
        await migrate(self._pool, s.schema_name, (*RUNTIME_MIGRATIONS, *self.spec.migrations))
        backoff = Backoff(cap=5.0)
        while True:  # the broker may still be starting (compose, a restarted cluster): wait for it
            try:
                self._producer = make_producer(s)
                await self._producer.start()
                break
            except Exception as exc:  # noqa: BLE001 - retried until the broker answers
                if self._producer is not None:
                    with contextlib.suppress(Exception):
                        await self._producer.stop()
                    self._producer = None
                delay = backoff.next()
                log.warning(
                    "Kafka unavailable at start-up, retrying",
                    error_type=type(exc).__name__,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
        await self._check_retention()
        self.downstream = DownstreamWatch(
            s, watched(self.spec.catalogue, self.spec.name, s.topic_prefix)
        )
        self.relay = OutboxRelay(
            pool=self._pool,
            producer=self._producer,
            schema=s.schema_name,
            metrics=self.metrics,
            batch=s.relay_batch,
            interval_s=s.relay_interval_s,
            renew=self._new_producer,
        )
        if self.spec.timers is not None:
            self.scheduler = Scheduler(
                pool=self._pool,
                timers=self.spec.timers,
                clock=self.clock,
                metrics=self.metrics,
                route=self.route,
                on_committed=self.hand_to_relay,
                interval_s=s.scheduler_interval_s,
            )

    async def _check_retention(self) -> None:
        """Every topic the service reads keeps its records at least ``RESTORE_WINDOW_H``: a database restored from
        a backup that old re-reads from its stored positions, which must still be on the topics."""
        s = self.settings
        short = await too_short_retention(
            s, [s.topic_prefix + t for t in self.spec.handlers], s.restore_window_h
        )
        if short:
            named = ", ".join(f"{t} keeps records {h:g} h" for t, h in short.items())
            raise SystemExit(
                f"{self.spec.name}: not started: {named}, less than the restore window of {s.restore_window_h:g} h "
                f"({self.spec.name.upper()}_RESTORE_WINDOW_H): a database restored from an older backup would "
                "find the records it must re-read gone. Raise the topic's retention.ms, or shorten the window "
                "to the oldest backup you keep."
            )

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = make_producer(self.settings)
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._producer = producer
        return producer

    async def _start_loops(self) -> None:
        assert self.relay is not None
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        if self.scheduler is not None:
            self._tasks.append(asyncio.create_task(self.scheduler.run(), name="scheduler"))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="consumer"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        if self.downstream is not None and self.downstream.pairs:
            self._tasks.append(
                asyncio.create_task(
                    self.downstream.run(self.metrics, self.settings.downstream_interval_s),
                    name="downstream-watch",
                )
            )
        log.info(
            "service started",
            version=self.spec.version,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            schema=self.settings.schema_name,
            group_id=self.settings.group_id,
        )

    async def _stop_infrastructure(self) -> None:
        """Stop consuming and firing timers (a pass cut short is rolled back and redone by the next start), let
        the relay finish its pass (cut short after the broker's acknowledgement, it would publish those rows
        again), flush the outbox, close connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.relay is not None:
            if self._relay_task is not None:
                await self.relay.stop(self._relay_task)
                self._relay_task = None
            await self.relay.drain()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        if self.downstream is not None:
            await self.downstream.close()
            self.downstream = None
        if self._pool is not None:
            await self._pool.close()
        self._pool = self._producer = self.relay = self.scheduler = None
        log.info("service stopped")

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(3600)
            with contextlib.suppress(Exception):
                async with self.pool.acquire() as conn:
                    await purge_inbox(conn, self.settings.inbox_retention_days)

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def http_server(self) -> uvicorn.Server:
        """The HTTP server whose lifespan starts and stops the whole service."""
        config = uvicorn.Config(
            self.http_app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            lifespan="on",
            log_config=None,
            access_log=False,
        )
        self.draining.clear()
        return _DrainingServer(config, self.draining)

    def http_socket(self) -> socket.socket:
        """The HTTP port, bound and listening before anything else starts: a port that is taken stops the service at
        once, with the port named (not after it has joined its consumer group). Port 0 takes a free one, which
        whoever started the process reads from the system (``devstack.procs.listening_ports``)."""
        host, port = self.settings.http_host, self.settings.http_port
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise SystemExit(
                f"{self.spec.name}: not started: cannot listen on {host}:{port} ({exc.strerror}); another process "
                f"holds it, or give this service another ({self.spec.name.upper()}_HTTP_PORT, 0 for a free one)"
            ) from None
        sock.listen(2048)
        sock.set_inheritable(False)
        log.info("http listening", host=host, port=sock.getsockname()[1])
        return sock

    async def serve(self) -> None:
        """Run until SIGINT/SIGTERM: HTTP endpoints, consumers, relay, scheduler; then shut down in order."""
        await self.http_server().serve(sockets=[self.http_socket()])

    # -- operations ---------------------------------------------------------------------------

    async def fire_timers(self) -> int:
        return await self.scheduler.fire_due() if self.scheduler is not None else 0

    async def readiness(self) -> dict[str, bool]:
        """Each check by name: connectivity, and whether work is flowing (consumer, outbox, timers)."""
        s = self.settings

        async def db() -> bool:
            async with self.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1"))

        async def broker() -> bool:
            return bool(await self.broker.ping(timeout=2.0))

        checks = {"database": await with_timeout(db), "broker": await with_timeout(broker)}
        gauges = await self.refresh_gauges()
        if self.consumer is not None:
            consumer = self.consumer.consumer
            checks["partitions_assigned"] = consumer is not None and bool(consumer.assignment())
            idle = time.monotonic() - self.consumer.progress_at
            checks["consumer_progressing"] = (
                gauges.get("consumer_lag") == 0 or idle < s.ready_stall_s
            )
            checks["consumer_not_crashing"] = not self.consumer.crashing()
        checks["outbox_flowing"] = gauges.get("outbox_oldest_age_s", 0.0) < s.ready_outbox_age_s
        if self.scheduler is not None:
            checks["timers_on_time"] = (
                gauges.get("timers_oldest_overdue_s", 0.0) < s.ready_timer_overdue_s
            )
        for name, ok in checks.items():
            self.metrics.ready_check(check=name).set(int(ok))
        self.metrics.ready.set(int(all(checks.values())))
        return checks

    async def _lags(self) -> dict[Any, int] | None:
        """The consumer's lag per partition; ``None`` when it cannot be known now (the broker away)."""
        if self.consumer is None:
            return {}
        try:
            return await asyncio.wait_for(self.consumer.lag(), 2.0)
        except Exception:  # noqa: BLE001 - unknown, not zero
            return None

    async def refresh_gauges(self) -> dict[str, float]:
        """Set the gauges; return what readiness reads: the consumer's total lag and the ages (each absent where
        it could not be known now: the broker or the database away)."""
        readings: dict[str, float] = {}
        if self.consumer is not None:
            lags = await self._lags()
            for tp, lag in (lags or {}).items():
                self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    lag
                )
            if lags is not None:
                readings["consumer_lag"] = sum(lags.values())
            self.metrics.consumer_idle.set(time.monotonic() - self.consumer.progress_at)
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                pending, oldest, parked = await backlog(conn)
                self.metrics.outbox_pending.set(pending)
                self.metrics.outbox_oldest_age.set(oldest)
                self.metrics.outbox_parked_rows.set(parked)
                readings["outbox_oldest_age_s"] = oldest
                if self.scheduler is not None:
                    self.metrics.timers_quarantined_rows.set(await quarantined(conn))
                if self.spec.gauges is not None:
                    await self.spec.gauges(self, conn)
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                readings["timers_oldest_overdue_s"] = (
                    overdue
                ) = await self.scheduler.oldest_overdue_s()
                self.metrics.timers_overdue_age.set(overdue)
        return readings

    def asyncapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = document(
            self.spec.name,
            self.spec.catalogue,
            version=self.spec.version,
            prefix=self.settings.topic_prefix,
            description=self.spec.description,
        )
        return doc
