"""The notification service end to end on a real Kafka broker and a real PostgreSQL server."""

from __future__ import annotations

import json

import pytest

from contracts.catalogue import (
    MSP_APPROVALS,
    MSP_NOTIFICATION_EVENTS,
    MSP_STAFF_ACTIONS,
    SMS_DISPATCH,
)
from contracts.envelope import CUT, Event
from contracts.notification import Agency, RiskFact, Role, SmsCircumstance, Step
from contracts.phones import e164
from notification.app import NotificationSettings, create_runtime
from servicekit.clock import SimulatedClock
from tests.notification.builders import (
    BEHAVIOUR,
    MOBILE,
    NOMINEE_NAME,
    T0,
    approval,
    authorise,
    dispatch,
    incident,
    letter,
    maximal_approval,
    phone,
    result,
    risk,
)
from tests.support.bus import running
from tests.support.drain import read_settled
from tests.support.kafka_tools import header, publish, read_all, read_topic

pytestmark = pytest.mark.integration


class Msp:
    """Drives one MSP through the service and reads what it published."""

    def __init__(self, kafka, prefix: str) -> None:
        self.kafka, self.prefix, self.seen = kafka, prefix, 0

    async def send(self, topic: str, *events: Event) -> None:
        for e in events:
            await publish(
                self.kafka.bootstrap_servers, self.prefix + topic, [e.to_json()], key=e.key.encode()
            )

    async def events(self, at_least: int) -> list[Event]:
        records = await read_topic(
            self.kafka.bootstrap_servers,
            self.prefix + MSP_NOTIFICATION_EVENTS.name,
            at_least=at_least,
        )
        return [MSP_NOTIFICATION_EVENTS.parse(r.value) for r in records]

    async def act(self, action: Event, expect: int) -> list[Event]:
        """Send one staff action and wait for the ``expect`` events it causes (actions are judged in order)."""
        await self.send(MSP_STAFF_ACTIONS.name, action)
        self.seen += expect
        return (await self.events(self.seen))[self.seen - expect :]


def summary(events: list[Event]) -> list[str]:
    return [e.event_type + (f":{e.step.value}" if hasattr(e, "step") else "") for e in events]


def settings(kafka, database_url, prefix) -> NotificationSettings:
    return NotificationSettings(
        **kafka.settings("notification"),
        database_url=database_url,
        topic_prefix=prefix,
        scheduler_interval_s=0.1,
    )


async def test_a_centrelink_msp_with_unsuccessful_phone_contact_ends_with_an_sms_and_a_posted_letter(
    kafka, database_url, topic_prefix, captured_logs
):
    msp = Msp(kafka, topic_prefix)
    async with running(
        create_runtime(settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(T0))
    ):
        await msp.send(MSP_APPROVALS.name, approval(Agency.CENTRELINK))
        msp.seen = 2
        assert summary(await msp.events(2)) == ["MspNotificationPlanned", "MspStepRequired:phone"]
        assert summary(
            await msp.act(phone(outcome="unsuccessful", explained=None, no_more_attempts=True), 3)
        ) == ["MspStepDone:phone", "MspStepRequired:sms-decision", "MspStepRequired:letter"]
        await msp.act(authorise(SmsCircumstance.CANNOT_BE_CONTACTED), 1)
        sent = await read_topic(
            kafka.bootstrap_servers, topic_prefix + SMS_DISPATCH.name, at_least=1
        )
        msp.seen += 1  # MspStepDone:sms-decision, published by the scheduler
        assert summary((await msp.events(msp.seen))[-1:]) == ["MspStepDone:sms-decision"]
        await msp.act(letter(), 1)
        assert summary(await msp.act(dispatch("post"), 2)) == [
            "MspStepDone:letter",
            "MspStepRequired:record-result",
        ]
        completed = await msp.act(result(), 2)
    sms = SMS_DISPATCH.parse(sent[0].value)
    assert sms.mobile == e164(MOBILE)  # type: ignore[attr-defined]
    assert "1800 555 010" in sms.text  # type: ignore[attr-defined]
    assert summary(completed) == ["MspNotificationCompleted", "MspStepDone:record-result"]
    assert (completed[0].sms, completed[0].letter) == ("sent", "dispatched: post")  # type: ignore[attr-defined]
    logs = captured_logs.getvalue()
    assert '"MspNotificationCompleted"' in logs, "transitions are logged"
    for secret in (
        MOBILE,
        e164(MOBILE),
        "1800 555 010",
        "+611800555010",
        BEHAVIOUR.what[:20],
        "Pat Officer",
        "CRN-SYNTH-9",
    ):
        assert secret not in logs, f"{secret!r} reached a log line"


async def test_a_medicare_msp_where_phoning_is_inappropriate_phones_the_nominee(
    kafka, database_url, topic_prefix, captured_logs
):
    msp = Msp(kafka, topic_prefix)
    async with running(
        create_runtime(settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(T0))
    ):
        await msp.send(
            MSP_APPROVALS.name, approval(Agency.MEDICARE, phone_ok=False, reps=(Role.NOMINEE,))
        )
        msp.seen = 3
        planned = await msp.events(3)
        assert summary(planned) == [
            "MspNotificationPlanned",
            "MspStepRequired:phone",
            "MspStepDone:sms-decision",
        ]
        assert planned[1].contact_role is Role.NOMINEE  # type: ignore[attr-defined]
        assert summary(await msp.act(phone(contacted=Role.NOMINEE), 2)) == [
            "MspStepDone:phone",
            "MspStepRequired:letter",
        ]
        await msp.act(letter(), 1)
        await msp.act(dispatch("post"), 2)
        completed = await msp.act(result(), 2)
    assert completed[0].sms == "not-applicable: not-centrelink"  # type: ignore[attr-defined]
    assert NOMINEE_NAME not in captured_logs.getvalue()


