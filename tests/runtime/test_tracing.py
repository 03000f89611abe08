"""Issue 30: one case followed across the services. The four services run as separate processes on the real broker
and database and export OTLP to a receiver this test runs (``servicekit.tools.otlp``, decoding the real protocol)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts.roles import OPERATIONS, OfficerRole
from devstack.processes import ServiceProcess
from devstack.scenarios import Runner, SystemUnderTest, load_all
from devstack.synthetic import failed_weekly_attempt, medicare_approval
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer
from servicekit.tools.otlp import Receiver
from tests.support.bus import start_processes, stop_processes
from tests.support.kafka_tools import eventually, header, publish, read_all
from tests.support.signin import code_of, keep_cookie, press_sign_in, sign_in_link

pytestmark = pytest.mark.integration

SERVICES = ("notification", "expenses", "workitems", "console")
T0 = datetime(2027, 3, 1, 9, 12, tzinfo=ZoneInfo("Australia/Sydney"))
PARENT = "00f067aa0ba902b7"
UPSTREAM_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Traced:
    def __init__(self, kafka: Any, database_url: str, prefix: str, log_dir: Path) -> None:
        self.receiver = Receiver().start()
        self.signer = Signer(audience=SYSTEM_AUDIENCES)
        env = {
            **kafka.access.env(SERVICES),
            "DATABASE_URL": database_url,
            "TOPIC_PREFIX": prefix,
            "CLOCK": "simulated",
            "CLOCK_START": T0.isoformat(),
            **self.signer.env(),
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        self.services = {n: ServiceProcess(n, env, log_dir) for n in SERVICES}
        self.auth = {
            "Authorization": f"Bearer {self.signer.token('OPS-1', expires_in=3600, roles=[OPERATIONS])}"
        }
        self.prefix = prefix

    async def start(self) -> None:
        await start_processes(self.prefix, self.services.values(), self.auth)

    def stop(self) -> None:
        stop_processes(self.services.values())
        self.receiver.stop()

    def spans(self, **wanted: Any) -> list[dict[str, Any]]:
        return [
            s
            for s in self.receiver.snapshot()
            if all(s.get(k) == v or s["attributes"].get(k) == v for k, v in wanted.items())
        ]


@pytest.fixture
async def traced(kafka, database_url, topic_prefix, tmp_path) -> AsyncIterator[Traced]:
    system = Traced(kafka, database_url, topic_prefix, tmp_path)
    await system.start()
    try:
        yield system
    finally:
        system.stop()


def _services_in(spans: list[dict[str, Any]]) -> set[str]:
    return {s["service"] for s in spans}


async def test_one_approval_is_one_trace_across_the_services_and_no_span_carries_personal_data(
    traced: Traced, kafka
):
    approval = medicare_approval("MSP-TRACE-1", "CRN-TRACE-1", T0)
    # the upstream says "not sampled" and sends a tracestate: sampling is decided here (1.0 by default), and its
    # state rides on nothing downstream (issue 37, finding 8)
    traceparent = f"00-{UPSTREAM_TRACE}-{PARENT}-00"
    await publish(
        kafka.bootstrap_servers,
        f"{traced.prefix}msp.approvals",
        [approval.to_json()],
        key=b"MSP-TRACE-1",
        headers=[("traceparent", traceparent.encode()), ("tracestate", b"upstream=1")],
    )

    async def whole() -> bool:
        """Each service's part has arrived: every process exports on its own schedule, so a span's parent (a
        send span of notification) may arrive after its child."""
        spans = traced.spans(trace_id=UPSTREAM_TRACE)
        consumed = [s for s in spans if s["kind"] == "consumer"]
        arrived = {s["span_id"] for s in spans} | {PARENT}
        return {"notification", "workitems", "console"} <= {s["service"] for s in consumed} and all(
            s["parent_span_id"] in arrived for s in consumed
        )

    await eventually(
        whole, timeout=120, what="the approval's trace in notification, workitems and console"
    )
    await publish(  # the same approval again: a duplicate, and its span says so
        kafka.bootstrap_servers,
        f"{traced.prefix}msp.approvals",
        [approval.to_json()],
        key=b"MSP-TRACE-1",
    )

    async def twice() -> bool:
        outcomes = [
            s["attributes"]["msp_im.outcome"]
            for s in traced.spans(
                kind="consumer", **{"messaging.message.id": str(approval.event_id)}
            )
        ]
        return sorted(outcomes) == ["duplicate", "handled"]

    await eventually(twice, timeout=60, what="the redelivered approval's span saying duplicate")
    spans = traced.spans(trace_id=UPSTREAM_TRACE)
    by_id = {s["span_id"]: s for s in spans}
    [first] = [
        s
        for s in spans
        if s["name"].endswith("msp.approvals process") and s["parent_span_id"] == PARENT
    ]
    assert first["service"] == "notification"
    assert first["parent_span_id"] == PARENT, (
        "the upstream system's context is continued, not replaced"
    )
    assert first["attributes"]["msp_im.outcome"] == "handled"
    assert first["attributes"]["msp_im.event_type"] == "MspApproved"
    assert first["attributes"]["messaging.message.id"] == str(approval.event_id)
    assert first["attributes"]["messaging.destination.name"] == f"{traced.prefix}msp.approvals"
    [decide] = [
        s
        for s in spans
        if s["parent_span_id"] == first["span_id"] and s["name"].startswith("decide")
    ]
    assert "MspNotificationPlanned" in decide["attributes"]["msp_im.outputs"]
    assert decide["attributes"]["msp_im.rules"], "the rules whose code decided it"
    sends = [s for s in spans if s["kind"] == "producer" and s["service"] == "notification"]
    assert sends, "the relay's send spans are in the trace"
    for send in sends:
        assert send["parent_span_id"] == first["span_id"]
        assert {"trace_id": UPSTREAM_TRACE, "span_id": first["span_id"]} in send["links"]
    downstream = [
        s for s in spans if s["kind"] == "consumer" and s["service"] in ("workitems", "console")
    ]
    assert all(by_id[s["parent_span_id"]]["kind"] == "producer" for s in downstream), (
        "each downstream record continues from the send span that published it"
    )
    phone_task = [
        s
        for s in spans
        if s["service"] == "workitems"
        and "WorkItemRaised" in s["attributes"].get("msp_im.outputs", [])
    ]
    assert phone_task, "the phone task is raised in the approval's trace"

    logged = [
        json.loads(line)
        for line in traced.services["notification"].log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    joined = [line for line in logged if line.get("trace_id") == UPSTREAM_TRACE]
    assert joined, "log lines written while the approval was handled carry its trace"
    assert all(line["span_id"] in by_id for line in joined), "and a span of it"

    downstream_records = await read_all(
        kafka.bootstrap_servers, f"{traced.prefix}msp.notification-events"
    )
    assert downstream_records
    for record in downstream_records:
        names = {n for n, _ in record.headers or ()}
        assert "tracestate" not in names, "the upstream's tracestate rides on nothing downstream"
        assert (header(record, "traceparent") or "").endswith("-01"), "sampled here"

    everything = json.dumps(traced.receiver.snapshot())
    for personal in (
        approval.contact.name,
        approval.contact.phone,
        approval.customer_ref,
        approval.reasons,
        approval.behaviours[0].what,
        approval.service_access,
    ):
        assert personal not in everything, f"{personal!r} is in a span"


async def test_a_window_closing_days_later_is_a_timer_span_linked_to_the_attempt(
    traced: Traced, kafka
):
    attempt = failed_weekly_attempt("EXP-TRACE-1", "CRN-TRACE-2", T0)
    await publish(
        kafka.bootstrap_servers,
        f"{traced.prefix}im.payment-attempts",
        [attempt.to_json()],
        key=b"EXP-TRACE-1",
    )

    async def processed() -> list[dict[str, Any]]:
        return traced.spans(**{"messaging.message.id": str(attempt.event_id)})

    async def seen() -> bool:
        return bool(await processed())

    await eventually(seen, timeout=60, what="the attempt's process span")
    [consumed] = await processed()
    assert consumed["parent_span_id"] == "", "no context came with it: its trace starts here"
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{traced.services['expenses'].url}/clock",
            params={"to": (T0 + timedelta(days=8)).isoformat()},
            headers=traced.auth,
        )
        assert answer.status_code == 200, answer.text

    async def fired() -> bool:
        return any(
            {"trace_id": consumed["trace_id"], "span_id": consumed["span_id"]} in s["links"]
            for s in traced.spans(name="timer fire")
        )

    await eventually(fired, timeout=60, what="a timer span linked to the attempt")
    [fire] = [
        s
        for s in traced.spans(name="timer fire")
        if {"trace_id": consumed["trace_id"], "span_id": consumed["span_id"]} in s["links"]
    ]
    assert fire["service"] == "expenses"
    assert fire["trace_id"] != consumed["trace_id"], "days later: a trace of its own, linked"
    assert fire["attributes"]["msp_im.timer.key"].startswith("EXP-TRACE-1/")

    async def i059pl() -> bool:
        return any(
            "WorkItemRaised" in s["attributes"].get("msp_im.outputs", [])
            for s in traced.spans(trace_id=fire["trace_id"], service="workitems")
        )

    await eventually(i059pl, timeout=60, what="the I059PL raised in the timer's trace")


async def test_a_dead_lettered_record_says_why_and_a_hostile_traceparent_starts_a_new_trace(
    traced: Traced, kafka
):
    await publish(
        kafka.bootstrap_servers,
        f"{traced.prefix}msp.approvals",
        [b"{not json"],
        key=b"MSP-TRACE-POISON",
        headers=[("traceparent", b"\xff\xfe-not-a-context"), ("tracestate", b"\x00" * 600)],
    )

    async def refused() -> list[dict[str, Any]]:
        return [
            s
            for s in traced.spans(service="notification", kind="consumer")
            if s["attributes"].get("msp_im.outcome") == "dead_lettered"
        ]

    async def seen() -> bool:
        return bool(await refused())

    await eventually(seen, timeout=60, what="the dead-lettered record's span")
    [span] = await refused()

    async def sent() -> bool:
        return sum(s["kind"] == "producer" for s in traced.spans(trace_id=span["trace_id"])) == 2

    await eventually(
        sent,
        timeout=60,
        what="the dead letter's and the outcome's send spans (the relay exports on its own)",
    )
    assert span["attributes"]["msp_im.reason"] == "not-json"
    assert span["status"] == {"code": 2, "message": "not-json"}
    assert span["parent_span_id"] == "", "bytes that are no context start a trace of their own"
    [line] = [
        json.loads(line)
        for line in traced.services["notification"].log_path.read_text().splitlines()
        if '"message dead-lettered"' in line
    ]
    assert (line["trace_id"], line["span_id"]) == (span["trace_id"], span["span_id"])
    sends = [s for s in traced.spans(trace_id=span["trace_id"]) if s["kind"] == "producer"]
    assert sorted(s["attributes"]["messaging.destination.name"] for s in sends) == [
        f"{traced.prefix}msp.approvals.dlq",
        f"{traced.prefix}msp.approvals.outcomes",
    ], "the dead letter, and the upstream's answer (issue 41)"


async def test_a_scheduled_sms_fires_in_a_trace_linked_to_the_authorisation(traced: Traced, kafka):
    """Scenario msp-14: the approved decision maker schedules a preliminary SMS for the next morning; its firing
    (withheld then: the call succeeded first) is linked to the authorisation's span."""
    [scenario] = [s for s in load_all() if s.id.startswith("msp-14")]
    token = traced.signer.token("OFF-TRACE", expires_in=3600, roles=EVERY_ROLE)
    urls = {n: s.url for n, s in traced.services.items()}
    async with Runner(SystemUnderTest(kafka.access, traced.prefix, urls, token)) as runner:
        outcome = await runner.run(scenario)
    assert outcome.ok, "\n".join(outcome.summary())

    def authorised() -> dict[str, Any]:
        [span] = traced.spans(
            service="notification", kind="consumer", **{"msp_im.event_type": "AuthoriseMspSms"}
        )
        return span

    async def fired() -> bool:
        if not traced.spans(
            service="notification", kind="consumer", **{"msp_im.event_type": "AuthoriseMspSms"}
        ):
            return False
        link = {"trace_id": authorised()["trace_id"], "span_id": authorised()["span_id"]}
        return any(
            link in s["links"] for s in traced.spans(service="notification", name="timer fire")
        )

    await eventually(fired, timeout=60, what="the SMS's timer span linked to its authorisation")
    link = {"trace_id": authorised()["trace_id"], "span_id": authorised()["span_id"]}
    [fire] = [
        s for s in traced.spans(service="notification", name="timer fire") if link in s["links"]
    ]
    decided = [s for s in traced.spans(trace_id=fire["trace_id"]) if s["name"] == "decide timer"]
    assert decided
    assert "MspSmsWithheld" in decided[0]["attributes"]["msp_im.outputs"]


