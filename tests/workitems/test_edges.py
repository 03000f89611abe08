"""Edges of the work-item decisions that mutation testing found unasserted (issue 28 item 16): the conflict item,
what a raised item keeps, the history's details and the ids that tie an output to its cause."""

from __future__ import annotations

import uuid

import pytest

from contracts.expenses import ExpenseKind, OneOffConflictDetected
from contracts.notification import Role, Step
from contracts.workitems import Queue, TickOff, WorkItemCode, WorkItemRaised, WorkItemTickedOff
from tests.workitems.builders import (
    CUSTOMER,
    PERIOD,
    assign,
    closure_reversed,
    env,
    escalation,
    period_closed,
    step_done,
    step_required,
    tick_off,
)
from tests.workitems.test_decide import Desk
from workitems.domain.decide import keys_of, msp_item_id
from workitems.domain.texts import CONFLICT_TITLE, NOT_TRAINED_GUIDANCE

pytestmark = pytest.mark.unit


def conflict() -> OneOffConflictDetected:
    return OneOffConflictDetected(
        **env(
            "expenses",
            event_type="OneOffConflictDetected",
            expense_id="EXP-2",
            customer_ref=CUSTOMER,
            payee_id="PAYEE-7",
            existing_expense_id="EXP-1",
            instructions=["Check both expenses with the customer."],
        )
    )


@pytest.mark.rule("IM-7.2")
def test_a_one_off_coded_while_another_still_tries_raises_a_manual_step_7_item_for_the_new_one():
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." """
    desk = Desk()
    event = conflict()
    raised = desk.only(event)
    assert isinstance(raised, WorkItemRaised)
    assert keys_of(event) == ("IM-ONE-OFF-CONFLICT:EXP-2",)
    assert (raised.work_item_id, raised.code, raised.title) == (
        "IM-ONE-OFF-CONFLICT:EXP-2",
        WorkItemCode.ONE_OFF_CONFLICT,
        CONFLICT_TITLE,
    )
    assert (raised.queue, raised.customer_ref, raised.subject_type, raised.subject_id) == (
        Queue.INCOME_MANAGEMENT,
        CUSTOMER,
        "expense",
        "EXP-2",
    )
    assert (raised.procedure, raised.procedure_step, raised.tick_off) == (
        "103-01050060",
        7,
        TickOff.MANUAL,
    )
    assert raised.instructions == ["Check both expenses with the customer."]
    assert raised.guidance == NOT_TRAINED_GUIDANCE
    item = desk.items["IM-ONE-OFF-CONFLICT:EXP-2"]
    assert (item.procedure_step, item.guidance, item.tick_off) == (
        7,
        NOT_TRAINED_GUIDANCE,
        TickOff.MANUAL,
    )


def test_a_raised_item_keeps_its_period_its_briefing_and_who_may_take_it():
    desk = Desk()
    desk.handle(period_closed())
    i059pl = next(iter(desk.items.values()))
    assert (i059pl.period_start, i059pl.procedure_step) == (PERIOD, 5)
    assert i059pl.guidance, "the guidance for officers not trained in Income Management"
    desk.handle(step_required(Step.SMS, adm=True))
    desk.handle(
        step_required(Step.PHONE, contact_role=Role.NOMINEE, briefing=["Explain the reasons."])
    )
    assert desk.items[msp_item_id("MSP-1", Step.SMS)].approved_decision_makers_only is True
    assert desk.items[msp_item_id("MSP-1", Step.PHONE)].briefing == ["Explain the reasons."]


def test_a_regular_closure_touches_only_its_i059pl_and_a_one_offs_its_removal_too():
    assert keys_of(period_closed()) == ("I059PL:EXP-1:2027-03-01",)
    assert keys_of(period_closed(ExpenseKind.ONE_OFF)) == (
        "I059PL:EXP-1:2027-03-01",
        "IM-REMOVAL-ESCALATION:EXP-1",
    )


def test_one_cause_touching_two_items_gives_each_output_its_own_id_and_the_same_ids_again():
    closed = period_closed(ExpenseKind.ONE_OFF)
    first, second = Desk(), Desk()
    first.handle(escalation("EXP-1"))
    second.handle(escalation("EXP-1"))
    out_1, out_2 = first.handle(closed), second.handle(closed)
    assert [e.event_id for e in out_1] == [e.event_id for e in out_2], "derived from the cause"
    assert len({e.event_id for e in out_1}) == len(out_1) == 2, "one id per item"
    done = step_done(Step.PHONE)
    a, b = Desk(), Desk()
    a.handle(step_required(Step.PHONE))
    b.handle(step_required(Step.PHONE))
    assert a.only(done).event_id == b.only(done).event_id


def test_an_automatic_tick_off_keeps_its_outcome_and_cause_and_an_officers_keeps_the_doc_note():
    desk = Desk()
    desk.handle(step_required(Step.PHONE))
    desk.handle(step_done(Step.PHONE, outcome="successful: customer"))
    assert desk.history[-1].detail == {"outcome": "successful: customer", "cause": "MspStepDone"}
    desk.handle(period_closed())
    no_note = tick_off("I059PL:EXP-1:2027-03-01", note=None)
    assert desk.only(no_note).event_type == "WorkItemActionRejected"
    done = desk.only(tick_off("I059PL:EXP-1:2027-03-01"))
    assert isinstance(done, WorkItemTickedOff)
    assert set(desk.history[-1].detail) == {"doc_note"}


def test_a_refusal_names_the_request_it_answers_and_an_unnumbered_msp_task_keeps_its_old_id():
    desk = Desk()
    request = tick_off("I059PL:EXP-404:2027-03-01")
    refused = desk.only(request)
    assert refused.rejected_event_id == str(request.event_id)
    assert msp_item_id("MSP-1", Step.INCIDENT) == "MSP-INCIDENT:MSP-1"
    assert msp_item_id("MSP-1", Step.INCIDENT, 2) == "MSP-INCIDENT:MSP-1:2"
    assert uuid.UUID(str(refused.event_id))


def test_each_transition_keeps_its_detail_under_the_names_the_api_shows():
    desk = Desk()
    closed = period_closed()
    desk.handle(closed)
    assert desk.history[-1].detail == {"cause": "UndeliveredExpensePeriodClosed"}
    desk.handle(assign("I059PL:EXP-1:2027-03-01"))
    assert desk.history[-1].detail == {"assignee_id": "OFF-6"}
    desk.handle(closure_reversed())
    cancelled = desk.history[-1]
    assert set(cancelled.detail) == {"reason_code", "reason"}
    item = desk.items["I059PL:EXP-1:2027-03-01"]
    assert item.closed_at == cancelled.at, "a cancelled item is closed when it was cancelled"
    auto = Desk()
    auto.handle(step_required(Step.LETTER))
    auto.handle(step_done(Step.LETTER, outcome="post"))
    assert auto.history[-1].detail == {"outcome": "post", "cause": "MspStepDone"}
