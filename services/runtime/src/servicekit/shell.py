"""The shell around a service's decider (:mod:`servicekit.decider`): a run of messages loaded (and locked) once,
stepped through, saved once; a timer's firing a step of a working set of one. A service gives its keys' load and
its save (:class:`Shell`); the runtime does the inbox, the outbox and the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol

import asyncpg

from contracts.envelope import Event
from servicekit.consume.consumer import Batched, Handler
from servicekit.decider import Change, Decider, S, WorkingSet
from servicekit.timers.scheduler import Due, Fired


class Shell(Protocol[S]):
    """A service's I/O around its decider: what a run loads and locks, and how it saves."""

    @property
    def decider(self) -> Decider[S]: ...

    async def load(self, conn: asyncpg.Connection, messages: Sequence[Any]) -> dict[str, S | None]:
        """The states ``messages`` concern (every key of ``decider.keys``), locked for the transaction."""
        ...

    async def save(
        self,
        conn: asyncpg.Connection,
        changes: Sequence[Change[S]],
        handled: Sequence[tuple[Any, list[Any]]],
    ) -> None:
        """Write the changed states, and whatever the service keeps of what the messages caused (a history)."""
        ...


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """A working set and the shell that saves it: the runtime's :class:`~servicekit.consume.consumer.Batch`."""

    shell: Shell[S]
    states: WorkingSet[S]

    def step(self, message: Any, now: datetime) -> Sequence[Event]:
        return self.states.step(message, now)

    async def save(self, conn: asyncpg.Connection) -> None:
        await self.shell.save(conn, self.states.changes(), self.states.handled)


def batched(shell: Shell[S]) -> Batched:
    """The runtime's handler of a topic: runs of messages through ``shell`` and its decider."""

    async def load(conn: asyncpg.Connection, messages: Sequence[Any]) -> Loaded[S]:
        return Loaded(shell, WorkingSet(shell.decider, await shell.load(conn, messages)))

    return Batched(load)


def one_at_a_time(shell: Shell[S]) -> Handler:
    """The runtime's handler of a topic whose messages are loaded one by one (what each needs differs): a run of
    one."""
    return batched(shell).one


@dataclass(frozen=True)
class TimerShell(Generic[S]):
    """Timers as steps: a claimed timer's row read into its state and a message (what fell due), stepped like any
    other message; what it changed saved by the service's own save."""

    shell: Shell[S]
    claim_due: Callable[[asyncpg.Connection, datetime, int], Awaitable[Sequence[Due]]]
    oldest: Callable[[asyncpg.Connection, datetime], Awaitable[datetime | None]]
    read: Callable[[Due], tuple[dict[str, S | None], Any]]
    """A claimed timer's row: the states it concerns, and the message of what fell due."""

    async def claim(self, conn: asyncpg.Connection, now: datetime, limit: int) -> Sequence[Due]:
        return await self.claim_due(conn, now, limit)

    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None:
        return await self.oldest(conn, now)

    def fire(self, due: Due, now: datetime) -> Fired:
        states, message = self.read(due)
        working = WorkingSet(self.shell.decider, states)
        events = working.step(message, now)
        return Fired((working.changes(), working.handled), events)

    async def save(
        self, conn: asyncpg.Connection, changes: Sequence[tuple[list[Change[S]], list[Any]]]
    ) -> None:
        """Every fired timer's changes and what it caused, saved at once (the scheduler's ``Fired.change``)."""
        await self.shell.save(
            conn,
            [c for fired, _ in changes for c in fired],
            [h for _, handled in changes for h in handled],
        )
