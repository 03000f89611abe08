"""The envelope every event carries, and how an output event is derived from its cause."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

# Namespace for deterministic output ids: uuid5(cause, kind) is the same every time the same
# message is handled, so a re-published output is recognisably the same event downstream.
_DERIVED_ID_NAMESPACE = uuid.UUID("6f1c2b1e-6a57-4f8e-9a57-0c7a1f0c5e11")


# Every field of every contract is bounded, so no message can be large by any one field.
Name = Annotated[str, Field(max_length=64)]
"""An id, a code or a label: officer and event ids, reason codes, outcomes."""
CustomerRef = Annotated[str, Field(max_length=32)]
"""A customer reference number (CRN)."""
TEXT_CHARS = 2000
Text = Annotated[str, Field(max_length=TEXT_CHARS)]
"""Free text: a reason, an explanation, an instruction."""
CUT = " … (cut here: the rest is in the approved MSP)"
"""What ends a text a service built from longer input, cut to its field's bound (:func:`clipped`)."""


def clipped(text: str, limit: int = TEXT_CHARS, marker: str = CUT) -> str:
    """``text`` as it is when it fits ``limit`` characters; else its start and ``marker``, ``limit`` in all. A text
    built from several bounded fields (a label and a customer's reasons) can exceed the bound of the field it goes
    into: it is cut, visibly, rather than refused."""
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


Lines = Annotated[list[Text], Field(max_length=20)]
"""A few lines of free text."""
Briefing = Annotated[list[Text], Field(max_length=40)]
"""What an officer is to explain, from the case itself (its reasons and each behaviour: up to 20 of them)."""
Dates = Annotated[list[date], Field(max_length=60)]
"""The periods of one expense (a year of weekly periods, and more)."""
MONEY_PATTERN = r"^(?!0(\.0{1,2})?$)(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"
"""An amount written as text: more than 0, digits, at most 2 decimal places, no sign, exponent, space or leading
zero."""


_MONEY_TEXT = re.compile(MONEY_PATTERN)


def _money(value: Any) -> Any:
    """An amount as text is read only in its plain form, so the published schema's pattern says exactly what is
    accepted (a JSON number goes on to the decimal checks)."""
    if isinstance(value, bool) or (isinstance(value, str) and not _MONEY_TEXT.fullmatch(value)):
        raise ValueError(
            "an amount is written like 120 or 120.50: digits, at most 2 decimal places"
        )
    return value


Money = Annotated[
    Decimal,
    # The bounds first: pydantic-core's decimal checks them. After the text check, pydantic wrapped that check in
    # three validators of its own, in Python (3.7 -> 1.4 us an amount, issue 42; the same values accepted).
    Field(gt=0, max_digits=12, decimal_places=2),
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 9999999999.99,
                    "description": "At most 2 decimal places (the text form says so exactly).",
                },
                {"type": "string", "pattern": MONEY_PATTERN},
            ]
        }
    ),
]
"""An amount in AUD, greater than 0, at most 2 decimal places: as a JSON string (the schema's pattern) or a
number."""
OfficerRoles = Annotated[
    list[Name],
    Field(
        default_factory=list,
        max_length=32,
        description="The officer's roles as their verified token states them (the console writes them; a request "
        "cannot): the authority a rule needs. Requests of an earlier version carried none.",
    ),
]
"""The verified roles a staff action carries, for the service to re-check its rule."""


_DERIVED_ID_PREFIX = _DERIVED_ID_NAMESPACE.bytes
_VERSION_5 = ((0xF000 << 64) | (0xC000 << 48), (0x5000 << 64) | (0x8000 << 48))
"""The bits a version 5 UUID fixes, as a mask to clear and the value to set: its version and its variant."""


def derived_event_id(cause_id: uuid.UUID | str, kind: str) -> uuid.UUID:
    """``uuid.uuid5(namespace, f"{cause_id}/{kind}")``, without the standard library's second pass over the digest's
    bytes (issue 42: every output has one; 5.5 -> 2.7 us; a property test holds the two equal)."""
    name = f"{id_text(cause_id) if isinstance(cause_id, uuid.UUID) else cause_id}/{kind}"
    digest = int.from_bytes(
        hashlib.sha1(_DERIVED_ID_PREFIX + name.encode(), usedforsecurity=False).digest()[:16]
    )
    clear, version = _VERSION_5
    return uuid.UUID(int=digest & ~clear | version)


