"""The relay's partitioner is Kafka's default one: a remembered hash never sends a key to another partition."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from servicekit.broker import keyed_partitioner

pytestmark = pytest.mark.unit


@given(key=st.binary(max_size=64), partitions=st.integers(min_value=1, max_value=64))
def test_every_key_lands_on_the_partition_kafkas_default_partitioner_gives_it(key, partitions):
    every = list(range(partitions))
    assert keyed_partitioner(key, every, every) == DefaultPartitioner()(key, every, every)
    assert keyed_partitioner(key, every, every) == keyed_partitioner(key, every, every), (
        "and again, from memory"
    )


def test_a_record_without_a_key_goes_to_an_available_partition():
    assert keyed_partitioner(None, [0, 1, 2], [2]) == 2
