"""The envelope, deterministic output ids, and how a topic turns bytes into a validated event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.envelope import _DERIVED_ID_NAMESPACE, Event, derived_event_id, id_text
from contracts.topics import Catalogue, ContractError, Topic

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


class NoteTaken(Event):
    schema_version_current: ClassVar[int] = 2
    key_field: ClassVar[str] = "case_id"
    event_type: Literal["NoteTaken"] = "NoteTaken"
    case_id: str
    mobile: str
    pages: int


class NoteFiled(Event):
    key_field: ClassVar[str] = "case_id"
    event_type: Literal["NoteFiled"] = "NoteFiled"
    case_id: str


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    upgraded = dict(data)
    upgraded["pages"] = upgraded.pop("page_count")
    return upgraded


TOPIC = Topic(
    "notes",
    "case_id",
    (NoteTaken, NoteFiled),
    "upstream",
    ("svc",),
    "Notes.",
    upcasters={("NoteTaken", 1): v1_to_v2},
)


def payload(**overrides: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "NoteTaken",
        "schema_version": 2,
        "occurred_at": NOW.isoformat(),
        "correlation_id": str(uuid.uuid4()),
        "producer": "upstream",
        "case_id": "C1",
        "mobile": "0400 123 456",
        "pages": 2,
        **overrides,
    }


def parse(data: Any) -> Event:
    return TOPIC.parse(json.dumps(data).encode())


def reason(raw: bytes | None) -> str:
    with pytest.raises(ContractError) as caught:
        TOPIC.parse(raw)
    return caught.value.reason


def test_a_valid_message_becomes_its_event_type():
    event = parse(payload())
    assert isinstance(event, NoteTaken)
    assert event.key == "C1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "empty-message"),
        (b"\xff\xfe", "not-json"),
        (b"{oops", "not-json"),
        (b"[1, 2]", "not-an-object"),
        (json.dumps(payload(event_type="NoteShredded")).encode(), "unknown-event-type"),
        (
            json.dumps({k: v for k, v in payload().items() if k != "event_type"}).encode(),
            "unknown-event-type",
        ),
        (json.dumps(payload(pages="many")).encode(), "schema-invalid"),
        (json.dumps(payload(occurred_at="2026-11-23T09:30:00")).encode(), "schema-invalid"),
        (json.dumps(payload(unexpected="field")).encode(), "schema-invalid"),
        (json.dumps(payload(schema_version=3)).encode(), "unsupported-schema-version"),
    ],
)
def test_a_message_that_breaks_the_contract_is_refused_with_a_stable_reason(raw, expected):
    assert reason(raw) == expected


def test_the_reason_names_the_field_but_never_echoes_its_value():
    with pytest.raises(ContractError) as caught:
        parse(payload(pages="0400 999 888"))
    assert "pages" in caught.value.detail
    assert "0400" not in caught.value.detail


def test_a_time_without_a_timezone_is_refused():
    with pytest.raises(ContractError) as caught:
        parse(payload(occurred_at="2026-11-23T09:30:00"))
    assert "occurred_at" in caught.value.detail


def test_an_old_schema_version_is_upcast_before_validation():
    old = payload(schema_version=1, page_count=5)
    del old["pages"]
    event = parse(old)
    assert isinstance(event, NoteTaken)
    assert (event.pages, event.schema_version) == (5, 2)


def test_an_output_has_a_deterministic_id_and_carries_correlation_and_causation():
    cause = parse(payload())
    first = NoteFiled.caused_by(cause, producer="svc", occurred_at=NOW, case_id="C1")
    again = NoteFiled.caused_by(cause, producer="svc", occurred_at=NOW, case_id="C1")
    assert first.event_id == again.event_id == derived_event_id(cause.event_id, "NoteFiled")
    assert first.correlation_id == cause.correlation_id
    assert first.causation_id == cause.event_id
    assert (
        NoteFiled.caused_by(
            cause, producer="svc", occurred_at=NOW, variant="2nd", case_id="C1"
        ).event_id
        != first.event_id
    )


def test_the_catalogue_routes_each_event_type_to_its_one_topic():
    other = Topic("filed", "case_id", (NoteFiled,), "svc", (), "Filed.")
    with pytest.raises(ValueError, match="NoteFiled is on both"):
        Catalogue((TOPIC, other))
    catalogue = Catalogue(
        (Topic("notes", "case_id", (NoteTaken,), "upstream", ("svc",), "."), other)
    )
    assert catalogue.topic_of("NoteFiled") is other
    assert catalogue.consumed_by("svc")[0].name == "notes"
    assert catalogue.produced_by("svc") == (other,)
    with pytest.raises(KeyError):
        catalogue.topic_of("Nope")


@given(cause=st.uuids() | st.text(), kind=st.text())
def test_a_derived_id_is_the_uuid5_of_its_cause_and_kind(cause, kind):
    """The ids outputs had before the faster derivation (issue 42), so a replay of an old input makes the same ids."""
    derived = derived_event_id(cause, kind)
    assert derived == uuid.uuid5(_DERIVED_ID_NAMESPACE, f"{cause}/{kind}")
    assert (derived.version, derived.variant) == (5, uuid.RFC_4122)


class _StoredUUID(uuid.UUID):
    """A UUID of another type, as a database driver reads one (asyncpg's ``pgproto.UUID`` is a subclass too)."""


@given(st.uuids())
def test_an_ids_text_is_its_canonical_text_whatever_its_type(value):
    from asyncpg.pgproto import pgproto

    assert id_text(value) == str(value)
    for read_back in (_StoredUUID(str(value)), pgproto.UUID(str(value))):
        assert id_text(read_back) == str(value)
        assert derived_event_id(read_back, "K") == derived_event_id(value, "K")
