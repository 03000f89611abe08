"""What a live page watches, and which changes of the console's read model concern it (issue 40: the queue, a
record's page and a command's page update themselves). A change names only ids and a queue: what changed is read
again by the page, with the officer's own authority."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

RECORD_KINDS = ("msp", "expense", "work-item")
MAX_COMMANDS = 20
"""The commands one page watches at most (a team leader's items given in one action)."""
MAX_WATCH_CHARS = 9 + MAX_COMMANDS * 37


@dataclass(frozen=True)
class Change:
    """One committed change: the record it is about (its kind and id), the queue of a work item, the command it
    answers, and the record a raised work item is about."""

    at: float
    kind: str | None = None
    ident: str | None = None
    queue: str | None = None
    command: str | None = None
    about: str | None = None
    """``msp:MSP-1``: a work item raised about that record (its page lists its items)."""

    def payload(self) -> str:
        """The change as the database carries it (``pg_notify``): compact JSON, ids only."""
        fields = {
            "k": self.kind,
            "i": self.ident,
            "q": self.queue,
            "c": self.command,
            "a": self.about,
        }
        return json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))

    @classmethod
    def read(cls, payload: str, at: float) -> Change | None:
        """A change from its payload (``None`` for anything that is not one)."""
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return None
        return cls(at, data.get("k"), data.get("i"), data.get("q"), data.get("c"), data.get("a"))


@dataclass(frozen=True)
class Watch:
    """What one open page watches: ``queue`` (the officer's queues), ``command`` (one of their commands),
    ``commands`` (several, by commas) or a record (``msp``, ``expense``, ``work-item``) by id."""

    kind: str
    ident: str | None = None

    @classmethod
    def read(cls, text: str) -> Watch | None:
        """A page's watch from its address (``queue``, ``command:<uuid>``, ``msp:<id>``, ...), or ``None``."""
        if len(text) > MAX_WATCH_CHARS or not text.isprintable():
            return None
        if text == "queue":
            return cls("queue")
        kind, _, ident = text.partition(":")
        if kind in ("command", "commands"):
            try:
                ids = [str(uuid.UUID(i)) for i in ident.split(",")]
            except ValueError:
                return None
            if (kind == "command" and len(ids) != 1) or len(ids) > MAX_COMMANDS:
                return None
            return cls(kind, ",".join(ids))
        return cls(kind, ident) if kind in RECORD_KINDS and ident else None

    def text(self) -> str:
        return self.kind if self.ident is None else f"{self.kind}:{self.ident}"


def concerns(watch: Watch, change: Change, queues: Sequence[str]) -> bool:
    """Whether a change may alter what the watching page shows: a work item of one of the officer's queues for the
    queue; the command itself; the record, or a work item raised about it."""
    if watch.kind == "queue":
        return change.queue is not None and change.queue in queues
    if watch.kind in ("command", "commands"):
        return change.command is not None and change.command in (watch.ident or "").split(",")
    return (change.kind == watch.kind and change.ident == watch.ident) or (
        change.about == f"{watch.kind}:{watch.ident}"
    )
