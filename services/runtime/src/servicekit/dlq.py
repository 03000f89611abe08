"""Dead letters for operators: what is there and why, one record's particulars, and sending records back.

    python -m servicekit.dlq list   [--topic T]
    python -m servicekit.dlq show   DLQ_TOPIC PARTITION OFFSET
    python -m servicekit.dlq replay --topic T [--reason R] [--offset P:O ...] --operator ID [--again]

Run as the admin principal with the provisioning settings (``PROVISION_*``, or the shared names; ``./dev dlq``
sets them for the system ``./dev run`` started). Topic names are the catalogue's, without the deployment's
prefix; ``--topic`` takes an input topic or its dead-letter topic.

Nothing here prints a record's content: ``show`` gives the reason, the validation summary the consumer wrote
(field paths and messages, never values), where the record came from, who dead-lettered it and its sizes.

``replay`` publishes each selected dead letter back to the topic it came from: its original key, value and
headers, byte for byte (the original record, read from its origin, where the dead letter was cut), so the event
keeps its ``event_id`` and the consumer's inbox recognises one it has handled since. The replayed record carries
``dlq.replay-of``, ``dlq.replayed-by`` and ``dlq.replayed-at``; and each replay is recorded on the dead-letter
topic itself, as a marker record (who, when, which dead letter, where the copy went), so ``list`` counts what was
replayed and a second ``replay`` of the same selection does nothing unless ``--again``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.catalogue import CATALOGUE
from contracts.topics import DLQ_SUFFIX, Catalogue
from servicekit.broker import client_options
from servicekit.outbox import Header
from servicekit.records import header_name_bytes
from servicekit.records import install as install_tolerant_records
from servicekit.settings import ServiceSettings

MARKER = b"dlq.replay-marker"
"""The header of a record that says a dead letter was replayed (it is not a dead letter itself)."""
ORIGINAL = b"dlq.original-header."
ORIGINAL_HEX = b"dlq.original-header-hex."


class DlqSettings(ServiceSettings):
    """The tool connects as the admin principal, like provisioning."""

    model_config = SettingsConfigDict(env_prefix="PROVISION_", extra="ignore", populate_by_name=True)
    service_name: str = "dlq"
    kafka_sasl_username: str = Field(default="admin", description="The admin principal (a super user).")


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as an operator may see it: where it is, why, where from; sizes, never content."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    reason: str
    detail: str
    consumer: str
    origin: tuple[str, int, int]
    key_bytes: int
    value_bytes: int
    headers: int
    truncated: tuple[str, ...]
    event_id: str | None
    event_type: str | None

    @property
    def coordinates(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class Replay:
    """A marker: the dead letter at ``replay_of`` was published again, by whom and when."""

    replay_of: str
    operator: str
    at: str


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", "backslashreplace")


def _meta(record: ConsumerRecord[Any, Any]) -> dict[bytes, bytes | None]:
    return {name: value for name, value in ((header_name_bytes(n), v) for n, v in record.headers or ())
            if name.startswith(b"dlq.") and not name.startswith((ORIGINAL, ORIGINAL_HEX))}


def read(record: ConsumerRecord[Any, Any]) -> DeadLetter | Replay | None:
    """What a record of a dead-letter topic is: a dead letter, a replay marker, or neither (``None``)."""
    meta = _meta(record)
    if MARKER in meta:
        return Replay(_text(meta.get(b"dlq.replay-of")), _text(meta.get(b"dlq.replayed-by")),
                      _text(meta.get(b"dlq.replayed-at")))
    if b"dlq.reason" not in meta:
        return None
    try:
        origin = (_text(meta[b"dlq.origin.topic"]), int(_text(meta[b"dlq.origin.partition"])),
                  int(_text(meta[b"dlq.origin.offset"])))
    except (KeyError, ValueError):
        origin = ("", -1, -1)
    event_id = event_type = None
    try:
        body = json.loads(record.value or b"")
        if isinstance(body, dict):
            event_id = str(body["event_id"])[:64] if "event_id" in body else None
            event_type = str(body["event_type"])[:64] if "event_type" in body else None
    except ValueError:
        pass
    return DeadLetter(
        topic=record.topic, partition=record.partition, offset=record.offset, timestamp=record.timestamp,
        reason=_text(meta[b"dlq.reason"]), detail=_text(meta.get(b"dlq.detail")), consumer=_text(meta.get(b"dlq.consumer")),
        origin=origin, key_bytes=len(record.key or b""), value_bytes=len(record.value or b""),
        headers=len(record.headers or ()) - len(meta),
        truncated=tuple(n.decode().removeprefix("dlq.truncated.") for n in meta if n.startswith(b"dlq.truncated.")),
        event_id=event_id, event_type=event_type)


def original_headers(headers: Iterable[tuple[Any, bytes | None]]) -> list[Header]:
    """The headers the record had before it was dead-lettered: ``dlq.*`` dropped, renamed ones restored."""
    restored: list[Header] = []
    for name, value in headers:
        raw = header_name_bytes(name)
        if raw.startswith(ORIGINAL_HEX):
            restored.append((bytes.fromhex(raw[len(ORIGINAL_HEX):].decode()), value))
        elif raw.startswith(ORIGINAL):
            restored.append((raw[len(ORIGINAL):], value))
        elif not raw.startswith(b"dlq."):
            restored.append((raw, value))
    return restored


def selected(letters: Iterable[DeadLetter], replays: Iterable[Replay], *, reason: str | None,
             offsets: Sequence[tuple[int, int]], again: bool) -> list[DeadLetter]:
    """The dead letters a replay takes: of ``reason`` (any if ``None``), at ``offsets`` (partition, offset; any
    if empty), not replayed before unless ``again``."""
    done = {r.replay_of for r in replays}
    return [d for d in letters if (reason is None or d.reason == reason)
            and (not offsets or (d.partition, d.offset) in offsets) and (again or d.coordinates not in done)]


# --------------------------------------------------------------------------- the broker's side


class DeadLetters:
    """The dead-letter topics of one deployment, read and written as the admin."""

    def __init__(self, settings: ServiceSettings, catalogue: Catalogue = CATALOGUE) -> None:
        self.settings, self.catalogue = settings, catalogue
        install_tolerant_records()  # a dead letter may carry the header name that was not UTF-8

    def dlq_topic(self, name: str) -> str:
        """The deployment's dead-letter topic for a catalogue topic or its dead-letter topic."""
        return self.settings.topic(self.catalogue[name.removesuffix(DLQ_SUFFIX)].dlq)  # KeyError: not ours

    def all_topics(self) -> list[str]:
        return [self.settings.topic(t.dlq) for t in self.catalogue.topics if t.consumers]

    async def records(self, topics: Sequence[str]) -> list[ConsumerRecord[Any, Any]]:
        """Every record now on ``topics``, from the first to the end offset as of the call."""
        consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None, enable_auto_commit=False,
                                    client_id="dlq-tool")
        await consumer.start()
        try:
            # the client's own metadata, so the topics' partitions are known (consumer.topics() fetches a copy only;
            # aiokafka is pinned)
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            if not partitions:
                return []
            ends = await consumer.end_offsets(partitions)
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            found: list[ConsumerRecord[Any, Any]] = []
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    found += [r for r in batch if r.offset < ends[tp]]
            return found
        finally:
            await consumer.stop()

    async def read_topics(self, topics: Sequence[str]) -> tuple[list[DeadLetter], list[Replay]]:
        letters: list[DeadLetter] = []
        replays: list[Replay] = []
        for record in await self.records(topics):
            match read(record):
                case DeadLetter() as letter:
                    letters.append(letter)
                case Replay() as replay:
                    replays.append(replay)
        return letters, replays

    async def record_at(self, topic: str, partition: int, offset: int) -> ConsumerRecord[Any, Any] | None:
        consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None, enable_auto_commit=False,
                                    client_id="dlq-tool")
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
            return next((r for r in batch.get(tp, []) if r.offset == offset), None)
        finally:
            await consumer.stop()

    async def replay(self, letters: Sequence[DeadLetter], operator: str) -> list[tuple[DeadLetter, str]]:
        """Publish each dead letter's original back to its origin; (dead letter, outcome) for each."""
        producer = AIOKafkaProducer(**client_options(self.settings), acks="all", enable_idempotence=True,
                                    client_id="dlq-tool")
        await producer.start()
        outcomes: list[tuple[DeadLetter, str]] = []
        try:
            for letter in letters:
                outcomes.append((letter, await self._replay_one(producer, letter, operator)))
        finally:
            await producer.stop()
        return outcomes

    async def _replay_one(self, producer: AIOKafkaProducer, letter: DeadLetter, operator: str) -> str:
        if not letter.origin[0]:
            return "skipped: the dead letter does not say where it came from"
        source = await self.record_at(letter.topic, letter.partition, letter.offset)
        if source is None:
            return "skipped: the dead letter is no longer on its topic"
        if letter.truncated:  # the dead letter was cut: the original is on its source topic, for its retention
            source = await self.record_at(*letter.origin)
            if source is None:
                return "skipped: the dead letter was cut and the original is past its topic's retention"
        at = datetime.now(UTC).isoformat()
        stamp: list[Header] = [(b"dlq.replay-of", letter.coordinates.encode()), (b"dlq.replayed-by", operator.encode()),
                               (b"dlq.replayed-at", at.encode())]
        headers = original_headers(source.headers or ()) if source.topic == letter.topic else [
            (header_name_bytes(n), v) for n, v in source.headers or ()]
        sent = await (await producer.send(letter.origin[0], source.value, key=source.key,
                                          headers=[(n.decode("utf-8", "backslashreplace"), v) for n, v in
                                                   [*headers, *stamp]]))
        await (await producer.send(letter.topic, None, key=source.key, headers=[
            (n.decode(), v) for n, v in [(MARKER, b"1"), *stamp,
                                         (b"dlq.replayed-to", f"{sent.topic}/{sent.partition}/{sent.offset}".encode())]]))
        return f"replayed to {sent.topic}/{sent.partition}/{sent.offset}"


