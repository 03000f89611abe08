"""A team leader's view (issue 40): per queue and per officer, the open, overdue and assigned items; several items
given to an officer in one action, each answered on its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts.roles import OfficerRole

MAX_BULK = 20
"""Items one action gives at most (each is a command of its own, answered on its own)."""
SKIPPED = {
    "unknown-assignee": "that officer has not signed in to the console yet, so their roles are not known",
    "assignee-role-required": "that officer's roles do not open this item's queue",
    "role-required": "your roles do not open this item's queue",
    "invalid-command": "the item or the officer is not one this console knows",
    "not-found": "no such work item (or not yet known here)",
    "not-open": "it is no longer open",
}
"""Why an item was not sent at all, by the refusal's code, in the officer's words."""


@dataclass(frozen=True)
class Counts:
    open: int = 0
    overdue: int = 0
    assigned: int = 0

    @property
    def unassigned(self) -> int:
        return self.open - self.assigned

    def plus(self, open_: int, overdue: int, held: bool) -> Counts:
        return Counts(
            self.open + open_, self.overdue + overdue, self.assigned + (open_ if held else 0)
        )


def leads_a_team(roles: Iterable[str]) -> bool:
    return OfficerRole.TEAM_LEADER.value in set(roles)


def per_queue(rows: Sequence[Mapping[str, object]], queues: Sequence[str]) -> dict[str, Counts]:
    """Each of the leader's queues (an empty one too): its open, overdue and assigned items."""
    counts = {q: Counts() for q in queues}
    for row in rows:
        queue = str(row["queue"])
        counts[queue] = counts.get(queue, Counts()).plus(
            _int(row["open"]), _int(row["overdue"]), row["assignee_id"] is not None
        )
    return counts


def per_officer(rows: Sequence[Mapping[str, object]]) -> dict[str, Counts]:
    """Each officer holding open items: how many, and how many are overdue."""
    counts: dict[str, Counts] = {}
    for row in rows:
        if row["assignee_id"] is not None:
            officer = str(row["assignee_id"])
            counts[officer] = counts.get(officer, Counts()).plus(
                _int(row["open"]), _int(row["overdue"]), True
            )
    return dict(sorted(counts.items()))


def skipped_because(code: str) -> str:
    return SKIPPED.get(code, "it was refused before it was sent")


def _int(value: object) -> int:
    return int(value) if isinstance(value, int) else 0
