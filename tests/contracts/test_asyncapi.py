"""The AsyncAPI documents for partners (docs/asyncapi/) pass the official parser, @asyncapi/parser, installed with
`npm ci` from the lockfile in tests/support/asyncapi (each package checked against its integrity hash), with no
error and no warning: the current AsyncAPI version, servers, security and examples included."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.catalogue import CATALOGUE
from devstack.procs import cache_root

pytestmark = (
    pytest.mark.integration
)  # it fetches the parser from the npm registry (once, then cached)
ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tests" / "support" / "asyncapi"
DOCUMENTS = sorted((ROOT / "docs" / "asyncapi").glob("*.json"))


def parser_dir() -> Path:
    """The parser installed from the lockfile, once per lockfile, outside the repository."""
    lock = (TOOL / "package-lock.json").read_bytes()
    home = cache_root() / f"asyncapi-parser-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (home / "node_modules" / "@asyncapi" / "parser").exists():
        npm = shutil.which("npm")
        assert npm is not None, (
            "the AsyncAPI check needs npm (./dev test installs it: apt-get install npm)"
        )
        home.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json", "check.mjs"):
            shutil.copy2(TOOL / name, home / name)
        subprocess.run(
            [npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=home, check=True, timeout=600
        )
    shutil.copy2(TOOL / "check.mjs", home / "check.mjs")
    return home


def test_every_committed_asyncapi_document_passes_the_official_parser():
    assert {p.stem for p in DOCUMENTS} == {
        "system",
        "notification",
        "expenses",
        "workitems",
        "console",
    }
    home = parser_dir()
    done = subprocess.run(
        ["node", str(home / "check.mjs"), *map(str, DOCUMENTS)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    diagnostics = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stdout + done.stderr
    assert diagnostics == [], "no error, no warning, no hint"


def test_the_upstream_events_carry_a_complete_example_and_the_system_document_every_topic():
    system = json.loads((ROOT / "docs" / "asyncapi" / "system.json").read_text())
    messages = system["components"]["messages"]
    for name in ("PaymentAttempted", "MspApproved"):
        [example] = messages[name]["examples"]
        assert example["payload"]["event_type"] == name
    assert system["servers"]["cluster"]["protocol"] == "kafka-secure"
    assert system["components"]["securitySchemes"]["scramSha512"]["type"] == "scramSha512"
    consumed = [t for t in CATALOGUE.topics if t.consumers]
    assert len(system["channels"]) == len(CATALOGUE.topics) + len(consumed), (
        "each topic, and its dead letters"
    )
    # issue 41: for consumers too: bindings (the key, each reader's group), a side per operation, dead letters
    attempts = system["channels"]["im_payment_attempts"]
    assert attempts["bindings"]["kafka"]["topic"] == "im.payment-attempts"
    assert messages["PaymentAttempted"]["bindings"]["kafka"]["key"]["type"] == "string"
    operations = system["operations"]
    assert operations["send_im_payment_attempts"]["action"] == "send"
    reading = operations["receive_im_payment_attempts_expenses"]
    assert (reading["action"], reading["bindings"]["kafka"]["groupId"]["enum"]) == (
        "receive",
        ["expenses"],
    )
    assert {o["action"] for o in operations.values()} == {"send", "receive"}
    dead = system["channels"]["im_payment_attempts_dlq"]
    assert dead["address"] == "im.payment-attempts.dlq"
    headers = messages["DeadLetter"]["headers"]
    assert {"dlq.reason", "dlq.detail", "dlq.origin.topic"} <= set(headers["properties"])
    assert operations["receive_im_payment_attempts_dlq"]["action"] == "receive", (
        "the upstream producer reads its dead letters"
    )
    assert "receive_msp_notification_events_dlq" not in operations, (
        "a service reads none of its outputs' dead letters"
    )
    # issue 41: the feedback loop: the outcome of each upstream record, written by its reader, read by its writer
    answers = system["channels"]["im_payment_attempts_outcomes"]
    assert (answers["address"], answers["x-answers"]) == (
        "im.payment-attempts.outcomes",
        "im.payment-attempts",
    )
    told = operations["receive_im_payment_attempts_outcomes_payments_system_outcomes"]
    assert told["bindings"]["kafka"]["groupId"]["enum"] == ["payments-system.outcomes"]
    assert operations["send_im_payment_attempts_outcomes"]["action"] == "send"
    [example] = messages["PaymentAttemptOutcomes"]["examples"]
    [answer] = example["payload"]["answers"]
    assert answer["outcome"] in ("accepted", "set-aside", "rejected", "dead-lettered")
