"""The workitems service on a real Kafka broker and a real PostgreSQL server, and its API over real HTTP."""

from __future__ import annotations

import json

import pytest

from contracts.catalogue import (
    EXPENSE_EVENTS,
    MSP_NOTIFICATION_EVENTS,
    WORKITEM_COMMANDS,
    WORKITEM_EVENTS,
)
from contracts.envelope import Event
from contracts.expenses import ExpenseKind
from contracts.notification import Step
from contracts.roles import OPERATIONS, TRANSFER_GUIDANCE, OfficerRole
from devstack.procs import free_port
from devstack.tokens import Signer
from servicekit.service import ServiceRuntime
from tests.support.drain import read_settled
from tests.support.http import served
from tests.support.kafka_tools import publish, read_topic
from tests.workitems.builders import (
    CUSTOMER,
    DOC_NOTE,
    PERIOD,
    period_closed,
    step_done,
    step_required,
    tick_off,
)
from workitems.api import OPENAPI_SNAPSHOT, render_openapi
from workitems.app import WorkitemsSettings, create_runtime
from workitems.domain.decide import i059pl_id, msp_item_id

pytestmark = pytest.mark.integration

I059PL = i059pl_id("EXP-1", PERIOD)
IM, MSP_OFFICER, ADM = (
    OfficerRole.IM_TRAINED.value,
    OfficerRole.MSP_OFFICER.value,
    OfficerRole.MSP_APPROVED_DECISION_MAKER.value,
)


def settings(kafka, database_url: str, prefix: str, signer: Signer) -> WorkitemsSettings:
    return WorkitemsSettings(
        **kafka.settings("workitems"),
        database_url=database_url,
        topic_prefix=prefix,
        http_port=free_port(),
        jwt_public_keys=[signer.public_pem],
        jwt_issuer=signer.issuer,
        jwt_audience=signer.audience,
    )


async def send(kafka, prefix: str, topic: str, *events: Event) -> None:
    for e in events:
        await publish(kafka.bootstrap_servers, prefix + topic, [e.to_json()], key=e.key.encode())


async def outputs(
    kafka, prefix: str, at_least: int, after: ServiceRuntime | None = None
) -> list[Event]:
    """The work-item events once ``at_least`` arrived; with ``after``, everything once that service drained."""
    records = await read_topic(
        kafka.bootstrap_servers, prefix + WORKITEM_EVENTS.name, at_least=at_least
    )
    if after is not None:
        records = await read_settled(after, prefix + WORKITEM_EVENTS.name)
    return [WORKITEM_EVENTS.parse(r.value) for r in records]


@pytest.mark.rule("IM-4.5", "IM-5.4")
async def test_an_i059pl_delivered_three_times_is_raised_once_then_ticked_off_by_an_officer_with_a_note(
    kafka, database_url, topic_prefix, captured_logs
):
    """103-01050060 steps 5 and 8: 'Manually tick off the Work Item. Record details on a DOC.'"""
    signer = Signer()
    closed = period_closed(ExpenseKind.WEEKLY)
    runtime = create_runtime(settings(kafka, database_url, topic_prefix, signer))
    async with served(runtime) as http:
        # The same event three times (a redelivery), then the same fact with a new event id (a re-publish).
        await send(
            kafka,
            topic_prefix,
            EXPENSE_EVENTS.name,
            closed,
            closed,
            closed,
            period_closed(ExpenseKind.WEEKLY),
        )
        raised = await outputs(kafka, topic_prefix, at_least=1, after=runtime)
        assert [(e.event_type, getattr(e, "work_item_id", None)) for e in raised] == [
            ("WorkItemRaised", I059PL)
        ]

        await send(kafka, topic_prefix, WORKITEM_COMMANDS.name, tick_off(I059PL, note=None))
        rejected = (await outputs(kafka, topic_prefix, at_least=2))[1]
        assert (rejected.event_type, rejected.reason_code) == (
            "WorkItemActionRejected",
            "doc-note-required",
        )

        await send(kafka, topic_prefix, WORKITEM_COMMANDS.name, tick_off(I059PL, officer="OFF-5"))
        done = (await outputs(kafka, topic_prefix, at_least=3, after=runtime))[2:]
        assert [(e.event_type, getattr(e, "actor", None)) for e in done] == [
            ("WorkItemTickedOff", "OFF-5")
        ]

        # The API answers from the database: the item is closed and its history keeps the DOC note.
        shown = (
            await http.get(f"/work-items/{I059PL}", headers=signer.bearer("OFF-9", roles=[IM]))
        ).json()
        assert shown["item"]["status"] == "ticked-off"
        assert shown["item"]["procedure_step"] == 5
        assert [(h["transition"], h["actor"]) for h in shown["history"]] == [
            ("raised", "expenses"),
            ("ticked-off", "OFF-5"),
        ]
        assert shown["history"][1]["detail"] == {"doc_note": DOC_NOTE}

    logs = captured_logs.getvalue()
    assert DOC_NOTE not in logs
    assert "Sam Example-Customer" not in logs
    assert "0491 570 156" not in logs
    assert CUSTOMER not in logs, "customer references are pseudonymised"
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any(line["event"] == "WorkItemRaised" for line in lines), "transitions are logged"
    assert any(line.get("officer_id") == "OFF-9" for line in lines), (
        "reads are logged with the officer who read"
    )


