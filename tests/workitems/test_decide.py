"""The work-item rules, pure: each test quotes the procedure it enforces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.envelope import Event
from contracts.expenses import AustralianState, ExpenseKind
from contracts.notification import (
    MspRiskResponseRequired,
    MspSmsAuthorised,
    RiskFact,
    Role,
    SmsCircumstance,
    Step,
)
from contracts.procedures import BY_ID
from contracts.workitems import (
    HandOverReason,
    Queue,
    TickOff,
    WorkItemActionRejected,
    WorkItemAssigned,
    WorkItemCancelled,
    WorkItemCode,
    WorkItemEvent,
    WorkItemRaised,
    WorkItemStatus,
    WorkItemTickedOff,
    WorkItemUnassigned,
)
from servicekit.decider import WorkingSet
from tests.workitems.builders import (
    CUSTOMER,
    DOC_NOTE,
    PERIOD,
    T0,
    assign,
    ceased,
    closure_reversed,
    delivered,
    env,
    escalation,
    paid_twice,
    period_closed,
    removed,
    step_done,
    step_required,
    tick_off,
    unassign,
)
from workitems.domain.decide import decide, i059pl_id, keys_of, msp_item_id, removal_id
from workitems.domain.decider import WorkItems
from workitems.domain.model import HistoryEntry, WorkItem, history_entry
from workitems.domain.texts import NOT_TRAINED_GUIDANCE

pytestmark = pytest.mark.unit

I059PL = i059pl_id("EXP-1", PERIOD)


class Desk:
    """The production step (``servicekit.decider``) over items held in memory: every fold is the service's own."""

    def __init__(self) -> None:
        self.working: WorkingSet[WorkItem] = WorkingSet(WorkItems(), {})
        self.now = T0

    @property
    def items(self) -> dict[str, WorkItem]:
        return {k: item for k, item in self.working.after.items() if item is not None}

    @property
    def history(self) -> list[HistoryEntry]:
        return [
            entry
            for cause, outputs in self.working.handled
            for output in outputs
            if (entry := history_entry(output, cause)) is not None
        ]

    def handle(self, event: Event) -> list[Event]:
        out = self.working.step(event, self.now)
        for o in out:
            assert isinstance(o, WorkItemEvent)
            assert o.work_item_id in keys_of(event), "decide touches only the keys it loaded"
        self.now += timedelta(minutes=1)
        return out

    def only(self, event: Event) -> Event:
        out = self.handle(event)
        assert len(out) == 1, out
        return out[0]


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


# --------------------------------------------------------------------------- rule 1: I059PL


@pytest.mark.rule("IM-3.2", "IM-3.4", "IM-5.1", "IM-5.2")
def test_a_weekly_window_closed_unpaid_raises_i059pl_for_that_period_with_step_5():
    """103-01050060: "If the expense is not paid by the end of the 7 days, the system will stop attempting to pay
    the expense for this period, and it will remain as unpaid." "Work Item 'I059PL - A previous expense was not
    delivered, please discuss with customer' is created on the Income Management Summary screen." Step 5: a weekly
    period over 7 days old, "(work item I059PL exists)": "The payment is undelivered and will not be paid for that
    period. The 1 week expense will now try to pay for the next week." """
    raised = Desk().only(period_closed(ExpenseKind.WEEKLY))
    assert isinstance(raised, WorkItemRaised)
    assert raised.work_item_id == "I059PL:EXP-1:2027-03-01"
    assert raised.code is WorkItemCode.I059PL
    assert (
        raised.title
        == "I059PL - A previous expense was not delivered, please discuss with customer"
    )
    assert raised.queue is Queue.INCOME_MANAGEMENT
    assert (raised.procedure_step, raised.period_start, raised.procedure) == (
        5,
        PERIOD,
        "103-01050060",
    )
    assert raised.instructions[0] == BY_ID["IM-5.1"].quote
    assert "The 1 week expense will now try to pay for the next week." in raised.instructions
    assert raised.instructions[-1] == "Manually tick off the Work Item. Record details on a DOC."
    assert raised.tick_off is TickOff.MANUAL
    assert raised.actor == "expenses"


def test_a_fortnightly_window_closed_unpaid_says_the_next_fortnightly_period_is_tried():
    """Step 5: 'The 2 week expense will now try to pay for the next fortnightly period.'"""
    raised = Desk().only(period_closed(ExpenseKind.FORTNIGHTLY))
    assert isinstance(raised, WorkItemRaised)
    assert raised.procedure_step == 5
    assert (
        "The 2 week expense will now try to pay for the next fortnightly period."
        in raised.instructions
    )


