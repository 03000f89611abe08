"""The one fold every service steps with (issue 27): decide never folds, evolve folds outputs, follow-ups until
quiet, internal facts kept and never published, and only what changed is saved."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.workitems import WorkItemCode, WorkItemRaised
from servicekit.decider import WorkingSet, published, step

pytestmark = pytest.mark.unit
NOW = datetime(2027, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Noted:
    """An internal fact: changes the state, never leaves."""

    key: str
    text: str


def raised(key: str) -> WorkItemRaised:
    return WorkItemRaised(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        correlation_id=uuid.uuid4(),
        producer="workitems",
        work_item_id=key,
        code=WorkItemCode.I059PL,
        title="t",
        queue="income-management",
        customer_ref="CRN-1",
        subject_type="expense",
        subject_id="EXP-1",
        procedure="p",
        instructions=["i"],
        tick_off="manual",
        actor="test",
    )


class Counter:
    """A toy decider: a message ``n`` notes itself, raises item ``k`` and, as follow-ups, raises ``k+1`` … until
    ``n`` items are raised (``rounds`` caps how many a follow-up may raise: a decider that never settles)."""

    def __init__(self, endless: bool = False) -> None:
        self.endless = endless

    @staticmethod
    def keys(message: tuple[str, int]) -> Sequence[str]:
        return (message[0],)

    @staticmethod
    def decide(
        states: Mapping[str, tuple[str, ...] | None], message: tuple[str, int], now: datetime
    ) -> list[Any]:
        assert states.get(message[0]) is None or isinstance(states[message[0]], tuple)
        return [Noted(message[0], f"asked for {message[1]}"), raised(f"{message[0]}:1")]

    @staticmethod
    def key_of(output: Any) -> str:
        return output.key if isinstance(output, Noted) else output.work_item_id.partition(":")[0]

    @staticmethod
    def evolve(state: tuple[str, ...] | None, output: Any) -> tuple[str, ...]:
        return (*(state or ()), output.text if isinstance(output, Noted) else output.work_item_id)

    def react(
        self, states: Mapping[str, tuple[str, ...] | None], cause: tuple[str, int], now: datetime
    ) -> list[Any]:
        raised_ = [s for s in states[cause[0]] or () if ":" in s]
        if self.endless or len(raised_) < cause[1]:
            return [raised(f"{cause[0]}:{len(raised_) + 1}")]
        return []


def test_a_message_is_decided_folded_and_followed_up_until_quiet_and_its_internal_facts_stay_inside():
    states: dict[str, tuple[str, ...] | None] = {}
    outputs = step(Counter(), states, ("A", 3), NOW)
    assert states["A"] == ("asked for 3", "A:1", "A:2", "A:3"), (
        "each follow-up saw the outputs before it folded"
    )
    assert [o.work_item_id for o in published(outputs)] == ["A:1", "A:2", "A:3"]
    assert any(isinstance(o, Noted) for o in outputs), (
        "the fact is among the outputs, for the shell to keep"
    )


def test_a_decider_that_never_settles_is_a_defect_not_a_loop():
    with pytest.raises(RuntimeError, match="did not settle"):
        step(Counter(endless=True), {}, ("A", 1), NOW)


def test_a_working_set_saves_only_what_changed_and_remembers_what_each_message_caused():
    untouched = ("kept",)
    working = WorkingSet(Counter(), {"A": None, "B": untouched})
    assert [o.work_item_id for o in working.step(("A", 1), NOW)] == ["A:1"]
    assert [(c.key, c.before, c.after) for c in working.changes()] == [
        ("A", None, ("asked for 1", "A:1"))
    ]
    [(message, caused)] = working.handled
    assert message == ("A", 1)
    assert [type(o).__name__ for o in caused] == ["Noted", "WorkItemRaised"]
