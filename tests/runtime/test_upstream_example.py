"""The integration guide's example publishers (docs/examples/: aiokafka, confluent-kafka with its librdkafka, and
the Java kafka-clients of the broker's release), run as an upstream team would run them: as its own principal,
against the secured broker, with nothing but the guide's settings. What each sends is what the topic's reader
accepts, under the right key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.catalogue import MSP_APPROVALS, PAYMENT_ATTEMPTS
from devstack.kafka import resolve_jars
from tests.support.bus import provision_catalogue
from tests.support.kafka_tools import read_topic

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def command(client: str, example: Path, build: Path) -> list[str]:
    """How the guide says to run its example for ``client`` (the Java one compiled first, into ``build``)."""
    if client == "java":
        jars = f"{resolve_jars()}/*"
        source = EXAMPLES / "PublishExample.java"
        subprocess.run(
            ["javac", "-d", str(build), "-cp", jars, str(source)], check=True, timeout=300
        )
        return ["java", "-cp", f"{jars}:{build}", "PublishExample", str(example)]
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
