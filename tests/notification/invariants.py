"""What 104-07050030 promises, whatever arrives and in whatever order: written once, checked after every step of the
model (``tests/notification/test_model.py``). Each reads what the service published, what it was asked, and what it
stores, never how it decided, and names the rule and the sentence it comes from.

A violation is an ``AssertionError`` whose message says which promise broke and for which MSP."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from console.desk.records import Entry
from console.desk.views import msp_actions, msp_view

from contracts.catalogue import MSP_NOTIFICATION_EVENTS
from contracts.envelope import Event
from contracts.notification import (
    AttachMspLetter,
    DeclineMspSms,
    DescribeMspBehaviours,
    Explained,
    MspActionRejected,
    MspSmsAuthorised,
    MspStepDone,
    MspStepRequired,
    RecordLetterDispatch,
    RecordMspResult,
    RecordPhoneContact,
    RiskFact,
    SmsCircumstance,
    SmsDispatchRequested,
    Step,
    WithdrawMspIncident,
)
from contracts.workitems import TickOff, TickOffWorkItem, WorkItemTickedOff
from notification.domain.decide import phone_target, sms_due
from notification.domain.decider import Notification
from notification.domain.model import MspState, PhoneStatus, SmsStatus
from servicekit.decider import WorkingSet
from tests.support.model import officer_command
from workitems.domain.decider import WorkItems
from workitems.domain.model import WorkItem


@dataclass(frozen=True)
class Handled:
    """One message the service handled (not a redelivery its inbox set aside) and all it published."""

    message: object
    published: Sequence[Event]


def _accepted(h: Handled) -> bool:
    return not any(isinstance(e, MspActionRejected) for e in h.published)


def nobody_is_texted_who_must_not_be(
    sent: Sequence[SmsDispatchRequested], states: Mapping[str, MspState]
) -> None:
    """MSP-1.8: "There are limited circumstances where it is not appropriate to phone a customer": a decision not to
    contact the customer directly holds for a text too. MSP-2.9: "Where this does occur, the SMS must not be sent"
    (the mobile on file recorded on multiple records: another customer's mobile, or a representative's number here
    or on another MSP), checked against every record as the SMS is sent. MSP-2.11, MSP-2.13: never when suicide or
    self-harm, or family and domestic violence, is on the record."""
    for dispatch in sent:
        state = states[dispatch.msp_id]
        assert state.case.phone_customer_appropriate, (
            f"MSP-1.8: {dispatch.msp_id}'s customer was texted though it was decided not to contact them directly"
        )
        holders = sorted(
            k
            for k, other in states.items()
            if any(r.phone == dispatch.mobile for r in other.case.representatives)
            or (
                k != dispatch.msp_id
                and other.case.customer_mobile == dispatch.mobile
                and other.customer_ref != state.customer_ref
            )
        )
        assert not holders, (
            f"MSP-2.9: {dispatch.msp_id}'s SMS went to a mobile also recorded on {', '.join(holders)}"
        )
        risks = {RiskFact.SUICIDE_SELF_HARM, RiskFact.FAMILY_DOMESTIC_VIOLENCE} & set(state.risks)
        assert not risks, (
            f"MSP-2.11/2.13: {dispatch.msp_id}'s SMS went with a safety risk on the record"
        )


def cannot_be_contacted_only_after_the_customer_was_tried(handled: Sequence[Handled]) -> None:
    """MSP-2.3: the SMS may be sent where the "customer cannot be contacted by phone": only once the customer was
    phoned and not reached (a representative phoned instead is no try), or there was no one to phone."""
    tried: set[str] = set()
    for h in handled:
        m = h.message
        if (
            isinstance(m, RecordPhoneContact)
            and _accepted(h)
            and m.contacted.value == "customer"
            and m.outcome.value == "unsuccessful"
        ):
            tried.add(m.msp_id)
        for e in h.published:
            if (
                isinstance(e, MspStepDone)
                and e.step is Step.PHONE
                and e.outcome == PhoneStatus.SKIPPED
            ):
                tried.add(e.msp_id)
            if (
                isinstance(e, MspSmsAuthorised)
                and e.circumstance is SmsCircumstance.CANNOT_BE_CONTACTED
            ):
                assert e.msp_id in tried, (
                    f"MSP-2.3: {e.msp_id}'s SMS was authorised as 'cannot be contacted by phone' before anyone "
                    "tried to phone the customer"
                )


def a_preliminary_message_goes_only_before_its_call(handled: Sequence[Handled]) -> None:
    """MSP-2.6: "waiting until the next day to call the customer may result in a more productive discussion and the
    customer would benefit from a preliminary message": once a call was recorded after the message was authorised,
    that call was made, and the message it was to prepare is not sent."""
    preliminary: dict[str, bool] = {}
    called_since: set[str] = set()
    for h in handled:
        m = h.message
        if isinstance(m, RecordPhoneContact) and _accepted(h):
            called_since.add(m.msp_id)
        for e in h.published:
            if isinstance(e, MspSmsAuthorised):
                preliminary[e.msp_id] = (
                    e.circumstance is SmsCircumstance.PRELIMINARY_BEFORE_NEXT_DAY_CALL
                )
                called_since.discard(e.msp_id)
            if isinstance(e, SmsDispatchRequested) and preliminary.get(e.msp_id):
                assert e.msp_id not in called_since, (
                    f"MSP-2.6: {e.msp_id}'s preliminary message was sent after the call it was to prepare"
                )


def behaviours_only_labelled_are_never_taken_as_described(
    states: Mapping[str, MspState],
    labels: frozenset[str],
    descriptions: frozenset[str] = frozenset(),
) -> None:
    """MSP-1.2: "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without explaining
    why": an MSP whose behaviours are phrasings known to be only labels is not described, one whose behaviours are
    all known descriptions is (its officer is not asked again for what they already explained)."""
    for msp_id, state in states.items():
        whats = {b.what for b in state.case.behaviours}
        if whats & labels:
            assert not state.described, (
                f"MSP-1.2: {msp_id}'s behaviour {sorted(whats & labels)} was taken as described"
            )
        elif whats and whats <= descriptions:
            assert state.described, (
                f"MSP-1.2: {msp_id}'s behaviour {sorted(whats)} was taken for a label"
            )


def every_aggressive_call_has_its_own_incident(
    handled: Sequence[Handled], states: Mapping[str, MspState]
) -> None:
    """MSP-1.7: "If the customer displays aggression or counterproductive behaviour see Customer aggression -
    Response. Record a new incident and link it to the MSP": each aggressive call on a known MSP asks for its own
    numbered incident, whatever became of the call's record; each is recorded once with a CIMS incident no other
    call has, or withdrawn by an approved decision maker with the reason on the record."""
    asked: dict[str, list[int]] = {}
    answered: dict[tuple[str, int], list[str]] = {}
    for h in handled:
        m = h.message
        unknown = any(getattr(e, "reason_code", None) == "unknown-msp" for e in h.published)
        if isinstance(m, RecordPhoneContact) and m.aggression_displayed and not unknown:
            numbers = [
                e.number
                for e in h.published
                if isinstance(e, MspStepRequired) and e.step is Step.INCIDENT
            ]
            assert len(numbers) == 1, (
                f"MSP-1.7: an aggressive call on {m.msp_id} asked for {numbers}"
            )
            asked.setdefault(m.msp_id, []).append(numbers[0] or 1)  # unnumbered: the first
        for e in h.published:
            if isinstance(e, MspStepDone) and e.step is Step.INCIDENT:
                answered.setdefault((e.msp_id, e.number or 1), []).append(e.outcome)
    for msp_id, in_order in asked.items():
        assert in_order == list(range(1, len(in_order) + 1)), (
            f"MSP-1.7: {msp_id}'s calls asked for {in_order}"
        )
    for (msp_id, number), outcomes in answered.items():
        assert len(outcomes) == 1, f"MSP-1.7: {msp_id}'s incident {number} was answered {outcomes}"
        if outcomes == ["withdrawn"]:
            assert any(n.about == f"incident {number} withdrawn" for n in states[msp_id].notes), (
                f"MSP-1.7: {msp_id}'s incident {number} was withdrawn with no reason on the record"
            )
    ids = [(i, k) for k, s in states.items() for i in s.incidents if i]
    for incident_id, holders in itertools.groupby(sorted(ids), key=lambda p: p[0]):
        msps = [k for _, k in holders]
        assert len(msps) == 1, (
            f"MSP-1.7: the CIMS incident {incident_id} is recorded {len(msps)} times ({msps})"
        )


MSP_EVENTS = frozenset(MSP_NOTIFICATION_EVENTS.event_types)


def _entries(msp_id: str, published: Sequence[Event]) -> list[Entry]:
    """The MSP's events as the console reads them."""
    return [
        Entry(e.event_id, e.event_type, e.occurred_at, e)
        for e in published
        if e.event_type in MSP_EVENTS and e.key == msp_id
    ]


