"""Thin handlers: load, decide, apply, save. The runtime does inbox, outbox and commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from contracts.envelope import Event
from contracts.notification import MspActionRejected, MspApproved
from notification import store
from notification.domain.decide import Policy, decide_action, decide_approval, decide_send
from notification.domain.model import MspState, apply, evolve_all
from servicekit.consumer import Batched
from servicekit.logs import get_logger, log_transition
from servicekit.scheduler import Due, Fired

log = get_logger("notification")


def _log(events: Sequence[Event]) -> None:
    # Reason codes can name a safety flag (an SMS withheld for self-harm): only rejections' codes are logged.
    for e in events:
        if isinstance(e, MspActionRejected):
            log_transition(log, e, "msp_id", "reason_code")
        else:
            log_transition(log, e, "msp_id", "customer_ref", "step")


@dataclass
class Msps:
    """A run of approvals or staff actions: their MSPs loaded at once, decided in order, saved at once."""

    policy: Policy
    before: dict[str, MspState | None]
    after: dict[str, MspState | None] = field(init=False)
    """The working set: ``before`` as the steps so far left it."""

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    def step(self, message: Event, now: datetime) -> Sequence[Event]:
        state = self.after[message.key]
        if isinstance(message, MspApproved):
            events = decide_approval(state, message, now)
        else:
            events = decide_action(state, message, now, self.policy)
        self.after[message.key] = apply(state, message, events)
        _log(events)
        return events

    async def save(self, conn: asyncpg.Connection) -> None:
        await store.save(conn, [(self.before[i], after) for i, after in self.after.items()])


@dataclass(frozen=True)
class Handlers:
    policy: Policy

    async def load(self, conn: asyncpg.Connection, messages: Sequence[Event]) -> Msps:
        states = await store.load(conn, (m.key for m in messages))
        return Msps(self.policy, states)

    @property
    def batched(self) -> Batched:
        """Approvals and staff actions alike (both are keyed by MSP id)."""
        return Batched(self.load)

    @property
    def timers(self) -> SmsTimers:
        return SmsTimers(self.policy)


@dataclass(frozen=True)
class SmsTimers:
    """Authorised SMS whose time has come: each is sent or, if a guard now applies, withheld."""

    policy: Policy
    claim = staticmethod(store.claim_due_sms)
    oldest_due = staticmethod(store.oldest_due)

    def fire(self, due: Due, now: datetime) -> Fired:
        state = store.due_state(due)
        events = decide_send(state, now, self.policy)
        _log(events)
        return Fired((state, evolve_all(state, events)), events)

    @staticmethod
    async def save(conn: asyncpg.Connection, changes: Sequence[tuple[MspState | None, MspState | None]]) -> None:
        await store.save(conn, changes)
