"""Record batches that always decode, whatever bytes a producer wrote.

aiokafka's record reader turns each header name into ``str`` with a strict UTF-8 decode. One record
whose header name is not UTF-8 makes the whole fetch raise, the partition's position never moves,
and a consumer retrying it is stuck for good. :class:`TolerantMemoryRecords` reads batches with
aiokafka's own (fast, compiled) reader and, only for a batch that reader refuses, reads it again
here with header names decoded with ``surrogateescape``: the original bytes stay recoverable with
``name.encode("utf-8", "surrogateescape")``, and the consume path dead-letters such a record with
its reason instead of losing it or stopping on it.

:func:`install` puts it in place of the reader aiokafka's fetcher uses (aiokafka is pinned; the
function refuses to run against a fetcher it does not recognise).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from aiokafka import codec
from aiokafka.record.default_records import DefaultRecord
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import decode_varint

_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")
"""baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta, baseTimestamp,
maxTimestamp, producerId, producerEpoch, baseSequence, recordCount (the v2 record batch, 61 bytes)."""
_LOG_OVERHEAD = 12  # baseOffset and batchLength: what precedes the rest of every batch
_CODEC_MASK, _TIMESTAMP_TYPE_MASK = 0x07, 0x08
_DECOMPRESS = {
    1: codec.gzip_decode,
    2: lambda b: codec.snappy_decode(bytes(b)),
    3: lambda b: codec.lz4_decode(bytes(b)),
    4: lambda b: codec.zstd_decode(bytes(b)),
}


def header_name_bytes(name: str) -> bytes:
    """The bytes a producer wrote for a header name, as read by this module (invalid UTF-8 included)."""
    return name.encode("utf-8", "surrogateescape")


def read_records(raw: bytes) -> list[DefaultRecord]:
    """Every record of one v2 batch (``raw`` from its first byte to its last), header names never refused."""
    (
        base_offset,
        _length,
        _epoch,
        _magic,
        _crc,
        attributes,
        _last_delta,
        base_ts,
        max_ts,
        _pid,
        _pepoch,
        _seq,
        count,
    ) = _BATCH_HEADER.unpack_from(raw)
    body: Any = memoryview(raw)[_BATCH_HEADER.size :]
    if attributes & _CODEC_MASK:
        body = _DECOMPRESS[attributes & _CODEC_MASK](body)
    buffer = bytearray(body)
    log_append_time = bool(attributes & _TIMESTAMP_TYPE_MASK)
    records, pos = [], 0
    for _ in range(count):
        _record_length, pos = decode_varint(buffer, pos)
        pos += 1  # record attributes: unused
        ts_delta, pos = decode_varint(buffer, pos)
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _read_bytes(buffer, pos)
        value, pos = _read_bytes(buffer, pos)
        header_count, pos = decode_varint(buffer, pos)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            name, pos = _read_bytes(buffer, pos)
            header_value, pos = _read_bytes(buffer, pos)
            headers.append(((name or b"").decode("utf-8", "surrogateescape"), header_value))
        timestamp = max_ts if log_append_time else base_ts + ts_delta
        records.append(
            DefaultRecord(
                base_offset + offset_delta, timestamp, int(log_append_time), key, value, headers
            )
        )
    return records


def _read_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    length, pos = decode_varint(buffer, pos)
    if length < 0:
        return None, pos
    return bytes(buffer[pos : pos + length]), pos + length


class _TolerantBatch:
    """aiokafka's batch, except that iterating it never fails on a header name."""

    def __init__(self, batch: Any, raw: bytes) -> None:
        self._batch, self._raw = batch, raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> Iterator[Any]:
        try:
            return iter(list(self._batch))
        except UnicodeDecodeError:
            return iter(read_records(self._raw))


class TolerantMemoryRecords:
    """Drop-in for aiokafka's ``MemoryRecords`` (the fetched bytes of one partition)."""

    def __init__(self, data: bytes) -> None:
        self._records, self._data, self._pos = MemoryRecords(data), data, 0

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None:
            return None
        start = self._pos
        (length,) = struct.unpack_from(">i", self._data, start + 8)
        self._pos = start + _LOG_OVERHEAD + length
        if batch.magic < 2:  # the legacy formats have no headers
            return batch
        return _TolerantBatch(batch, bytes(self._data[start : self._pos]))


def install() -> None:
    """Make aiokafka's fetcher read partitions with :class:`TolerantMemoryRecords` (idempotent)."""
    from aiokafka.consumer import fetcher

    current = getattr(fetcher, "MemoryRecords", None)
    if current is TolerantMemoryRecords:
        return
    if current is not MemoryRecords:
        raise RuntimeError(
            "aiokafka's fetcher no longer reads records through MemoryRecords: "
            "servicekit.consume.aiokafka_patches must be revisited for this aiokafka version"
        )
    fetcher.MemoryRecords = TolerantMemoryRecords  # type: ignore[misc,assignment]


_REFRESHING = "_servicekit_refreshes_leaders"


def install_leader_refresh() -> None:
    """Make aiokafka's fetcher ask for fresh metadata when a partition's leader has moved while it looks up an
    offset (idempotent). aiokafka 0.14 retries the lookup at the same, former leader until its metadata ages out
    (``metadata_max_age_ms``, five minutes): after a broker was paused, a consumer left some partitions unread that
    long. A fetch that meets the same error already refreshes; this gives the offset lookup the same answer."""
    from aiokafka import errors
    from aiokafka.consumer import fetcher

    original = getattr(fetcher.Fetcher, "_proc_offset_request", None)
    if original is None:
        raise RuntimeError(
            "aiokafka's fetcher no longer looks offsets up in _proc_offset_request: "
            "servicekit.consume.aiokafka_patches must be revisited for this aiokafka version"
        )
    if getattr(original, _REFRESHING, False):
        return
    moved = (
        errors.NotLeaderForPartitionError,
        errors.LeaderNotAvailableError,
        errors.StaleMetadata,
    )

    async def refreshing(self: Any, node_id: int, topic_data: Any) -> Any:
        try:
            return await original(self, node_id, topic_data)
        except moved:
            self._client.force_metadata_update()
            raise

    setattr(refreshing, _REFRESHING, True)
    fetcher.Fetcher._proc_offset_request = refreshing
