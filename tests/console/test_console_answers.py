"""What the console answers where the third probe found it said too much or nothing (issue 37, findings 5, 6, 7 and
11), through the console and the real services on the real, secured broker."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.catalogue import WORKITEM_EVENTS
from contracts.expenses import ExpenseKind
from contracts.roles import OPERATIONS, OfficerRole
from devstack.procs import free_port
from devstack.tokens import Signer
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from notification.app import NotificationSettings
from notification.app import create_runtime as notification_runtime
from servicekit.clock import SimulatedClock
from tests.console.test_console_on_real_broker import console, officer
from tests.console.test_notes_across_roles import settled
from tests.expenses.builders import attempt
from tests.notification.builders import T0, approval
from tests.support.kafka_tools import publish_events, read_topic
from tests.support.signin import BROWSER, sign_in
from workitems.app import WorkitemsSettings
from workitems.app import create_runtime as workitems_runtime

pytestmark = pytest.mark.integration

IM, MSP = OfficerRole.IM_TRAINED.value, OfficerRole.MSP_OFFICER.value


async def test_the_console_answers_operators_hostile_codes_unseen_records_and_commands_that_change_nothing(
    kafka, database_url, topic_prefix
):
    signer = Signer(audience=["console", "workitems"])
    clock = SimulatedClock.starting_at(T0)

    def common() -> dict[str, Any]:
        return {
            "database_url": database_url,
            "topic_prefix": topic_prefix,
            "http_port": free_port(),
        }

    services = (
        expenses_runtime(ExpensesSettings(**kafka.settings("expenses"), **common()), clock),
        notification_runtime(
            NotificationSettings(**kafka.settings("notification"), **common()), clock
        ),
        workitems_runtime(
            WorkitemsSettings(
                **kafka.settings("workitems"),
                **common(),
                jwt_public_keys=[signer.public_pem],
                jwt_issuer=signer.issuer,
            ),
            clock,
        ),
    )
    async with console(kafka, database_url, topic_prefix, signer, *services, clock=clock) as http:
        msp_only = approval(msp_id="MSP-A1")  # customer CRN-SYNTH-9: an MSP and nothing else
        expense = attempt(
            kind=ExpenseKind.WEEKLY, expense_id="EXP-A1", when=T0, scheduled_on=T0.date()
        )  # customer CRN-SYNTH-1
        await publish_events(kafka.bootstrap_servers, topic_prefix, [msp_only, expense])
        await read_topic(kafka.bootstrap_servers, topic_prefix + WORKITEM_EVENTS.name, at_least=1)

        # finding 5: the operator's token opens no console session, by link or pasted
        operator = signer.token("OPS-1", roles=[OPERATIONS])
        link = await http.post("/sign-in-codes", headers={"Authorization": f"Bearer {operator}"})
        assert (link.status_code, link.json()["reason_code"]) == (403, "operators-not-officers")
        pasted = await http.post("/ui/sign-in", data={"token": operator}, headers=BROWSER)
        assert pasted.status_code == 403
        assert "set-cookie" not in pasted.headers

        # finding 7: any bytes in a sign-in code are answered 4xx, never a 500
        for code in ("%E2%82%AC", "%E2%80%A8", "x" * 60 + "%E2%82%AC", "%ff%fe", "%00"):
            shown = await http.get(f"/ui/sign-in?code={code}")
            assert shown.status_code < 500, code
            pressed = await http.post(
                "/ui/sign-in",
                content=f"code={code}".encode(),
                headers={**BROWSER, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert 400 <= pressed.status_code < 500, code

        # finding 6: a customer whose only record the officer's roles do not open reads as no customer at all
        await sign_in(http, signer.token("OFF-IM-A", roles=[IM]))
        nobody = await http.get("/ui/customers/CRN-NOBODY")
        has_an_msp = await http.get("/ui/customers/CRN-SYNTH-9")
        assert nobody.status_code == has_an_msp.status_code == 404
        assert nobody.text == has_an_msp.text
        theirs = await http.get("/ui/customers/CRN-SYNTH-1")
        assert theirs.status_code == 200
        assert "EXP-A1" in theirs.text
        assert "more record" not in theirs.text

        # finding 11: handing back an item nobody has is answered at once, not left pending for ever
        msp_officer = officer(signer, "OFF-MSP-A", MSP)
        handed_back = await http.post(
            "/commands/UnassignWorkItem",
            json={"work_item_id": "MSP-PHONE:MSP-A1"},
            headers=msp_officer,
        )
        assert handed_back.status_code == 202, handed_back.text
        assert (
            await settled(http, msp_officer, handed_back.json()["command_id"])
            == "rejected nothing-to-do"
        )
