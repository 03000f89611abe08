"""The consume path every service shares: raw records → screen → one DB transaction → commit the offset.

The project owns every byte: records arrive from aiokafka as bytes (header names included, see
:mod:`servicekit.consume.aiokafka_patches`), and :func:`screen` checks header names, size, the declared content type,
JSON with limits, the contract and the key. For each poll, in one transaction: every record is
claimed in the inbox with one statement (an event by its id and content fingerprint, anything else
by its origin); records that are not valid events are addressed to the topic's dead-letter topic
with their reason; valid ones go to the service's handler; every output goes to the outbox with one
statement. Only after the transaction commits is the Kafka offset committed. A transient failure
(database or broker away) rolls back, rewinds the consumer to the poll's first records and retries
with backoff: nothing is committed past a record that was not handled.

A handler comes in one of two forms:

* :data:`Handler`, one message at a time, each in its own savepoint;
* :class:`Batched`, a whole run of messages at once: one ``load`` locks and reads every aggregate
  the run concerns, ``step`` decides each message in memory, in order, and one ``save`` writes what
  changed. The database round trips are per poll, not per message. If ``load`` or ``save`` fails
  with an error that is not transient, the run is handled again one message at a time (a run of
  one), so a single bad message is dead-lettered alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError, NoBrokersAvailable
from opentelemetry.trace import INVALID_SPAN, Span

from contracts.envelope import Event, id_text
from contracts.outcomes import MAX_ANSWERS, Answer, InputOutcomes, Outcome, judged
from contracts.topics import Catalogue, ContractError, Topic
from servicekit import tracing
from servicekit.backoff import Backoff
from servicekit.broker import client_options
from servicekit.clock import Clock
from servicekit.consume import positions
from servicekit.consume.aiokafka_patches import header_name_bytes, install_leader_refresh
from servicekit.consume.aiokafka_patches import install as install_tolerant_records
from servicekit.db import is_transient
from servicekit.delivery.outbox import Header, OutboundMessage, Queued, claim, enqueue, fingerprints
from servicekit.logs import get_logger
from servicekit.metrics import Metrics
from servicekit.seal import Sealer, sealer
from servicekit.settings import ServiceSettings

Handler = Callable[[asyncpg.Connection, Any, datetime], Awaitable[Sequence[Event]]]
"""A service's handler: (connection in the open transaction, validated event, now) -> output events."""


class Batch(Protocol):
    """The working set of one run of messages: loaded (and locked) once, stepped through, saved once."""

    def step(self, message: Any, now: datetime) -> Sequence[Event]:
        """Decide one message against the working set and apply the outcome to it; no I/O."""
        ...

    async def save(self, conn: asyncpg.Connection) -> None:
        """Write everything the steps changed."""
        ...


@dataclass(frozen=True)
class Batched:
    """A handler in batch form. ``load(conn, messages)`` reads and locks what ``messages`` concern."""

    load: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[Batch]]

    async def one(self, conn: asyncpg.Connection, message: Any, now: datetime) -> Sequence[Event]:
        """The same handler for a single message (a run of one)."""
        batch = await self.load(conn, [message])
        outputs = batch.step(message, now)
        await batch.save(conn)
        return outputs


log = get_logger("servicekit.consume.consumer")

DETAIL_LIMIT = 1000
"""Most bytes of a dead letter's ``dlq.detail`` (a validation summary: field paths and messages, no values)."""
KEY_LIMIT = 1024
"""Most bytes of a record key a dead letter carries (an aggregate id needs far fewer)."""


def to_outbound(event: Event, catalogue: Catalogue, settings: ServiceSettings) -> OutboundMessage:
    topic = catalogue.topic_of(event)
    return OutboundMessage(
        event_id=id_text(event.event_id),
        topic=settings.topic(topic.name),
        key=event.key.encode(),
        value=event.to_json(),
        headers=(
            (b"content-type", b"application/json"),
            (b"event_type", event.event_type.encode()),
            (b"correlation_id", id_text(event.correlation_id).encode()),
        ),
    )


def origin_id(record: ConsumerRecord[Any, Any]) -> str:
    """The inbox id of a record that is not handled as an event: where it is, which is unique."""
    return f"dlq:{record.topic}/{record.partition}/{record.offset}"