@pytest.mark.rule("IM-5.3", "IM-8.1")
def test_a_one_off_that_ended_undelivered_raises_i059pl_with_step_8():
    """Step 8: 'The payment is undelivered and will not pay again. Advise the customer of the period that the
    payment was not delivered and discuss options if appropriate.'"""
    raised = Desk().only(period_closed(ExpenseKind.ONE_OFF))
    assert isinstance(raised, WorkItemRaised)
    assert raised.procedure_step == 8
    assert raised.instructions[0] == "The payment is undelivered and will not pay again."
    assert any(
        "Advise the customer of the period that the payment was not delivered (the period starting "
        "Monday 1 March 2027)" in line
        for line in raised.instructions
    )


@pytest.mark.rule("IM-1.1", "IM-1.3", "IM-1.4")
def test_i059pl_carries_the_guidance_for_officers_not_trained_in_income_management():
    """Step 1: "For Service Officers not trained in Income Management: Cold transfer the customer to: the Income
    Management Line the Indigenous Services queue (if appropriate), or Multilingual Call (if appropriate)" (a list
    in the procedure), with "All staff must investigate any Work Items which present on a customer's record, and take
    appropriate action, as part of every contact with a customer." and "seek assistance from a specialised Service
    Officer (if available) or Service Support Officer"."""
    raised = Desk().only(period_closed())
    assert isinstance(raised, WorkItemRaised)
    guidance = " ".join(raised.guidance)
    assert BY_ID["IM-1.1"].quote in guidance
    assert BY_ID["IM-1.4"].quote in guidance
    transfer = next(g for g in raised.guidance if "cold transfer" in g)
    for where in (
        "the Income Management Line",
        "the Indigenous Services queue (if appropriate)",
        "Multilingual Call (if appropriate)",
    ):
        assert where in transfer


# --------------------------------------------------------------------------- rule 2: the removal escalation


@pytest.mark.rule("IM-7.4")
def test_a_day_2_extreme_hardship_request_raises_the_escalation_with_the_webform_and_service_desk_steps():
    """Step 7: 'If unable to cease the expense as it is day 2 and there is extreme hardship ... raise a mySupport
    webform. Phone the ICT Service Desk quoting the mySupport job number to request the removal'."""
    raised = Desk().only(escalation())
    assert isinstance(raised, WorkItemRaised)
    assert raised.code is WorkItemCode.REMOVAL_ESCALATION
    assert raised.work_item_id == removal_id("EXP-9")
    assert raised.instructions == [
        "Raise a mySupport webform.",
        "Phone the ICT Service Desk quoting the mySupport job number.",
    ]
    assert (raised.procedure_step, raised.tick_off) == (7, TickOff.AUTOMATIC)


@pytest.mark.rule("IM-7.6")
def test_the_escalation_is_ticked_off_when_the_service_desk_removal_is_recorded():
    """Step 7: 'They will advise when another expense can be coded.'"""
    desk = Desk()
    desk.handle(escalation())
    done = desk.only(removed())
    assert isinstance(done, WorkItemTickedOff)
    assert (done.tick_off, done.actor, done.outcome) == (
        TickOff.AUTOMATIC,
        "expenses",
        "removed-by-service-desk",
    )
    assert desk.items[removal_id("EXP-9")].status is WorkItemStatus.TICKED_OFF


@pytest.mark.rule("IM-7.1")
@pytest.mark.parametrize(
    ("event", "code"),
    [
        (delivered(), "expense-delivered"),
        (ceased(), "expense-ceased"),
        (period_closed(ExpenseKind.ONE_OFF, "EXP-9"), "expense-ended"),
    ],
)
def test_the_escalation_is_cancelled_when_the_expense_no_longer_needs_removing(event, code):
    """Step 7: the removal is requested only for 'extreme hardship requiring the new expense to be coded
    immediately'; an expense that delivered, was ceased, or 'will automatically end on day 3' needs no removal."""
    desk = Desk()
    desk.handle(escalation())
    out = desk.handle(event)
    cancelled = [e for e in out if isinstance(e, WorkItemCancelled)]
    assert len(cancelled) == 1
    assert cancelled[0].reason_code == code
    assert desk.items[removal_id("EXP-9")].status is WorkItemStatus.CANCELLED


def test_a_regular_expense_delivered_touches_no_escalation():
    assert keys_of(delivered(ExpenseKind.WEEKLY)) == ()


def test_asking_twice_for_the_removal_raises_one_escalation():
    desk = Desk()
    desk.handle(escalation())
    assert desk.handle(escalation()) == []


# --------------------------------------------------------------------------- rule 3: the MSP tasks


