"""Dead letters for operators: what is there and why, one record's particulars, and sending records back.

    python -m servicekit.tools.dlq list   [--topic T]
    python -m servicekit.tools.dlq show   DLQ_TOPIC PARTITION OFFSET [--copy]
    python -m servicekit.tools.dlq replay --topic T [--reason R] [--offset P:O ...] [--again] [--dry-run]
                                          [--even-if-unfixed] [--confirm-copy P:O ...]

Run as the ``dlq-replayer`` principal (``DLQ_*`` settings, or the shared names; ``./dev dlq`` sets them for the
system ``./dev run`` started), never as the admin: it may read the consumed topics and their dead-letter topics
and write exactly those. The operator is whoever the token in ``DLQ_OPERATOR_TOKEN`` (or the file
``DLQ_OPERATOR_TOKEN_FILE``) names, verified like any service's token and holding the operations role. Topic
names are the catalogue's, without the deployment's prefix; ``--topic`` takes an input topic or its dead-letter
topic.

Nothing here prints a record's content unless asked: ``show`` gives the reason, the validation summary the consumer
wrote (field paths and messages, never values), where the record came from, which consumer it names and whether its
seal proves that consumer wrote it (:mod:`servicekit.seal`), and its sizes; ``show --copy`` adds the copy itself,
decoded, for an operator deciding whether to send it.

A dead letter is a consumer's word (every consumer may write its inputs' dead-letter topics), so ``replay`` never
trusts its copy. It re-sends the record found at the dead letter's origin, byte for byte, and only to the
catalogue topic whose dead-letter topic holds it. A dead letter whose headers contradict the catalogue (an
origin that is not that topic, a consumer that does not consume it), whose origin lies past the topic's end, or
whose copy differs from the record at its origin is *suspect*: listed as such and never replayed. Where the
origin has passed its topic's retention, the dead letter's own copy is sent only when its seal proves that a
consumer of the origin topic wrote it and the operator, having read it (``show --copy``), names it with
``--confirm-copy``; an unsealed copy, or one sealed by anyone else, is refused. A ``dlq.truncated.*`` header is its
writer's word too: a cut copy must still be the start of the original, cut at the size it says.
The replayed record keeps its ``event_id``, so the
consumer's inbox recognises one it has handled since; it carries ``dlq.replay-of``, ``dlq.replayed-by`` and
``dlq.replayed-at``; and each replay is recorded on the dead-letter topic as a marker record (who, when, which
dead letter, where the copy went), so ``list`` counts what was replayed and a second ``replay`` of the same
selection does nothing unless ``--again``. A replayed record that fails again is dead-lettered carrying the first
dead letter's coordinates (its ``dlq.replay-of``, kept as ``dlq.original-header.dlq.replay-of``): it is that dead
letter's copy, counted under it ("failed again"), and never selected by a replay, so replaying converges. A dead
letter whose reason is in the record itself (:data:`UNFIXED`) would fail again byte for byte: a replay leaves it out
and says to ask its producer for a corrected event under a new ``event_id``, unless ``--even-if-unfixed``.
``--dry-run`` lists what a replay would send.
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
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from contracts.access import DLQ_REPLAYER
from contracts.catalogue import CATALOGUE
from contracts.roles import OPERATIONS
from contracts.topics import DLQ_SUFFIX, Catalogue, Topic
from servicekit.broker import client_options
from servicekit.consume.aiokafka_patches import header_name_bytes
from servicekit.consume.aiokafka_patches import install as install_tolerant_records
from servicekit.delivery.outbox import Header
from servicekit.http.auth import UnauthorizedError
from servicekit.seal import Seals
from servicekit.settings import ServiceSettings

MARKER = b"dlq.replay-marker"
"""The header of a record that says a dead letter was replayed (it is not a dead letter itself)."""
ORIGINAL = b"dlq.original-header."
ORIGINAL_HEX = b"dlq.original-header-hex."


STAMPS = (b"dlq.replay-of", b"dlq.replayed-by", b"dlq.replayed-at")
"""The headers a replay adds (a record replayed before loses its old ones)."""


class DlqSettings(ServiceSettings):
    """The tool connects as the dead-letter replayer; its operator is named by a verified token."""

    model_config = SettingsConfigDict(env_prefix="DLQ_", extra="ignore", populate_by_name=True)
    service_name: str = "dlq"
    kafka_sasl_username: str = Field(
        default=DLQ_REPLAYER, description="The dead-letter replayer's principal."
    )
    operator_token: SecretStr | None = Field(
        default=None, description="The operator's bearer token (operations role)."
    )
    operator_token_file: Path | None = Field(
        default=None, description="A file holding it, when the token is not set."
    )
    seal_keys_dir: Path | None = Field(
        default=None,
        description="The consumers' public seal keys (<principal>.pub): who wrote a dead letter "
        "(servicekit.seal). Unset: no writer is proven, and no dead letter's own copy is ever sent.",
    )

    def operator(self) -> str:
        """The verified operator: the token's subject, when it holds the operations role; else ``UnauthorizedError``."""
        token = (
            self.operator_token.get_secret_value()
            if self.operator_token is not None
            else (
                self.operator_token_file.read_text().strip()
                if self.operator_token_file is not None
                else ""
            )
        )
        claims = self.bearer_auth().verify(f"Bearer {token}" if token else None)
        if OPERATIONS not in claims.get("roles", []):
            raise UnauthorizedError("needs-role")
        return str(claims["sub"])


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
    writer: str | None = None
    """The consumer whose seal the dead letter carries (:mod:`servicekit.seal`); ``None``: nobody is proven."""
    copy_of: str | None = None
    """The dead letter whose replay this one is (the replayed record failed again): a copy, grouped under it and
    never selected by a replay (its first dead letter is what one replays, with ``--again``)."""

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
    return {
        name: value
        for name, value in ((header_name_bytes(n), v) for n, v in record.headers or ())
        if name.startswith(b"dlq.") and not name.startswith((ORIGINAL, ORIGINAL_HEX))
    }


