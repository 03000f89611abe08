"""aiokafka's offset lookup, meeting a moved leader, asks for fresh metadata rather than asking the former leader again
until its metadata ages out (found by the cluster failover test: a paused node left partitions unread for minutes)."""

from __future__ import annotations

import pytest
from aiokafka import errors
from aiokafka.consumer import fetcher

from servicekit.records import install_leader_refresh

pytestmark = pytest.mark.unit


class Client:
    def __init__(self) -> None:
        self.refreshes = 0

    def force_metadata_update(self) -> None:
        self.refreshes += 1


async def test_a_moved_leader_met_while_looking_up_an_offset_refreshes_the_metadata(monkeypatch):
    async def moved(self, node_id, topic_data):
        raise errors.NotLeaderForPartitionError("t-0")

    monkeypatch.setattr(fetcher.Fetcher, "_proc_offset_request", moved)
    install_leader_refresh()
    install_leader_refresh()  # idempotent: one wrapper
    stand_in = type("Fetcher", (), {})()
    stand_in._client = Client()
    with pytest.raises(errors.NotLeaderForPartitionError):
        await fetcher.Fetcher._proc_offset_request(stand_in, 1, {})
    assert stand_in._client.refreshes == 1, "the caller's retry goes to the partition's new leader"