async def test_msp_tasks_are_raised_and_ticked_off_by_notification_events(
    kafka, database_url, topic_prefix
):
    """104-07050030: each step's task closes when the step is recorded; a task is never ticked off twice."""
    signer = Signer()
    runtime = create_runtime(settings(kafka, database_url, topic_prefix, signer))
    async with served(runtime) as http:
        await send(
            kafka,
            topic_prefix,
            MSP_NOTIFICATION_EVENTS.name,
            step_required(Step.PHONE),
            step_done(Step.PHONE, outcome="successful: customer"),
            step_required(Step.SMS, adm=True),
            step_done(Step.PHONE, outcome="successful: customer"),
        )
        events = await outputs(kafka, topic_prefix, at_least=3, after=runtime)
        assert [(e.event_type, e.work_item_id) for e in events] == [
            ("WorkItemRaised", msp_item_id("MSP-1", Step.PHONE)),
            ("WorkItemTickedOff", msp_item_id("MSP-1", Step.PHONE)),
            ("WorkItemRaised", msp_item_id("MSP-1", Step.SMS)),
        ]

        listed = (
            await http.get(
                "/work-items",
                params={"customer_ref": CUSTOMER, "status": "open"},
                headers=signer.bearer(roles=[ADM]),
            )
        ).json()
        assert [(i["code"], i["queue"]) for i in listed["items"]] == [
            ("MSP-SMS-DECISION", "msp-approved-decision-makers")
        ]
        by_queue = (
            await http.get(
                "/work-items",
                params={"queue": "msp-implementation"},
                headers=signer.bearer(roles=[ADM]),
            )
        ).json()
        assert [(i["code"], i["status"]) for i in by_queue["items"]] == [
            ("MSP-PHONE", "ticked-off")
        ]