def read(
    record: ConsumerRecord[Any, Any], seals: Seals | None = None
) -> DeadLetter | Replay | None:
    """What a record of a dead-letter topic is: a dead letter, a replay marker, or neither (``None``); a dead
    letter's writer is proven by its seal against ``seals``."""
    meta = _meta(record)
    if MARKER in meta:
        return Replay(
            _text(meta.get(b"dlq.replay-of")),
            _text(meta.get(b"dlq.replayed-by")),
            _text(meta.get(b"dlq.replayed-at")),
        )
    if b"dlq.reason" not in meta:
        return None
    try:
        origin = (
            _text(meta[b"dlq.origin.topic"]),
            int(_text(meta[b"dlq.origin.partition"])),
            int(_text(meta[b"dlq.origin.offset"])),
        )
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
    consumer = _text(meta.get(b"dlq.consumer"))
    headers = [(header_name_bytes(n), v) for n, v in record.headers or ()]
    replay_of = next((v for n, v in headers if n == ORIGINAL + b"dlq.replay-of"), None)
    return DeadLetter(
        copy_of=_text(replay_of) if replay_of is not None else None,
        writer=seals.writer(record.topic, record.key, record.value, headers, consumer)
        if seals is not None
        else None,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        reason=_text(meta[b"dlq.reason"]),
        detail=_text(meta.get(b"dlq.detail")),
        consumer=consumer,
        origin=origin,
        key_bytes=len(record.key or b""),
        value_bytes=len(record.value or b""),
        headers=len(record.headers or ()) - len(meta),
        truncated=tuple(
            n.decode().removeprefix("dlq.truncated.")
            for n in meta
            if n.startswith(b"dlq.truncated.")
        ),
        event_id=event_id,
        event_type=event_type,
    )


