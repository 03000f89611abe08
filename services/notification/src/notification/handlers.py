"""The shell around the MSP notification's decider: load (and lock) the MSPs a run concerns, save what changed,
log the transitions; the SMS timers read a due row into its MSP and the message that it is due. The runtime steps
each message (:mod:`servicekit.decider`), and does the inbox, the outbox and the commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from contracts.envelope import Event
from contracts.notification import AuthoriseMspSms, MspActionRejected, RecordIncident
from notification import store as database
from notification.domain.decide import Policy, sms_due
from notification.domain.decider import Notification
from notification.domain.model import MspState, SmsDue
from servicekit.consume.consumer import Batched
from servicekit.decider import Change, published
from servicekit.logs import log_transition
from servicekit.shell import TimerShell, batched
from servicekit.timers.scheduler import Due

COMPONENT = "notification"


class Store(Protocol):
    """What the shell reads and writes: ``notification.store`` over PostgreSQL, or a fake that answers as it does
    (the model test's, held to it by a contract test)."""

    async def load(
        self, conn: asyncpg.Connection, msp_ids: Iterable[str]
    ) -> dict[str, MspState | None]: ...
    async def holding_mobiles(
        self, conn: asyncpg.Connection, mobiles: Iterable[str]
    ) -> dict[str, MspState]: ...
    async def holding_incidents(
        self, conn: asyncpg.Connection, incident_ids: Iterable[str]
    ) -> dict[str, MspState]: ...
    async def save(
        self, conn: asyncpg.Connection, changes: Iterable[tuple[MspState | None, MspState | None]]
    ) -> None: ...
    async def claim_due_sms(
        self, conn: asyncpg.Connection, now: datetime, limit: int
    ) -> Sequence[Due]: ...
    async def oldest_due(self, conn: asyncpg.Connection, now: datetime) -> datetime | None: ...
    def due_states(self, due: Due) -> tuple[MspState, dict[str, MspState | None]]: ...


store: Store = database


def _log(events: Sequence[Event]) -> None:
    # Reason codes can name a safety flag (an SMS withheld for self-harm): only rejections' codes are logged.
    for e in events:
        if isinstance(e, MspActionRejected):
            log_transition(COMPONENT, e, "msp_id", "reason_code")
        else:
            log_transition(COMPONENT, e, "msp_id", "customer_ref", "step")


@dataclass(frozen=True)
class Shell:
    """Approvals and staff actions alike (both are keyed by MSP id), and the SMS timers."""

    policy: Policy
    decider: Notification = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decider", Notification(self.policy))

    @staticmethod
    async def load(
        conn: asyncpg.Connection, messages: Sequence[Event]
    ) -> dict[str, MspState | None]:
        """The MSPs of the run (locked); for an incident being recorded, the MSPs that already have that CIMS
        incident; for an SMS authorisation, the MSPs that hold the same mobile. The decider reads the others from
        the working set (``mobile_held_elsewhere``, ``incident_held_elsewhere``)."""
        recording = {m.incident_id for m in messages if isinstance(m, RecordIncident)}
        holding_incidents = await store.holding_incidents(conn, recording)  # locks before the rows
        states = await store.load(conn, (m.key for m in messages))
        asked = {m.key for m in messages if isinstance(m, AuthoriseMspSms)}
        holding_mobiles = await store.holding_mobiles(
            conn,
            (
                m
                for k, s in states.items()
                if k in asked and s is not None and (m := s.case.customer_mobile)
            ),
        )
        return {**holding_incidents, **holding_mobiles, **states}

    @staticmethod
    async def save(
        conn: asyncpg.Connection,
        changes: Sequence[Change[MspState]],
        handled: Sequence[tuple[Any, list[Any]]],
    ) -> None:
        await store.save(conn, [(c.before, c.after) for c in changes])
        for _, outputs in handled:
            _log(published(outputs))

    @property
    def batched(self) -> Batched:
        return batched(self)

    @property
    def timers(self) -> TimerShell[MspState]:
        """Authorised SMS whose time has come: each is sent or, if a guard now applies, withheld."""
        return TimerShell(self, claim_due=store.claim_due_sms, oldest=store.oldest_due, read=_due)


def _due(due: Due) -> tuple[dict[str, MspState | None], SmsDue]:
    state, working = store.due_states(due)
    return working, sms_due(state)
