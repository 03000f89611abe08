"""Operators' dead-letter tool on the real broker: list, show (never the content), and replay after a fix, each
replay recorded and handled once (issue 18); a replay that can only re-send what was there, as its own principal
for a verified operator (issue 26: "The dead-letter replay is a way around the ACLs")."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from contracts.access import DLQ_REPLAYER
from contracts.roles import OPERATIONS
from devstack.tokens import Signer
from servicekit.service import ServiceRuntime
from servicekit.tools import dlq
from tests.conftest import KafkaInfo
from tests.runtime.probe import CATALOGUE, SPEC, ProbeCounted
from tests.runtime.test_runtime_on_real_broker import recorded, settings, total
from tests.support.bus import provision_catalogue, running
from tests.support.drain import read_settled
from tests.support.kafka_tools import header, partition_of, publish

pytestmark = pytest.mark.integration

LONG_ID = "p" + "x" * 900
"""A probe id that makes its record larger than 1 KiB, key and value together."""


SIGNER = Signer(issuer="https://login.test/operators", audience="dlq")


def admin(
    kafka: KafkaInfo, prefix: str, operator: str = "OPS-7", roles: tuple[str, ...] = (OPERATIONS,)
):
    """The tool's settings: the dead-letter replayer's principal, an operator's token (not the admin)."""
    return dlq.DlqSettings(
        **kafka.settings(DLQ_REPLAYER),
        topic_prefix=prefix,
        seal_keys_dir=kafka.access.secrets.seals if kafka.access.secrets else None,
        operator_token=SIGNER.token(operator, roles=list(roles)),
        jwt_public_keys=[SIGNER.public_pem],
        jwt_issuer=SIGNER.issuer,
    )


async def replay(kafka, prefix, capsys, *args: str) -> str:
    assert (
        await dlq.main(["replay", "--topic", "probe.in", *args], admin(kafka, prefix), CATALOGUE)
        == 0
    )
    return capsys.readouterr().out


async def dead_letter_too_large(kafka, database_url: str, topic_prefix: str) -> Any:
    """A record over a limit set too low (1 KiB), dead-lettered by the probe service: the dead letter."""
    too_low = settings(kafka, database_url, topic_prefix).model_copy(
        update={"max_record_bytes": 1024}
    )
    runtime = ServiceRuntime(SPEC, too_low)
    async with running(runtime):
        await publish(
            kafka.bootstrap_servers,
            f"{topic_prefix}probe.in",
            [recorded(LONG_ID, 5)],
            key=LONG_ID.encode(),
        )
        [dead] = await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
    return dead


async def test_a_record_dead_lettered_by_a_limit_set_too_low_is_replayed_after_the_fix_and_handled_once(
    kafka, database_url, topic_prefix, capsys
):
    dead = await dead_letter_too_large(kafka, database_url, topic_prefix)
    assert header(dead, "dlq.reason") == "too-large"

    assert await dlq.main(["list"], admin(kafka, topic_prefix), CATALOGUE) == 0
    listed = capsys.readouterr().out
    assert f"| {topic_prefix}probe.in.dlq | too-large | probe | 1 | 0 | 0 |" in listed
    assert (
        await dlq.main(
            ["show", "probe.in", str(dead.partition), str(dead.offset)],
            admin(kafka, topic_prefix),
            CATALOGUE,
        )
        == 0
    )
    shown = capsys.readouterr().out
    assert "reason        too-large" in shown
    assert f"came from     {topic_prefix}probe.in/" in shown
    assert "ProbeRecorded" in shown
    assert LONG_ID not in shown, "no content: the key and value are given by their size"

    fixed = ServiceRuntime(
        SPEC, settings(kafka, database_url, topic_prefix)
    )  # the limit as deployed
    async with running(fixed):
        first = await replay(kafka, topic_prefix, capsys, "--reason", "too-large")
        [counted] = await read_settled(fixed, f"{topic_prefix}probe.out")
        second = await replay(kafka, topic_prefix, capsys)
        forced = await replay(kafka, topic_prefix, capsys, "--again")
        outputs = await read_settled(fixed, f"{topic_prefix}probe.out")
    assert "replayed to" in first
    assert "0 dead letters selected" in second, (
        "a replay is recorded: the same selection is not sent twice"
    )
    assert "replayed to" in forced
    assert [ProbeCounted.model_validate_json(r.value).total for r in outputs] == [5], "handled once"
    assert ProbeCounted.model_validate_json(counted.value).probe_id == LONG_ID
    assert await total(database_url, LONG_ID) == 5
    assert await dlq.main(["list"], admin(kafka, topic_prefix), CATALOGUE) == 0
    assert "| too-large | probe | 1 | 1 | 0 |" in capsys.readouterr().out, (
        "listed as replayed, with who and when"
    )
    tool = dlq.DeadLetters(admin(kafka, topic_prefix), CATALOGUE)
    _, replays = await tool.read_topics(tool.all_topics())
    assert {(r.replay_of, r.operator) for r in replays} == {
        (f"{topic_prefix}probe.in.dlq/{dead.partition}/{dead.offset}", "OPS-7")
    }
    assert all(r.at for r in replays)


