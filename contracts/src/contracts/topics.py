"""The topic catalogue: every topic, its key, its event types, who produces and who consumes it.

The README's topic table and each service's AsyncAPI document are generated from this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.envelope import Event

DLQ_SUFFIX = ".dlq"
DLQ_RETENTION_DAYS = 90
"""Dead letters are kept longer than the events themselves: someone has to look at each of them."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class ContractError(ValueError):
    """A message that does not satisfy its topic's contract. ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, eq=False)
class Topic:
    name: str
    key: str
    events: tuple[type[Event], ...]
    producer: str
    consumers: tuple[str, ...]
    description: str
    upcasters: Mapping[tuple[str, int], Upcaster] = field(default_factory=dict)
    """(event_type, from_version) -> function turning that version's payload into the next version's."""
    retention_days: int = 30
    """How long the broker keeps the topic's records (longer than the 14-day retry window, for replays)."""
    answers: str | None = None
    """The upstream topic whose every record this topic answers with its outcome (:mod:`contracts.outcomes`), for
    that topic's producer to read with its own group (``contracts.access.outcome_group``); unset for the others."""

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    def definitions(self) -> list[tuple[str, int]]:
        """(topic name, retention in days) of the topic and, if anything consumes it, of its dead-letter topic:
        with partitions and replication (deployment settings) all that provisioning needs."""
        dlq = [(self.dlq, DLQ_RETENTION_DAYS)] if self.consumers else []
        return [(self.name, self.retention_days), *dlq]

    @cached_property
    def _by_type(self) -> dict[str, type[Event]]:
        return {e.TYPE: e for e in self.events}

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self._by_type)

    def model_of(self, event_type: str) -> type[Event]:
        """The model of one of this topic's event types."""
        return self._by_type[event_type]

    def parse(self, raw: bytes | None) -> Event:
        """Decode and validate one message value, upcasting old schema versions; raise ContractError."""
        if raw is None:
            raise ContractError("empty-message", "the message has no value")
        return self.parse_object(load_json(raw))

    def parse_object(self, data: Any) -> Event:
        """Validate one decoded message (a stored event read back, say), upcasting old schema versions; raise
        ContractError."""
        if not isinstance(data, dict):
            raise ContractError(
                "not-an-object", f"expected a JSON object, got {type(data).__name__}"
            )
        event_type = data.get("event_type")
        model = self._by_type.get(event_type) if isinstance(event_type, str) else None
        if model is None:
            shown = (
                event_type
                if isinstance(event_type, str) and len(event_type) <= 64
                else type(event_type).__name__
            )
            raise ContractError(
                "unknown-event-type",
                f"{shown!r} is not one of {', '.join(self.event_types)} on {self.name}",
            )
        data = self._upcast(model, data)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ContractError("schema-invalid", _summarise(exc)) from None

    def _upcast(self, model: type[Event], data: dict[str, Any]) -> dict[str, Any]:
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version < 1 or version > model.schema_version_current:
            raise ContractError(
                "unsupported-schema-version",
                f"{model.__name__} v{version!r}; this consumer reads up to v{model.schema_version_current}",
            )
        while version < model.schema_version_current:
            step = self.upcasters.get((data["event_type"], version))
            if step is None:  # pragma: no cover - guarded by the contract tests
                raise ContractError("unsupported-schema-version", f"no upcaster from v{version}")
            data = {**step(data), "schema_version": version + 1}
            version += 1
        return data


MAX_JSON_DEPTH = 16
"""Deepest nesting of arrays and objects a message may have (the contracts need 4)."""
MAX_NUMBER_CHARS = 32
"""Longest number literal a message may have (an amount or a count needs far fewer)."""


class _NumberTooLongError(ValueError):
    pass


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberTooLongError(len(text))
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberTooLongError(len(text))
    return float(text)


def _constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


_DIGITS = bytes(ord("9") if chr(b).isdigit() and b < 128 else ord(" ") for b in range(256))
_NUMBERISH = bytes(
    ord("n") if b < 128 and chr(b) in "-+.0123456789eE" else ord(" ") for b in range(256)
)


