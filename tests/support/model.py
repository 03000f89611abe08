"""What the procedures' model tests share (issue 38): the budget and the run with its closing line, pinned examples,
a store fake put in place of a shell's store module, and the contract that holds a fake to PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from contracts.workitems import TickOff, WorkItemStatus
from servicekit.db import Migration, create_pool, migrate
from servicekit.delivery.outbox import RUNTIME_MIGRATIONS
from workitems.domain.model import WorkItem

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "60"))
"""Runs per procedure: 60 in the fast tier, more with ``./dev model --examples N``."""


@dataclass
class Reach:
    """What a model run reached, for its closing line."""

    runs: int = 0
    steps: int = 0
    orders: set[tuple[str, ...]] = field(default_factory=set)

    def ended(self, published: Sequence[Any]) -> None:
        self.runs += 1
        self.orders.add(tuple(e.event_type for e in published))


def explore(
    machine: type[RuleBasedStateMachine], reach: Reach, steps: int, procedure: str, report: Any
) -> None:
    """``EXAMPLES`` runs of up to ``steps`` steps of ``machine``, every promise checked after every step; the
    closing line says how far it went."""
    reach.runs, reach.steps, reach.orders = 0, 0, set()
    started = time.monotonic()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    report(
        f"model of {procedure}: {reach.runs} runs, {reach.steps} steps, {len(reach.orders)} distinct orders of "
        f"what was published, {time.monotonic() - started:.1f} s"
    )


class Drawn:
    """A pinned example's draws, in the order the steps ask for them."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        return self.values.pop(0)


def pinned(machine: type[RuleBasedStateMachine], *steps: Any, before: Any = None) -> None:
    """Run ``steps`` (method name and arguments) through ``machine``, its promises checked after each; ``before``
    prepares it first (what an earlier release left behind)."""
    model: Any = machine()
    try:
        model.start()
        if before is not None:
            before(model)
        for name, *args in steps:
            getattr(model, name)(*args)
            model.promises()
    finally:
        model.teardown()


def officer_command(kind: type[Any], now: Any, roles: Sequence[str], **fields: object) -> Any:
    """A staff action ``kind`` (a contract class) as the console would publish it for an officer with ``roles``."""
    return kind.model_validate(
        {
            "event_id": uuid.uuid4(),
            "event_type": kind.__name__,
            "occurred_at": now,
            "correlation_id": uuid.uuid4(),
            "producer": "console",
            "officer_id": "OFF-TRIAL",
            "officer_roles": list(roles),
            **fields,
        }
    )


def open_manual_items(items: Mapping[str, WorkItem | None]) -> list[str]:
    """The desk's open items that only an officer closes (ticked off by hand)."""
    return sorted(
        k
        for k, item in items.items()
        if item is not None
        and item.status is WorkItemStatus.OPEN
        and item.tick_off is TickOff.MANUAL
    )


@contextlib.contextmanager
def installed(handlers: ModuleType, fake: object) -> Iterator[object]:
    """The shells of ``handlers`` reading and writing ``fake`` instead of PostgreSQL."""
    real = vars(handlers)["store"]
    setattr(handlers, "store", fake)  # noqa: B010 - the module's global, which the shells read at each call
    try:
        yield fake
    finally:
        setattr(handlers, "store", real)  # noqa: B010


async def held_to_postgresql(
    database_url: str,
    schema: str,
    migrations: Sequence[Migration],
    store: ModuleType,
    fake: Any,
    batches: Sequence[Sequence[Any]],
    answers: Callable[[Any, Any], Awaitable[list[Any]]],
) -> None:
    """Each batch of changes saved to PostgreSQL through ``store`` and to ``fake``; after each, every answer of
    ``answers`` compared."""
    pool = await create_pool(database_url, schema, 2)
    try:
        await migrate(pool, schema, (*RUNTIME_MIGRATIONS, *migrations))
        async with pool.acquire() as conn, conn.transaction():
            for changes in batches:
                await store.save(conn, changes)
                await fake.save(None, changes)
                real, faked = await answers(store, conn), await answers(fake, None)
                for n, (r, f) in enumerate(zip(real, faked, strict=True)):
                    assert r == f, f"answer {n} differs after {len(changes)} changes"
    finally:
        await pool.close()
