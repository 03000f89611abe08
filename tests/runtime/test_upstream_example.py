"""The integration guide's example publishers (docs/examples/: aiokafka, confluent-kafka with its librdkafka, and
the Java kafka-clients of the broker's release), run as an upstream team would run them: as its own principal,
against the secured broker, with nothing but the guide's settings. What each sends is what the topic's reader
accepts, under the right key."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts.catalogue import MSP_APPROVALS, PAYMENT_ATTEMPTS
from devstack.kafka import resolve_jars
from devstack.procs import cache_root
from tests.support.bus import provision_catalogue
from tests.support.kafka_tools import read_topic

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def compiled(name: str) -> str:
    """The class path that runs the guide's Java example ``name``: the broker's client jars and the example,
    compiled once per version of its source (outside the repository)."""
    jars = f"{resolve_jars()}/*"
    source = EXAMPLES / f"{name}.java"
    build = cache_root() / f"java-{name}-{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}"
    if not (build / f"{name}.class").exists():
        subprocess.run(
            ["javac", "-d", str(build), "-cp", jars, str(source)], check=True, timeout=300
        )
    return f"{jars}:{build}"


def command(client: str, example: Path, build: Path) -> list[str]:
    """How the guide says to run its example for ``client`` (the Java one compiled first, into ``build``)."""
    if client == "java":
        return ["java", "-cp", compiled("PublishExample"), "PublishExample", str(example)]
    return [sys.executable, str(EXAMPLES / f"publish_with_{client}.py"), str(example)]


@pytest.mark.parametrize("client", ["aiokafka", "confluent_kafka", "java"])
@pytest.mark.parametrize(
    ("example", "topic", "principal"),
    [
        ("payment-attempt-one-off-failed.json", PAYMENT_ATTEMPTS, "payments-system"),
        ("msp-approved.json", MSP_APPROVALS, "msp-approvals"),
    ],
)
async def test_the_guides_examples_publish_what_the_reader_accepts(
    kafka, topic_prefix, tmp_path, client, example, topic, principal
):
    await provision_catalogue(topic_prefix)
    settings = kafka.settings(principal)
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings["kafka_bootstrap_servers"],
        "KAFKA_SSL_CAFILE": str(settings["kafka_ssl_cafile"]),
        "KAFKA_SASL_USERNAME": principal,
        "KAFKA_SASL_PASSWORD_FILE": str(settings["kafka_sasl_password_file"]),
        "TOPIC_PREFIX": topic_prefix,
    }
    argv = await asyncio.to_thread(command, client, EXAMPLES / example, tmp_path)
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, stderr.decode()[-2000:]
    [record] = await read_topic(kafka.bootstrap_servers, topic_prefix + topic.name, at_least=1)
    event = topic.parse(record.value)
    assert record.key == event.key.encode()
    assert (b"content-type", b"application/json") in [(k.encode(), v) for k, v in record.headers]
    assert event.producer == principal


def reader(client: str, topic: str, build: Path) -> list[str]:
    """How the guide says to run its dead-letter reader for ``client`` (the Java one compiled first)."""
    if client == "java":
        return ["java", "-cp", compiled("ReadDeadLetters"), "ReadDeadLetters", topic]
    return [sys.executable, str(EXAMPLES / f"read_dead_letters_with_{client}.py"), topic]


@pytest.mark.parametrize("client", ["aiokafka", "confluent_kafka", "java"])
async def test_the_guides_dead_letter_readers_work_as_written_with_the_upstreams_own_group(
    kafka, topic_prefix, tmp_path, client
):
    """Issue 41: the recipe (assign, no group) failed as written with confluent-kafka: librdkafka needs a group, and
    a made-up one is refused. Each upstream system has a group of its own for its dead letters; each client's reader
    reads them with it, says why and where, and on its next run reads only what is new."""
    await provision_catalogue(topic_prefix)
    event_id = "0d7c6e1a-0000-4000-8000-000000000041"
    producer = AIOKafkaProducer(**kafka.access.client("expenses"), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{topic_prefix}im.payment-attempts.dlq",
            f'{{"event_id": "{event_id}", "event_type": "PaymentAttempted"}}'.encode(),
            key=b"EXP-DLQ-1",
            headers=[
                ("dlq.reason", b"schema-invalid"),
                ("dlq.detail", b"expense_id: field required"),
                ("dlq.consumer", b"expenses"),
                ("dlq.origin.topic", f"{topic_prefix}im.payment-attempts".encode()),
                ("dlq.origin.partition", b"0"),
                ("dlq.origin.offset", b"7"),
            ],
        )
    finally:
        await producer.stop()
    settings = kafka.settings("payments-system")
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings["kafka_bootstrap_servers"],
        "KAFKA_SSL_CAFILE": str(settings["kafka_ssl_cafile"]),
        "KAFKA_SASL_USERNAME": "payments-system",
        "KAFKA_SASL_PASSWORD_FILE": str(settings["kafka_sasl_password_file"]),
        "TOPIC_PREFIX": topic_prefix,
    }
    argv = await asyncio.to_thread(reader, client, "im.payment-attempts", tmp_path)

    async def run() -> str:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
        return out.decode()

    first = await run()
    assert f"reason=schema-invalid origin=0:7 event_id={event_id}" in first, first
    assert "detail=expense_id: field required" in first
    if (
        client == "confluent_kafka"
    ):  # the group's memory is the broker's: one client shows it (a run costs 5 s)
        assert (await run()).strip() == "", "read before: the group remembers"