def original_headers(headers: Iterable[tuple[Any, bytes | None]]) -> list[Header]:
    """The headers the record had before it was dead-lettered: ``dlq.*`` dropped, renamed ones restored."""
    restored: list[Header] = []
    for name, value in headers:
        raw = header_name_bytes(name)
        if raw.startswith(ORIGINAL_HEX):
            restored.append((bytes.fromhex(raw[len(ORIGINAL_HEX) :].decode()), value))
        elif raw.startswith(ORIGINAL):
            restored.append((raw[len(ORIGINAL) :], value))
        elif not raw.startswith(b"dlq."):
            restored.append((raw, value))
    return restored


UNFIXED = frozenset(
    {
        "header-name-not-utf8",
        "content-type-not-json",
        "empty-message",
        "key-mismatch",
        "not-json",
        "not-an-object",
        "schema-invalid",
        "too-deep",
        "number-too-long",
        "nul-character",
        "event-id-reused",
    }
)
"""Reasons in the record's own bytes: sent again byte for byte, it fails the same way. Its producer sends a corrected
event, under a new ``event_id`` (docs/integration.md, "Dead letters"); a replay takes one only when told
(``--even-if-unfixed``). The other reasons (``handler-failed``, ``unknown-event-type``,
``unsupported-schema-version``) may pass once a fix or a newer version is deployed here, and ``too-large`` once the
limit is raised."""
ASK_UPSTREAM = (
    "{n} dead letters were left out: their reason is in the record itself ({reasons}), so it would fail again "
    "byte for byte. Ask the topic's producer to send a corrected event under a new event_id; or, knowing that, "
    "replay with --even-if-unfixed."
)


def selected(
    letters: Iterable[DeadLetter],
    replays: Iterable[Replay],
    *,
    reason: str | None,
    offsets: Sequence[tuple[int, int]],
    again: bool,
    unfixed: bool = False,
) -> list[DeadLetter]:
    """The dead letters a replay takes: of ``reason`` (any if ``None``), at ``offsets`` (partition, offset; any
    if empty), not replayed before unless ``again``, never a copy (a replay that failed again: its first dead
    letter is the one to replay), and none whose reason is in the record itself unless ``unfixed``."""
    done = {r.replay_of for r in replays}
    return [
        d
        for d in letters
        if _asked(d, reason, offsets)
        and (again or d.coordinates not in done)
        and (unfixed or d.reason not in UNFIXED)
    ]


def left_unfixed(
    letters: Iterable[DeadLetter], *, reason: str | None, offsets: Sequence[tuple[int, int]]
) -> list[DeadLetter]:
    """The first dead letters a replay of this selection left out because their reason is in the record itself."""
    return [d for d in letters if _asked(d, reason, offsets) and d.reason in UNFIXED]


def _asked(letter: DeadLetter, reason: str | None, offsets: Sequence[tuple[int, int]]) -> bool:
    """Whether a replay's selection names a dead letter: of ``reason`` (any if ``None``), at ``offsets`` (any if
    empty), and a first dead letter, not a copy (a replay that failed again)."""
    return (
        (reason is None or letter.reason == reason)
        and (not offsets or (letter.partition, letter.offset) in offsets)
        and letter.copy_of is None
    )


# --------------------------------------------------------------------------- the broker's side


def _copy_of(copy: ConsumerRecord[Any, Any], source: ConsumerRecord[Any, Any]) -> bool:
    """Whether a dead letter's key and value are the record at its origin's: equal, or, where the dead letter says
    it was cut (a header its writer sets, so not trusted), the start of it, cut where and at the size it says."""
    meta = _meta(copy)
    for part, mine, theirs in (
        (b"key", copy.key, source.key),
        (b"value", copy.value, source.value),
    ):
        said = meta.get(b"dlq.truncated." + part)
        if said is None:
            if mine != theirs:
                return False
            continue
        whole = theirs or b""
        if _text(said) != str(len(whole)) or not whole.startswith(mine or b"") or mine == whole:
            return False
    return True


