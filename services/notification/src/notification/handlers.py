"""Thin handlers: load, decide, apply, save. The runtime does inbox, outbox and commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from contracts.envelope import Event
from contracts.notification import MspActionRejected, MspApproved
from notification import store
from notification.domain.decide import Policy, decide_action, decide_approval, decide_send
from notification.domain.model import MspState, apply, evolve_all
from servicekit.logs import get_logger, log_transition

log = get_logger("notification")
TICK_BATCH = 200


def _log(events: Sequence[Event]) -> None:
    # Reason codes can name a safety flag (an SMS withheld for self-harm): only rejections' codes are logged.
    for e in events:
        if isinstance(e, MspActionRejected):
            log_transition(log, e, "msp_id", "reason_code")
        else:
            log_transition(log, e, "msp_id", "customer_ref", "step")


@dataclass(frozen=True)
class Handlers:
    policy: Policy

    async def on_approval(self, conn: asyncpg.Connection, approval: MspApproved, now: datetime) -> Sequence[Event]:
        state = await store.load(conn, approval.msp_id)
        events = decide_approval(state, approval, now)
        await store.save(conn, state, apply(state, approval, events))
        _log(events)
        return events

    async def on_staff_action(self, conn: asyncpg.Connection, action: Event, now: datetime) -> Sequence[Event]:
        state = await store.load(conn, action.key)
        events = decide_action(state, action, now, self.policy)
        await store.save(conn, state, apply(state, action, events))
        _log(events)
        return events

    async def tick(self, conn: asyncpg.Connection, now: datetime) -> tuple[int, Sequence[Event]]:
        """Send (or, if a guard now applies, withhold) every authorised SMS whose time has come."""
        outputs: list[Event] = []
        due = await store.claim_due_sms(conn, now, TICK_BATCH)
        for state in due:
            events = decide_send(state, now, self.policy)
            after: MspState | None = evolve_all(state, events)
            await store.save(conn, state, after)
            _log(events)
            outputs += events
        return len(due), outputs