def dead_letter(
    record: ConsumerRecord[Any, Any],
    dlq_topic: str,
    *,
    reason: str,
    detail: str,
    consumer: str,
    max_bytes: int,
    seal: Sealer | None = None,
) -> OutboundMessage:
    """The original key, headers and value as bytes, plus why and where from, in at most ``max_bytes``.

    What does not fit is cut, and a ``dlq.truncated.*`` header says how large it was; the original stays on
    its source topic for the topic's retention. A header name that is not UTF-8 cannot be a header name on
    the way out (Kafka clients write names as text): it is carried as ``dlq.original-header-hex.<hex>``; an
    original name that starts with ``dlq.`` as ``dlq.original-header.<name>``, so no record can forge a reason.
    With ``seal`` (the consumer's key, :mod:`servicekit.seal`), the last header seals all of it as this consumer's.
    """
    meta: list[Header] = [
        (name.encode(), text.encode("utf-8", "backslashreplace"))
        for name, text in (
            ("dlq.reason", reason),
            ("dlq.detail", detail[:DETAIL_LIMIT]),
            ("dlq.consumer", consumer),
            ("dlq.origin.topic", record.topic),
            ("dlq.origin.partition", str(record.partition)),
            ("dlq.origin.offset", str(record.offset)),
            ("dlq.origin.timestamp", str(record.timestamp)),
        )
    ]
    budget = (
        max_bytes - sum(len(n) + len(v or b"") for n, v in meta) - 256
    )  # room for the dlq.truncated.* headers
    key = record.key
    if key is not None and len(key) > KEY_LIMIT:
        meta.append((b"dlq.truncated.key", str(len(key)).encode()))
        key = key[:KEY_LIMIT]
    budget -= len(key or b"")
    carried: list[Header] = []
    dropped = 0
    for name, value in record.headers or ():
        raw = header_name_bytes(name)
        if not _is_utf8(raw):
            name_out = b"dlq.original-header-hex." + raw.hex().encode()
        else:
            name_out = b"dlq.original-header." + raw if raw.startswith(b"dlq.") else raw
        size = len(name_out) + len(value or b"")
        if size > budget:
            dropped += 1
            continue
        carried.append((name_out, value))
        budget -= size
    if dropped:
        meta.append((b"dlq.truncated.headers", str(dropped).encode()))
    value = record.value
    if value is not None and len(value) > max(budget, 0):
        meta.append((b"dlq.truncated.value", str(len(value)).encode()))
        value = value[: max(budget, 0)]
    headers = (*carried, *meta)
    if seal is not None:
        headers = (*headers, seal(dlq_topic, key, value, headers))
    return OutboundMessage(
        event_id=origin_id(record), topic=dlq_topic, key=key, value=value, headers=headers
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_json_content_type(value: bytes | None) -> bool:
    if value is None or not value.isascii():
        return False
    return value.decode().split(";", 1)[0].strip().lower() == "application/json"


def screen(record: ConsumerRecord[Any, Any], topic: Topic, max_bytes: int) -> Event | ContractError:
    """Everything the project checks of one record before any state is touched, as an event or the reason
    it is not one: header names, size, declared content type, the contract, and the key."""
    try:
        headers = record.headers or ()
        names = [header_name_bytes(name) for name, _ in headers]
        if not all(raw.isascii() or _is_utf8(raw) for raw in names):
            raise ContractError("header-name-not-utf8", "a header name is not UTF-8")
        size = (
            len(record.key or b"")
            + len(record.value or b"")
            + sum(len(raw) + len(v or b"") for raw, (_, v) in zip(names, headers, strict=True))
        )
        if size > max_bytes:
            raise ContractError(
                "too-large", f"{size} bytes with key and headers; at most {max_bytes}"
            )
        for name, value in headers:
            if name.lower() == "content-type" and not _is_json_content_type(value):
                raise ContractError(
                    "content-type-not-json", "the content-type header is not application/json"
                )
        event = topic.parse(record.value)
        if record.key != event.key.encode():
            raise ContractError("key-mismatch", f"the record key is not the event's {topic.key}")
        return event
    except ContractError as exc:
        return exc


EVENT_ID = re.compile(rb'"event_id"\s*:\s*"([0-9a-fA-F-]{36})"')
"""An event id as a record's first bytes may say it: a UUID, nothing else (no other value reaches a log line)."""


def event_id_in(value: bytes | None) -> str | None:
    """The UUID a dead-lettered record says is its ``event_id``, read from its first 4 KiB without parsing (the
    record may be anything: not JSON, nested 5,000 deep, huge), for the operator's log line; ``None`` if none."""
    found = EVENT_ID.search((value or b"")[:4096])
    return found.group(1).decode() if found else None


def fingerprint(event: Event) -> bytes:
    """What an event says, as validated, but for when it was said (``occurred_at``): a reused id with other content
    is not a duplicate, while the same output derived again later (a restored producer re-reading what its backup
    did not know: same id, same content, another ``occurred_at``) is."""
    return hashlib.blake2b(
        event.model_dump_json(exclude={"occurred_at"}).encode(), digest_size=16
    ).digest()


def _fingerprint_v1(item: Event | ContractError) -> bytes | None:
    """The fingerprint inbox rows were claimed with before ``occurred_at`` was left out: a redelivery of an event
    handled then still matches."""
    return (
        hashlib.blake2b(item.to_json(), digest_size=16).digest()
        if isinstance(item, Event)
        else None
    )


@dataclass(frozen=True)
class Route:
    """One subscribed topic: its contract, its handler and its dead-letter topic (names as on the broker)."""

    topic: Topic
    handler: Handler
    batched: Batched | None
    dlq: str
    outcomes: type[InputOutcomes] | None = None
    """The outcomes its records get on the channel its upstream producer reads (:mod:`contracts.outcomes`)."""

    @classmethod
    def of(
        cls,
        topic: Topic,
        handler: Handler | Batched,
        settings: ServiceSettings,
        catalogue: Catalogue,
    ) -> Route:
        answers = catalogue.outcomes_of(topic.name)
        outcome = answers.events[0] if answers is not None else None
        assert outcome is None or issubclass(outcome, InputOutcomes)
        if isinstance(handler, Batched):
            return cls(topic, handler.one, handler, settings.topic(topic.dlq), outcome)
        return cls(topic, handler, None, settings.topic(topic.dlq), outcome)


Counts = collections.Counter[tuple[str, str]]
"""(topic, outcome) -> messages."""


class _Redo(Exception):  # noqa: N818 - a signal, not an error
    """A handler failed in a poll run without savepoints: the poll is rolled back and run again with them."""


def _savepoint(
    conn: asyncpg.Connection, careful: bool
) -> contextlib.AbstractAsyncContextManager[Any]:
    """Where a handler runs: ``careful``, in a savepoint, so that its failure is its own; else in the poll's
    transaction as it is (a failure there is a :class:`_Redo`)."""
    return conn.transaction() if careful else contextlib.nullcontext()


class BatchPipeline:
    """One consumer's polls, whatever topics they mix: one transaction per poll, every record accounted for.

    Each record ends as exactly one of: handled, dead-lettered (with a reason), or duplicate (its id was
    handled before with the same content); a transient failure raises, and the caller retries the poll.
    """

    def __init__(
        self,
        *,
        routes: Mapping[str, Route],
        catalogue: Catalogue,
        settings: ServiceSettings,
        pool: Callable[[], asyncpg.Pool],
        clock: Clock,
        metrics: Metrics,
        on_committed: Callable[[Sequence[Queued]], None],
    ) -> None:
        self.routes, self.catalogue, self.settings = routes, catalogue, settings
        self.pool, self.clock, self.metrics = pool, clock, metrics
        self.on_committed = on_committed
        """Given each poll's outbox rows once its transaction has committed (the relay publishes them)."""
        self._released: list[tuple[ConsumerRecord[Any, Any], Event]] = []
        """This poll's events a handler failed on (dead-lettered): their inbox claims are released."""
        self._redelivered: set[int] = set()
        """Of those, the ones dead-lettered before (a redelivery): duplicates after all."""
        self._answers: dict[tuple[str, int, int], Answer] = {}
        """This poll's outcome of each record whose producer reads them, by where the record is."""
        self._spans: dict[tuple[str, int, int], Span] = {}
        """This poll's ``process`` span of each record, by where the record is."""

    def _span_of(self, record: ConsumerRecord[Any, Any]) -> Span:
        return self._spans.get((record.topic, record.partition, record.offset), INVALID_SPAN)

    async def handle(self, records: Sequence[ConsumerRecord[Any, Any]]) -> Counts:
        spans = [self._process_span(r) for r in records]
        self._spans = {
            (r.topic, r.partition, r.offset): span for r, span in zip(records, spans, strict=True)
        }
        try:
            counts, screened, verdicts, outbox = await self._handle(records, spans)
        except BaseException as exc:
            for span in spans:
                span.set_attribute("msp_im.outcome", "retried")
                span.set_attribute("error.type", type(exc).__name__)
                span.end()
            raise
        for n, ((record, _), verdict) in enumerate(zip(screened, verdicts, strict=True)):
            self._ended(spans[n], record, verdict, outbox[n])
        return counts

    def _process_span(self, record: ConsumerRecord[Any, Any]) -> Span:
        carrier = tracing.carrier_from_headers(
            (header_name_bytes(name), value) for name, value in record.headers or ()
        )
        return tracing.consume_span(
            record.topic, record.partition, record.offset, carrier, self.settings.group_id
        )

    def _ended(
        self,
        span: Span,
        record: ConsumerRecord[Any, Any],
        verdict: Event | ContractError | None,
        sent: Sequence[OutboundMessage],
    ) -> None:
        """What became of the record, on its span: handled, duplicate, or dead-lettered and why."""
        dlq = self.routes[record.topic].dlq
        letter = next((m for m in sent if m.topic == dlq), None)
        if letter is not None:
            span.set_attribute("msp_im.outcome", "dead_lettered")
            reason = dict(letter.headers).get(b"dlq.reason") or b""
            tracing.failed(span, reason.decode("utf-8", "replace"))
        elif verdict is None or (
            isinstance(verdict, Event) and not sent and id(verdict) in self._redelivered
        ):
            span.set_attribute("msp_im.outcome", "duplicate")
        else:
            span.set_attribute("msp_im.outcome", "handled")
        span.end()

    async def _handle(
        self, records: Sequence[ConsumerRecord[Any, Any]], spans: Sequence[Span]
    ) -> tuple[
        Counts,
        list[tuple[ConsumerRecord[Any, Any], Event | ContractError]],
        list[Event | ContractError | None],
        list[list[OutboundMessage]],
    ]:
        screened = [
            (r, screen(r, self.routes[r.topic].topic, self.settings.max_record_bytes))
            for r in records
        ]
        for span, (_, item) in zip(spans, screened, strict=True):
            if isinstance(item, Event) and span.is_recording():
                span.set_attribute("messaging.message.id", str(item.event_id))
                span.set_attribute("msp_im.event_type", item.event_type)
                tracing.case(span, item.key_field, item.key)
        now = self.clock.now()
        causes = [tracing.stored(tracing.carrier_of(span)) for span in spans]
        token = tracing.CAUSES.set(
            {
                str(item.event_id): cause
                for (_, item), cause in zip(screened, causes, strict=True)
                if isinstance(item, Event) and cause is not None
            }
        )
        transaction = tracing.transaction_span(spans)
        try:
            for careful in (False, True):
                counts: Counts = collections.Counter()
                self._released, self._redelivered, self._answers = [], set(), {}
                outbox: list[list[OutboundMessage]] = [
                    [] for _ in screened
                ]  # what each record sends, dead letters included
                try:
                    async with self.pool().acquire() as conn, conn.transaction():
                        verdicts = await self._run(
                            conn, screened, spans, now, outbox, counts, careful=careful
                        )
                        queued = await enqueue(
                            conn,
                            (
                                # a copy only where the record's trace is to be kept (a dataclass copy per output
                                # cost more than its outbox row's packing)
                                m if m.trace or causes[n] is None else replace(m, trace=causes[n])
                                for n, sent in enumerate(outbox)
                                for m in sent
                            ),
                        )
                        await positions.keep(
                            conn, self.settings.group_id, positions.next_offsets(records)
                        )
                    break
                except _Redo:
                    continue  # rolled back whole: the poll again, each handler in a savepoint of its own
        except BaseException as exc:
            tracing.failed(transaction, type(exc).__name__)
            raise
        finally:
            transaction.end()
            tracing.CAUSES.reset(token)
        self.on_committed(queued)
        return counts, screened, verdicts, outbox

    async def _run(
        self,
        conn: asyncpg.Connection,
        screened: list[tuple[ConsumerRecord[Any, Any], Event | ContractError]],
        spans: Sequence[Span],
        now: datetime,
        outbox: list[list[OutboundMessage]],
        counts: Counts,
        *,
        careful: bool,
    ) -> list[Event | ContractError | None]:
        """Every record of the poll, in the poll's transaction. Not ``careful``: the handlers run in that transaction
        as it is, and the first that fails raises :class:`_Redo` (the caller rolls the poll back and runs it again,
        ``careful``: each handler in a savepoint, so that its failure is its own). A savepoint costs two round trips
        a poll, a failed handler is a defect: the poll pays them only then (issue 42). Such a poll's transitions that
        the first pass logged before the failure are logged again by the second (the same event ids)."""
        verdicts = await self._admit(conn, screened)
        runs: dict[str, list[tuple[int, ConsumerRecord[Any, Any], Event]]] = (
            collections.defaultdict(list)
        )
        for n, ((record, _), verdict) in enumerate(zip(screened, verdicts, strict=True)):
            if verdict is None:
                counts[record.topic, "duplicate"] += 1
            elif isinstance(verdict, ContractError):
                outbox[n].extend(self._dead_letter(record, verdict.reason, verdict.detail))
                counts[record.topic, "dead_lettered"] += 1
            else:
                runs[record.topic].append((n, record, verdict))
        for (
            topic,
            run,
        ) in runs.items():  # topics are independent; each topic's messages stay in order
            route = self.routes[topic]
            if route.batched is not None and len(run) > 1:
                await self._handle_run(conn, route, run, now, outbox, counts, spans, careful)
            else:
                for n, record, event in run:
                    await self._handle_one(
                        conn, route, record, event, now, outbox[n], counts, spans[n], careful
                    )
        if self._released:
            await self._release(conn, screened, outbox, counts)
        if self._answers:
            self._answer(screened, outbox, now)
        return verdicts

    async def _admit(
        self,
        conn: asyncpg.Connection,
        screened: Sequence[tuple[ConsumerRecord[Any, Any], Event | ContractError]],
    ) -> list[Event | ContractError | None]:
        """Claim every record in the inbox; ``None`` for a duplicate. An event is claimed by its id with its
        fingerprint, anything else by its origin: a redelivered dead letter is a duplicate too. An id claimed
        before with other content is the reason ``event-id-reused``, claimed by its origin in turn."""
        claims = [
            (id_text(item.event_id), r.topic, fingerprint(item))
            if isinstance(item, Event)
            else (origin_id(r), r.topic, None)
            for r, item in screened
        ]
        fresh = await claim(conn, claims)
        verdicts: list[Event | ContractError | None] = []
        again: list[int] = []
        for n, ((_, item), (message_id, _, _)) in enumerate(zip(screened, claims, strict=True)):
            if message_id in fresh:
                fresh.discard(
                    message_id
                )  # a second record with this id in the same poll is not fresh
                verdicts.append(item)
            else:
                verdicts.append(None)
                if isinstance(item, Event):
                    again.append(n)
        if again:
            stored = await fingerprints(conn, [claims[n][0] for n in again])
            reused = [
                n
                for n in again
                if stored.get(claims[n][0]) not in (None, claims[n][2])
                and stored.get(claims[n][0]) != _fingerprint_v1(screened[n][1])
            ]
            if reused:
                fresh = await claim(
                    conn, [(origin_id(screened[n][0]), screened[n][0].topic, None) for n in reused]
                )
                for n in reused:
                    if origin_id(screened[n][0]) in fresh:
                        verdicts[n] = ContractError(
                            "event-id-reused",
                            "this event_id was handled before with different content",
                        )
        return verdicts

    async def _handle_run(
        self,
        conn: asyncpg.Connection,
        route: Route,
        run: Sequence[tuple[int, ConsumerRecord[Any, Any], Event]],
        now: datetime,
        outbox: list[list[OutboundMessage]],
        counts: Counts,
        spans: Sequence[Span],
        careful: bool,
    ) -> None:
        assert route.batched is not None
        topic = run[0][1].topic
        try:
            # careful: a failed load or save has the run's messages handled one by one
            async with _savepoint(conn, careful):
                batch = await route.batched.load(conn, [event for _, _, event in run])
                failed = 0
                for n, record, event in run:
                    try:
                        with tracing.decision(spans[n], event.event_type) as decided:
                            outputs = batch.step(event, now)
                            tracing.decided(decided, outputs)
                    except Exception as exc:  # noqa: BLE001 - pure code: a defect, never transient
                        outbox[n].extend(self._failed(route, record, event, exc))
                        failed += 1
                        continue
                    outbox[n].extend(self._sent(route, record, event, outputs))
                await batch.save(conn)
            counts[topic, "handled"] += len(run) - failed
            counts[topic, "dead_lettered"] += failed
        except Exception as exc:
            if is_transient(exc):
                raise
            if not careful:
                raise _Redo from exc
            log.warning(
                "batch could not be handled as one; handling its messages one by one",
                topic=topic,
                count=len(run),
                error_type=type(exc).__name__,
            )
            for n, record, event in run:
                outbox[n].clear()
                self._answers.pop(_where(record), None)
                await self._handle_one(
                    conn, route, record, event, now, outbox[n], counts, spans[n], careful
                )

    async def _handle_one(
        self,
        conn: asyncpg.Connection,
        route: Route,
        record: ConsumerRecord[Any, Any],
        event: Event,
        now: datetime,
        outbox: list[OutboundMessage],
        counts: Counts,
        span: Span,
        careful: bool,
    ) -> None:
        try:
            async with _savepoint(conn, careful):
                with tracing.decision(span, event.event_type) as decided:
                    outputs = await route.handler(conn, event, now)
                    tracing.decided(decided, outputs)
            outbox.extend(self._sent(route, record, event, outputs))
            counts[record.topic, "handled"] += 1
        except Exception as exc:
            if is_transient(exc):
                raise
            if not careful:
                raise _Redo from exc
            outbox.extend(self._failed(route, record, event, exc))
            counts[record.topic, "dead_lettered"] += 1

    async def _release(
        self,
        conn: asyncpg.Connection,
        screened: Sequence[tuple[ConsumerRecord[Any, Any], Any]],
        outbox: list[list[OutboundMessage]],
        counts: Counts,
    ) -> None:
        """An event its handler failed on is not handled: its id leaves the inbox (a replay of it, once the cause
        is fixed, is handled) and the record is claimed by its origin instead. A record whose origin was claimed
        before was dead-lettered before (a redelivery): it is a duplicate, and sends nothing again."""
        released, self._released = self._released, []
        await conn.execute(
            "DELETE FROM inbox WHERE message_id = ANY($1::text[])",
            [str(e.event_id) for _, e in released],
        )
        fresh = await claim(conn, [(origin_id(r), r.topic, None) for r, _ in released])
        index = {(r.topic, r.partition, r.offset): n for n, (r, _) in enumerate(screened)}
        for record, event in released:
            if origin_id(record) not in fresh:
                self._redelivered.add(id(event))
                outbox[index[record.topic, record.partition, record.offset]].clear()
                self._answers.pop(_where(record), None)  # answered when it was dead-lettered first
                counts[record.topic, "dead_lettered"] -= 1
                counts[record.topic, "duplicate"] += 1

    def _sent(
        self,
        route: Route,
        record: ConsumerRecord[Any, Any],
        event: Event,
        outputs: Sequence[Event],
    ) -> list[OutboundMessage]:
        """What a handled message sends: its outputs; and its outcome, where its producer reads one, for the poll's
        outcomes (:meth:`_answer`)."""
        sent = [to_outbound(e, self.catalogue, self.settings) for e in outputs]
        if route.outcomes is not None:
            outcome, reason = judged(event, outputs)
            self._answers[_where(record)] = Answer.of_event(
                event, record.offset, outcome, reason_code=reason
            )
        return sent

    def _failed(
        self,
        route: Route,
        record: ConsumerRecord[Any, Any],
        event: Event,
        exc: Exception,
    ) -> list[OutboundMessage]:
        self._released.append((record, event))
        reason = exc.reason if isinstance(exc, ContractError) else "handler-failed"
        detail = exc.detail if isinstance(exc, ContractError) else type(exc).__name__
        log.error(
            "message could not be handled; dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=str(event.event_id),
            reason=reason,
            error_type=type(exc).__name__,
        )
        return self._dead_letter(record, reason, detail, route, event)

    def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        reason: str,
        detail: str,
        route: Route | None = None,
        event: Event | None = None,
    ) -> list[OutboundMessage]:
        """The record's dead letter, and its outcome where its producer reads one."""
        with tracing.current(self._span_of(record)):
            log.warning(
                "message dead-lettered",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=event_id_in(record.value),
                reason=reason,
            )
        self.metrics.dead_letters(topic=record.topic, reason=reason).inc()
        route = route or self.routes[record.topic]
        letter = dead_letter(
            record,
            route.dlq,
            reason=reason,
            detail=detail,
            consumer=self.settings.service_name,
            max_bytes=self.settings.dlq_max_bytes,
            seal=sealer(key) if (key := self.settings.dlq_seal_key_file) is not None else None,
        )
        if route.outcomes is not None:
            said = detail_of(letter)
            self._answers[_where(record)] = (
                Answer.of_event(
                    event, record.offset, Outcome.DEAD_LETTERED, reason_code=reason, detail=said
                )
                if event is not None
                else Answer.of_record(
                    event_id_in(record.value), record.offset, reason_code=reason, detail=said
                )
            )
        return [letter]

    def _answer(
        self,
        screened: Sequence[tuple[ConsumerRecord[Any, Any], Any]],
        outbox: list[list[OutboundMessage]],
        now: datetime,
    ) -> None:
        """The poll's outcomes, for the upstream producers that read them: a record per input partition (and per
        :data:`MAX_ANSWERS`), in offset order, sent with the last record it answers."""
        runs: dict[tuple[str, int], list[tuple[int, Answer]]] = collections.defaultdict(list)
        for n, (record, _) in enumerate(screened):
            answer = self._answers.get(_where(record))
            if answer is not None:
                runs[record.topic, record.partition].append((n, answer))
        for (topic, partition), run in runs.items():
            model = self.routes[topic].outcomes
            assert model is not None
            for start in range(0, len(run), MAX_ANSWERS):
                chunk = run[start : start + MAX_ANSWERS]
                told = model.of_answers(
                    topic,
                    partition,
                    [a for _, a in chunk],
                    producer=self.settings.service_name,
                    now=now,
                )
                outbox[chunk[-1][0]].append(to_outbound(told, self.catalogue, self.settings))


