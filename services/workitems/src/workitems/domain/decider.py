"""The work items as the runtime's decider (:class:`servicekit.decider.Decider`): the decisions of
:mod:`workitems.domain.decide` and the fold of :mod:`workitems.domain.model`. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from contracts.envelope import Event
from contracts.workitems import WorkItemEvent
from servicekit.decider import NoReactions
from workitems.domain.decide import decide, keys_of
from workitems.domain.model import WorkItem, evolve


class WorkItems(NoReactions):
    """The decider: an event's items (those of :func:`keys_of` that exist), its decision, each output folded into
    its item. Nothing follows on by itself."""

    keys = staticmethod(keys_of)

    @staticmethod
    def decide(
        items: Mapping[str, WorkItem | None], event: Event, now: datetime
    ) -> Sequence[Event]:
        return decide(
            {k: item for k in keys_of(event) if (item := items.get(k)) is not None}, event, now
        )

    @staticmethod
    def key_of(output: WorkItemEvent) -> str:
        return output.work_item_id

    evolve = staticmethod(evolve)
