"""Notes stay with their record and its officers (issue 37, finding 1), through the console and the real services
on the real, secured broker: an Income Management officer and an MSP officer, each sending commands on the other
kind's ids, read nothing of the other's notes, plant nothing on the other's records, and make no page.

103-01050060: "Record details on a DOC"; 104-07050030: an incident "linked to the MSP" and "Record this in the MSP
notes": what officers write is for the officers whose roles open that record."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts.catalogue import (
    EXPENSE_EVENTS,
    MSP_NOTIFICATION_EVENTS,
)
from contracts.expenses import ExpenseKind
from contracts.roles import OfficerRole
from devstack.procs import free_port
from devstack.tokens import Signer
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from notification.app import NotificationSettings
from notification.app import create_runtime as notification_runtime
from servicekit.clock import SimulatedClock
from tests.console.test_console_on_real_broker import console, officer
from tests.expenses.builders import attempt
from tests.notification.builders import T0, approval
from tests.support.kafka_tools import eventually, publish_events, read_topic
from tests.support.signin import sign_in

pytestmark = pytest.mark.integration

IM, MSP = OfficerRole.IM_TRAINED.value, OfficerRole.MSP_OFFICER.value
DOC = "DOC: spoke with the payee; the customer agreed to cease."
CIMS = "CIMS-SECRET-4471"
PLANTED = "Planted on an MSP by an expense command."


async def settled(http: httpx.AsyncClient, headers: dict[str, str], command_id: str) -> str:
    async def outcome() -> str | None:
        answer = (await http.get(f"/commands/{command_id}", headers=headers)).json()
        status = answer["status"]
        return (
            None if status == "pending" else f"{status} {answer.get('reason_code') or ''}".strip()
        )

    found: list[str] = []

    async def known() -> bool:
        status = await outcome()
        if status is not None:
            found.append(status)
        return status is not None

    await eventually(known, what=f"the outcome of {command_id}")
    return found[0]


async def issue(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, body: dict[str, Any]
) -> str:
    answer = await http.post(f"/commands/{name}", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return await settled(http, headers, answer.json()["command_id"])


async def test_notes_never_cross_from_one_kind_of_record_or_role_to_another(
    kafka, database_url, topic_prefix, captured_logs
):
    signer = Signer(audience="console")
    clock = SimulatedClock.starting_at(T0)
    common: dict[str, Any] = {"database_url": database_url, "topic_prefix": topic_prefix}
    expenses = expenses_runtime(
        ExpensesSettings(**kafka.settings("expenses"), **common, http_port=free_port()), clock
    )
    notification = notification_runtime(
        NotificationSettings(**kafka.settings("notification"), **common, http_port=free_port()),
        clock,
    )
    im_officer, msp_officer = officer(signer, "OFF-IM-N", IM), officer(signer, "OFF-MSP-N", MSP)
    async with console(
        kafka, database_url, topic_prefix, signer, expenses, notification, clock=clock
    ) as http:
        approved = approval(msp_id="MSP-N1")
        failed = attempt(
            kind=ExpenseKind.WEEKLY, expense_id="EXP-N1", when=T0, scheduled_on=T0.date()
        )
        await publish_events(kafka.bootstrap_servers, topic_prefix, [approved, failed])
        for topic in (
            EXPENSE_EVENTS,
            MSP_NOTIFICATION_EVENTS,
        ):  # both records known to their services
            await read_topic(kafka.bootstrap_servers, topic_prefix + topic.name, at_least=1)
        # each record's own notes, accepted by its service: a DOC note on the expense, a CIMS incident on the MSP
        assert (
            await issue(http, im_officer, "CeaseExpense", {"expense_id": "EXP-N1", "doc_note": DOC})
            == "accepted"
        )
        aggressive = {
            "msp_id": "MSP-N1",
            "contacted": "customer",
            "outcome": "successful",
            "aggression_displayed": True,
            "explained": {
                "reasons_and_behaviours": True,
                "duration_and_service_access": True,
                "contact_details": True,
                "letter_to_follow": True,
            },
        }
        assert await issue(http, msp_officer, "RecordPhoneContact", aggressive) == "accepted"
        assert (
            await issue(
                http,
                msp_officer,
                "RecordIncident",
                {"msp_id": "MSP-N1", "incident_id": CIMS, "linked_to_msp": True},
            )
            == "accepted"
        )
        # each officer sends a command naming the other kind's id, with a note: the service refuses it
        assert (
            await issue(
                http, im_officer, "CeaseExpense", {"expense_id": "MSP-N1", "doc_note": PLANTED}
            )
            == "rejected unknown-expense"
        )
        assert (
            await issue(
                http,
                msp_officer,
                "RecordRiskFact",
                {"msp_id": "EXP-N1", "fact": "mobile-on-multiple-records"},
            )
            == "rejected unknown-msp"
        )

        await sign_in(http, signer.token("OFF-IM-N", roles=[IM]))
        own = await http.get("/ui/expenses/EXP-N1")
        assert own.status_code == 200
        assert DOC in own.text, "the expense's own DOC note, to its officers"
        across = await http.get("/ui/expenses/MSP-N1")
        assert across.status_code == 404, "a refusal on an id of another kind makes no page"
        assert CIMS not in across.text
        assert PLANTED not in across.text

        await sign_in(http, signer.token("OFF-MSP-N", roles=[MSP]))
        msp_page = await http.get("/ui/msp/MSP-N1")
        assert msp_page.status_code == 200
        assert CIMS in msp_page.text, "the MSP's own incident"
        assert PLANTED not in msp_page.text, "an expense command's note is never an MSP's"
        across = await http.get("/ui/msp/EXP-N1")
        assert across.status_code == 404
        assert DOC not in across.text

    refused = [
        line
        for line in map(json.loads, captured_logs.getvalue().splitlines())
        if line.get("event") == "cross-kind read refused"
    ]
    assert {(r["page"], r["kind"], r["officer_id"]) for r in refused} == {
        ("expense", "msp", "OFF-IM-N"),
        ("msp", "expense", "OFF-MSP-N"),
    }, "a cross-kind read is refused and audited as such"
    assert not any(text in captured_logs.getvalue() for text in (DOC, CIMS, PLANTED)), (
        "no note in a log line"
    )