async def test_an_officers_command_starts_the_trace_the_service_continues(traced: Traced):
    """Issue 30: "the console's command API starts the trace of an officer's action"."""
    async with httpx.AsyncClient(base_url=traced.services["console"].url, timeout=30) as http:
        answer = await http.post(
            "/commands/RecordPhoneContact",
            json={
                "msp_id": "MSP-TRACE-CMD",
                "contacted": "customer",
                "outcome": "unsuccessful",
                "aggression_displayed": False,
                "no_more_attempts": True,
            },
            headers=traced.signer.bearer("OFF-TRACE-1", roles=[OfficerRole.MSP_OFFICER.value]),
        )
    assert answer.status_code == 202, answer.text
    command_id = answer.json()["command_id"]

    async def continued() -> bool:
        """notification's span of the command, and the console's spans it descends from, have all arrived."""
        handled = traced.spans(
            service="notification", kind="consumer", **{"messaging.message.id": command_id}
        )
        arrived = {s["span_id"] for s in traced.spans(service="console")}
        return any(h["parent_span_id"] in arrived for h in handled) and bool(
            traced.spans(service="console", kind="internal", **{"messaging.message.id": command_id})
        )

    await eventually(continued, timeout=60, what="notification's span of the officer's command")
    [started] = traced.spans(
        service="console", name="officer command RecordPhoneContact", kind="internal"
    )
    assert started["attributes"]["messaging.message.id"] == command_id
    [request] = [
        s
        for s in traced.spans(service="console", kind="server")
        if s["span_id"] == started["parent_span_id"]
    ]
    assert request["parent_span_id"] == "", "the officer's request begins the trace"
    assert (request["name"], request["attributes"]["http.response.status_code"]) == (
        "POST /commands/RecordPhoneContact",
        202,
    ), (
        "issue 41: the officer's request and its command are one trace; the route's template, never its path"
    )
    assert request["trace_id"] == started["trace_id"]
    [handled] = traced.spans(
        service="notification", kind="consumer", **{"messaging.message.id": command_id}
    )
    assert handled["trace_id"] == started["trace_id"]
    sent = {s["span_id"]: s for s in traced.spans(trace_id=started["trace_id"], kind="producer")}
    assert sent[handled["parent_span_id"]]["parent_span_id"] == started["span_id"], (
        "the command went out in a send span under the officer's"
    )
    # issue 41: a case's traces are found by its id, which every span about it carries (never a customer's)
    assert (started["attributes"]["msp_im.case_id"], started["attributes"]["msp_im.case_kind"]) == (
        "MSP-TRACE-CMD",
        "msp",
    )
    assert handled["attributes"]["msp_im.case_id"] == "MSP-TRACE-CMD"

    async def found_by_case() -> bool:
        spans = traced.spans(**{"msp_im.case_id": "MSP-TRACE-CMD"})
        return {"console", "notification"} <= {s["service"] for s in spans}

    await eventually(found_by_case, timeout=60, what="the MSP's spans, found by its id")
    by_case = traced.spans(**{"msp_im.case_id": "MSP-TRACE-CMD"})
    assert {s["trace_id"] for s in by_case} == {started["trace_id"]}, "one case, one trace"
    assert any(s["kind"] == "producer" for s in by_case), "the sends about it too"
    roots = [s for s in traced.spans(name="transaction") if s["parent_span_id"] == ""]
    assert roots == [], "a poll's transaction is no trace of its own"

    async def answered() -> bool:
        return bool(traced.spans(name="officer command RecordPhoneContact answered"))

    await eventually(answered, timeout=60, what="the command's outcome in its trace")
    [outcome] = traced.spans(name="officer command RecordPhoneContact answered")
    assert outcome["trace_id"] == started["trace_id"], (
        "issue 41: the command's outcome ends its trace"
    )
    assert outcome["attributes"]["msp_im.outcome"] == "rejected", "no MSP of that id was approved"
    assert outcome["attributes"]["msp_im.reason"], "with the service's reason code"
    assert "msp_im.outcome" not in started["attributes"], (
        "no 'pending' for ever on the command's span"
    )