# --------------------------------------------------------------------------- the command line


def table(letters: Sequence[DeadLetter], replays: Sequence[Replay]) -> list[str]:
    done = {r.replay_of for r in replays}
    rows: collections.Counter[tuple[str, str, str]] = collections.Counter()
    replayed: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for d in letters:
        rows[d.topic, d.reason, d.consumer] += 1
        replayed[d.topic, d.reason, d.consumer] += d.coordinates in done
    lines = ["| dead-letter topic | reason | consumer | dead letters | replayed |", "|---|---|---|---:|---:|"]
    lines += [f"| {t} | {r} | {c} | {n} | {replayed[t, r, c]} |" for (t, r, c), n in sorted(rows.items())]
    return lines


def particulars(d: DeadLetter) -> list[str]:
    return [f"dead letter   {d.coordinates}", f"reason        {d.reason}", f"detail        {d.detail or '-'}",
            f"consumer      {d.consumer or '-'}", f"came from     {'/'.join(str(x) for x in d.origin)}",
            f"written at    {datetime.fromtimestamp(d.timestamp / 1000, UTC).isoformat()}",
            f"event         {d.event_type or '-'} {d.event_id or ''}".rstrip(),
            f"size          key {d.key_bytes} B, value {d.value_bytes} B, {d.headers} original headers",
            f"cut           {', '.join(d.truncated) or 'no'}"]


