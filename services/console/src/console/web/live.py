"""Live pages (issue 40): the queue, a record's page and a command's page are told when what they show changed, by
server-sent events from the console's read model. The handlers announce each committed change on a PostgreSQL
channel (``pg_notify``, sent at commit); every console instance listens on one connection of its own and tells the
pages open on it. A page that is told reads itself again (``live.js``); without JavaScript a page is read again by
hand, and a command's page still re-checks itself every 2 seconds.

A stream names no customer and carries no fact: only that something the page shows changed. It ends after
:data:`STREAM_S` seconds (the browser opens it again, from the moment the page was read, so no change between is
missed) and as soon as the server begins to shut down, so that a release never waits on an open page."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from importlib.resources import files
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from console import store
from console.desk.live import Change, Watch, concerns
from console.desk.offers import SUBJECT_QUEUES, readable
from console.web.common import PageRefused, Runtime, SignedIn, log

router = APIRouter()
SCRIPT = files("console").joinpath("static/live.js").read_text()
STREAM_S = 20.0
"""How long one stream stays open (the browser opens the next at once, from where it was)."""
KEEPALIVE_S = 10.0
RECENT = 1024
"""How many changes an instance remembers, for a stream opened just after its page was read."""
MAX_WATCHERS = 2000
"""Open pages one instance tells at most; more are answered 503 and the page is simply not live."""
RECONNECT_S = 1.0


class Hub:
    """One instance's listener: the changes announced on the database's channel, told to every open stream."""

    def __init__(self, dsn: str, schema: str, draining: asyncio.Event) -> None:
        self._dsn, self._channel = dsn, f"{store.LIVE_CHANNEL}{schema}"
        self._draining = draining
        self._watchers: set[asyncio.Queue[Change]] = set()
        self._recent: deque[Change] = deque(maxlen=RECENT)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listening, from now until the server shuts down (again after a lost connection)."""
        if (self._task is None or self._task.done()) and not self._draining.is_set():
            self._task = asyncio.create_task(self._listen(), name="console-live")

    async def _listen(self) -> None:
        while not self._draining.is_set():
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, done=lost: done.set())
                await conn.add_listener(self._channel, self._heard)
                await _first(lost, self._draining)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("live updates not listening", error_type=type(exc).__name__)
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._draining.wait(), RECONNECT_S)

    def _heard(self, conn: object, pid: int, channel: str, payload: str) -> None:  # noqa: ARG002
        change = Change.read(payload, time.time())
        if change is None:
            return
        self._recent.append(change)
        for watcher in self._watchers:
            with contextlib.suppress(
                asyncio.QueueFull
            ):  # a page that is told once reads itself whole
                watcher.put_nowait(change)

    def since(self, at: float) -> Iterator[Change]:
        return (c for c in self._recent if c.at >= at)

    @property
    def full(self) -> bool:
        return len(self._watchers) >= MAX_WATCHERS

    @contextlib.contextmanager
    def watching(self) -> Iterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=16)
        self._watchers.add(queue)
        try:
            yield queue
        finally:
            self._watchers.discard(queue)


async def _first(*events: asyncio.Event) -> None:
    """Until one of ``events`` is set."""
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


@router.get("/live.js")
async def script() -> Response:
    return Response(SCRIPT, media_type="text/javascript; charset=utf-8")


@router.get("/live")
async def live(
    request: Request,
    runtime: Runtime,
    officer: SignedIn,
    watch: Annotated[str, Query(max_length=240)],
    since: Annotated[float, Query(ge=0)] = 0.0,
) -> Response:
    """The changes of what one page shows, from the moment it was read, as server-sent events."""
    wanted = Watch.read(watch)
    if wanted is None or not await _may_watch(runtime, officer.officer_id, officer.roles, wanted):
        raise PageRefused(404, "Not found", "No such page to keep up to date.")
    hub: Hub = request.app.state.hub
    if hub.full:
        raise PageRefused(503, "Busy", "Too many pages are open: this one is not kept up to date.")
    hub.start()
    return StreamingResponse(
        _stream(runtime, hub, wanted, readable(officer.roles), since),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )


async def _stream(
    runtime: Any,
    hub: Hub,
    wanted: Watch,
    queues: list[str],
    since: float,
) -> AsyncIterator[str]:
    with hub.watching() as changes:
        yield f"retry: {int(RECONNECT_S * 1000)}\n\n"
        if since and any(concerns(wanted, c, queues) for c in hub.since(since)):
            yield "event: changed\ndata: {}\n\n"
        deadline = time.monotonic() + STREAM_S
        quiet = 0.0
        while not runtime.draining.is_set() and (left := deadline - time.monotonic()) > 0:
            try:
                change = await asyncio.wait_for(changes.get(), timeout=min(1.0, left))
            except TimeoutError:
                quiet += 1.0
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": still here\n\n"
                continue
            if concerns(wanted, change, queues):
                yield "event: changed\ndata: {}\n\n"


async def _may_watch(runtime: Any, officer_id: str, roles: tuple[str, ...], wanted: Watch) -> bool:
    """Whether the officer may read the page they watch: their own command; a record their roles open."""
    queues = readable(roles)
    if wanted.kind == "queue":
        return True
    if wanted.kind in SUBJECT_QUEUES:
        return SUBJECT_QUEUES[wanted.kind].value in queues
    async with runtime.pool.acquire() as conn:
        if wanted.kind in ("command", "commands"):
            ids = [uuid.UUID(i) for i in str(wanted.ident).split(",")]
            return len(await store.commands_of(conn, officer_id, ids)) == len(ids)
        queue = await store.queue_of(conn, str(wanted.ident))
    return queue is not None and queue in queues