@pytest.mark.parametrize(
    ("step", "code", "title"),
    [
        (
            Step.PHONE,
            WorkItemCode.MSP_PHONE,
            "MSP: phone the customer to explain the Managed Service Plan",
        ),
        (Step.LETTER, WorkItemCode.MSP_LETTER, "MSP: send the final, signed and approved letter"),
        (
            Step.INCIDENT,
            WorkItemCode.MSP_INCIDENT,
            "MSP: record the incident in CIMS, linked to the MSP",
        ),
        (Step.RECORD_RESULT, WorkItemCode.MSP_RECORD_RESULT, "MSP: record the result"),
    ],
)
def test_each_msp_step_raises_its_task_on_the_msp_queue(step, code, title):
    raised = Desk().only(step_required(step))
    assert isinstance(raised, WorkItemRaised)
    assert (raised.code, raised.title, raised.queue) == (code, title, Queue.MSP)
    assert (raised.subject_type, raised.subject_id, raised.procedure) == (
        "msp",
        "MSP-1",
        "104-07050030",
    )
    assert raised.instructions == [f"Do the {step.value} step."]
    assert raised.tick_off is TickOff.AUTOMATIC


@pytest.mark.rule("MSP-1.2")
def test_the_task_to_describe_the_behaviours_is_the_approving_officers_raised_assigned_to_them_and_ticked_off():
    """104-07050030 step 1: "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without
    explaining why": the approving officer describes them, in a task of their own."""
    desk = Desk()
    raised, assigned = desk.handle(step_required(Step.DESCRIBE, for_officer="OFF-APPROVER"))
    assert isinstance(raised, WorkItemRaised)
    assert (raised.code, raised.queue, raised.tick_off) == (
        WorkItemCode.MSP_DESCRIBE_BEHAVIOURS,
        Queue.MSP,
        TickOff.AUTOMATIC,
    )
    assert isinstance(assigned, WorkItemAssigned)
    assert assigned.assignee_id == "OFF-APPROVER"
    item_id = msp_item_id("MSP-1", Step.DESCRIBE)
    assert desk.items[item_id].assignee_id == "OFF-APPROVER"
    assert desk.handle(step_required(Step.DESCRIBE, for_officer="OFF-APPROVER")) == [], (
        "raised and assigned once"
    )
    [ticked] = desk.handle(step_done(Step.DESCRIBE, outcome="described"))
    assert isinstance(ticked, WorkItemTickedOff)
    assert desk.items[item_id].status is WorkItemStatus.TICKED_OFF


@pytest.mark.rule("MSP-2.13")
def test_a_risk_response_is_a_manual_task_in_the_msp_queue_whose_id_says_nothing_of_the_risk():
    """104-07050030: "staff are to follow their local response guidelines" (family and domestic violence)."""
    required = MspRiskResponseRequired(
        **env(
            "notification",
            event_type="MspRiskResponseRequired",
            msp_id="MSP-1",
            customer_ref=CUSTOMER,
            fact=RiskFact.FAMILY_DOMESTIC_VIOLENCE,
            number=1,
            instructions=["Follow your local response guidelines."],
        )
    )
    raised = Desk().only(required)
    assert isinstance(raised, WorkItemRaised)
    assert (raised.code, raised.queue, raised.tick_off) == (
        WorkItemCode.MSP_RISK_RESPONSE,
        Queue.MSP,
        TickOff.MANUAL,
    )
    assert raised.instructions == ["Follow your local response guidelines."]
    assert raised.work_item_id == "MSP-RISK-RESPONSE:MSP-1:1", (
        "ids reach the logs; safety flags never do"
    )


@pytest.mark.rule("MSP-1.1")
def test_the_phone_task_carries_what_the_officer_is_to_explain():
    """104-07050030 step 1: "explain the reasons the MSP has been implemented, including a description of the
    behaviours taken into consideration"."""
    briefing = [
        "Reasons the MSP has been implemented: threats to staff.",
        "Behaviour taken into consideration: x",
    ]
    raised = Desk().only(step_required(Step.PHONE, contact_role=Role.CUSTOMER, briefing=briefing))
    assert isinstance(raised, WorkItemRaised)
    assert raised.briefing == briefing


@pytest.mark.rule("MSP-2.2")
def test_the_sms_decision_goes_to_approved_decision_makers_only():
    """104-07050030 step 2: "SMS can only be sent by approved decision makers" """
    raised = Desk().only(step_required(Step.SMS, adm=True))
    assert isinstance(raised, WorkItemRaised)
    assert raised.queue is Queue.MSP_APPROVED_DECISION_MAKERS
    assert raised.approved_decision_makers_only


