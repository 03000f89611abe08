"""The desk's rules (issue 40), in milliseconds: who sees what of a customer, what a work item offers, what the
removal escalation's item asks for next, and the way out a refusal offers."""

from __future__ import annotations

import uuid

import pytest
from console import pages
from console.desk.due import SERVICE_LEVELS_H
from console.desk.offers import (
    RISK_RULES,
    known_queues,
    next_action,
    offers_assign_to_me,
    opened_subjects,
    readable,
    record_steps_on_item,
    risk_answered,
    transfer_guidance,
    work_item_actions,
)
from console.desk.records import Command
from console.desk.views import expense_view

from contracts.notification import RiskFact
from contracts.workitems import TickOff
from tests.console.records import NOW, ONE_OFF, entry, work_item

pytestmark = pytest.mark.unit

IM = ("im-trained",)
NOBODY: tuple[str, ...] = ()
OFFICER = pages.Officer("OFF-MSP-1", ("msp-officer",), "f" * 32)


def i059pl(status: str = "open", **fields: object) -> object:
    return work_item(
        "I059PL:E1:2027-03-01", "I059PL", status, NOW, tick_off=TickOff.MANUAL, **fields
    )


@pytest.mark.rule("IM-1.1")
def test_all_staff_learn_of_a_customers_open_income_management_item_and_the_way_on():
    """103-01050060 step 1: "All staff must investigate any Work Items which present on a customer's record, and
    take appropriate action, as part of every contact with a customer." An officer with no role sees the Income
    Management items (never an MSP's), and the transfer guidance while one is open; not once all are closed, and
    never for an officer trained in Income Management."""
    assert readable(NOBODY) == []
    assert known_queues(readable(NOBODY)) == ("income-management",)
    assert opened_subjects(readable(NOBODY)) == frozenset()
    guidance = transfer_guidance([i059pl()], readable(NOBODY))
    assert guidance is not None
    assert "Income Management" in guidance
    assert transfer_guidance([i059pl("closed")], readable(NOBODY)) is None
    assert transfer_guidance([i059pl()], readable(IM)) is None
    assert opened_subjects(readable(IM)) == frozenset({"expense"})


def test_a_work_item_offers_only_what_can_apply_to_it_now():
    """A closed item offers nothing; an item that closes itself offers no tick-off; nobody holds an unassigned
    item, so it offers no hand-back; "Assign to me" only to an officer who may work it and does not hold it."""
    item = i059pl()
    assert work_item_actions(item) == ["TickOffWorkItem", "AssignWorkItem"]
    assert work_item_actions(i059pl("closed")) == []
    automatic = work_item("MSP-PHONE:M1", "MSP-PHONE", "open", NOW, tick_off=TickOff.AUTOMATIC)
    assert work_item_actions(automatic) == ["AssignWorkItem"]
    held = work_item("I059PL:E1", "I059PL", "open", NOW, tick_off=TickOff.MANUAL)
    held = type(held)(**{**held.__dict__, "assignee_id": "OFF-IM-1"})
    assert work_item_actions(held) == ["TickOffWorkItem", "AssignWorkItem", "UnassignWorkItem"]
    names = work_item_actions(held)
    assert offers_assign_to_me("OFF-IM-2", IM, held, names)
    assert not offers_assign_to_me("OFF-IM-1", IM, held, names), "they hold it already"
    assert not offers_assign_to_me("OFF-FRONT-1", NOBODY, held, names), "not trained"


@pytest.mark.rule("IM-7.4")
def test_the_removal_escalations_item_asks_for_the_job_number_then_the_removal():
    """103-01050060 step 7: "raise a mySupport webform." then phone the ICT Service Desk quoting its job number.
    The escalation's item offers the job number once the removal is escalated, then the removal quoting it, and
    nothing once it is closed; the expense itself offers neither before the escalation."""
    item = work_item("IM-REMOVAL-ESCALATION:E1", "IM-REMOVAL-ESCALATION", "open", NOW)
    escalated = [ONE_OFF, entry("ExpenseRemovalEscalationRequested", customer_ref="CRN-1")]
    job = entry("MySupportJobRecorded", customer_ref="CRN-1", mysupport_job="JOB-1")
    assert record_steps_on_item(item, expense_view("E1", [ONE_OFF])) == ()
    assert record_steps_on_item(item, expense_view("E1", escalated)) == ("RecordMySupportJob",)
    with_job = expense_view("E1", [*escalated, job])
    assert with_job.mysupport_job == "JOB-1"
    assert record_steps_on_item(item, with_job) == ("RecordExpenseRemoval",)
    closed = work_item("IM-REMOVAL-ESCALATION:E1", "IM-REMOVAL-ESCALATION", "closed", NOW)
    assert record_steps_on_item(closed, with_job) == ()
    assert record_steps_on_item(i059pl(), with_job) == (), "an I059PL is no escalation"