def every_msp_and_its_items_can_be_completed(
    states: Mapping[str, MspState],
    items: Mapping[str, WorkItem],
    decider: Notification,
    now: datetime,
    published: Sequence[Event],
) -> None:
    """MSP-4.1: "Record the result of the customer contact in the MSP record." In every state reached, each MSP can
    still reach that through the actions the console's MSP page offers at each point (worked out from the MSP's
    events as the console reads them), whatever was done, refused or asked for (two aggressive calls, an incident
    asked for in error included); and once it is, none of its work items is left open that no officer can close
    (its tasks ticked off by the steps done, the manual ones by an MSP officer). Tried on copies, never on the MSP
    or the desk themselves."""
    for msp_id, state in states.items():
        trial = WorkingSet(decider, dict(states))
        desk = WorkingSet(WorkItems(), dict(items))
        later = now + timedelta(days=3)
        seen = _entries(msp_id, published)
        for command in _completion(state, now):
            offered = msp_actions(msp_view(msp_id, seen))
            assert command.event_type in offered, (
                f"MSP-4.1: completing {msp_id} needs {command.event_type}, which its page does not offer "
                f"(it offers {offered})"
            )
            events = list(trial.step(command, later))
            current = trial.after[msp_id]
            assert current is not None
            if current.sms.status is SmsStatus.AUTHORISED:
                events += trial.step(sms_due(current), max(later, current.sms.send_at or later))
            for e in events:
                desk.step(e, later)
            seen += _entries(msp_id, events)
        done = trial.after[msp_id]
        assert done is not None
        assert done.completed, (
            f"MSP-4.1: {msp_id} cannot be completed through the console's actions (phone {done.phone.status}, "
            f"SMS {done.sms.status}, incident {done.incident}, letter {done.letter_dispatch})"
        )
        for work_item_id, item in sorted(desk.after.items()):
            if item is None or item.subject_id != msp_id or item.closed:
                continue
            assert item.tick_off is TickOff.MANUAL, (
                f"MSP-4.1: {work_item_id} is still open once {msp_id} is complete, and only its step closes it"
            )
            [ticked] = desk.step(
                officer_command(
                    TickOffWorkItem,
                    later,
                    ["msp-officer"],
                    work_item_id=work_item_id,
                    doc_note="Done.",
                ),
                later,
            )
            assert isinstance(ticked, WorkItemTickedOff), (
                f"MSP-4.1: {work_item_id} cannot be ticked off: {ticked}"
            )