async def test_a_replayed_record_its_handler_failed_on_reaches_the_handler_again(
    kafka, database_url, topic_prefix, capsys
):
    """A handler's failure does not leave the event in the inbox: the replay is not taken for a duplicate."""
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    async with running(runtime):
        await publish(
            kafka.bootstrap_servers, f"{topic_prefix}probe.in", [recorded("p13", 13)], key=b"p13"
        )
        await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
        await replay(kafka, topic_prefix, capsys, "--reason", "handler-failed")
        dead = [
            r
            for r in await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
            if header(r, "dlq.reason")
        ]
        # issue 41: the same command again selected the copy, and every replay multiplied the dead letters
        dry = await replay(kafka, topic_prefix, capsys, "--reason", "handler-failed", "--dry-run")
        again = await replay(kafka, topic_prefix, capsys, "--reason", "handler-failed")
        after = [
            r
            for r in await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
            if header(r, "dlq.reason")
        ]
        listed = await dlq_list(kafka, topic_prefix, capsys)
    assert [header(r, "dlq.reason") for r in dead] == ["handler-failed", "handler-failed"]
    assert header(dead[1], "dlq.original-header.dlq.replayed-by") == "OPS-7", (
        "the replay, failing again"
    )
    assert "0 dead letters selected" in dry
    assert "0 dead letters selected" in again, (
        "the same command selects neither it again nor its copy"
    )
    assert len(after) == 2, "nothing multiplied"
    assert "| handler-failed | probe | 1 | 1 | 1 | 0 |" in listed, (
        "one dead letter, replayed, failed again once: its copy counted under it"
    )
    assert f"a replay of {topic_prefix}probe.in.dlq/" in listed


async def dlq_list(kafka, prefix, capsys) -> str:
    assert await dlq.main(["list", "--topic", "probe.in"], admin(kafka, prefix), CATALOGUE) == 0
    return capsys.readouterr().out


async def plant(kafka: KafkaInfo, prefix: str, value: bytes, **headers: str) -> None:
    """What a consumer principal may do: write its input's dead-letter topic, with any headers it likes."""
    producer = AIOKafkaProducer(**kafka.access.client("probe"), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{prefix}probe.in.dlq",
            value,
            key=b"forged",
            headers=[(f"dlq.{name.replace('_', '.')}", v.encode()) for name, v in headers.items()],
        )
    finally:
        await producer.stop()


