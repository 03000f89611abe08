"""The officers' front door on the real, secured broker: commands from verified officers, their authority from the
token's roles, written through the outbox to the staff-action topics, and their outcome learnt from the services."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
import pytest
from console.api import OPENAPI_SNAPSHOT, openapi, render_openapi
from console.app import ConsoleSettings
from console.app import create_runtime as console_runtime
from console.issue import COMMANDS

from contracts.catalogue import (
    EXPENSE_EVENTS,
    MSP_STAFF_ACTIONS,
    PAYMENT_ATTEMPTS,
    WORKITEM_COMMANDS,
)
from contracts.expenses import ExpenseKind
from contracts.notification import AuthoriseMspSms
from contracts.roles import TRANSFER_GUIDANCE, OfficerRole
from devstack.procs import free_port
from devstack.tokens import Signer
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from servicekit.clock import Clock, SimulatedClock
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.expenses.builders import at, attempt
from tests.support.http import served
from tests.support.kafka_tools import eventually, publish, read_all, read_topic
from tests.support.signin import sign_in
from tests.workitems.builders import DOC_NOTE, PERIOD, period_closed
from workitems.app import WorkitemsSettings
from workitems.app import create_runtime as workitems_runtime
from workitems.domain.decide import i059pl_id

pytestmark = pytest.mark.integration

IM, MSP_OFFICER, ADM = (
    OfficerRole.IM_TRAINED.value,
    OfficerRole.MSP_OFFICER.value,
    OfficerRole.MSP_APPROVED_DECISION_MAKER.value,
)
SMS = {
    "msp_id": "MSP-C1",
    "circumstance": "customer-cannot-be-contacted-by-phone",
    "smem_checked": True,
    "mobile_checked": True,
}


S = TypeVar("S", bound=ServiceSettings)


def signed_settings(
    kind: type[S], name: str, kafka: Any, database_url: str, prefix: str, signer: Signer
) -> S:
    """Service ``name``'s settings for a test: this run's broker, database and topics, a free port, and tokens from
    ``signer`` accepted (its audience the service's name)."""
    return kind(
        **kafka.settings(name),
        database_url=database_url,
        topic_prefix=prefix,
        http_port=free_port(),
        jwt_public_keys=[signer.public_pem],
        jwt_issuer=signer.issuer,
        jwt_audience=name,
    )


@contextlib.asynccontextmanager
async def console(
    kafka: Any,
    database_url: str,
    prefix: str,
    signer: Signer,
    *others: ServiceRuntime,
    clock: Clock | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = console_runtime(
        signed_settings(ConsoleSettings, "console", kafka, database_url, prefix, signer), clock
    )
    async with contextlib.AsyncExitStack() as stack:
        for other in others:
            await stack.enter_async_context(served(other))
        yield await stack.enter_async_context(served(runtime))


@contextlib.asynccontextmanager
async def with_an_i059pl(
    kafka: Any, database_url: str, prefix: str, signer: Signer
) -> AsyncIterator[httpx.AsyncClient]:
    """The console beside the work items service, and a weekly expense's period closed unpaid (its I059PL)."""
    workitems = workitems_runtime(
        signed_settings(WorkitemsSettings, "workitems", kafka, database_url, prefix, signer)
    )
    async with console(kafka, database_url, prefix, signer, workitems) as http:
        closed = period_closed(ExpenseKind.WEEKLY)
        await publish(
            kafka.bootstrap_servers,
            prefix + EXPENSE_EVENTS.name,
            [closed.to_json()],
            key=closed.key.encode(),
        )
        yield http


def officer(signer: Signer, sub: str, *roles: str, key: str | None = None) -> dict[str, str]:
    headers = signer.bearer(sub, roles=list(roles))
    return headers | ({"Idempotency-Key": key} if key else {})


@pytest.mark.rule("MSP-2.2")
async def test_only_an_approved_decision_maker_may_authorise_an_sms_and_the_command_carries_the_verified_officer(
    kafka, database_url, topic_prefix, captured_logs
):
    """104-07050030 step 2: "SMS can only be sent by approved decision makers"."""
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        refused = await http.post(
            "/commands/AuthoriseMspSms", json=SMS, headers=officer(signer, "OFF-1", MSP_OFFICER)
        )
        assert refused.status_code == 403
        assert refused.json()["reason_code"] == "role-required"
        assert "approved decision maker" in refused.json()["way_out"]
        forged = await http.post(
            "/commands/AuthoriseMspSms",
            json={**SMS, "approved_decision_maker": True},
            headers=officer(signer, "OFF-1", MSP_OFFICER),
        )
        assert (forged.status_code, forged.json()["error"]) == (422, "not-yours-to-set"), (
            "authority is not a field"
        )
        as_other = await http.post(
            "/commands/AuthoriseMspSms",
            json={**SMS, "officer_id": "OFF-SOMEONE-ELSE"},
            headers=officer(signer, "OFF-2", ADM),
        )
        assert as_other.status_code == 422, "the officer is the token's subject, never the body's"

        accepted = await http.post(
            "/commands/AuthoriseMspSms", json=SMS, headers=officer(signer, "OFF-2", ADM)
        )
        assert accepted.status_code == 202
        command_id = accepted.json()["command_id"]
        [record] = await read_topic(
            kafka.bootstrap_servers, topic_prefix + MSP_STAFF_ACTIONS.name, at_least=1
        )
        written = json.loads(record.value)
        assert (
            written["event_id"],
            written["officer_id"],
            written["officer_roles"],
            written["producer"],
        ) == (command_id, "OFF-2", [ADM], "console"), (
            "the verified officer and roles, for notification to re-check"
        )
        assert written["schema_version"] == AuthoriseMspSms.schema_version_current
        assert record.key == b"MSP-C1"

        status = (
            await http.get(f"/commands/{command_id}", headers=officer(signer, "OFF-2", ADM))
        ).json()
        assert (status["status"], status["command_type"]) == ("pending", "AuthoriseMspSms"), (
            "notification not running"
        )
        other = await http.get(f"/commands/{command_id}", headers=officer(signer, "OFF-3", ADM))
        assert other.status_code == 404, "an officer sees only their own commands"
        invalid = await http.post(
            "/commands/AuthoriseMspSms",
            json={**SMS, "circumstance": "because"},
            headers=officer(signer, "OFF-2", ADM),
        )
        assert (invalid.status_code, invalid.json()["problems"][0]["field"]) == (
            422,
            "circumstance",
        )
        served_doc = (await http.get("/openapi.json", headers=officer(signer, "OFF-2"))).json()
        assert served_doc == json.loads(render_openapi())
    assert any(
        json.loads(line).get("officer_id") == "OFF-1"
        for line in captured_logs.getvalue().splitlines()
    ), "refusals are in the audit trail"


async def test_a_retried_request_with_its_idempotency_key_is_the_same_command(
    kafka, database_url, topic_prefix
):
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        headers = officer(signer, "OFF-2", ADM, key="retry-1")
        first = await http.post(
            "/commands/DeclineMspSms", json={"msp_id": "MSP-C2"}, headers=headers
        )
        again = await http.post(
            "/commands/DeclineMspSms", json={"msp_id": "MSP-C2"}, headers=headers
        )
        assert first.status_code == again.status_code == 202
        assert first.json()["command_id"] == again.json()["command_id"]
        changed = await http.post(
            "/commands/DeclineMspSms", json={"msp_id": "MSP-C3"}, headers=headers
        )
        assert (changed.status_code, changed.json()["error"]) == (409, "idempotency-key-reused")
        elsewhere = await http.post(
            "/commands/DeclineMspSms",
            json={"msp_id": "MSP-C2"},
            headers=officer(signer, "OFF-4", ADM, key="retry-1"),
        )
        assert elsewhere.json()["command_id"] != first.json()["command_id"], (
            "a key is the officer's own"
        )

        async def both_written() -> bool:
            return (
                len(await read_all(kafka.bootstrap_servers, topic_prefix + MSP_STAFF_ACTIONS.name))
                >= 2
            )

        await eventually(both_written, what="two commands on the topic")
        written = [
            json.loads(r.value)["event_id"]
            for r in await read_all(kafka.bootstrap_servers, topic_prefix + MSP_STAFF_ACTIONS.name)
        ]
        assert sorted(written) == sorted(
            [first.json()["command_id"], elsewhere.json()["command_id"]]
        ), "the retry wrote nothing more"


@pytest.mark.rule("IM-1.3", "IM-4.5", "IM-5.4")
async def test_an_untrained_officer_is_given_the_transfer_guidance_and_a_trained_one_learns_the_outcome(
    kafka, database_url, topic_prefix
):
    """103-01050060 step 1: "For Service Officers not trained in Income Management: [...] Cold transfer the
    customer to: the Income Management Line"; steps 5 and 8: "Manually tick off the Work Item. Record details on
    a DOC." The console learns the item's queue and the command's outcome from workitems' events."""
    signer = Signer(audience=["console", "workitems"])
    item = i059pl_id("EXP-1", PERIOD)
    async with with_an_i059pl(kafka, database_url, topic_prefix, signer) as http:

        async def known() -> bool:
            response = await http.post(
                "/commands/TickOffWorkItem",
                json={"work_item_id": item},
                headers=officer(signer, "OFF-5", MSP_OFFICER),
            )
            return response.status_code == 403

        await eventually(known, what="the console knows the I059PL's queue")
        untrained = await http.post(
            "/commands/TickOffWorkItem",
            json={"work_item_id": item, "doc_note": DOC_NOTE},
            headers=officer(signer, "OFF-5", MSP_OFFICER),
        )
        assert untrained.json()["way_out"] == TRANSFER_GUIDANCE

        trained = officer(signer, "OFF-6", IM)
        no_note = await http.post(
            "/commands/TickOffWorkItem", json={"work_item_id": item}, headers=trained
        )
        with_note = await http.post(
            "/commands/TickOffWorkItem",
            json={"work_item_id": item, "doc_note": DOC_NOTE},
            headers=trained,
        )
        assert no_note.status_code == with_note.status_code == 202

        async def settled(command_id: str, status: str) -> bool:
            return (await http.get(f"/commands/{command_id}", headers=trained)).json()[
                "status"
            ] == status

        await eventually(
            lambda: settled(no_note.json()["command_id"], "rejected"), what="the rejection learnt"
        )
        rejected = (
            await http.get(f"/commands/{no_note.json()['command_id']}", headers=trained)
        ).json()
        assert rejected["reason_code"] == "doc-note-required"
        await eventually(
            lambda: settled(with_note.json()["command_id"], "accepted"), what="the tick-off learnt"
        )
        accepted = (
            await http.get(f"/commands/{with_note.json()['command_id']}", headers=trained)
        ).json()
        assert [o["event_type"] for o in accepted["outcomes"]] == ["WorkItemTickedOff"]
        records = await read_all(kafka.bootstrap_servers, topic_prefix + WORKITEM_COMMANDS.name)
        assert [json.loads(r.value)["officer_id"] for r in records] == ["OFF-6", "OFF-6"]


async def test_two_officers_taking_one_item_as_they_saw_it_one_wins_and_the_other_is_told_who_has_it(
    kafka, database_url, topic_prefix
):
    """Issue 40: two officers pressing Assign to me on one item were both told Accepted; the last won, and the
    other never knew. Each says whom they saw holding it (nobody); the second learns who has it now."""
    signer = Signer(audience=["console", "workitems"])
    item = i059pl_id("EXP-1", PERIOD)
    async with with_an_i059pl(kafka, database_url, topic_prefix, signer) as http:

        async def take(who: str) -> str:
            answer = await http.post(
                "/commands/AssignWorkItem",
                json={"work_item_id": item, "assignee_id": who, "expects_nobody": True},
                headers=officer(signer, who, IM),
            )
            return str(answer.json().get("command_id", ""))

        async def status_of(who: str, command_id: str) -> dict[str, Any]:
            answer = await http.get(f"/commands/{command_id}", headers=officer(signer, who, IM))
            return dict(answer.json())

        first: list[str] = []

        async def taken() -> bool:
            if not first or not first[0]:  # refused 404 until the console knows the item
                first[:] = [await take("OFF-A")]
            return bool(first[0]) and (await status_of("OFF-A", first[0]))["status"] == "accepted"

        await eventually(taken, what="the first officer's assignment, once the item is known")
        second = await take("OFF-B")

        async def told() -> bool:
            return (await status_of("OFF-B", second))["status"] == "rejected"

        await eventually(told, what="the second officer's answer")
        lost = await status_of("OFF-B", second)
        assert lost["reason_code"] == "assigned-meanwhile"
        assert "OFF-A has it now" in lost["reason"]


async def changed(http: httpx.AsyncClient, watch: str, since: float) -> float:
    """Seconds until the console tells a page watching ``watch`` (from ``since``) that what it shows changed:
    the page's stream, read again whenever it ends, as a browser's EventSource would."""
    started = time.monotonic()

    async def told() -> bool:
        params = {"watch": watch, "since": f"{since:.3f}"}
        async with http.stream("GET", "/ui/live", params=params, timeout=30) as stream:
            assert stream.status_code == 200, await stream.aread()
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line == "event: changed":
                    return True
            return False

    await eventually(told, what=f"the page watching {watch} told of a change")
    return time.monotonic() - started


async def test_an_open_queue_and_a_commands_page_are_told_as_it_happens_and_only_what_the_officer_may_read(
    kafka, database_url, topic_prefix, report
):
    """Issue 40: a new item did not appear in an open queue until it was read again, and a command's outcome showed
    2.3 s after a 0.27 s decision (its page re-checked every 2 s). The console tells the pages that watch what
    changed, from its read model, and only what the officer may read."""
    signer = Signer(audience=["console", "workitems"])
    async with with_an_i059pl(kafka, database_url, topic_prefix, signer) as http:
        await sign_in(http, signer.token("OFF-A", roles=[IM]))
        since = time.time()
        another = period_closed(ExpenseKind.WEEKLY, "EXP-2")
        await publish(
            kafka.bootstrap_servers,
            topic_prefix + EXPENSE_EVENTS.name,
            [another.to_json()],
            key=another.key.encode(),
        )
        queue_told = await changed(http, "queue", since)
        item = i059pl_id("EXP-1", PERIOD)
        since = time.time()
        answer = await http.post(
            "/commands/AssignWorkItem",
            json={"work_item_id": item, "assignee_id": "OFF-A", "expects_nobody": True},
            headers=officer(signer, "OFF-A", IM),
        )
        command_id = answer.json()["command_id"]
        outcome_told = await changed(http, f"command:{command_id}", since)
        report(
            f"live console: an open queue told of a new item {queue_told:.2f} s after it was published; a command's "
            f"page told of its outcome {outcome_told:.2f} s after it was sent"
        )
        theirs = await http.post(
            "/commands/UnassignWorkItem",
            json={"work_item_id": item},
            headers=officer(signer, "OFF-B", IM),
        )
        other = await http.get(
            "/ui/live", params={"watch": f"command:{theirs.json()['command_id']}"}
        )
        assert other.status_code == 404, "another officer's command is not watched"
        await sign_in(http, signer.token("OFF-FRONT", roles=[]))
        for watch in ("expense:EXP-1", f"work-item:{item}", "customer:CRN-1", "nonsense"):
            refused = await http.get("/ui/live", params={"watch": watch})
            assert refused.status_code in (403, 404), watch
        async with http.stream("GET", "/ui/live", params={"watch": "queue"}) as stream:
            assert stream.status_code == 200, "a queue of no items, watched all the same"


@pytest.mark.rule("IM-7.3")
async def test_a_cease_refused_on_day_2_reaches_the_officer_with_the_procedures_way_out(
    kafka, database_url, topic_prefix
):
    """103-01050060: a one-off "cannot be ceased or varied on day 2"; the officer learns why, and what to do."""
    signer = Signer(audience="console")
    coded = at(2027, 3, 1, 10)
    clock = SimulatedClock.starting_at(coded)
    expenses = expenses_runtime(
        ExpensesSettings(
            **kafka.settings("expenses"),
            database_url=database_url,
            topic_prefix=topic_prefix,
            http_port=free_port(),
        ),
        clock,
    )
    async with console(kafka, database_url, topic_prefix, signer, expenses, clock=clock) as http:
        failed = attempt(kind=ExpenseKind.ONE_OFF, expense_id="EXP-O", when=coded)
        await publish(
            kafka.bootstrap_servers,
            topic_prefix + PAYMENT_ATTEMPTS.name,
            [failed.to_json()],
            key=failed.key.encode(),
        )
        await read_topic(kafka.bootstrap_servers, topic_prefix + EXPENSE_EVENTS.name, at_least=1)
        clock.set(at(2027, 3, 2, 9))  # day 2, for the console and expenses alike
        trained = officer(signer, "OFF-6", IM)
        issued = await http.post(
            "/commands/CeaseExpense",
            json={"expense_id": "EXP-O", "extreme_hardship": False},
            headers=trained,
        )
        assert issued.status_code == 202
        command = f"/commands/{issued.json()['command_id']}"

        async def rejected() -> bool:
            return (await http.get(command, headers=trained)).json()["status"] == "rejected"

        await eventually(rejected, what="the day-2 refusal learnt")
        answer = (await http.get(command, headers=trained)).json()
        # Issue 40: searching for an expense that has no work item answered only "No work item matches"
        await sign_in(http, signer.token("OFF-IM-UI", roles=[IM]))
        found = (await http.get("/ui/", params={"q": "EXP-O"})).text
        assert '<a href="/ui/expenses/EXP-O">The expense EXP-O</a>' in found
        assert "Everything of customer EXP-O" not in found, "an expense id is no customer"
        page = (await http.get("/ui/expenses/EXP-O")).text
        coding = re.search(r'action="/ui/commands/CodeOneOffExpense">(.*?)</form>', page, re.S)
        assert coding is not None, "a one-off can be coded from the expense's page"
        assert re.search(
            r'<input type="hidden" name="expense_id" value="EXP-[0-9A-F]{10}">', coding.group(1)
        ), "its id made by the console, never invented by the officer"
    assert answer["reason_code"] == "one-off-day-2"
    assert answer["way_out"], "the procedure's way out is shown, not only the refusal"


@pytest.mark.unit
def test_the_committed_openapi_document_is_current_and_no_request_carries_the_officer_or_their_authority():
    assert OPENAPI_SNAPSHOT.read_text() == render_openapi(), "python -m console.api --write"
    schemas = openapi()["components"]["schemas"]
    assert set(COMMANDS) == {
        name.removesuffix("Request") for name in schemas if name.endswith("Request")
    }
    for name in COMMANDS:
        assert not {"officer_id", "officer_roles", "approved_decision_maker", "event_id"} & set(
            schemas[f"{name}Request"]["properties"]
        )