def id_text(value: uuid.UUID) -> str:
    """``str(value)``, written by orjson's C code in a third of the time (issue 42: a message's ids are written out as
    text several times on its way: its inbox claim, its outputs' ids, their headers). orjson writes ``uuid.UUID``
    itself only: a subclass (asyncpg's, for an id read from the database) by its ``str``."""
    return orjson.dumps(value, default=str)[1:-1].decode()


class Contract(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Contract):
    """The envelope. Each concrete event adds its own fields and fixes ``event_type``.

    Facts are past tense (``ExpenseUndelivered``); requests are imperative (``TickOffWorkItem``).
    """

    schema_version_current: ClassVar[int] = 1
    key_field: ClassVar[str] = ""
    """Name of the field whose value is the Kafka message key (the aggregate id)."""
    TYPE: ClassVar[str] = ""
    """The concrete event's ``event_type`` (``RecordPhoneContact.TYPE``): code names a type by its class, so a name
    that is no event's fails where it is written, not when a message of it never matches."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["event_type"].default
        if isinstance(default, str):
            cls.TYPE = default

    event_id: uuid.UUID = Field(
        description="Unique id of this event; consumers use it to drop duplicates."
    )
    event_type: str = Field(description="The event's name; selects the model.")
    schema_version: int = Field(default=1, ge=1, description="Version of this event type's schema.")
    occurred_at: AwareDatetime = Field(
        description="When the fact happened or the request was made (with timezone)."
    )
    correlation_id: uuid.UUID = Field(
        description="Id shared by every event of one business case, end to end."
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the message that caused this one."
    )
    producer: str = Field(
        max_length=64,
        description="The system or service that published the event.",
        examples=["expenses"],
    )

    @model_validator(mode="before")
    @classmethod
    def _current_version_unless_said(cls, data: Any) -> Any:
        """An event made here is of its type's current version; one read from a topic says its own (and was upcast
        to the current one before it gets here)."""
        if (
            cls.schema_version_current != 1
            and isinstance(data, dict)
            and "schema_version" not in data
        ):
            return {**data, "schema_version": cls.schema_version_current}
        return data

    @property
    def key(self) -> str:
        """The Kafka message key: the aggregate this event concerns."""
        return str(getattr(self, self.key_field)) if self.key_field else str(self.event_id)

    @classmethod
    def caused_by(
        cls, cause: Event, *, producer: str, occurred_at: datetime, variant: str = "", **fields: Any
    ) -> Self:
        """Build an output of ``cause`` with a deterministic id, the same correlation and ``cause`` as causation."""
        return cls.derived(
            cause.event_id,
            cause.correlation_id,
            producer=producer,
            occurred_at=occurred_at,
            variant=variant,
            **fields,
        )

    @classmethod
    def derived(
        cls,
        cause_id: uuid.UUID,
        correlation_id: uuid.UUID,
        *,
        producer: str,
        occurred_at: datetime,
        variant: str = "",
        **fields: Any,
    ) -> Self:
        """As :meth:`caused_by`, from the cause's ids alone (a timer fires long after its cause was handled)."""
        event_type = cls.TYPE
        return cls(
            event_id=derived_event_id(
                cause_id, f"{event_type}/{variant}" if variant else event_type
            ),
            event_type=event_type,
            schema_version=cls.schema_version_current,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=cause_id,
            producer=producer,
            **fields,
        )

    def to_json(self) -> bytes:
        """The event as its topic carries it: ``model_dump_json``'s JSON, as bytes from the serialiser itself (the
        text and its encoding cost 0.5 us an output more)."""
        return self.__pydantic_serializer__.to_json(self)


def officers_time(request: Event, handled_at: datetime) -> datetime:
    """The time an officer's request is decided at: when the console accepted it (its ``occurred_at``: only the
    console writes staff actions, and it stamps them when the verified officer's command arrives), never later than
    it is handled. So the same request decided again, its service's database restored from a backup, decides the
    same (the same day 1 or day 2, the same coding time), and a stamp ahead of the service's clock counts as the
    handling time."""
    return min(request.occurred_at, handled_at)