def test_the_phone_task_names_the_representative_to_phone():
    """104-07050030 step 1: phone the customer or, where that is not appropriate, their nominee or Power of
    Attorney."""
    raised = Desk().only(step_required(Step.PHONE, contact_role=Role.NOMINEE))
    assert isinstance(raised, WorkItemRaised)
    assert raised.title == "MSP: phone the customer's nominee to explain the Managed Service Plan"


@pytest.mark.parametrize("step", list(Step))
def test_each_msp_task_is_ticked_off_automatically_when_its_step_is_done(step):
    desk = Desk()
    desk.handle(step_required(step))
    done = desk.only(step_done(step, outcome="successful: customer"))
    assert isinstance(done, WorkItemTickedOff)
    assert (done.work_item_id, done.actor, done.outcome) == (
        msp_item_id("MSP-1", step),
        "notification",
        "successful: customer",
    )
    assert desk.items[done.work_item_id].status is WorkItemStatus.TICKED_OFF


@pytest.mark.rule("MSP-1.7")
def test_each_aggressive_calls_incident_is_its_own_task_ticked_off_when_its_incident_is_recorded():
    """ "Record a new incident and link it to the MSP." (issue 28: one MSP-INCIDENT task per MSP, so a second
    aggressive call raised nothing)."""
    desk = Desk()
    first = desk.only(step_required(Step.INCIDENT, number=1))
    second = desk.only(step_required(Step.INCIDENT, number=2))
    assert [first.work_item_id, second.work_item_id] == [
        "MSP-INCIDENT:MSP-1:1",
        "MSP-INCIDENT:MSP-1:2",
    ]
    assert second.title.endswith("(aggressive call 2)")
    done = desk.only(step_done(Step.INCIDENT, outcome="recorded", number=1))
    assert done.work_item_id == "MSP-INCIDENT:MSP-1:1"
    assert desk.items["MSP-INCIDENT:MSP-1:2"].status is WorkItemStatus.OPEN, (
        "the second still awaits its own"
    )


@pytest.mark.rule("MSP-1.7")
def test_an_incident_task_raised_before_calls_were_numbered_is_ticked_off_by_the_first_incident():
    """ "Record a new incident and link it to the MSP." Issue 38: an MSP awaiting its incident when numbered incidents
    shipped kept MSP-INCIDENT:<msp>; its incident, recorded after the upgrade as incident 1, ticked off nothing, and
    the task refused a manual tick-off."""
    desk = Desk()
    old = desk.only(step_required(Step.INCIDENT))
    assert old.work_item_id == "MSP-INCIDENT:MSP-1"
    done = desk.only(step_done(Step.INCIDENT, outcome="recorded", number=1))
    assert done.work_item_id == "MSP-INCIDENT:MSP-1"
    assert desk.items["MSP-INCIDENT:MSP-1"].status is WorkItemStatus.TICKED_OFF
    both = Desk()
    both.handle(step_required(Step.INCIDENT))
    both.handle(step_required(Step.INCIDENT, number=1))
    ticked = both.handle(step_done(Step.INCIDENT, outcome="recorded", number=1))
    assert sorted(t.work_item_id for t in ticked) == ["MSP-INCIDENT:MSP-1", "MSP-INCIDENT:MSP-1:1"]
    assert len({t.event_id for t in ticked}) == 2, "one cause, two tick-offs: each its own id"
    second = Desk()
    second.only(step_required(Step.INCIDENT, number=2))
    assert second.handle(step_done(Step.INCIDENT, outcome="recorded", number=2))
    assert keys_of(step_done(Step.INCIDENT, number=2)) == ("MSP-INCIDENT:MSP-1:2",), (
        "only the first incident answers the old task"
    )
    assert keys_of(step_done(Step.PHONE, number=1)) == ("MSP-PHONE:MSP-1:1",)


def test_a_step_done_without_a_task_raised_ticks_nothing():
    """A Medicare MSP's SMS is 'not-applicable' and is never raised as a task."""
    assert Desk().handle(step_done(Step.SMS, outcome="not-applicable")) == []


# --------------------------------------------------------------------------- rule 4: manual tick-off, cancellation


@pytest.mark.rule("IM-4.5", "IM-5.4")
def test_an_officer_ticks_off_i059pl_with_a_doc_note():
    """Steps 5 and 8: 'Manually tick off the Work Item. Record details on a DOC.'"""
    desk = Desk()
    desk.handle(period_closed())
    done = desk.only(tick_off(I059PL))
    assert isinstance(done, WorkItemTickedOff)
    assert (done.actor, done.tick_off, done.doc_recorded) == ("OFF-5", TickOff.MANUAL, True)
    assert "doc_note" not in done.model_dump(), "the free-text note is not published"
    assert desk.history[-1].detail == {"doc_note": DOC_NOTE}


