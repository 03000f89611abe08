"""The patches to aiokafka, each on its own: a batch with a header name that is not UTF-8 is read (not refused for
good), and the offset lookup, meeting a moved leader, asks for fresh metadata rather than asking the former leader
again until its metadata ages out (found by the cluster failover test: a paused node left partitions unread for
minutes)."""

from __future__ import annotations

import pytest
from aiokafka import errors
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from servicekit.consume.aiokafka_patches import (
    TolerantMemoryRecords,
    header_name_bytes,
    install_leader_refresh,
)

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


def batch_with_header_name(name: bytes) -> bytes:
    """One record whose header name is ``name``, byte for byte (written as a same-length valid name, then swapped:
    the reader checks no CRC, and a producer can write any bytes)."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    builder.append(0, timestamp=1000, key=b"k", value=b"v", headers=[("x" * len(name), b"1")])
    raw = bytes(builder.build())
    assert raw.count(b"x" * len(name)) == 1
    return raw.replace(b"x" * len(name), name)


def test_a_header_name_that_is_not_utf8_is_read_with_its_bytes_kept_where_aiokafka_refuses_the_batch():
    raw = batch_with_header_name(b"h\xff")
    with pytest.raises(UnicodeDecodeError):
        MemoryRecords(raw).next_batch().__iter__().__next__().headers  # noqa: B018 - aiokafka's reader refuses it
    [record] = list(TolerantMemoryRecords(raw).next_batch())
    [(name, value)] = record.headers
    assert (header_name_bytes(name), value, record.key, record.value) == (
        b"h\xff",
        b"1",
        b"k",
        b"v",
    )
    [plain] = list(TolerantMemoryRecords(batch_with_header_name(b"ok")).next_batch())
    assert plain.headers == [("ok", b"1")], "a batch aiokafka reads is aiokafka's own reading"