class DeadLetters:
    """The dead-letter topics of one deployment, read and replayed as the dead-letter replayer."""

    def __init__(self, settings: ServiceSettings, catalogue: Catalogue = CATALOGUE) -> None:
        self.settings, self.catalogue = settings, catalogue
        self.seals = Seals(getattr(settings, "seal_keys_dir", None))
        install_tolerant_records()  # a dead letter may carry the header name that was not UTF-8

    def dlq_topic(self, name: str) -> str:
        """The deployment's dead-letter topic for a catalogue topic or its dead-letter topic."""
        return self.settings.topic(
            self.catalogue[name.removesuffix(DLQ_SUFFIX)].dlq
        )  # KeyError: not ours

    def all_topics(self) -> list[str]:
        return [self.settings.topic(t.dlq) for t in self.catalogue.topics if t.consumers]

    def topic_of(self, letter: DeadLetter) -> Topic | None:
        """The catalogue topic whose dead-letter topic holds ``letter`` (where it came from, unless suspect)."""
        return next(
            (
                t
                for t in self.catalogue.topics
                if t.consumers and self.settings.topic(t.dlq) == letter.topic
            ),
            None,
        )

    def suspicion(self, letter: DeadLetter) -> str | None:
        """Why the dead letter's headers contradict the catalogue, or ``None``: the origin must be the topic whose
        dead-letter topic holds it, and the consumer one that consumes it."""
        topic = self.topic_of(letter)
        if topic is None:
            return "its topic is no dead-letter topic of the catalogue"
        if letter.origin[0] != self.settings.topic(topic.name) or min(letter.origin[1:]) < 0:
            return f"it names an origin other than {self.settings.topic(topic.name)}"
        if letter.consumer not in topic.consumers:
            return f"it names a consumer that does not consume {topic.name}"
        return None

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            client_id="dlq-tool",
        )

    async def records(self, topics: Sequence[str]) -> list[ConsumerRecord[Any, Any]]:
        """Every record now on ``topics``, from the first to the end offset as of the call."""
        consumer = self._consumer()
        await consumer.start()
        try:
            # the client's own metadata, so the topics' partitions are known (consumer.topics() fetches a copy only;
            # aiokafka is pinned)
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(t, p)
                for t in topics
                for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
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
            match read(record, self.seals):
                case DeadLetter() as letter:
                    letters.append(letter)
                case Replay() as replay:
                    replays.append(replay)
        return letters, replays

    async def record_at(
        self, topic: str, partition: int, offset: int
    ) -> tuple[ConsumerRecord[Any, Any] | None, str]:
        """The record at those coordinates and ``"found"``; else ``None`` and why: ``"expired"`` (before the
        partition's first offset: past its retention), ``"beyond-end"`` (no record was ever written there) or
        ``"missing"`` (no such partition, or no record at that offset)."""
        consumer = self._consumer()
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            await consumer._client.force_metadata_update()
            if partition not in (consumer.partitions_for_topic(topic) or ()):
                return None, "missing"
            first, end = (
                (await consumer.beginning_offsets([tp]))[tp],
                (await consumer.end_offsets([tp]))[tp],
            )
            if offset < first:
                return None, "expired"
            if offset >= end:
                return None, "beyond-end"
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
            record = next((r for r in batch.get(tp, []) if r.offset == offset), None)
            return record, "found" if record is not None else "missing"
        finally:
            await consumer.stop()

    async def replay(
        self,
        letters: Sequence[DeadLetter],
        operator: str,
        confirmed: Sequence[tuple[int, int]] = (),
    ) -> list[tuple[DeadLetter, str]]:
        """Re-send each dead letter's original to its origin; (dead letter, outcome) for each. ``confirmed``: the
        (partition, offset) of dead letters whose own copy the operator accepts where the original has expired."""
        producer = AIOKafkaProducer(
            **client_options(self.settings),
            acks="all",
            enable_idempotence=True,
            client_id="dlq-tool",
        )
        await producer.start()
        outcomes: list[tuple[DeadLetter, str]] = []
        try:
            for letter in letters:
                outcomes.append(
                    (letter, await self._replay_one(producer, letter, operator, confirmed))
                )
        finally:
            await producer.stop()
        return outcomes

    async def _original(
        self, letter: DeadLetter, confirmed: Sequence[tuple[int, int]]
    ) -> tuple[bytes | None, bytes | None, list[Header]] | str:
        """The key, value and headers to re-send, or why nothing is."""
        if (why := self.suspicion(letter)) is not None:
            return f"refused, suspect: {why}"
        copy, _ = await self.record_at(letter.topic, letter.partition, letter.offset)
        if copy is None:
            return "skipped: the dead letter is no longer on its topic"
        source, status = await self.record_at(*letter.origin)
        if source is not None:
            if not _copy_of(copy, source):
                return "refused, suspect: its copy differs from the record at its origin"
            return (
                source.key,
                source.value,
                [
                    (header_name_bytes(n), v)
                    for n, v in source.headers or ()
                    if header_name_bytes(n) not in STAMPS
                ],
            )
        if status != "expired":
            return f"refused, suspect: no record was ever at its origin ({status})"
        if letter.truncated:
            return "skipped: the dead letter was cut and the original is past its topic's retention"
        origin = self.topic_of(letter)  # not suspect: the topic its origin names
        assert origin is not None
        if letter.writer is None or letter.writer not in origin.consumers:
            return (
                "refused: the original is past its topic's retention and the dead letter's own copy is not "
                f"sealed by a consumer of {origin.name} (anyone who may write {letter.topic} could have written "
                "it); ask the producer to publish the event again"
            )
        if (letter.partition, letter.offset) not in confirmed:
            return (
                f"held: the original is past its topic's retention; read `show {letter.topic} {letter.partition} "
                f"{letter.offset} --copy` (written by {letter.writer}, sealed), then replay with --confirm-copy "
                f"{letter.partition}:{letter.offset} to send the dead letter's own copy"
            )
        return (
            copy.key,
            copy.value,
            [h for h in original_headers(copy.headers or ()) if h[0] not in STAMPS],
        )

    async def _replay_one(
        self,
        producer: AIOKafkaProducer,
        letter: DeadLetter,
        operator: str,
        confirmed: Sequence[tuple[int, int]],
    ) -> str:
        original = await self._original(letter, confirmed)
        if isinstance(original, str):
            return original
        key, value, headers = original
        at = datetime.now(UTC).isoformat()
        stamp: list[Header] = [
            (b"dlq.replay-of", letter.coordinates.encode()),
            (b"dlq.replayed-by", operator.encode()),
            (b"dlq.replayed-at", at.encode()),
        ]
        sent = await (
            await producer.send(
                letter.origin[0],
                value,
                key=key,
                headers=[(n.decode("utf-8", "backslashreplace"), v) for n, v in [*headers, *stamp]],
            )
        )
        await (
            await producer.send(
                letter.topic,
                None,
                key=key,
                headers=[
                    (n.decode(), v)
                    for n, v in [
                        (MARKER, b"1"),
                        *stamp,
                        (
                            b"dlq.replayed-to",
                            f"{sent.topic}/{sent.partition}/{sent.offset}".encode(),
                        ),
                    ]
                ],
            )
        )
        return f"replayed to {sent.topic}/{sent.partition}/{sent.offset}"