@pytest.mark.rule("IM-4.5")
@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_a_tick_off_without_a_doc_note_is_rejected(note):
    """'Record details on a DOC': a tick-off without one is refused, and the item stays open."""
    desk = Desk()
    desk.handle(period_closed())
    rejected = desk.only(tick_off(I059PL, note=note))
    assert isinstance(rejected, WorkItemActionRejected)
    assert (rejected.reason_code, rejected.action) == ("doc-note-required", "TickOffWorkItem")
    assert desk.items[I059PL].status is WorkItemStatus.OPEN


def test_a_tick_off_of_an_unknown_item_is_rejected():
    rejected = Desk().only(tick_off("I059PL:EXP-404:2027-03-01"))
    assert isinstance(rejected, WorkItemActionRejected)
    assert rejected.reason_code == "unknown-work-item"


def test_a_second_tick_off_is_rejected_as_already_closed():
    desk = Desk()
    desk.handle(period_closed())
    desk.handle(tick_off(I059PL))
    rejected = desk.only(tick_off(I059PL, officer="OFF-7"))
    assert isinstance(rejected, WorkItemActionRejected)
    assert rejected.reason_code == "already-closed"
    assert "ticked off on Wednesday 10 March 2027" in rejected.reason, (
        "a date and a status in words"
    )


def test_the_advice_to_correct_keeps_the_customers_zone_of_its_i059pl():
    """The item asking to correct the advice names no state of its own: it keeps the one its period's I059PL was
    raised with (a one-off in NSW: Sydney's); with no I059PL in sight, and for a cause without a state, the
    agency's (None)."""
    desk = Desk()
    desk.handle(period_closed(ExpenseKind.ONE_OFF))
    desk.handle(tick_off(I059PL))
    desk.handle(closure_reversed())
    [advice] = [i for k, i in desk.items.items() if k.startswith("IM-ADVICE-WRONG:")]
    assert advice.time_zone == "Australia/Sydney"
    perth = Desk()
    perth.handle(
        period_closed(ExpenseKind.ONE_OFF).model_copy(update={"state": AustralianState.WA})
    )
    assert perth.items[I059PL].time_zone == "Australia/Perth"
    weekly = Desk()
    weekly.handle(period_closed())  # a weekly with no state: the agency's time
    weekly.handle(tick_off(I059PL))
    weekly.handle(closure_reversed())
    [other] = [i for k, i in weekly.items.items() if k.startswith("IM-ADVICE-WRONG:")]
    assert other.time_zone is None
    flagged = Desk()
    flagged.handle(paid_twice())
    assert flagged.items["IM-PAID-TWICE:EXP-9:EXP-10"].time_zone is None, (
        "no period, no state: the agency's"
    )


def test_the_day_an_item_was_closed_is_read_on_the_customers_day():
    """Issue 38: the day a refusal gave for a closed item was the UTC instant's: an item ticked off at 08:30 on a
    Wednesday in Sydney read as ticked off on Tuesday. The customer's state, where its cause names it, gives the
    day; else Canberra's, named."""
    desk = Desk()
    desk.handle(period_closed(ExpenseKind.ONE_OFF))  # a one-off in NSW
    assert desk.items[I059PL].time_zone == "Australia/Sydney"
    wednesday_morning = T0.replace(
        day=9, hour=21, minute=30
    )  # Tuesday in UTC; 08:30 Wednesday in Sydney
    desk.now = wednesday_morning
    desk.handle(tick_off(I059PL))
    rejected = desk.only(tick_off(I059PL, officer="OFF-7"))
    assert "ticked off on Wednesday 10 March 2027" in rejected.reason
    assert "Canberra time" not in rejected.reason
    msp = Desk()
    msp.handle(step_required(Step.LETTER))
    msp.now = wednesday_morning
    msp.handle(step_done(Step.LETTER))
    again = msp.only(tick_off("MSP-LETTER:MSP-1", roles=["msp-officer"]))
    assert "Wednesday 10 March 2027 (Canberra time)" in again.reason, (
        "an MSP names no state: the agency's day"
    )


def test_an_msp_task_cannot_be_ticked_off_by_hand():
    desk = Desk()
    desk.handle(step_required(Step.LETTER))
    rejected = desk.only(tick_off(msp_item_id("MSP-1", Step.LETTER), roles=["msp-officer"]))
    assert isinstance(rejected, WorkItemActionRejected)
    assert rejected.reason_code == "ticked-off-automatically"


