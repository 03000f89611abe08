"""A published schema accepts what the service accepts (issue 29): checked both ways with third-party tools.
Every example and every scenario message validates against the published schema of its version (jsonschema, a
third-party validator), and instances made from each published schema alone, every version of every event type
(hypothesis, read by the small generator below; hypothesis-jsonschema does not run with the locked hypothesis), are
accepted by the topic's reader."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.catalogue import CATALOGUE
from contracts.docs import NO_NUL
from contracts.examples import with_envelope
from contracts.topics import ContractError, Topic
from devstack.scenarios import load_all, message
from devstack.system import upstream_topic

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "contracts" / "schemas"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.json"))


def published(event_type: str, version: int) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.v{version}.json").read_text())


def check(message: dict[str, Any], event_type: str | None = None) -> None:
    schema = published(event_type or message["event_type"], message.get("schema_version", 1))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        message
    )


def scenario_messages() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{scenario.id}:{n}", message(scenario, step))
        for scenario in load_all()
        for n, step in enumerate(scenario.steps)
        if step.event is not None and step.topic is not None
    ]


@pytest.mark.parametrize(
    ("where", "message"), scenario_messages(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_scenario_message_validates_against_its_published_schema(where, message):
    check(message)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_against_its_published_schema(path):
    body = json.loads(path.read_text())
    check(
        with_envelope(
            body, upstream_topic(body["event_type"]).producer, "2026-12-02T10:00:00+00:00"
        )
    )


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"amount": " 120.50"}, "an amount with a space"),
        ({"amount": "1e3"}, "an amount with an exponent"),
        ({"amount": "0.00"}, "an amount of nothing"),
        ({"amount": "120.505"}, "three decimal places"),
        ({"amount": 10000000000}, "a number of eleven whole digits"),
        ({"amount": 0}, "a number that is nothing"),
        ({"amount": -5}, "a negative number"),
        ({"event_type": None}, "no event type"),
        ({"kind": "one-off", "state": None}, "a one-off without its state"),
        ({"outcome": "failed", "failure_reason": None}, "a failure without its reason"),
        ({"customer_ref": "CRN\u0000"}, "a NUL character"),
    ],
)
def test_what_the_reader_refuses_the_schema_refuses(message, why):
    body = json.loads(
        (ROOT / "docs" / "examples" / "payment-attempt-one-off-failed.json").read_text()
    )
    data = with_envelope(body, "payments-system", "2026-12-02T10:00:00+00:00") | message
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(Exception):  # noqa: B017, PT011 - the reader's refusal, whatever its class
        upstream_topic("PaymentAttempted").parse(json.dumps(data).encode())
    with pytest.raises(jsonschema.ValidationError):
        check(data, "PaymentAttempted")


UPSTREAM = [("PaymentAttempted", 1), ("MspApproved", 2)]
MOMENT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


def instances(node: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a published schema's node: what a partner reading only the schema could send."""
    if "$ref" in node:
        return instances(root["$defs"][node["$ref"].rsplit("/", 1)[-1]], root)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([instances(n, root) for n in node["anyOf"]])
    kind = node.get("type")
    if kind == "string":
        form = node.get("format")
        if form == "date-time":
            return MOMENT.map(lambda d: d.replace(tzinfo=UTC).isoformat())
        if form == "date":
            return MOMENT.map(lambda d: d.date().isoformat())
        if form == "uuid":
            return st.uuids().map(str)
        low, high = node.get("minLength", 0), min(node.get("maxLength", 80), 80)
        if node.get("pattern") not in (None, NO_NUL):
            return st.from_regex(node["pattern"], fullmatch=True).filter(
                lambda t: low <= len(t) <= high
            )
        return st.text(
            st.characters(exclude_characters="\x00", codec="utf-8"), min_size=low, max_size=high
        )
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31))
    if kind == "number":
        return st.decimals(Decimal("0.01"), Decimal(str(node.get("maximum", 10**6))), places=2).map(
            float
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(
            instances(node.get("items", {}), root),
            min_size=node.get("minItems", 0),
            max_size=min(node.get("maxItems", 3), 3),
        )
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: instances(v, root) for k, v in properties.items() if k in required},
            optional={k: instances(v, root) for k, v in properties.items() if k not in required},
        )
    raise AssertionError(f"a schema node this generator does not know: {node}")


PUBLISHED = sorted(
    (path.name.partition(".")[0], int(path.name.split(".")[1][1:]))
    for path in SCHEMAS.glob("*.json")
)


def topic_of(event_type: str) -> Topic:
    return next(t for t in CATALOGUE.topics if event_type in t.event_types)


@pytest.mark.parametrize(("event_type", "version"), PUBLISHED)
def test_instances_of_every_published_schema_are_accepted_by_its_topics_reader(event_type, version):
    """Made from the published schema alone (and valid against it, conditions included), each is read: every
    version of every event type (an older one is upcast), more examples for what upstream systems send."""
    schema = published(event_type, version)
    valid = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker()
    ).is_valid
    topic = topic_of(event_type)
    examples = 150 if (event_type, version) in UPSTREAM else 30

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(instances(schema, schema).filter(valid))
    def accepted(instance: dict[str, Any]) -> None:
        refusal = None
        try:
            topic.parse(json.dumps(instance).encode())
        except ContractError as refused:
            refusal = str(refused)
        assert refusal is None or any(reason in refusal for reason in STATED), refusal

    accepted()


def test_every_published_schema_is_tried_the_two_upstream_events_among_them():
    assert set(UPSTREAM) <= set(PUBLISHED)
    assert {e for e, _ in PUBLISHED} == {m.__name__ for t in CATALOGUE.topics for m in t.events}


STATED = ("not a valid phone number", "not a phone number")
"""Why the reader may refuse a message the schema's structure allows: each said in its field's description."""


def test_each_reason_the_schema_states_in_words_is_in_the_published_schema():
    text = json.dumps(published("MspApproved", 2))
    assert all(reason in text for reason in STATED[:1])