@pytest.mark.own_servers
async def test_a_record_met_by_a_database_outage_says_retried_then_handled(
    traced: Traced, kafka, postgres
):
    """Issue 30: the consume span's outcome "retried": the poll is read again once the database is back."""
    if postgres.local is None:
        pytest.fail(
            "this test stops and restarts the database: it needs the local server (unset DATABASE_URL)"
        )
    attempt = failed_weekly_attempt("EXP-TRACE-OUTAGE", "CRN-TRACE-3", T0)

    def outcomes() -> list[str]:
        return [
            s["attributes"]["msp_im.outcome"]
            for s in traced.spans(
                kind="consumer", **{"messaging.message.id": str(attempt.event_id)}
            )
        ]

    postgres.local.stop(keep_data=True)
    try:
        await publish(
            kafka.bootstrap_servers,
            f"{traced.prefix}im.payment-attempts",
            [attempt.to_json()],
            key=b"EXP-TRACE-OUTAGE",
        )

        async def retried() -> bool:
            return "retried" in outcomes()

        await eventually(retried, timeout=120, what="a process span saying retried")
    finally:
        postgres.local.restart()

    async def handled() -> bool:
        return "handled" in outcomes()

    await eventually(handled, timeout=180, what="the same record handled once the database is back")
    [span] = [
        s
        for s in traced.spans(kind="consumer", **{"messaging.message.id": str(attempt.event_id)})
        if s["attributes"]["msp_im.outcome"] == "retried"
    ][:1]
    assert span["attributes"]["error.type"]


