"""An in-memory shell (cosmicpython's fakes): a service's decider over states held in a dict, loaded and saved the
way the runtime does it (a run loaded once, stepped through, saved once), with no broker and no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic

from contracts.envelope import Event
from servicekit.decider import Change, Decider, S
from servicekit.shell import batched


@dataclass
class MemoryShell(Generic[S]):
    decider: Decider[S]
    rows: dict[str, S] = field(default_factory=dict)
    writes: int = 0
    """How many states were written: a run writes each changed state once."""

    async def load(self, conn: Any, messages: Sequence[Any]) -> dict[str, S | None]:
        return {k: self.rows.get(k) for m in messages for k in self.decider.keys(m)}

    async def save(
        self, conn: Any, changes: Sequence[Change[S]], handled: Sequence[tuple[Any, list[Any]]]
    ) -> None:
        for change in changes:
            if change.after is not None:
                self.rows[change.key] = change.after
                self.writes += 1

    async def run(self, messages: Sequence[Any], now: datetime) -> list[list[Event]]:
        """One run, as the runtime's consumer handles a poll's messages of one topic: each message's events."""
        loaded = await batched(self).load(None, messages)
        outputs = [list(loaded.step(m, now)) for m in messages]
        await loaded.save(None)
        return outputs

    async def one_by_one(self, messages: Sequence[Any], now: datetime) -> list[list[Event]]:
        return [(await self.run([m], now))[0] for m in messages]
