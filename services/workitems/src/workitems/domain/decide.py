"""Which work items an event raises, ticks off or cancels, and which officer requests are refused.

Every work item has a deterministic id made from its cause (I059PL: the expense and the period;
the MSP tasks: the MSP and the step), so a replayed or re-published event finds the item it already
raised and raises nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from contracts import expenses as im
from contracts.dates import day_in_words, in_words, zone_name
from contracts.envelope import Event
from contracts.expenses import (
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseKind,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    OneOffConflictDetected,
    OneOffPaidTwice,
    UndeliveredExpensePeriodClosed,
)
from contracts.notification import PROCEDURE as MSP_PROCEDURE
from contracts.notification import (
    MspRiskResponseRequired,
    MspSmsAuthorised,
    MspStepDone,
    MspStepRequired,
    Step,
)
from contracts.procedures import implements
from contracts.roles import may_issue, way_out
from contracts.workitems import (
    AssignWorkItem,
    Queue,
    TickOff,
    TickOffWorkItem,
    UnassignWorkItem,
    WorkItemActionRejected,
    WorkItemAssigned,
    WorkItemCancelled,
    WorkItemCode,
    WorkItemRaised,
    WorkItemReason,
    WorkItemStatus,
    WorkItemTickedOff,
    WorkItemUnassigned,
)
from workitems.domain.model import WorkItem
from workitems.domain.texts import (
    ADVICE_WRONG_TITLE,
    AUTOMATIC_COMPLETION,
    CONFLICT_TITLE,
    I059PL_TITLE,
    MSP_CODES,
    NOT_TRAINED_GUIDANCE,
    PAID_TWICE_TITLE,
    REMOVAL_TITLE,
    RISK_RESPONSE_TITLE,
    i059pl_instructions,
    msp_queue,
    msp_title,
)

PRODUCER = "workitems"
Items = Mapping[str, WorkItem]


# --------------------------------------------------------------------------- deterministic ids


def i059pl_id(expense_id: str, period_start: date) -> str:
    """One I059PL per expense and period."""
    return f"{WorkItemCode.I059PL}:{expense_id}:{period_start.isoformat()}"


def removal_id(expense_id: str) -> str:
    """One removal escalation per expense: asking twice on day 2 is still one request to the Service Desk."""
    return f"{WorkItemCode.REMOVAL_ESCALATION}:{expense_id}"


def conflict_id(expense_id: str) -> str:
    """One conflict per one-off the payments system coded while a sibling still tried."""
    return f"{WorkItemCode.ONE_OFF_CONFLICT}:{expense_id}"


def advice_wrong_id(expense_id: str, period_start: date) -> str:
    """One per period whose I059PL was ticked off before the period proved paid."""
    return f"{WorkItemCode.ADVICE_WRONG}:{expense_id}:{period_start.isoformat()}"


def paid_twice_id(expense_id: str, others: Sequence[str]) -> str:
    """One per one-off found paid after it was given up and the one-offs coded to replace it that it names: a
    replacement coded later still is named by an item of its own (issue 38)."""
    return f"{WorkItemCode.PAID_TWICE}:{expense_id}:{'+'.join(sorted(others))}"


def msp_item_id(msp_id: str, step: Step, number: int | None = None) -> str:
    """One task per MSP and step; for the incident step one per aggressive call ("Record a new incident"), numbered
    (an incident asked for before calls were numbered keeps the MSP's one id)."""
    return f"{MSP_CODES[step]}:{msp_id}" + ("" if number is None else f":{number}")


def risk_response_id(required: MspRiskResponseRequired) -> str:
    """The MSP's first, second, ... risk response: deterministic, and saying nothing of the fact (ids are logged)."""
    return f"{WorkItemCode.MSP_RISK_RESPONSE.value}:{required.msp_id}:{required.number}"


def keys_of(event: Event) -> tuple[str, ...]:
    """The work items ``event`` may touch (the handler loads and locks exactly these)."""
    match event:
        case UndeliveredExpensePeriodClosed():
            one_off = (removal_id(event.expense_id),) if event.kind is ExpenseKind.ONE_OFF else ()
            return i059pl_id(event.expense_id, event.period_start), *one_off
        case ExpenseClosureReversed():
            return (
                i059pl_id(event.expense_id, event.period_start),
                advice_wrong_id(event.expense_id, event.period_start),
            )
        case ExpenseRemovalEscalationRequested() | ExpenseRemoved() | ExpenseCeased():
            return (removal_id(event.expense_id),)
        case OneOffConflictDetected():
            return (conflict_id(event.expense_id),)
        case OneOffPaidTwice():
            return (paid_twice_id(event.expense_id, event.other_expense_ids),)
        case ExpenseDelivered() if event.kind is ExpenseKind.ONE_OFF:
            return (removal_id(event.expense_id),)
        case MspStepDone() if event.step is Step.INCIDENT and event.number == 1:
            return (msp_item_id(event.msp_id, event.step, 1), msp_item_id(event.msp_id, event.step))
        case MspStepRequired() | MspStepDone():
            return (msp_item_id(event.msp_id, event.step, event.number),)
        case MspSmsAuthorised():
            return (msp_item_id(event.msp_id, Step.SMS),)
        case MspRiskResponseRequired():
            return (risk_response_id(event),)
        case TickOffWorkItem() | AssignWorkItem() | UnassignWorkItem():
            return (event.work_item_id,)
    return ()


# --------------------------------------------------------------------------- decisions


def decide(items: Items, event: Event, now: datetime) -> list[Event]:
    """The work-item events ``event`` causes, given the items of :func:`keys_of` that exist."""
    match event:
        case UndeliveredExpensePeriodClosed():
            out = _raise_i059pl(items, event, now)
            if event.kind is ExpenseKind.ONE_OFF:
                out += _cancel(
                    items,
                    removal_id(event.expense_id),
                    event,
                    now,
                    WorkItemReason.EXPENSE_ENDED,
                    "The one-off expense ended undelivered (day 3): it will not pay again, so no removal "
                    "is needed before a new expense is coded.",
                )
            return out
        case ExpenseClosureReversed():
            return _cancel(
                items,
                i059pl_id(event.expense_id, event.period_start),
                event,
                now,
                WorkItemReason.PERIOD_PAID_LATE,
                f"A delivery attempted before the window closed was processed late: the period starting "
                f"{in_words(event.period_start)} was paid, so the expense was not undelivered after all.",
            ) or _advice_wrong(items, event, now)
        case ExpenseRemovalEscalationRequested():
            return _raise_removal(items, event, now)
        case OneOffConflictDetected():
            return _step_7_item(
                items,
                event,
                now,
                conflict_id(event.expense_id),
                WorkItemCode.ONE_OFF_CONFLICT,
                CONFLICT_TITLE,
                event.instructions,
                TickOff.MANUAL,
            )
        case OneOffPaidTwice():
            return _step_7_item(
                items,
                event,
                now,
                paid_twice_id(event.expense_id, event.other_expense_ids),
                WorkItemCode.PAID_TWICE,
                PAID_TWICE_TITLE,
                event.instructions,
                TickOff.MANUAL,
            )
        case ExpenseRemoved():
            return _tick_automatically(
                items,
                removal_id(event.expense_id),
                event,
                now,
                WorkItemReason.REMOVED_BY_SERVICE_DESK,
            )
        case ExpenseCeased():
            return _cancel(
                items,
                removal_id(event.expense_id),
                event,
                now,
                WorkItemReason.EXPENSE_CEASED,
                "The expense was ceased: no removal is needed before a new expense is coded.",
            )
        case ExpenseDelivered() if event.kind is ExpenseKind.ONE_OFF:
            return _cancel(
                items,
                removal_id(event.expense_id),
                event,
                now,
                WorkItemReason.EXPENSE_DELIVERED,
                "The one-off expense was delivered: there is nothing to remove.",
            )
        case MspStepRequired():
            return _raise_msp_task(items, event, now)
        case MspRiskResponseRequired():
            return _raised(
                items,
                event,
                now,
                risk_response_id(event),
                code=WorkItemCode.MSP_RISK_RESPONSE,
                title=RISK_RESPONSE_TITLE,
                queue=Queue.MSP,
                customer_ref=event.customer_ref,
                subject_type="msp",
                subject_id=event.msp_id,
                procedure=MSP_PROCEDURE,
                instructions=event.instructions,
                tick_off=TickOff.MANUAL,
            )
        case MspStepDone():
            # The first incident also answers the one task an MSP had before calls were numbered
            # (MSP-INCIDENT:<msp>): an MSP awaiting it across the upgrade records it as incident 1.
            return [
                ticked
                for work_item_id in keys_of(event)
                for ticked in _tick_automatically(items, work_item_id, event, now, event.outcome)
            ]
        case MspSmsAuthorised():
            # the decision is taken when it is authorised, even for a later send (issue 40): the task is done
            return _tick_automatically(
                items, msp_item_id(event.msp_id, Step.SMS), event, now, "authorised"
            )
        case TickOffWorkItem():
            return _tick_off_by_officer(items.get(event.work_item_id), event, now)
        case AssignWorkItem():
            return _assign(items.get(event.work_item_id), event, now)
        case UnassignWorkItem():
            return _unassign(items.get(event.work_item_id), event, now)
    return []


def _raised(
    items: Items, cause: Event, now: datetime, work_item_id: str, **fields: object
) -> list[Event]:
    if (
        work_item_id in items
    ):  # already raised (a replay, or the same fact published again): nothing new
        return []
    return [
        WorkItemRaised.caused_by(
            cause,
            producer=PRODUCER,
            occurred_at=now,
            variant=work_item_id,
            work_item_id=work_item_id,
            actor=cause.producer,
            **fields,
        )
    ]


@implements("IM-1.1", "IM-1.4", "IM-3.4", "IM-5.1", "IM-5.2", "IM-5.3", "IM-8.1")
def _raise_i059pl(
    items: Items, closed: UndeliveredExpensePeriodClosed, now: datetime
) -> list[Event]:
    """103-01050060 steps 3 and 6: when the window closes unpaid (regular) or the one-off ends undelivered,
    'I059PL - A previous expense was not delivered, please discuss with customer' is created."""
    period = in_words(closed.period_start)
    return _expense_item(
        items,
        closed,
        now,
        i059pl_id(closed.expense_id, closed.period_start),
        WorkItemCode.I059PL,
        I059PL_TITLE,
        closed.procedure_step,
        i059pl_instructions(closed.procedure_step, closed.kind, f"the period starting {period}"),
    )


def _expense_item(
    items: Items,
    cause: UndeliveredExpensePeriodClosed
    | ExpenseClosureReversed
    | ExpenseRemovalEscalationRequested
    | OneOffConflictDetected
    | OneOffPaidTwice,
    now: datetime,
    work_item_id: str,
    code: WorkItemCode,
    title: str,
    step: int | None,
    instructions: list[str],
    tick_off: TickOff = TickOff.MANUAL,
) -> list[Event]:
    """An item about one expense (and its period, where the cause names one) on the Income Management queue, with
    the guidance for officers not trained in Income Management: an I059PL, the advice to correct, the removal
    escalation, a one-off conflict, a one-off paid twice."""
    return _raised(
        items,
        cause,
        now,
        work_item_id,
        code=code,
        title=title,
        queue=Queue.INCOME_MANAGEMENT,
        customer_ref=cause.customer_ref,
        subject_type="expense",
        subject_id=cause.expense_id,
        procedure=im.PROCEDURE,
        procedure_step=step,
        period_start=getattr(cause, "period_start", None),
        instructions=instructions,
        guidance=NOT_TRAINED_GUIDANCE,
        tick_off=tick_off,
        time_zone=_customers_zone(items, cause),
        due_at=getattr(cause, "act_by", None),
    )


def _customers_zone(items: Items, cause: Event) -> str | None:
    """The customer's time zone: from their state where the cause names it (a period closed), else from the I059PL
    of the period it is about (the advice to correct); None (the agency's) where neither says."""
    state = getattr(cause, "state", None)
    if state is not None:
        return zone_name(state)
    period = getattr(cause, "period_start", None)
    earlier = items.get(i059pl_id(cause.key, period)) if period is not None else None
    return earlier.time_zone if earlier is not None else None


ADVICE_WRONG_INSTRUCTIONS = [
    "Advise the customer of the period that the payment was not delivered: that advice was given for this period "
    "and the work item ticked off, but a delivery attempted before the window closed was processed later: the "
    "period was paid.",
    "Tell the customer the payment was delivered after all. If a one-off payment was issued in its place, check "
    "both with the customer: both may pay.",
    "Manually tick off the Work Item. Record details on a DOC.",
]


def _advice_wrong(items: Items, reversed_: ExpenseClosureReversed, now: datetime) -> list[Event]:
    """Steps 5 and 8: "Advise the customer of the period that the payment was not delivered". Where the I059PL was
    already ticked off (the advice given) when the period proved paid, an officer is asked to correct it."""
    advised = items.get(i059pl_id(reversed_.expense_id, reversed_.period_start))
    if advised is None or advised.status is not WorkItemStatus.TICKED_OFF:
        return []
    return _expense_item(
        items,
        reversed_,
        now,
        advice_wrong_id(reversed_.expense_id, reversed_.period_start),
        WorkItemCode.ADVICE_WRONG,
        ADVICE_WRONG_TITLE,
        advised.procedure_step,
        [f"The period starting {in_words(reversed_.period_start)}.", *ADVICE_WRONG_INSTRUCTIONS],
    )


@implements("IM-7.4", "IM-7.5")
def _raise_removal(
    items: Items, request: ExpenseRemovalEscalationRequested, now: datetime
) -> list[Event]:
    """103-01050060 step 7: day 2 and extreme hardship: raise a mySupport webform, then phone the ICT Service
    Desk quoting the job number to request the removal of the existing expense."""
    return _step_7_item(
        items,
        request,
        now,
        removal_id(request.expense_id),
        WorkItemCode.REMOVAL_ESCALATION,
        REMOVAL_TITLE,
        request.steps,
        TickOff.AUTOMATIC,
    )


def _step_7_item(
    items: Items,
    cause: ExpenseRemovalEscalationRequested | OneOffConflictDetected | OneOffPaidTwice,
    now: datetime,
    work_item_id: str,
    code: WorkItemCode,
    title: str,
    instructions: list[str],
    tick_off: TickOff,
) -> list[Event]:
    """A step-7 item: the removal escalation, a one-off conflict, a one-off paid twice."""
    return _expense_item(items, cause, now, work_item_id, code, title, 7, instructions, tick_off)


@implements("MSP-1.6")
def _raise_msp_task(items: Items, required: MspStepRequired, now: datetime) -> list[Event]:
    """104-07050030: phone, SMS decision (approved decision makers only), letter, incident, record the result; and
    the approving officer's own task, assigned to them, to describe behaviours an approval only labelled."""
    work_item_id = msp_item_id(required.msp_id, required.step, required.number)
    title = msp_title(required.step, required.contact_role)
    raised = _raised(
        items,
        required,
        now,
        work_item_id,
        code=MSP_CODES[required.step],
        title=title if required.number is None else f"{title} (aggressive call {required.number})",
        queue=msp_queue(required.approved_decision_makers_only),
        customer_ref=required.customer_ref,
        subject_type="msp",
        subject_id=required.msp_id,
        procedure=MSP_PROCEDURE,
        instructions=required.instructions,
        briefing=required.briefing,
        tick_off=TickOff.AUTOMATIC,
        approved_decision_makers_only=required.approved_decision_makers_only,
    )
    if raised and required.for_officer:
        raised.append(
            WorkItemAssigned.caused_by(
                required,
                producer=PRODUCER,
                occurred_at=now,
                variant=f"{work_item_id}:assigned",
                work_item_id=work_item_id,
                code=MSP_CODES[required.step],
                assignee_id=required.for_officer,
                actor=required.producer,
            )
        )
    return raised


def _tick_automatically(
    items: Items, work_item_id: str, done: Event, now: datetime, outcome: str
) -> list[Event]:
    item = items.get(work_item_id)
    if (
        item is None or item.closed
    ):  # nothing was raised for it (a skipped step), or it is already closed
        return []
    return [
        WorkItemTickedOff.caused_by(
            done,
            producer=PRODUCER,
            occurred_at=now,
            variant=work_item_id,
            work_item_id=work_item_id,
            code=item.code,
            customer_ref=item.customer_ref,
            actor=done.producer,
            tick_off=TickOff.AUTOMATIC,
            outcome=outcome,
        )
    ]


def _cancel(
    items: Items,
    work_item_id: str,
    cause: Event,
    now: datetime,
    reason_code: WorkItemReason,
    reason: str,
) -> list[Event]:
    item = items.get(work_item_id)
    if item is None or item.closed:
        return []
    return [
        WorkItemCancelled.caused_by(
            cause,
            producer=PRODUCER,
            occurred_at=now,
            variant=work_item_id,
            work_item_id=work_item_id,
            code=item.code,
            customer_ref=item.customer_ref,
            actor=cause.producer,
            reason_code=reason_code,
            reason=reason,
        )
    ]


OfficerRequest = TickOffWorkItem | AssignWorkItem | UnassignWorkItem


def _rejected(
    request: OfficerRequest,
    now: datetime,
    code: WorkItemReason,
    reason: str,
    way_out: str | None = None,
) -> list[Event]:
    return [
        WorkItemActionRejected.caused_by(
            request,
            producer=PRODUCER,
            occurred_at=now,
            work_item_id=request.work_item_id,
            action=request.event_type,
            rejected_event_id=str(request.event_id),
            officer_id=request.officer_id,
            reason_code=code,
            reason=reason,
            way_out=way_out,
        )
    ]


@implements("IM-1.2", "IM-1.3")
def _refusal(item: WorkItem | None, request: OfficerRequest, now: datetime) -> list[Event]:
    """The rejections common to every request on an item: it must exist and be open, and the officer's verified
    roles must open its queue (103-01050060 step 1: "For Service Officers trained in Income Management, go to
    Step 2"; the others transfer the customer)."""
    if item is None:
        return _rejected(
            request,
            now,
            WorkItemReason.UNKNOWN_WORK_ITEM,
            f"There is no work item {request.work_item_id}.",
        )
    if item.closed:
        when = day_in_words(item.closed_at, item.time_zone) if item.closed_at else "earlier"
        return _rejected(
            request,
            now,
            WorkItemReason.ALREADY_CLOSED,
            f"The work item was {item.status.value.replace('-', ' ')} on {when}; a closed work item cannot be "
            "changed.",
        )
    if not may_issue(request.officer_roles, request.event_type, item.queue):
        return _rejected(
            request,
            now,
            WorkItemReason.ROLE_REQUIRED,
            f"The officer's roles do not open the {item.queue.value} queue of this work item.",
            way_out(request.event_type, item.queue),
        )
    return []


@implements("IM-4.5", "IM-5.4")
def _tick_off_by_officer(
    item: WorkItem | None, request: TickOffWorkItem, now: datetime
) -> list[Event]:
    """103-01050060 steps 5 and 8: 'Manually tick off the Work Item. Record details on a DOC.'"""
    if refusal := _refusal(item, request, now):
        return refusal
    assert item is not None
    if item.tick_off is TickOff.AUTOMATIC:
        return _rejected(
            request,
            now,
            WorkItemReason.TICKED_OFF_AUTOMATICALLY,
            f"This work item is ticked off automatically when {AUTOMATIC_COMPLETION[item.code]}; "
            "record that instead.",
        )
    if not (request.doc_note or "").strip():
        return _rejected(
            request,
            now,
            WorkItemReason.DOC_NOTE_REQUIRED,
            "Record details on a DOC: a work item is ticked off with the DOC note of the discussion "
            "with the customer.",
        )
    return [
        WorkItemTickedOff.caused_by(
            request,
            producer=PRODUCER,
            occurred_at=now,
            work_item_id=item.work_item_id,
            code=item.code,
            customer_ref=item.customer_ref,
            actor=request.officer_id,
            tick_off=TickOff.MANUAL,
            doc_recorded=True,
        )
    ]


def _assign(item: WorkItem | None, request: AssignWorkItem, now: datetime) -> list[Event]:
    """The officer's assignment, unless the item changed hands since they looked: then they are told who has it."""
    if refusal := _refusal(item, request, now):
        return refusal
    assert item is not None
    expected = None if request.expects_nobody else request.expected_assignee_id
    if (request.expects_nobody or expected is not None) and item.assignee_id != expected:
        holder = item.assignee_id or "nobody (it was handed back to its queue)"
        return _rejected(
            request,
            now,
            WorkItemReason.ASSIGNED_MEANWHILE,
            f"The work item changed hands since you looked: {holder} has it now.",
            "Open the work item again to see who has it before you take or give it.",
        )
    if (
        item.assignee_id == request.assignee_id
    ):  # already theirs: answered, so nobody waits for ever
        return _rejected(
            request,
            now,
            WorkItemReason.NOTHING_TO_DO,
            f"Nothing to do: the work item is already assigned to {request.assignee_id}.",
        )
    return [
        WorkItemAssigned.caused_by(
            request,
            producer=PRODUCER,
            occurred_at=now,
            work_item_id=item.work_item_id,
            code=item.code,
            assignee_id=request.assignee_id,
            actor=request.officer_id,
            previous_assignee_id=item.assignee_id,
            reason=request.reason,
        )
    ]


def _unassign(item: WorkItem | None, request: UnassignWorkItem, now: datetime) -> list[Event]:
    """Back to the queue: an item assigned to nobody is there for whoever opens the queue to take."""
    if refusal := _refusal(item, request, now):
        return refusal
    assert item is not None
    if item.assignee_id is None:  # nobody has it: answered, so nobody waits for ever
        return _rejected(
            request,
            now,
            WorkItemReason.NOTHING_TO_DO,
            "Nothing to do: the work item is assigned to nobody; it is in its queue already.",
        )
    return [
        WorkItemUnassigned.caused_by(
            request,
            producer=PRODUCER,
            occurred_at=now,
            work_item_id=item.work_item_id,
            code=item.code,
            previous_assignee_id=item.assignee_id,
            actor=request.officer_id,
            reason=request.reason,
        )
    ]