def _where(record: ConsumerRecord[Any, Any]) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def detail_of(letter: OutboundMessage) -> str:
    """A dead letter's detail as its header says it, for the record's outcome: any character JSON cannot carry
    escaped (the detail may quote the record: a field name, say), and cut again, as escaping lengthens it."""
    said = dict(letter.headers).get(b"dlq.detail") or b""
    return said.decode("utf-8", "replace")[:DETAIL_LIMIT]


def _retriable(exc: BaseException) -> bool:
    """The database or the broker is away for now: a retry, not a crash."""
    return is_transient(exc) or (
        isinstance(exc, KafkaError)
        and (exc.retriable or isinstance(exc, NoBrokersAvailable | KafkaTimeoutError))
    )


class ConsumerLoop:
    """Polls the service's topics with aiokafka and hands each poll to the pipeline; commits what it handled.

    The project, not a framework, owns every step after the bytes arrive, so no record can fail where
    nobody accounts for it. After any failure the consumer is rewound to the poll's first records, so
    nothing is committed past a record that was not handled: a transient failure (database or broker
    away) is retried with backoff; anything else is a *crash*, counted, logged, and retried with a
    backoff that grows, so a crash loop never spins. Readiness reads :attr:`progress_at` and
    :meth:`crashing`.
    """

    CRASH_WINDOW_S = 60.0
    CRASHES_NOT_READY = 3

    def __init__(
        self,
        *,
        topics: Sequence[str],
        settings: ServiceSettings,
        pipeline: BatchPipeline,
        metrics: Metrics,
    ) -> None:
        self.topics, self.settings, self.pipeline, self.metrics = (
            tuple(topics),
            settings,
            pipeline,
            metrics,
        )
        self.consumer: AIOKafkaConsumer | None = None
        self.positions: positions.Positions | None = None
        self.progress_at = time.monotonic()
        """When the loop last committed a poll or found nothing to do."""
        self.crashes: collections.deque[float] = collections.deque(maxlen=self.CRASHES_NOT_READY)

    def crashing(self) -> bool:
        """Crashed ``CRASHES_NOT_READY`` times within the last ``CRASH_WINDOW_S`` seconds."""
        return (
            len(self.crashes) == self.crashes.maxlen
            and time.monotonic() - self.crashes[0] < self.CRASH_WINDOW_S
        )

    async def run(self) -> None:
        install_tolerant_records()
        install_leader_refresh()
        backoff = Backoff(first=0.2, cap=30.0)
        while True:
            try:
                if self.consumer is None:
                    self.consumer = await self._start_consumer()
                if await self._cycle(self.consumer):
                    backoff.reset()
                    self.crashes.clear()  # it handled a poll: whatever kept failing has stopped
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure here is retried, none is skipped
                delay = backoff.next()
                if _retriable(exc):
                    self.metrics.transient_failures(stage="consume").inc()
                    log.warning(
                        "poll not handled; rewound to retry",
                        error_type=type(exc).__name__,
                        retry_in_s=round(delay, 2),
                    )
                else:
                    self.crashes.append(time.monotonic())
                    self.metrics.consumer_crashes.inc()
                    log.error(
                        "consumer crashed; rewound to retry",
                        error_type=type(exc).__name__,
                        retry_in_s=round(delay, 2),
                    )
                await asyncio.sleep(delay)

    async def _start_consumer(self) -> AIOKafkaConsumer:
        s = self.settings
        consumer = AIOKafkaConsumer(
            **client_options(s),
            group_id=s.group_id,
            client_id=f"{s.service_name}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        # Each assigned partition is read from where the database says this group is (issue 39).
        self.positions = positions.Positions(consumer, self.pipeline.pool, s.group_id, self.metrics)
        consumer.subscribe(list(self.topics), listener=self.positions)
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _cycle(self, consumer: AIOKafkaConsumer) -> bool:
        """One poll, handled and committed; whether it held any record."""
        if self.positions is not None:
            await self.positions.place_pending()  # partitions the last assignment could not place
        polled = await consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.max_batch
        )
        batch = [r for partition in polled.values() for r in partition]
        if not batch:
            self.progress_at = time.monotonic()
            return False
        started = time.perf_counter()
        try:
            counts = await self.pipeline.handle(batch)
        except BaseException:
            for tp, partition in polled.items():  # nothing past a record that was not handled
                if partition:
                    consumer.seek(tp, partition[0].offset)
            raise
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        for (topic, outcome), n in counts.items():
            self.metrics.consumed(topic=topic, outcome=outcome).inc(n)
        self.progress_at = time.monotonic()
        try:
            await consumer.commit(
                {tp: partition[-1].offset + 1 for tp, partition in polled.items() if partition}
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a rebalance; the inbox absorbs the redelivery
            log.warning(
                "offset commit failed; the poll will be redelivered and skipped as duplicates",
                error_type=type(exc).__name__,
            )
        return True

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            self.consumer = None

    async def lag(self) -> dict[TopicPartition, int]:
        """Records behind the high watermark, per assigned partition whose high watermark is known."""
        consumer = self.consumer
        if consumer is None:
            return {}
        lags = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[tp] = max(highwater - await consumer.position(tp), 0)
        return lags
