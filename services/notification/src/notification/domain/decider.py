"""The MSP notification as the runtime's decider (:class:`servicekit.decider.Decider`): the decisions of
:mod:`notification.domain.decide`, the fold of :mod:`notification.domain.model`, and the procedure's next steps as
follow-ups. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.envelope import Event
from contracts.notification import AuthoriseMspSms, MspApproved, RecordIncident
from notification.domain.decide import (
    Policy,
    decide_action,
    decide_approval,
    decide_send,
    incident_held_elsewhere,
    mobile_held_elsewhere,
    react,
)
from notification.domain.model import MspState, Output, SmsDue, evolve


def _with_records_elsewhere(
    states: Mapping[str, MspState | None], state: MspState, message: Event | SmsDue
) -> MspState:
    """The MSP as loaded, with what the other MSPs of the working set (loaded for the rule, or left so by an earlier
    message of the run) say of it: whether its mobile is on another record, whether a CIMS incident being recorded
    is another MSP's."""
    others = [s for k, s in states.items() if k != state.msp_id and s is not None]
    update: dict[str, object] = {}
    if isinstance(message, AuthoriseMspSms | SmsDue):
        update["mobile_elsewhere"] = mobile_held_elsewhere(state, others)
    if isinstance(message, RecordIncident) and incident_held_elsewhere(message.incident_id, others):
        update["incidents_elsewhere"] = frozenset({message.incident_id})
    return state.model_copy(update=update) if update else state


@dataclass(frozen=True)
class Notification:
    """The MSP notification's decider: an approval, a staff action or an SMS falling due, against its MSP's state;
    each output (event or internal fact) folded into it; the procedure's next steps as follow-ups."""

    policy: Policy

    @staticmethod
    def keys(message: Event | SmsDue) -> tuple[str]:
        return (message.msp_id if isinstance(message, SmsDue) else message.key,)

    def decide(
        self, states: Mapping[str, MspState | None], message: Event | SmsDue, now: datetime
    ) -> Sequence[Output]:
        state = states.get(self.keys(message)[0])
        if isinstance(message, MspApproved):
            return decide_approval(state, message, now)
        if state is not None:
            state = _with_records_elsewhere(states, state, message)
        if isinstance(message, SmsDue):
            return decide_send(state, message, now, self.policy) if state is not None else []
        return decide_action(state, message, now, self.policy)

    @staticmethod
    def key_of(output: Output) -> str:
        return output.key if isinstance(output, Event) else output.msp_id

    evolve = staticmethod(evolve)

    def react(
        self, states: Mapping[str, MspState | None], cause: Event | SmsDue, now: datetime
    ) -> Sequence[Event]:
        return react(states.get(self.keys(cause)[0]), cause, now)