async def test_a_centrelink_msp_whose_mobile_is_on_several_records_withholds_the_sms(
    kafka, database_url, topic_prefix, captured_logs
):
    msp = Msp(kafka, topic_prefix)
    runtime = create_runtime(
        settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(T0)
    )
    async with running(runtime):
        await msp.send(MSP_APPROVALS.name, approval(Agency.CENTRELINK))
        msp.seen = 2
        await msp.events(2)
        await msp.act(phone(outcome="unsuccessful", explained=None, no_more_attempts=True), 3)
        assert await msp.act(risk(RiskFact.MOBILE_ON_MULTIPLE_RECORDS), 0) == []
        withheld = await msp.act(authorise(), 2)
        await msp.act(letter(), 1)
        rejected = await msp.act(dispatch("staff-hand-delivery"), 1)
        await msp.act(dispatch("post"), 2)
        completed = await msp.act(result(), 2)
        dispatched = await read_settled(runtime, topic_prefix + SMS_DISPATCH.name)
    assert summary(withheld) == ["MspSmsWithheld", "MspStepDone:sms-decision"]
    assert withheld[0].reason_code == "mobile-on-multiple-records"  # type: ignore[attr-defined]
    assert rejected[0].reason_code == "hand-delivery-by-staff-forbidden"  # type: ignore[attr-defined]
    assert completed[0].sms == "withheld: mobile-on-multiple-records"  # type: ignore[attr-defined]
    assert dispatched == [], "no SMS was sent"
    logs = captured_logs.getvalue()
    assert "multiple-records" not in logs, "risk facts never reach a log line"
    assert '"MspSmsWithheld"' in logs


@pytest.mark.rule("MSP-1.7")
async def test_a_cims_incident_recorded_for_one_msp_is_refused_for_another(
    kafka, database_url, topic_prefix
):
    """104-07050030: "Record a new incident and link it to the MSP." (issue 28: one CIMS incident id was accepted
    for two MSPs). The store finds it on the other MSP's row, under a lock on the id."""
    msp = Msp(kafka, topic_prefix)
    runtime = create_runtime(
        settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(T0)
    )
    async with running(runtime):
        for msp_id, mobile in (("MSP-1", MOBILE), ("MSP-2", "0491 570 159")):
            await msp.send(MSP_APPROVALS.name, approval(msp_id=msp_id, mobile=mobile))
            msp.seen += 2
            await msp.events(msp.seen)
            await msp.act(phone(aggression=True, msp_id=msp_id), 4)
        await msp.act(incident(incident_id="CIMS-5150"), 1)
        await msp.act(incident(incident_id="CIMS-5150", msp_id="MSP-2"), 1)
        await msp.act(incident(incident_id="CIMS-5151", msp_id="MSP-2"), 1)
        events = await msp.events(msp.seen)

    def of(msp_id: str) -> list[str]:
        """One MSP's answers to the incidents, in order (one key, one partition: in order)."""
        return [
            e.event_type + ":" + str(getattr(e, "reason_code", None) or getattr(e, "outcome", ""))
            for e in events
            if getattr(e, "msp_id", None) == msp_id
            and (e.event_type == "MspActionRejected" or getattr(e, "step", None) == Step.INCIDENT)
            and e.event_type != "MspStepRequired"
        ]

    assert of("MSP-1") == ["MspStepDone:recorded"]
    assert of("MSP-2") == ["MspActionRejected:incident-already-recorded", "MspStepDone:recorded"]
    [refused] = [e for e in events if e.event_type == "MspActionRejected"]
    assert "another MSP" in refused.reason  # type: ignore[attr-defined]


async def test_a_malformed_approval_goes_to_the_dead_letter_topic(
    kafka, database_url, topic_prefix
):
    bad = json.loads(approval().to_json())
    bad["agency"] = "Tax Office"
    async with running(create_runtime(settings(kafka, database_url, topic_prefix))) as runtime:
        await publish(
            kafka.bootstrap_servers, topic_prefix + MSP_APPROVALS.name, [json.dumps(bad).encode()]
        )
        [dead] = await read_settled(runtime, topic_prefix + MSP_APPROVALS.dlq)
    assert header(dead, "dlq.reason") == "schema-invalid"
    assert "agency" in (header(dead, "dlq.detail") or "")
    assert "Tax Office" not in (header(dead, "dlq.detail") or ""), (
        "the reason names the field, not the value"
    )


@pytest.mark.rule("MSP-1.1")
async def test_an_approval_with_every_field_at_its_bound_is_implemented_through_the_broker(
    kafka, database_url, topic_prefix
):
    """Issue 37, finding 4: a schema-valid approval at its bounds was dead-lettered from inside decide (the MSP
    never implemented, and replay failed the same way). 104-07050030 step 1: "explain the reasons the MSP has been
    implemented, including a description of the behaviours taken into consideration"."""
    msp = Msp(kafka, topic_prefix)
    maximal = maximal_approval()
    async with running(
        create_runtime(settings(kafka, database_url, topic_prefix), SimulatedClock.starting_at(T0))
    ):
        await msp.send(MSP_APPROVALS.name, maximal)
        events = await msp.events(2)
    assert summary(events) == ["MspNotificationPlanned", "MspStepRequired:phone"]
    assert events[1].msp_id == maximal.msp_id
    assert any(line.endswith(CUT) for line in events[1].briefing)  # type: ignore[attr-defined]
    dead = await read_all(kafka.bootstrap_servers, topic_prefix + MSP_APPROVALS.dlq)
    assert dead == [], "nothing dead-lettered"
