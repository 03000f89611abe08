"""The seam between the runtime and the procedures, written once: a message, a decision, a new state.

A service's domain is a :class:`Decider` (pure: no I/O, ``now`` passed in):

* ``decide(states, message, now)``: what one message causes, given the states it concerns. It never folds: where
  an input's facts must be kept (a call that was not answered, a risk recorded, a note), it says so with a fact
  among its outputs. A fact that is not an :class:`~contracts.envelope.Event` is internal: it changes the state
  and is never published.
* ``evolve(state, output)``: one output folded into the state it changes (``key_of(output)``).
* ``react(states, cause, now)``: the follow-ups that became due once the outputs are folded (the next step of a
  procedure); nothing when quiet.

:func:`step` is the one fold: decide, fold the outputs, react until quiet, fold those. :class:`WorkingSet` is the
one working set of a run of messages: the states they concern, stepped through in order, and what changed. Pure:
no I/O (:mod:`servicekit.shell` loads, locks and saves around it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from contracts.envelope import Event

S = TypeVar("S")
MAX_REACTIONS = 16
"""More rounds of follow-ups than any procedure has steps: a decider that never settles is a defect."""


class Decider(Protocol[S]):
    def keys(self, message: Any) -> Sequence[str]:
        """The states ``message`` concerns (what a run loads, and what ``decide`` is given)."""
        ...

    def decide(self, states: Mapping[str, S | None], message: Any, now: datetime) -> Sequence[Any]:
        """The outputs of one message: events to publish and internal facts. Never folds."""
        ...

    def key_of(self, output: Any) -> str:
        """The state an output changes."""
        ...

    def evolve(self, state: S | None, output: Any) -> S | None:
        """One output folded into its state."""
        ...

    def react(self, states: Mapping[str, S | None], cause: Any, now: datetime) -> Sequence[Any]:
        """What became due once ``cause``'s outputs are folded; nothing when quiet."""
        ...


class NoReactions:
    """A decider's ``react`` where nothing follows on by itself."""

    def react(self, states: Mapping[str, Any], cause: Any, now: datetime) -> Sequence[Any]:  # noqa: ARG002
        return ()


def fold(
    decider: Decider[S], states: MutableMapping[str, S | None], outputs: Iterable[Any]
) -> None:
    """Each output folded into the state it changes, in order."""
    for output in outputs:
        key = decider.key_of(output)
        states[key] = decider.evolve(states.get(key), output)


def step(
    decider: Decider[S], states: MutableMapping[str, S | None], message: Any, now: datetime
) -> list[Any]:
    """One message: decide, fold, react until quiet. ``states`` is left as the message leaves it; the answer is every
    output in order (internal facts included: :func:`published` picks the events)."""
    outputs = list(decider.decide(states, message, now))
    fold(decider, states, outputs)
    for _ in range(MAX_REACTIONS):
        more = list(decider.react(states, message, now))
        if not more:
            return outputs
        fold(decider, states, more)
        outputs += more
    raise RuntimeError(
        f"the follow-ups of {type(message).__name__} did not settle in {MAX_REACTIONS} rounds"
    )


def published(outputs: Iterable[Any]) -> list[Event]:
    """The outputs that leave the service: its events (internal facts stay)."""
    return [o for o in outputs if isinstance(o, Event)]


@dataclass(frozen=True)
class Change(Generic[S]):
    key: str
    before: S | None
    after: S | None


@dataclass
class WorkingSet(Generic[S]):
    """The states of a run of messages: stepped through in order; what changed, and everything each message caused,
    for the service's save."""

    decider: Decider[S]
    before: dict[str, S | None]
    after: dict[str, S | None] = field(init=False)
    handled: list[tuple[Any, list[Any]]] = field(default_factory=list)
    """Each message stepped and all it caused (internal facts included), in order."""

    def __post_init__(self) -> None:
        self.after = dict(self.before)

    def step(self, message: Any, now: datetime) -> list[Event]:
        outputs = step(self.decider, self.after, message, now)
        self.handled.append((message, outputs))
        return published(outputs)

    def changes(self) -> list[Change[S]]:
        """The states a step changed (a state left as it was is not written again)."""
        return [
            Change(k, self.before.get(k), after)
            for k, after in self.after.items()
            if after is not self.before.get(k) and after != self.before.get(k)
        ]