def _exact_only(raw: bytes) -> bool:
    """Whether ``raw`` takes the exact path: it has a run that could be a number longer than allowed (or, rarely, a
    UUID of digits), or 19 digits in a row (orjson reads an integer past 64 bits as a float; the standard parser as
    the integer). Two ``bytes.translate`` and two searches: a regular expression took 14 us on an attempt."""
    return b"9" * 19 in raw.translate(_DIGITS) or b"n" * (MAX_NUMBER_CHARS + 1) in raw.translate(
        _NUMBERISH
    )


def load_json(raw: bytes) -> Any:
    """Strict UTF-8 JSON with bounded nesting and number length, and no NUL character in any string.

    Every way it can fail is a :class:`ContractError`: the standard parser alone lets a deep nesting
    raise ``RecursionError`` and a long number raise a plain ``ValueError``. The exact checks run only
    when a cheap count says they could fail, so an ordinary message pays two ``bytes.count`` calls.
    An ordinary message is parsed by orjson (a sixth of the standard parser's time, issue 42); anything it refuses,
    and anything that could hold a long number, takes the standard parser's exact path, which names the reason.
    """
    if not _exact_only(raw):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the exact path says why
        else:
            return _checked(raw, data)
    return exactly(raw)


def exactly(raw: bytes) -> Any:
    """:func:`load_json` by the standard parser alone, which names every reason a message is refused."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError("not-json", f"not UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ContractError("too-deep", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except _NumberTooLongError as exc:
        raise ContractError(
            "number-too-long", f"a number of {exc.args[0]} characters; at most {MAX_NUMBER_CHARS}"
        ) from None
    except ValueError as exc:  # json.JSONDecodeError is one
        raise ContractError("not-json", str(exc)[:200]) from None
    return _checked(raw, data)


def _checked(raw: bytes, data: Any) -> Any:
    """``data`` parsed from ``raw``, unless it nests too deep or holds a NUL character."""
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
        raise ContractError("too-deep", f"nested deeper than {MAX_JSON_DEPTH} levels")
    if (b"\\u0000" in raw or b"\x00" in raw) and _has_nul(data):
        raise ContractError(
            "nul-character", "a string holds the NUL character, which no field accepts"
        )
    return data


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value) if isinstance(value, list) else []


def _depth(data: Any) -> int:
    deepest, level = 0, [data]
    while level:
        level = [c for v in level for c in _children(v) if isinstance(c, dict | list)]
        deepest += 1
    return deepest


def _has_nul(data: Any) -> bool:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        pending.extend(_children(value))
    return False


def _summarise(exc: ValidationError) -> str:
    """Field paths and messages only: input values may hold personal information."""
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors()[:10]
    ]
    return "; ".join(parts)


class Catalogue:
    """All topics. Each event type is published on exactly one topic, which routes outputs."""

    def __init__(self, topics: tuple[Topic, ...]) -> None:
        self.topics = topics
        self._by_name = {t.name: t for t in topics}
        self._route: dict[str, Topic] = {}
        for topic in topics:
            for event_type in topic.event_types:
                if event_type in self._route:
                    raise ValueError(
                        f"{event_type} is on both {self._route[event_type].name} and {topic.name}"
                    )
                self._route[event_type] = topic

    def __getitem__(self, name: str) -> Topic:
        return self._by_name[name]

    def topic_of(self, event: Event | str) -> Topic:
        event_type = event if isinstance(event, str) else event.event_type
        try:
            return self._route[event_type]
        except KeyError:
            raise KeyError(f"{event_type} is on no topic of the catalogue") from None

    def outcomes_of(self, name: str) -> Topic | None:
        """The topic that answers each record of topic ``name``, if one does."""
        return next((t for t in self.topics if t.answers == name), None)

    def reader_of(self, topic: Topic) -> str | None:
        """Who reads an outcome topic: the upstream system whose records it answers."""
        return self[topic.answers].producer if topic.answers is not None else None

    def produced_by(self, service: str) -> tuple[Topic, ...]:
        return tuple(t for t in self.topics if t.producer == service)

    def consumed_by(self, service: str) -> tuple[Topic, ...]:
        return tuple(t for t in self.topics if service in t.consumers)