async def test_the_api_refuses_requests_without_a_valid_token_and_pages_and_validates_with_one(
    kafka, database_url, topic_prefix
):
    signer = Signer()
    runtime = create_runtime(settings(kafka, database_url, topic_prefix, signer))
    async with served(runtime) as http:
        for week in range(3):
            await send(
                kafka, topic_prefix, EXPENSE_EVENTS.name, period_closed(expense_id=f"EXP-{week}")
            )
        await outputs(kafka, topic_prefix, at_least=3)

        for headers, reason in [
            ({}, "missing-token"),
            (signer.bearer(expires_in=-120), "expired-token"),
            (Signer().bearer(), "invalid-token"),
            ({"Authorization": "Bearer x.y"}, "malformed-token"),
            (Signer(audience="expenses").bearer(), "invalid-token"),
        ]:
            for path in (
                "/work-items",
                f"/work-items/{i059pl_id('EXP-0', PERIOD)}",
                "/openapi.json",
                "/metrics",
                "/asyncapi.json",
            ):
                response = await http.get(path, headers=headers)
                assert response.status_code == 401, (path, reason)
                assert response.json() == {"error": "unauthorized", "reason_code": reason}, (
                    "no data, only why"
                )
                assert response.headers["www-authenticate"].startswith("Bearer ")
        for open_path in ("/health", "/ready"):
            assert (await http.get(open_path)).status_code == 200

        auth = signer.bearer(roles=[IM])
        first = (
            await http.get(
                "/work-items", params={"queue": "income-management", "limit": 2}, headers=auth
            )
        ).json()
        assert len(first["items"]) == 2
        assert first["next_after"] is not None
        rest = (
            await http.get(
                "/work-items",
                params={"queue": "income-management", "after": first["next_after"]},
                headers=auth,
            )
        ).json()
        assert len(rest["items"]) == 1
        assert rest["next_after"] is None
        assert {i["subject_id"] for i in first["items"] + rest["items"]} == {
            "EXP-0",
            "EXP-1",
            "EXP-2",
        }

        # all staff (IM-1.1): an officer with no role learns of the customer's Income Management items and the
        # way on; their details stay with the roles that open the queue; an operator reads no customer's case
        everyone = (
            await http.get(f"/customers/{CUSTOMER}/work-items", headers=signer.bearer(roles=[]))
        ).json()
        assert {(i["code"], i["status"], i["workable"]) for i in everyone["items"]} == {
            ("I059PL", "open", False)
        }
        assert len(everyone["items"]) == 3
        assert set(everyone["items"][0]) == {
            "work_item_id",
            "code",
            "title",
            "queue",
            "status",
            "raised_at",
            "workable",
        }, "what it is and where it stands, no details"
        assert everyone["transfer_guidance"] == TRANSFER_GUIDANCE
        trained = (await http.get(f"/customers/{CUSTOMER}/work-items", headers=auth)).json()
        assert {i["workable"] for i in trained["items"]} == {True}
        assert trained["transfer_guidance"] is None
        operator = await http.get(
            f"/customers/{CUSTOMER}/work-items", headers=signer.bearer("OPS-1", roles=[OPERATIONS])
        )
        assert operator.status_code == 403
        assert (
            await http.get("/work-items/I059PL:EXP-404:2027-03-01", headers=auth)
        ).status_code == 404
        bad = await http.get("/work-items", params={"status": "closed"}, headers=auth)
        assert bad.status_code == 400
        [problem] = bad.json()["problems"]
        assert problem["field"] == "status"
        assert "'open', 'ticked-off' or 'cancelled'" in problem["problem"], "the values it takes"
        assert (await http.get("/work-items", params={"limit": 0}, headers=auth)).status_code == 400
        assert (
            await http.get("/work-items", params={"colour": "red"}, headers=auth)
        ).status_code == 400
        assert (await http.post("/work-items", headers=auth)).status_code == 405
        assert (await http.get("/metrics", headers=auth)).status_code == 403, (
            "an officer's token is not an operator's"
        )
        assert (
            await http.get("/metrics", headers=signer.bearer("OPS-1", roles=[OPERATIONS]))
        ).status_code == 200
        for hostile in (
            "/work-items?customer_ref=%00",
            "/work-items?assignee_id=%ff%fe",
            "/work-items/I059PL%00x",
            f"/work-items?customer_ref={'C' * 201}",
            f"/work-items/{'I' * 201}",
            "/work-items?customer_ref=a%0Ab",
        ):
            response = await http.get(hostile, headers=auth)
            assert response.status_code == 400, hostile
            assert response.json()["error"] == "bad-request"

        served_doc = (await http.get("/openapi.json", headers=auth)).json()
        assert served_doc == json.loads(render_openapi())