async def test_no_exported_span_of_an_officers_day_carries_a_code_a_customer_reference_or_a_note(
    traced: Traced, kafka
):
    """Issue 37, finding 2: the web framework's own HTTP spans exported ``url.query``: a sign-in code taken from the
    trace backend signed the prober in as the officer, and customer references in searches reached it too. A whole
    story (an approval, a failed payment, an officer signing in, searching, reading a customer and acting with a
    note) exports nothing of the kind."""
    approval = medicare_approval("MSP-TRACE-DAY", "CRN-TRACE-DAY", T0)
    attempt = failed_weekly_attempt("EXP-TRACE-DAY", "CRN-TRACE-DAY", T0)
    for topic, event in (("msp.approvals", approval), ("im.payment-attempts", attempt)):
        await publish(
            kafka.bootstrap_servers,
            f"{traced.prefix}{topic}",
            [event.to_json()],
            key=event.key.encode(),
        )
    note = "DOC: the customer's nephew Jordan Example-Relative phoned on 0491 570 156."
    im = traced.signer.token("OFF-TRACE-DAY", expires_in=3600, roles=[OfficerRole.IM_TRAINED.value])
    async with httpx.AsyncClient(base_url=traced.services["console"].url, timeout=30) as http:
        link = await sign_in_link(http, im)
        code = code_of(link)
        assert (await http.get(link)).status_code == 200
        keep_cookie(http, (await press_sign_in(http, code)).headers["set-cookie"])
        searched = await http.get("/ui/", params={"q": "CRN-TRACE-DAY"})
        assert searched.status_code == 200
        await http.get("/ui/customers/CRN-TRACE-DAY")
        acted = await http.post(
            "/commands/CeaseExpense",
            json={"expense_id": "EXP-TRACE-DAY", "doc_note": note},
            headers={"Authorization": f"Bearer {im}"},
        )
        assert acted.status_code == 202, acted.text
    command_id = acted.json()["command_id"]

    async def handled() -> bool:
        return bool(
            traced.spans(
                service="expenses", kind="consumer", **{"messaging.message.id": command_id}
            )
        ) and set(SERVICES) <= _services_in(traced.spans())

    await eventually(handled, timeout=120, what="the day's spans from every service")
    spans = traced.receiver.snapshot()
    everything = json.dumps(spans)
    assert not [s for s in spans if "url.query" in s["attributes"] or "url.path" in s["attributes"]]
    for secret in (
        code,
        "CRN-TRACE-DAY",
        note,
        "Jordan Example-Relative",
        "0491 570 156",
        approval.contact.name,
        approval.contact.phone,
        approval.reasons,
    ):
        assert secret not in everything, f"{secret!r} is in a span"