@pytest.mark.rule("IM-1.2", "IM-1.3")
def test_only_an_officer_trained_in_income_management_ticks_off_or_takes_an_i059pl_the_others_transfer():
    """103-01050060 step 1: "For Service Officers trained in Income Management, go to Step 2." "For Service
    Officers not trained in Income Management: [...] Cold transfer the customer to: [...] the Income Management
    Line". workitems re-checks the verified roles the console wrote into the request."""
    desk = Desk()
    desk.handle(period_closed())
    for request in (
        tick_off(I059PL, roles=["msp-approved-decision-maker"]),
        assign(I059PL, roles=[]),
    ):
        rejected = desk.only(request)
        assert isinstance(rejected, WorkItemActionRejected)
        assert rejected.reason_code == "role-required"
        assert rejected.way_out is not None
        assert "Income Management Line" in rejected.way_out
    assert isinstance(desk.only(tick_off(I059PL, roles=["im-trained"])), WorkItemTickedOff)


@pytest.mark.rule("IM-5.1")
def test_a_late_delivery_that_reopens_the_period_as_paid_cancels_i059pl_rather_than_ticking_it_off():
    """Step 5: I059PL means 'The payment is undelivered and will not be paid for that period'; once a delivery
    made within the window is processed, that is no longer true, so the item is cancelled, not ticked off."""
    desk = Desk()
    desk.handle(period_closed())
    cancelled = desk.only(closure_reversed())
    assert isinstance(cancelled, WorkItemCancelled)
    assert cancelled.reason_code == "period-paid-late"
    assert desk.items[I059PL].status is WorkItemStatus.CANCELLED
    rejected = desk.only(tick_off(I059PL))
    assert isinstance(rejected, WorkItemActionRejected)
    assert rejected.reason_code == "already-closed"


@pytest.mark.rule("IM-5.3")
def test_a_reversal_after_the_officer_ticked_off_asks_an_officer_to_correct_the_advice():
    """Step 5: "Advise the customer of the period that the payment was not delivered and discuss options if
    appropriate." Issue 38: the officer did, and ticked the I059PL off; then the period proved paid. The tick-off
    stands, and an item asks an officer to tell the customer (and to check a one-off issued in its place)."""
    desk = Desk()
    desk.handle(period_closed())
    desk.handle(tick_off(I059PL))
    raised = desk.only(closure_reversed())
    assert isinstance(raised, WorkItemRaised)
    assert raised.work_item_id == f"IM-ADVICE-WRONG:{I059PL.split(':', 1)[1]}"
    assert (raised.code, raised.queue, raised.tick_off, raised.subject_id) == (
        WorkItemCode.ADVICE_WRONG,
        Queue.INCOME_MANAGEMENT,
        TickOff.MANUAL,
        "EXP-1",
    )
    assert any("both may pay" in line for line in raised.instructions)
    assert desk.items[I059PL].status is WorkItemStatus.TICKED_OFF, "the tick-off stands"
    assert raised.procedure_step == 5, "the step the I059PL was raised at"
    assert raised.period_start == PERIOD
    assert desk.handle(closure_reversed()) == [], "the same reversal again raises nothing new"


def test_a_reversal_corrects_only_advice_given_never_a_cancelled_or_missing_i059pl():
    """Issue 38: only a ticked-off I059PL means the customer was advised; a reversal of an open one cancels it, a
    second reversal of a cancelled one and a reversal with no I059PL at all ask nobody to correct anything."""
    desk = Desk()
    desk.handle(period_closed())
    [cancelled] = desk.handle(closure_reversed())
    assert isinstance(cancelled, WorkItemCancelled)
    assert desk.handle(closure_reversed()) == [], "cancelled: no advice was given"
    assert desk.handle(closure_reversed(expense_id="EXP-NONE")) == [], (
        "no I059PL: nothing to correct"
    )
    assert not any(k.startswith("IM-ADVICE-WRONG") for k in desk.items)


# --------------------------------------------------------------------------- rule 5: deterministic keys


def test_the_same_closure_handled_three_times_raises_one_i059pl():
    desk, closed = Desk(), period_closed()
    assert types(desk.handle(closed)) == ["WorkItemRaised"]
    assert desk.handle(closed) == []
    assert desk.handle(closed) == []


def test_the_same_closure_published_again_with_a_new_event_id_raises_nothing_new():
    desk = Desk()
    desk.handle(period_closed())
    assert desk.handle(period_closed()) == []
    assert list(desk.items) == [I059PL]


def test_one_i059pl_per_expense_and_period():
    desk = Desk()
    desk.handle(period_closed(period=PERIOD))
    desk.handle(period_closed(period=PERIOD + timedelta(days=7)))
    desk.handle(period_closed(expense_id="EXP-2"))
    assert sorted(desk.items) == [
        "I059PL:EXP-1:2027-03-01",
        "I059PL:EXP-1:2027-03-08",
        "I059PL:EXP-2:2027-03-01",
    ]