# --------------------------------------------------------------------------- the command line


def table(
    letters: Sequence[DeadLetter], replays: Sequence[Replay], suspect: Iterable[DeadLetter] = ()
) -> list[str]:
    """Dead letters by topic, reason and consumer: how many (a replay that failed again is a copy, counted under
    its first dead letter, not as one more), how many were replayed, and how many are suspect."""
    done = {r.replay_of for r in replays}
    suspected = {d.coordinates for d in suspect}
    rows: collections.Counter[tuple[str, str, str]] = collections.Counter()
    copies: collections.Counter[tuple[str, str, str]] = collections.Counter()
    replayed: collections.Counter[tuple[str, str, str]] = collections.Counter()
    suspects: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for d in letters:
        row = (d.topic, d.reason, d.consumer)
        if d.copy_of is not None:
            copies[row] += 1
            continue
        rows[row] += 1
        replayed[row] += d.coordinates in done
        suspects[row] += d.coordinates in suspected
    lines = [
        "| dead-letter topic | reason | consumer | dead letters | replayed | failed again | suspect |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t} | {r} | {c} | {rows[t, r, c]} | {replayed[t, r, c]} | {copies[t, r, c]} | "
        f"{suspects[t, r, c]} |"
        for (t, r, c) in sorted(rows.keys() | copies.keys())
    ]
    return lines


