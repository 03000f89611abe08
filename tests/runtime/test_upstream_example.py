"""The integration guide's example publishers (docs/examples/: aiokafka, confluent-kafka with its librdkafka, and
the Java kafka-clients of the broker's release), run as an upstream team would run them: as its own principal,
against the secured broker, with nothing but the guide's settings. What each sends is what the topic's reader
accepts, under the right key."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import cast

import pytest
from aiokafka import AIOKafkaProducer

from contracts.catalogue import MSP_APPROVALS, PAYMENT_ATTEMPT_OUTCOMES, PAYMENT_ATTEMPTS
from contracts.outcomes import InputOutcomes, Outcome
from devstack.kafka import resolve_jars
from devstack.procs import cache_root
from expenses.app import ExpensesSettings, create_runtime
from servicekit.clock import SimulatedClock
from tests.expenses.builders import at, attempt
from tests.support.bus import provision_catalogue, running
from tests.support.kafka_tools import eventually, read_all, read_topic

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


def reader(client: str, kind: str, topic: str) -> list[str]:
    """How the guide says to run its reader of ``kind`` (dead letters, outcomes) for ``client`` (Java compiled
    first)."""
    if client == "java":
        name = {"dead_letters": "ReadDeadLetters", "outcomes": "ReadOutcomes"}[kind]
        return ["java", "-cp", compiled(name), name, topic]
    return [sys.executable, str(EXAMPLES / f"read_{kind}_with_{client}.py"), topic]


@pytest.mark.parametrize("client", ["aiokafka", "confluent_kafka", "java"])
async def test_the_guides_readers_tell_the_upstream_what_became_of_each_record_with_its_own_groups(
    kafka, database_url, topic_prefix, client
):
    """Issue 41: "Upstream teams have no feedback loop": the only thing an upstream team could see about its messages
    was its dead letters, and the recipe for those failed as written with confluent-kafka (librdkafka needs a group).
    The payments system writes three attempts, as itself; the real expenses service takes one, sets one aside and
    dead-letters one. Each client's two readers, run as the guide says with the payments system's own groups, tell
    it: the outcome of each (accepted; set aside and why; dead-lettered and why, and which field), and the dead
    letter with where the record was; read again, the groups remember."""
    weekly = attempt(when=at(2026, 11, 24, 9), expense_id="EXP-OUT-1")
    early = attempt(
        when=at(2026, 11, 22, 23), expense_id="EXP-OUT-2"
    )  # before its period: set aside
    broken = {**json.loads(weekly.to_json()), "event_id": str(uuid.uuid4()), "amount": "-1"}
    runtime = create_runtime(
        ExpensesSettings(
            **kafka.settings("expenses"), database_url=database_url, topic_prefix=topic_prefix
        ),
        SimulatedClock.starting_at(at(2026, 11, 24, 10)),
    )
    async with running(runtime):
        producer = AIOKafkaProducer(**kafka.access.client("payments-system"), acks="all")
        await producer.start()
        try:
            for value, key in (
                (weekly.to_json(), b"EXP-OUT-1"),
                (early.to_json(), b"EXP-OUT-2"),
                (json.dumps(broken).encode(), b"EXP-OUT-1"),
            ):
                await producer.send_and_wait(f"{topic_prefix}im.payment-attempts", value, key=key)
        finally:
            await producer.stop()

        async def answers() -> list[Outcome]:
            records = await read_all(
                kafka.bootstrap_servers, f"{topic_prefix}{PAYMENT_ATTEMPT_OUTCOMES.name}"
            )
            return [
                a.outcome
                for r in records
                for a in cast(InputOutcomes, PAYMENT_ATTEMPT_OUTCOMES.parse(r.value)).answers
            ]

        async def all_answered() -> bool:
            return len(await answers()) >= 3

        await eventually(all_answered, timeout=60, what="the three attempts answered")
        answered = await answers()
    assert sorted(answered) == sorted(
        {
            Outcome.ACCEPTED,
            Outcome.SET_ASIDE,
            Outcome.DEAD_LETTERED,
        }
    ), "each answered once"
    settings = kafka.settings("payments-system")
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings["kafka_bootstrap_servers"],
        "KAFKA_SSL_CAFILE": str(settings["kafka_ssl_cafile"]),
        "KAFKA_SASL_USERNAME": "payments-system",
        "KAFKA_SASL_PASSWORD_FILE": str(settings["kafka_sasl_password_file"]),
        "TOPIC_PREFIX": topic_prefix,
    }

    async def run(kind: str) -> str:
        argv = await asyncio.to_thread(reader, client, kind, "im.payment-attempts")
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
        return out.decode()

    outcomes, letters = await asyncio.gather(run("outcomes"), run("dead_letters"))
    assert f"event_id={weekly.event_id} outcome=accepted reason=-" in outcomes, outcomes
    assert f"event_id={early.event_id} outcome=set-aside reason=before-retry-window" in outcomes
    assert f"event_id={broken['event_id']} outcome=dead-lettered reason=schema-invalid" in outcomes
    assert "detail=amount:" in outcomes, "which field, never its value"
    assert "CRN-SYNTH-1" not in outcomes + letters, (
        "never the record's content: no customer reference"
    )
    [letter] = letters.splitlines()
    assert "reason=schema-invalid origin=" in letter
    assert f"event_id={broken['event_id']}" in letter
    assert "detail=amount:" in letter
    if (
        client == "confluent_kafka"
    ):  # the groups' memory is the broker's: one client shows it (a run costs 5 s)
        again = await asyncio.gather(run("outcomes"), run("dead_letters"))
        assert [text.strip() for text in again] == ["", ""], "read before: the groups remember"
