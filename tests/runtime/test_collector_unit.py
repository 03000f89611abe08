"""A service's cyclic garbage collector, once it is loaded: what the imports made is frozen out of every collection and
the collector runs less often (issue 42: it took 11-15% of a service's CPU at Python's defaults)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from servicekit.main import GC_THRESHOLDS, tune_collector

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_a_loaded_service_freezes_what_it_imported_and_collects_less_often() -> None:
    gc.unfreeze()
    tune_collector()
    assert gc.get_freeze_count() > 10_000  # the modules, their functions and classes
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 10 * 700  # far fewer collections than Python's default