async def test_a_planted_dead_letter_is_suspect_and_never_published(
    kafka, database_url, topic_prefix, capsys
):
    """Issue 26: the console, operations and the gateway "planted records that the documented replay then
    published". Whatever a dead letter's headers and copy say, only the record at its origin can go, and only to
    the topic whose dead-letter topic holds it."""
    await provision_catalogue(topic_prefix, CATALOGUE, partitions=3)
    await publish(
        kafka.bootstrap_servers, f"{topic_prefix}probe.in", [recorded("real", 2)], key=b"real"
    )
    forged = recorded("forged", 999)
    origin = {
        "reason": "invalid",
        "consumer": "probe",
        "origin_partition": "0",
        "origin_offset": "0",
    }
    await plant(
        kafka, topic_prefix, forged, **origin, origin_topic=f"{topic_prefix}probe.out"
    )  # another topic
    await plant(
        kafka,
        topic_prefix,
        forged,
        **{**origin, "consumer": "console"},
        origin_topic=f"{topic_prefix}probe.in",
    )
    await plant(
        kafka,
        topic_prefix,
        forged,
        **{**origin, "origin_offset": "5000"},
        origin_topic=f"{topic_prefix}probe.in",
    )
    await plant(
        kafka,
        topic_prefix,
        forged,
        **{**origin, "origin_partition": str(partition_of(b"real", 3))},
        origin_topic=f"{topic_prefix}probe.in",
    )  # a real origin, a forged copy
    await plant(
        kafka,
        topic_prefix,
        forged,
        **{**origin, "origin_partition": str(partition_of(b"real", 3)), "truncated_value": "9"},
        origin_topic=f"{topic_prefix}probe.in",
    )  # issue 37, finding 3: a forged truncation header skipped the copy check

    assert await dlq.main(["list"], admin(kafka, topic_prefix), CATALOGUE) == 0
    listed = capsys.readouterr().out
    assert "5 dead letters, 0 of them replayed, 2 suspect" in listed, (
        "list reads the headers against the catalogue"
    )
    assert "| console | 1 | 0 | 0 | 1 |" in listed, "none failed again; one suspect"
    out = await replay(kafka, topic_prefix, capsys)
    outcomes = [line for line in out.splitlines() if "probe.in.dlq/" in line]
    assert len(outcomes) == 5
    assert all("refused, suspect" in line for line in outcomes), out
    assert "origin other than" in out
    assert "consumer that does not consume" in out
    assert "no record was ever at its origin (beyond-end)" in out
    assert out.count("its copy differs from the record at its origin") == 2, (
        "a copy that says it was cut is still compared with its origin"
    )
    tool = dlq.DeadLetters(admin(kafka, topic_prefix), CATALOGUE)
    inputs = await tool.records([f"{topic_prefix}probe.in", f"{topic_prefix}probe.out"])
    assert [r.value for r in inputs if b"forged" in (r.value or b"")] == [], (
        "nothing forged was published"
    )
    _, replays = await tool.read_topics(tool.all_topics())
    assert replays == [], "no marker either"


async def expire(kafka: KafkaInfo, topic: str) -> None:
    """Every record of ``topic`` past its retention, as time would make it: deleted up to each partition's end."""
    admin_client = AIOKafkaAdminClient(**kafka.access.client())
    consumer = AIOKafkaConsumer(**kafka.access.client())
    await admin_client.start()
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        await admin_client.delete_records({tp: RecordsToDelete(end) for tp, end in ends.items()})
    finally:
        await consumer.stop()
        await admin_client.close()


async def test_a_copy_whose_original_expired_goes_only_under_its_consumers_seal_once_the_operator_read_it(
    kafka, database_url, topic_prefix, capsys
):
    """Issue 37, finding 3: where the origin had expired, `show` printed only the type, id and size, and a dead
    letter planted by a principal that may write the dead-letter topic was published once confirmed. A consumer
    now seals what it dead-letters with its own key; the replay holds only the public keys."""
    dead = await dead_letter_too_large(kafka, database_url, topic_prefix)
    assert header(dead, "dlq.seal"), "sealed by the consumer that wrote it"
    origin = {
        "reason": "too-large",
        "consumer": "probe",
        "origin_partition": header(dead, "dlq.origin.partition") or "",
        "origin_offset": header(dead, "dlq.origin.offset") or "",
    }
    await (
        plant(  # the same coordinates and consumer, written by the principal itself without its key
            kafka,
            topic_prefix,
            recorded("forged", 999),
            **origin,
            origin_topic=f"{topic_prefix}probe.in",
        )
    )
    await expire(kafka, f"{topic_prefix}probe.in")
    tool = dlq.DeadLetters(admin(kafka, topic_prefix), CATALOGUE)
    letters, _ = await tool.read_topics(tool.all_topics())
    [genuine, planted] = sorted(letters, key=lambda d: d.offset)
    assert (genuine.writer, planted.writer) == ("probe", None)

    settings_ = admin(kafka, topic_prefix)
    assert (
        await dlq.main(
            ["show", "probe.in", str(dead.partition), str(dead.offset)], settings_, CATALOGUE
        )
        == 0
    )
    brief = capsys.readouterr().out
    assert "written by    probe (its seal holds)" in brief
    assert LONG_ID not in brief, "no content unless asked"
    assert (
        await dlq.main(
            ["show", "probe.in", str(dead.partition), str(dead.offset), "--copy"],
            settings_,
            CATALOGUE,
        )
        == 0
    )
    assert LONG_ID in capsys.readouterr().out, "the whole copy, decoded, for the operator to judge"
    assert (
        await dlq.main(
            ["show", "probe.in", str(planted.partition), str(planted.offset)], settings_, CATALOGUE
        )
        == 0
    )
    assert "written by    not proven" in capsys.readouterr().out

    held = await replay(kafka, topic_prefix, capsys)
    assert "held: the original is past its topic's retention" in held
    assert "not sealed by a consumer of probe.in" in held
    both = [f"{d.partition}:{d.offset}" for d in (genuine, planted)]
    sent = await replay(
        kafka, topic_prefix, capsys, "--confirm-copy", both[0], "--confirm-copy", both[1]
    )
    assert f"probe.in.dlq/{genuine.partition}/{genuine.offset} (too-large): replayed to" in sent
    assert f"probe.in.dlq/{planted.partition}/{planted.offset} (too-large): refused" in sent
    inputs = await tool.records([f"{topic_prefix}probe.in"])
    assert [r.key for r in inputs] == [LONG_ID.encode()], (
        "the sealed copy went; the planted one never"
    )


