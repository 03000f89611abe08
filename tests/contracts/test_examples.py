"""The example events of docs/examples/ are what an upstream system sends, and `./dev publish` sends them so:
each, with the envelope the tool adds, is accepted by its topic's contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.catalogue import CATALOGUE
from contracts.examples import example_messages, with_envelope
from devstack.system import UPSTREAM, upstream_topic

pytestmark = pytest.mark.unit
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.json"))


def test_there_is_an_example_of_each_upstream_event():
    types = {json.loads(p.read_text())["event_type"] for p in EXAMPLES}
    assert types == {"PaymentAttempted", "MspApproved"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_accepted_by_its_topics_contract_as_its_upstream_system_sends_it(path):
    body = json.loads(path.read_text())
    topic = upstream_topic(body["event_type"])
    assert topic.producer in UPSTREAM
    now = "2026-12-02T10:00:00+00:00"
    event = topic.parse(json.dumps(with_envelope(body, topic.producer, now)).encode())
    assert event.producer == topic.producer
    assert "now" not in event.model_dump_json(), "every 'now' is the current instant"


def test_a_staff_action_is_not_published_as_an_upstream_event():
    with pytest.raises(SystemExit, match="staff actions go through the console"):
        upstream_topic("CeaseExpense")


def test_every_event_a_consumer_reads_has_an_example_its_topic_accepts():
    """Issue 41: the AsyncAPI documents gave examples only for the upstream events; a consumer of any topic now reads
    one for every event, made from the published schema (fictional values), and accepted by the topic's reader."""
    examples = example_messages()
    for topic in CATALOGUE.topics:
        for model in topic.events:
            event = topic.parse_object(examples[model.TYPE])
            assert event.event_type == model.TYPE
            assert event.producer == topic.producer
    system = json.loads((EXAMPLES[0].parents[1] / "asyncapi" / "system.json").read_text())
    without = [
        name
        for name, message in system["components"]["messages"].items()
        if name != "DeadLetter" and not message.get("examples")
    ]
    assert without == []


def test_every_event_is_written_as_its_models_json():
    """``Event.to_json`` (the serialiser's bytes, issue 42) is ``model_dump_json`` for an example of every event."""
    examples = example_messages()
    for topic in CATALOGUE.topics:
        for model in topic.events:
            event = topic.parse_object(examples[model.TYPE])
            assert event.to_json() == event.model_dump_json().encode()
            assert topic.parse(event.to_json()) == event