def test_outputs_have_ids_derived_from_their_cause():
    closed = period_closed()
    assert (
        decide({}, closed, T0)[0].event_id
        == decide({}, closed, T0 + timedelta(hours=1))[0].event_id
    )


# --------------------------------------------------------------------------- rule 6: history and assignment


def test_every_transition_is_kept_with_actor_time_and_cause():
    desk = Desk()
    closed, taking, done = (
        period_closed(),
        assign(I059PL, assignee="OFF-6"),
        tick_off(I059PL, officer="OFF-6"),
    )
    for event in (closed, taking, done):
        desk.handle(event)
    assert [(h.transition, h.actor, h.cause_event_id) for h in desk.history] == [
        ("raised", "expenses", closed.event_id),
        ("assigned", "OFF-5", taking.event_id),
        ("ticked-off", "OFF-6", done.event_id),
    ]
    assert [h.at for h in desk.history] == [
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]
    assert desk.items[I059PL].assignee_id == "OFF-6"


def test_assigning_a_closed_item_is_rejected_and_assigning_it_again_to_the_same_officer_is_answered_nothing_to_do():
    desk = Desk()
    desk.handle(period_closed())
    assert isinstance(desk.only(assign(I059PL)), WorkItemAssigned)
    again = desk.only(assign(I059PL))
    assert isinstance(again, WorkItemActionRejected), (
        "issue 37, finding 11: a command that changes nothing is answered, never left pending"
    )
    assert again.reason_code == "nothing-to-do"
    assert "already assigned to OFF-6" in again.reason
    desk.handle(tick_off(I059PL))
    rejected = desk.only(assign(I059PL, assignee="OFF-8"))
    assert isinstance(rejected, WorkItemActionRejected)
    assert rejected.reason_code == "already-closed"


def test_of_two_officers_taking_one_item_as_they_saw_it_one_wins_and_the_other_is_told_who_has_it():
    """Issue 40: two officers pressing Assign to me on one item were both told Accepted; the last won unseen."""
    desk = Desk()
    desk.handle(period_closed())
    seen_free = {"expects_nobody": True}
    first = assign(I059PL, assignee="OFF-6", officer="OFF-6").model_copy(update=seen_free)
    second = assign(I059PL, assignee="OFF-7", officer="OFF-7").model_copy(update=seen_free)
    assert isinstance(desk.only(first), WorkItemAssigned)
    lost = desk.only(second)
    assert isinstance(lost, WorkItemActionRejected)
    assert lost.reason_code == "assigned-meanwhile"
    assert "OFF-6 has it now" in lost.reason
    taken = assign(I059PL, assignee="OFF-7", officer="OFF-7").model_copy(
        update={"expected_assignee_id": "OFF-6"}
    )
    assert isinstance(desk.only(taken), WorkItemAssigned), "taken from whom they saw holding it"
    assert isinstance(desk.only(assign(I059PL, assignee="OFF-8")), WorkItemAssigned), (
        "a request that says nothing of whom it saw (an older client) is not checked"
    )


def test_an_item_handed_back_is_in_its_queue_for_anyone_and_only_an_officer_of_the_queue_may_hand_it_back():
    """Issue 31: an officer could take an item but never give it back to the queue."""
    desk = Desk()
    desk.handle(period_closed())
    nothing = desk.only(unassign(I059PL))
    assert isinstance(nothing, WorkItemActionRejected), (
        "nobody has it: nothing to hand back, and said"
    )
    assert nothing.reason_code == "nothing-to-do"
    desk.handle(assign(I059PL, assignee="OFF-6"))
    refused = desk.only(unassign(I059PL, officer="OFF-9", roles=[]))
    assert isinstance(refused, WorkItemActionRejected)
    assert refused.reason_code == "role-required"
    assert desk.items[I059PL].assignee_id == "OFF-6"
    released = desk.only(unassign(I059PL))
    assert isinstance(released, WorkItemUnassigned)
    assert (released.previous_assignee_id, released.actor) == ("OFF-6", "OFF-6")
    assert desk.items[I059PL].assignee_id is None
    assert (desk.history[-1].transition, desk.history[-1].detail) == (
        "unassigned",
        {"previous_assignee_id": "OFF-6"},
    )
    desk.handle(assign(I059PL, assignee="OFF-7"))
    assert desk.items[I059PL].assignee_id == "OFF-7", "taken again by a colleague"