async def test_the_tools_refuse_an_operator_without_the_operations_role(
    kafka, topic_prefix, capsys
):
    await provision_catalogue(topic_prefix, CATALOGUE, partitions=3)
    assert (
        await dlq.main(["list"], admin(kafka, topic_prefix, "OFF-1", ("im-trained",)), CATALOGUE)
        == 2
    )
    assert "need an operator's token with the 'ops' role" in capsys.readouterr().err
    unsigned = admin(kafka, topic_prefix).model_copy(update={"operator_token": None})
    assert await dlq.main(["list"], unsigned, CATALOGUE) == 2


@pytest.mark.unit
@pytest.mark.unit
def test_a_replay_never_takes_a_copy_nor_a_record_that_would_fail_the_same_way_unless_told():
    """Issue 41: replaying schema-invalid records re-sent the same bytes, which failed again as new dead letters
    that the same command then selected: 10 dead letters from 4 bad records."""
    from servicekit.tools.dlq import DeadLetter, Replay, left_unfixed, selected, table

    def letter(offset: int, reason: str, copy_of: str | None = None) -> DeadLetter:
        return DeadLetter(
            "t.dlq",
            0,
            offset,
            offset,
            reason,
            "",
            "c",
            ("t", 0, offset),
            1,
            1,
            0,
            (),
            None,
            None,
            None,
            copy_of,
        )

    bad, failed, copy = (
        letter(1, "schema-invalid"),
        letter(2, "handler-failed"),
        letter(3, "handler-failed", "t.dlq/0/2"),
    )
    letters = [bad, failed, copy]
    assert selected(letters, [], reason=None, offsets=[], again=False) == [failed]
    assert selected(letters, [], reason=None, offsets=[], again=False, unfixed=True) == [
        bad,
        failed,
    ]
    done = [Replay("t.dlq/0/2", "OPS-1", "now")]
    assert selected(letters, done, reason=None, offsets=[], again=False) == []
    assert selected(letters, done, reason=None, offsets=[], again=True) == [failed], (
        "its first, never the copy"
    )
    assert left_unfixed(letters, reason=None, offsets=[]) == [bad]
    assert "| t.dlq | handler-failed | c | 1 | 1 | 1 | 0 |" in table(letters, done)


def test_the_list_names_each_dead_letter_by_the_coordinates_show_and_replay_take():
    from servicekit.tools.dlq import DeadLetter, coordinates

    def letter(offset: int) -> DeadLetter:
        return DeadLetter(
            "im.payment-attempts.dlq",
            2,
            offset,
            1_000 + offset,
            "not-json",
            "",
            "expenses",
            ("im.payment-attempts", 2, 40 + offset),
            5,
            9,
            0,
            (),
            None,
            None,
        )

    lines = coordinates([letter(n) for n in range(3)])
    assert lines[1:] == [f"  im.payment-attempts.dlq 2 {n}  not-json" for n in (2, 1, 0)], (
        "newest first"
    )
    many = coordinates([letter(n) for n in range(60)], shown=50)
    assert many[-1] == "  ... and 10 more (--topic narrows the list)"
    assert len(many) == 52
