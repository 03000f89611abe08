"""How a spec becomes a service, without a broker: subscribers, AsyncAPI."""

from __future__ import annotations

import pytest

from servicekit.backoff import Backoff
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.runtime.probe import SPEC

pytestmark = pytest.mark.unit


def runtime() -> ServiceRuntime:
    return ServiceRuntime(
        SPEC,
        ServiceSettings(
            service_name="probe", topic_prefix="dev.", kafka_security_protocol="PLAINTEXT"
        ),
    )


def test_one_consumer_reads_every_handled_topic_in_the_service_group():
    rt = runtime()
    assert rt.consumer is not None
    assert rt.consumer.topics == ("dev.probe.in",)
    assert rt.settings.group_id == "dev.probe"
    assert not rt.broker.subscribers, (
        "records reach the project's consume path, not a framework subscriber"
    )


def test_the_asyncapi_document_describes_received_and_sent_channels_with_payload_schemas():
    doc = runtime().asyncapi()
    assert doc["asyncapi"] == "3.1.0"
    assert doc["channels"]["probe_in"]["address"] == "dev.probe.in"
    assert doc["channels"]["probe_in"]["x-dead-letter-topic"] == "dev.probe.in.dlq"
    assert {op["action"] for op in doc["operations"].values()} == {"receive", "send"}
    assert "value" in doc["components"]["schemas"]["ProbeRecorded"]["properties"]


def test_backoff_grows_and_is_capped():
    b = Backoff(first=0.1, cap=1.0)
    delays = [b.next() for _ in range(8)]
    assert delays[1] > delays[0] * 1.5
    assert max(delays) <= 1.0
    b.reset()
    assert b.next() <= 0.1