SHOWN = 50
"""How many dead letters ``list`` names one by one (the newest), beyond its counts."""


def coordinates(letters: Sequence[DeadLetter], shown: int = SHOWN) -> list[str]:
    """Each dead letter as ``show`` and ``replay --offset`` take it: topic, partition, offset, and its reason."""
    newest = sorted(letters, key=lambda d: d.timestamp, reverse=True)[:shown]
    more = len(letters) - len(newest)
    return [
        f"the {'newest ' + str(len(newest)) if more else str(len(newest))} one by one "
        "(`show TOPIC PARTITION OFFSET`, `replay --topic TOPIC --offset PARTITION:OFFSET`):",
        *(
            f"  {d.topic} {d.partition} {d.offset}  {d.reason}"
            + (f"  (a replay of {d.copy_of} that failed again)" if d.copy_of else "")
            for d in newest
        ),
        *([f"  ... and {more} more (--topic narrows the list)"] if more else []),
    ]


def particulars(d: DeadLetter, suspicion: str | None = None) -> list[str]:
    return [
        f"dead letter   {d.coordinates}",
        f"reason        {d.reason}",
        f"detail        {d.detail or '-'}",
        f"consumer      {d.consumer or '-'}",
        f"written by    {f'{d.writer} (its seal holds)' if d.writer else 'not proven (no seal of that consumer holds)'}",
        f"came from     {'/'.join(str(x) for x in d.origin)}",
        f"written at    {datetime.fromtimestamp(d.timestamp / 1000, UTC).isoformat()}",
        f"event         {d.event_type or '-'} {d.event_id or ''}".rstrip(),
        f"size          key {d.key_bytes} B, value {d.value_bytes} B, {d.headers} original headers",
        f"cut           {', '.join(d.truncated) or 'no'}",
        f"suspect       {suspicion or 'no'}",
    ]


def decoded_copy(record: ConsumerRecord[Any, Any]) -> list[str]:
    """A dead letter's own copy as text, for the operator deciding whether to send it: its key, the headers it
    carried and its value (JSON indented where it is JSON); bytes that are not UTF-8 escaped, never dropped."""
    lines = [
        "copy          (the record as this dead letter holds it: personal data, read it here only)"
    ]
    lines.append(f"key           {_text(record.key)!r}")
    for name, value in original_headers(record.headers or ()):
        lines.append(f"header        {_text(name)!r}: {_text(value)!r}")
    text = _text(record.value)
    try:
        body = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        body = text
    lines += ["value", *("  " + line for line in body.splitlines())]
    return lines


def _offsets(texts: Sequence[str]) -> list[tuple[int, int]]:
    pairs = []
    for text in texts:
        partition, _, offset = text.partition(":")
        pairs.append((int(partition), int(offset)))
    return pairs


