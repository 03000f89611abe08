"""The notification store in memory, answering as ``notification.store`` answers over PostgreSQL: the functions the
shell calls (:mod:`notification.handlers`), with the SQL's own semantics written out (which MSPs hold a mobile or a
CIMS incident, which SMS are due and in which order). ``tests/notification/test_store_contract.py`` runs the same
operations against PostgreSQL and this fake and compares every answer, so the fake cannot drift from it.

The model test (issue 38) puts it in place of the module (``tests.support.model.installed``), so that the real shell (its loads of
the MSPs a rule needs besides its own, its saves, its due SMS) runs over it in milliseconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notification import handlers
from notification.domain.model import MspState, SmsStatus, read_state
from notification.store import DueSms, due_states
from servicekit.timers.scheduler import Due


@dataclass
class FakeStore:
    rows: dict[str, str] = field(default_factory=dict)
    """Each MSP's stored state, as the JSON the table keeps (read back as ``read_state`` reads a row)."""

    def _states(self) -> dict[str, MspState]:
        return {k: read_state(v) for k, v in sorted(self.rows.items())}

    async def load(self, conn: Any, msp_ids: Iterable[str]) -> dict[str, MspState | None]:
        ids = sorted(set(msp_ids))
        return {i: read_state(self.rows[i]) if i in self.rows else None for i in ids}

    async def holding_mobiles(self, conn: Any, mobiles: Iterable[str]) -> dict[str, MspState]:
        wanted = set(mobiles)
        return {
            k: s
            for k, s in self._states().items()
            if s.case.customer_mobile in wanted
            or any(r.phone in wanted for r in s.case.representatives)
        }

    async def holding_incidents(
        self, conn: Any, incident_ids: Iterable[str]
    ) -> dict[str, MspState]:
        wanted = set(incident_ids)
        return {k: s for k, s in self._states().items() if wanted & set(s.incidents)}

    async def save(
        self, conn: Any, changes: Iterable[tuple[MspState | None, MspState | None]]
    ) -> None:
        for before, after in changes:
            if after is not None and after != before:
                self.rows[after.msp_id] = after.model_dump_json()

    def _due(self, now: datetime) -> list[MspState]:
        due = [
            s
            for s in self._states().values()
            if s.sms.status is SmsStatus.AUTHORISED
            and s.sms.send_at is not None
            and s.sms.send_at <= now
        ]
        return sorted(due, key=lambda s: s.sms.send_at or now)

    async def claim_due_sms(self, conn: Any, now: datetime, limit: int) -> Sequence[Due]:
        due = self._due(now)[:limit]
        holding = await self.holding_mobiles(
            conn, (m for s in due if (m := s.case.customer_mobile))
        )
        return [
            Due(s.msp_id, DueSms(s, {k: h for k, h in holding.items() if k != s.msp_id}))
            for s in due
        ]

    due_states = staticmethod(due_states)

    async def oldest_due(self, conn: Any, now: datetime) -> datetime | None:
        due = self._due(now)
        return due[0].sms.send_at if due else None


def _answers_as_the_store(fake: FakeStore) -> handlers.Store:
    """The fake is a store the shell can read through (mypy holds it to the protocol)."""
    return fake