def test_the_committed_openapi_document_is_current():
    """Regenerate with: .venv/bin/python -m workitems.api --write"""
    assert OPENAPI_SNAPSHOT.read_text() == render_openapi(), "python -m workitems.api --write"


@pytest.mark.rule("IM-1.2", "MSP-2.2")
async def test_an_officer_lists_and_reads_only_the_queues_their_roles_open(
    kafka, database_url, topic_prefix, captured_logs
):
    """104-07050030 step 2: "SMS can only be sent by approved decision makers"; 103-01050060 step 1: "For
    Service Officers trained in Income Management, go to Step 2." The roles come from the verified token."""
    signer = Signer()
    runtime = create_runtime(settings(kafka, database_url, topic_prefix, signer))
    async with served(runtime) as http:
        await send(kafka, topic_prefix, EXPENSE_EVENTS.name, period_closed(ExpenseKind.WEEKLY))
        await send(
            kafka,
            topic_prefix,
            MSP_NOTIFICATION_EVENTS.name,
            step_required(Step.PHONE),
            step_required(Step.SMS, adm=True),
        )
        await outputs(kafka, topic_prefix, at_least=3, after=runtime)

        async def queues(roles: list[str], **params: str) -> set[str]:
            response = await http.get(
                "/work-items", params=params, headers=signer.bearer("OFF-7", roles=roles)
            )
            assert response.status_code == 200, response.text
            return {i["queue"] for i in response.json()["items"]}

        assert await queues([MSP_OFFICER]) == {"msp-implementation"}
        assert await queues([ADM]) == {"msp-implementation", "msp-approved-decision-makers"}
        assert await queues([IM]) == {"income-management"}
        assert await queues([IM, ADM, "a-role-this-system-does-not-know"]) == {
            "income-management",
            "msp-implementation",
            "msp-approved-decision-makers",
        }
        assert await queues([MSP_OFFICER], customer_ref=CUSTOMER) == {"msp-implementation"}, (
            "a customer's other items stay hidden"
        )

        refused = await http.get(
            "/work-items",
            params={"queue": "income-management"},
            headers=signer.bearer("OFF-7", roles=[MSP_OFFICER]),
        )
        assert (refused.status_code, refused.json()["reason_code"]) == (403, "queue-not-allowed")
        none = await http.get("/work-items", headers=signer.bearer("OFF-8", roles=[]))
        assert (none.status_code, none.json()["reason_code"]) == (403, "no-queue-role")
        no_claim = await http.get("/work-items", headers=signer.bearer("OFF-8"))
        assert no_claim.status_code == 403, "no roles claim: no role"

        hidden = await http.get(
            f"/work-items/{I059PL}", headers=signer.bearer("OFF-7", roles=[MSP_OFFICER])
        )
        assert hidden.status_code == 404, (
            "an item of another queue is not found: its existence is not shown"
        )
        shown = await http.get(f"/work-items/{I059PL}", headers=signer.bearer("OFF-7", roles=[IM]))
        assert shown.status_code == 200

        for claim in ("im-trained", [""], ["x" * 65], [IM] * 33, [1]):
            forged = await http.get("/work-items", headers=signer.bearer("OFF-7", roles=claim))
            assert (forged.status_code, forged.json()["reason_code"]) == (401, "invalid-roles"), (
                claim
            )
        empty_subject = await http.get("/work-items", headers=signer.bearer("", roles=[IM]))
        assert (empty_subject.status_code, empty_subject.json()["reason_code"]) == (
            401,
            "invalid-subject",
        )

    reads = [
        json.loads(line)
        for line in captured_logs.getvalue().splitlines()
        if '"work item read"' in line or '"work items refused"' in line
    ]
    assert {(r["officer_id"], r.get("outcome", r.get("reason_code"))) for r in reads} >= {
        ("OFF-7", "outside-their-queues"),
        ("OFF-7", "shown"),
        ("OFF-7", "queue-not-allowed"),
        ("OFF-8", "no-queue-role"),
    }, "every read and refusal is in the audit trail, with the officer"