def _offsets(texts: Sequence[str]) -> list[tuple[int, int]]:
    pairs = []
    for text in texts:
        partition, _, offset = text.partition(":")
        pairs.append((int(partition), int(offset)))
    return pairs


async def main(argv: Sequence[str] | None = None, settings: ServiceSettings | None = None,
               catalogue: Catalogue = CATALOGUE) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.dlq", description=__doc__.split("\n\n")[0] if __doc__ else "")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="dead letters by topic, reason and consumer, with counts")
    listing.add_argument("--topic", help="only this topic's dead letters")
    show = commands.add_parser("show", help="one dead letter's particulars (never its content)")
    show.add_argument("topic")
    show.add_argument("partition", type=int)
    show.add_argument("offset", type=int)
    replay = commands.add_parser("replay", help="publish dead letters back to the topic they came from")
    replay.add_argument("--topic", required=True)
    replay.add_argument("--reason")
    replay.add_argument("--offset", action="append", default=[], help="PARTITION:OFFSET of a dead letter (repeat)")
    replay.add_argument("--operator", required=True, help="who replays (recorded with each replay)")
    replay.add_argument("--again", action="store_true", help="replay dead letters replayed before, too")
    args = parser.parse_args(argv)
    tool = DeadLetters(settings or DlqSettings(), catalogue)
    try:
        topics = [tool.dlq_topic(args.topic)] if getattr(args, "topic", None) and args.command != "show" else tool.all_topics()
    except KeyError:
        print(f"no topic {args.topic!r} in the catalogue", file=sys.stderr)
        return 2
    if args.command == "list":
        letters, replays = await tool.read_topics(topics)
        print("\n".join(table(letters, replays)))
        print(f"{len(letters)} dead letters, {len({r.replay_of for r in replays})} of them replayed")
        return 0
    if args.command == "show":
        record = await tool.record_at(tool.dlq_topic(args.topic), args.partition, args.offset)
        letter = read(record) if record is not None else None
        if not isinstance(letter, DeadLetter):
            print("no dead letter there", file=sys.stderr)
            return 1
        print("\n".join(particulars(letter)))
        return 0
    letters, replays = await tool.read_topics(topics)
    chosen = selected(letters, replays, reason=args.reason, offsets=_offsets(args.offset), again=args.again)
    for letter, outcome in await tool.replay(chosen, args.operator):
        print(f"{letter.coordinates} ({letter.reason}): {outcome}")
    print(f"{len(chosen)} dead letters selected, by {args.operator}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