def command(status: str, reason_code: str | None, outcomes: list[dict[str, object]]) -> Command:
    return Command(
        uuid.uuid4(),
        "OFF-IM-1",
        "CeaseExpense",
        "E1",
        NOW,
        status,
        outcomes,
        reason_code,
        None,
        "f",
    )


@pytest.mark.rule("IM-7.4")
def test_a_day_2_refusal_offers_the_escalation_once_and_only_to_who_may_take_it():
    """103-01050060 step 7: "If unable to cease the expense as it is day 2 and there is extreme hardship requiring
    the new expense to be coded immediately, raise a mySupport webform." The refusal offers the escalation (a cease
    in extreme hardship); once the refusal started it, it is not offered again; an officer who may not cease is not
    offered it."""
    refused = command("rejected", "one-off-day-2", [])
    assert next_action(IM, refused) == (
        "CeaseExpense",
        "Escalate the removal: the customer is in extreme hardship",
        {"extreme_hardship": "true"},
    )
    started = command(
        "rejected", "one-off-day-2", [{"event_type": "ExpenseRemovalEscalationRequested"}]
    )
    assert next_action(IM, started) is None
    assert next_action(NOBODY, refused) is None
    assert next_action(IM, command("accepted", None, [])) is None


RISK_ITEM = {
    "subject_id": "M1",
    "subject_type": "msp",
    "procedure": "104-07050030",
    "instructions": [],
    "tick_off": TickOff.MANUAL,
    "approved_decision_makers_only": False,
    "due_at": None,
    "time_zone": None,
    "briefing": [],
    "guidance": [],
    "period_start": None,
}


@pytest.mark.rule("MSP-2.12", "MSP-2.13")
def test_a_risk_response_names_its_risk_and_the_guidelines_it_refers_to():
    """104-07050030 step 2: for a customer talking about suicide or self-harm, "refer to Customers talking about
    suicide or self-harm"; for family and domestic violence, "staff are to follow their local response
    guidelines". The risk response's item says which risk it answers and cites that rule (not the SMS's "as soon
    as possible"), by the MSP's response of its number."""
    first = entry("MspRiskResponseRequired", fact=RiskFact.SUICIDE_SELF_HARM, number=1)
    second = entry("MspRiskResponseRequired", fact=RiskFact.FAMILY_DOMESTIC_VIOLENCE, number=2)
    item = work_item(
        "MSP-RISK-RESPONSE:M1:2",
        "MSP-RISK-RESPONSE",
        "open",
        NOW,
        **RISK_ITEM,
    )
    assert risk_answered(item, [first, second]) is RiskFact.FAMILY_DOMESTIC_VIOLENCE
    assert RISK_RULES[risk_answered(item, [first, second])] == "MSP-2.13"
    item_1 = work_item(
        "MSP-RISK-RESPONSE:M1:1",
        "MSP-RISK-RESPONSE",
        "open",
        NOW,
        **RISK_ITEM,
    )
    assert RISK_RULES[risk_answered(item_1, [first, second])] == "MSP-2.12"
    assert risk_answered(i059pl(), [first]) is None
    page = pages.work_item_page(
        OFFICER,
        item_1,
        [],
        [],
        [],
        [],
        pages.Due(SERVICE_LEVELS_H, NOW),
        RiskFact.SUICIDE_SELF_HARM,
    )
    assert "The customer is talking about suicide or self-harm" in page
    assert "MSP-2.12: “refer to Customers talking about suicide or self-harm”" in page
    assert "MSP-2.1:" not in page
