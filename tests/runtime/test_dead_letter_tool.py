"""Operators' dead-letter tool on the real broker: list, show (never the content), and replay after a fix, each
replay recorded and handled once (issue 18)."""

from __future__ import annotations

import pytest

from servicekit import dlq
from servicekit.service import ServiceRuntime
from tests.conftest import KafkaInfo
from tests.runtime.probe import CATALOGUE, SPEC, ProbeCounted
from tests.runtime.test_runtime_on_real_broker import recorded, settings, total
from tests.support.bus import running
from tests.support.drain import read_settled
from tests.support.kafka_tools import header, publish

pytestmark = pytest.mark.integration

LONG_ID = "p" + "x" * 900
"""A probe id that makes its record larger than 1 KiB, key and value together."""


def admin(kafka: KafkaInfo, prefix: str):
    return kafka.access.admin_settings(topic_prefix=prefix)


async def replay(kafka, prefix, capsys, *args: str) -> str:
    assert await dlq.main(["replay", "--topic", "probe.in", "--operator", "OPS-7", *args], admin(kafka, prefix),
                          CATALOGUE) == 0
    return capsys.readouterr().out


async def test_a_record_dead_lettered_by_a_limit_set_too_low_is_replayed_after_the_fix_and_handled_once(
        kafka, database_url, topic_prefix, capsys):
    too_low = settings(kafka, database_url, topic_prefix).model_copy(update={"max_record_bytes": 1024})
    runtime = ServiceRuntime(SPEC, too_low)
    async with running(runtime):
        await publish(kafka.bootstrap_servers, f"{topic_prefix}probe.in", [recorded(LONG_ID, 5)], key=LONG_ID.encode())
        [dead] = await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
    assert header(dead, "dlq.reason") == "too-large"

    assert await dlq.main(["list"], admin(kafka, topic_prefix), CATALOGUE) == 0
    listed = capsys.readouterr().out
    assert f"| {topic_prefix}probe.in.dlq | too-large | probe | 1 | 0 |" in listed
    assert await dlq.main(["show", "probe.in", str(dead.partition), str(dead.offset)], admin(kafka, topic_prefix),
                          CATALOGUE) == 0
    shown = capsys.readouterr().out
    assert "reason        too-large" in shown
    assert f"came from     {topic_prefix}probe.in/" in shown
    assert "ProbeRecorded" in shown
    assert LONG_ID not in shown, "no content: the key and value are given by their size"

    fixed = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))  # the limit as deployed
    async with running(fixed):
        first = await replay(kafka, topic_prefix, capsys, "--reason", "too-large")
        [counted] = await read_settled(fixed, f"{topic_prefix}probe.out")
        second = await replay(kafka, topic_prefix, capsys)
        forced = await replay(kafka, topic_prefix, capsys, "--again")
        outputs = await read_settled(fixed, f"{topic_prefix}probe.out")
    assert "replayed to" in first
    assert "0 dead letters selected" in second, "a replay is recorded: the same selection is not sent twice"
    assert "replayed to" in forced
    assert [ProbeCounted.model_validate_json(r.value).total for r in outputs] == [5], "handled once"
    assert ProbeCounted.model_validate_json(counted.value).probe_id == LONG_ID
    assert await total(database_url, LONG_ID) == 5
    assert await dlq.main(["list"], admin(kafka, topic_prefix), CATALOGUE) == 0
    assert "| too-large | probe | 1 | 1 |" in capsys.readouterr().out, "listed as replayed, with who and when"
    tool = dlq.DeadLetters(admin(kafka, topic_prefix), CATALOGUE)
    _, replays = await tool.read_topics(tool.all_topics())
    assert {(r.replay_of, r.operator) for r in replays} == {(f"{topic_prefix}probe.in.dlq/{dead.partition}/{dead.offset}",
                                                             "OPS-7")}
    assert all(r.at for r in replays)


async def test_a_replayed_record_its_handler_failed_on_reaches_the_handler_again(
        kafka, database_url, topic_prefix, capsys):
    """A handler's failure does not leave the event in the inbox: the replay is not taken for a duplicate."""
    runtime = ServiceRuntime(SPEC, settings(kafka, database_url, topic_prefix))
    async with running(runtime):
        await publish(kafka.bootstrap_servers, f"{topic_prefix}probe.in", [recorded("p13", 13)], key=b"p13")
        await read_settled(runtime, f"{topic_prefix}probe.in.dlq")
        await replay(kafka, topic_prefix, capsys, "--reason", "handler-failed")
        dead = [r for r in await read_settled(runtime, f"{topic_prefix}probe.in.dlq") if header(r, "dlq.reason")]
    assert [header(r, "dlq.reason") for r in dead] == ["handler-failed", "handler-failed"]
    assert header(dead[1], "dlq.original-header.dlq.replayed-by") == "OPS-7", "the replay, failing again"