def test_a_hand_back_and_a_reassignment_record_why_and_who_had_the_item():
    """Issue 40: a hand-back and an item given away while someone holds it say why (a choice, not free text), and
    the reassignment names who had it."""
    desk = Desk()
    desk.handle(period_closed())
    taken = desk.only(assign(I059PL, assignee="OFF-6"))
    assert isinstance(taken, WorkItemAssigned)
    assert (taken.previous_assignee_id, taken.reason) == (None, None), (
        "taken from the queue: no one had it"
    )
    given = desk.only(
        assign(I059PL, assignee="OFF-7").model_copy(update={"reason": HandOverReason.AWAY})
    )
    assert isinstance(given, WorkItemAssigned)
    assert (given.previous_assignee_id, given.reason) == ("OFF-6", HandOverReason.AWAY)
    back = desk.only(
        unassign(I059PL, officer="OFF-7").model_copy(update={"reason": HandOverReason.SKILLS})
    )
    assert isinstance(back, WorkItemUnassigned)
    assert (back.previous_assignee_id, back.reason) == ("OFF-7", HandOverReason.SKILLS)


def test_an_sms_authorised_for_later_closes_its_decision_task_at_once_and_the_send_adds_nothing():
    """Issue 40: an SMS the approved decision maker had authorised for 10 minutes later kept its task open in the
    queue, as if still to decide, until the send. The decision is taken when it is authorised."""
    desk = Desk()
    desk.handle(step_required(Step.SMS, adm=True))
    authorised = MspSmsAuthorised(
        **env(
            "notification",
            event_type="MspSmsAuthorised",
            msp_id="MSP-1",
            officer_id="OFF-ADM-1",
            circumstance=SmsCircumstance.PRELIMINARY_BEFORE_NEXT_DAY_CALL,
            send_at=T0 + timedelta(minutes=10),
        )
    )
    ticked = desk.only(authorised)
    assert isinstance(ticked, WorkItemTickedOff)
    assert (ticked.work_item_id, ticked.outcome) == (msp_item_id("MSP-1", Step.SMS), "authorised")
    assert desk.handle(step_done(Step.SMS, outcome="sent")) == [], (
        "sent later: nothing more to close"
    )


def test_a_cancellation_is_kept_in_the_history_with_its_reason():
    desk = Desk()
    desk.handle(period_closed())
    desk.handle(closure_reversed())
    assert desk.history[-1].transition == "cancelled"
    assert desk.history[-1].detail["reason_code"] == "period-paid-late"


@pytest.mark.rule("IM-7.3")
def test_a_step_7_item_carries_the_deadline_its_cause_gives_and_an_i059pl_none():
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.' Issue 40: these items
    had no due time. The expenses service knows the customer's day 1 and day 2; the item carries what it says."""
    desk = Desk()
    deadline = T0 + timedelta(hours=14)
    raised = desk.only(paid_twice().model_copy(update={"act_by": deadline}))
    assert raised.due_at == deadline
    assert desk.only(escalation().model_copy(update={"act_by": deadline})).due_at == deadline
    assert Desk().only(paid_twice()).due_at is None, (
        "a cause from before deadlines were given: none"
    )


@pytest.mark.rule("IM-7.2")
def test_a_one_off_paid_twice_raises_a_manual_item_for_an_officer_trained_in_income_management():
    """Step 7: "If the expense is to be coded or the customer wants to vary the amount, the existing expense needs
    to be ceased before the new one-off expense can be coded." Issue 28: when a late delivery shows the ceased or
    ended one-off paid after all, the one-off coded meanwhile may pay too, and an officer is told."""
    desk = Desk()
    raised = desk.only(paid_twice())
    assert isinstance(raised, WorkItemRaised)
    assert raised.work_item_id == "IM-PAID-TWICE:EXP-9:EXP-10"
    assert (raised.code, raised.queue, raised.tick_off) == (
        WorkItemCode.PAID_TWICE,
        Queue.INCOME_MANAGEMENT,
        TickOff.MANUAL,
    )
    assert raised.instructions == ["Check both expenses with the customer."], (
        "the expenses service words the finding, with the customer's own date"
    )
    assert (raised.procedure_step, raised.guidance) == (7, NOT_TRAINED_GUIDANCE)
    assert desk.handle(paid_twice()) == [], "the same finding again raises nothing new"
    another = desk.only(paid_twice(others=("EXP-11", "EXP-10")))
    assert another.work_item_id == "IM-PAID-TWICE:EXP-9:EXP-10+EXP-11", (
        "another finding for the same one-off is an item of its own, naming its replacements"
    )
    done = desk.only(tick_off("IM-PAID-TWICE:EXP-9:EXP-10"))
    assert isinstance(done, WorkItemTickedOff)