EVERY_MSP_ROLE = ["msp-officer", "msp-approved-decision-maker"]


def _completion(state: MspState, now: datetime) -> list[Event]:
    """What officers would do, in order, to complete the MSP from ``state``."""

    def new(kind: type[Event], **fields: object) -> Event:
        return officer_command(kind, now, EVERY_MSP_ROLE, msp_id=state.msp_id, **fields)

    out: list[Event] = []
    if state.completed:  # an incident asked for after completion is still recorded, or withdrawn
        return [
            new(WithdrawMspIncident, number=n, withdrawal_reason="Trial.") for n in state.awaited
        ]
    if not state.described:
        out.append(
            new(
                DescribeMspBehaviours,
                behaviours=[
                    {
                        "what": "Shouted threats at counter staff.",
                        "occurred_on": "2027-02-12",
                        "channel": "in-person",
                    }
                ],
                reasons="Repeated threats to staff safety during visits.",
            )
        )
    target = phone_target(state.case)
    if state.phone.status is PhoneStatus.PENDING and target is not None:
        out.append(
            new(
                RecordPhoneContact,
                contacted=target,
                outcome="successful",
                explained=Explained(
                    reasons_and_behaviours=True,
                    duration_and_service_access=True,
                    contact_details=True,
                    letter_to_follow=True,
                ).model_dump(),
            )
        )
    if state.sms.status is SmsStatus.PENDING:
        out.append(new(DeclineMspSms))
    if state.letter_dispatch is None:
        out.append(
            new(
                AttachMspLetter,
                letter_id=f"L-{state.msp_id}-final",
                final=True,
                signed=True,
                approved=True,
                includes_contact_card=True,
            )
        )
        out.append(new(RecordLetterDispatch, method="post"))
    out += [new(WithdrawMspIncident, number=n, withdrawal_reason="Trial.") for n in state.awaited]
    return [*out, new(RecordMspResult)]