async def main(
    argv: Sequence[str] | None = None,
    settings: DlqSettings | None = None,
    catalogue: Catalogue = CATALOGUE,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.tools.dlq",
        description=__doc__.split("\n\n")[0] if __doc__ else "",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser(
        "list", help="dead letters by topic, reason and consumer, with counts"
    )
    listing.add_argument("--topic", help="only this topic's dead letters")
    show = commands.add_parser("show", help="one dead letter's particulars (never its content)")
    show.add_argument("topic")
    show.add_argument("partition", type=int)
    show.add_argument("offset", type=int)
    show.add_argument(
        "--copy",
        action="store_true",
        help="also print the dead letter's own copy, decoded (it holds the record's content: what an operator "
        "reads before --confirm-copy)",
    )
    replay = commands.add_parser(
        "replay", help="re-send dead letters' originals to the topic they came from"
    )
    replay.add_argument("--topic", required=True)
    replay.add_argument("--reason")
    replay.add_argument(
        "--offset", action="append", default=[], help="PARTITION:OFFSET of a dead letter (repeat)"
    )
    replay.add_argument(
        "--again", action="store_true", help="replay dead letters replayed before, too"
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="list what would be sent, and send nothing"
    )
    replay.add_argument(
        "--even-if-unfixed",
        action="store_true",
        help="take dead letters whose reason is in the record itself (they fail again byte for byte)",
    )
    replay.add_argument(
        "--confirm-copy",
        action="append",
        default=[],
        metavar="PARTITION:OFFSET",
        help="send this dead letter's own copy where its original has expired (after `show`)",
    )
    args = parser.parse_args(argv)
    settings = settings or DlqSettings()
    try:
        operator = settings.operator()
    except UnauthorizedError as exc:
        print(
            f"refused: the dead-letter tools need an operator's token with the {OPERATIONS!r} role in "
            f"DLQ_OPERATOR_TOKEN or DLQ_OPERATOR_TOKEN_FILE ({exc.code})",
            file=sys.stderr,
        )
        return 2
    tool = DeadLetters(settings, catalogue)
    try:
        topics = (
            [tool.dlq_topic(args.topic)]
            if getattr(args, "topic", None) and args.command != "show"
            else tool.all_topics()
        )
    except KeyError:
        print(f"no topic {args.topic!r} in the catalogue", file=sys.stderr)
        return 2
    if args.command == "list":
        letters, replays = await tool.read_topics(topics)
        suspect = [d for d in letters if tool.suspicion(d) is not None]
        print("\n".join(table(letters, replays, suspect)))
        print(
            f"{len(letters)} dead letters, {len({r.replay_of for r in replays})} of them replayed, {len(suspect)} "
            "suspect (never replayed)"
        )
        if letters:
            print("\n".join(coordinates(letters)))
        return 0
    if args.command == "show":
        record, _ = await tool.record_at(tool.dlq_topic(args.topic), args.partition, args.offset)
        letter = read(record, tool.seals) if record is not None else None
        if not isinstance(letter, DeadLetter):
            print("no dead letter there", file=sys.stderr)
            return 1
        print("\n".join(particulars(letter, tool.suspicion(letter))))
        if args.copy:
            assert record is not None
            print("\n".join(decoded_copy(record)))
        return 0
    return await _replay(tool, topics, args, operator)


async def _replay(
    tool: DeadLetters, topics: Sequence[str], args: argparse.Namespace, operator: str
) -> int:
    letters, replays = await tool.read_topics(topics)
    offsets = _offsets(args.offset)
    chosen = selected(
        letters,
        replays,
        reason=args.reason,
        offsets=offsets,
        again=args.again,
        unfixed=args.even_if_unfixed,
    )
    if args.dry_run:
        for letter in chosen:
            print(f"{letter.coordinates} ({letter.reason}): would be sent")
    else:
        for letter, outcome in await tool.replay(chosen, operator, _offsets(args.confirm_copy)):
            print(f"{letter.coordinates} ({letter.reason}): {outcome}")
    unfixed = (
        [] if args.even_if_unfixed else left_unfixed(letters, reason=args.reason, offsets=offsets)
    )
    if unfixed:
        reasons = ", ".join(sorted({d.reason for d in unfixed}))
        print(ASK_UPSTREAM.format(n=len(unfixed), reasons=reasons))
    print(
        f"{len(chosen)} dead letters selected, by {operator}"
        + (" (dry run: none sent)" if args.dry_run else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
