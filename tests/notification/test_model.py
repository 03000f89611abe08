"""The MSP implementation procedure as a model (issue 38): approvals, officers' actions and risk facts drawn in any
order, by officers with any roles, run through the real shell of ``notification.handlers`` (its loads of the MSPs a
rule needs besides its own, its saves, its due SMS) over the store fake that ``test_store_contract.py`` holds to
PostgreSQL, every event fed to the work items' decider as the bus would, and every promise of
``tests/notification/invariants.py`` checked after every step.

Drawn: MSPs approved for two customers who share numbers (a mobile that is another customer's, or a
representative's), phoning them appropriate or not, with or without a representative, described or only labelled;
calls of every outcome with or without aggression, to the customer or a representative, recorded again; SMS
authorised for every circumstance, now or later, or declined; risk facts; letters attached and sent (by post, or
refused by hand); incidents recorded (CIMS ids reused) or withdrawn; results recorded; time passing and the SMS timer
firing late; the desk's manual items ticked off. A bounded budget runs in the fast tier; ``MODEL_EXAMPLES`` runs
longer (``./dev model``)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from contracts.envelope import Event
from contracts.notification import (
    Agency,
    MspApproved,
    PhoneOutcome,
    Representative,
    RiskFact,
    Role,
    SmsCircumstance,
    SmsDispatchRequested,
)
from contracts.workitems import TickOffWorkItem
from notification import handlers
from notification.domain.decide import Policy
from servicekit.decider import WorkingSet
from tests.notification import builders as b
from tests.notification import invariants
from tests.notification.fake_store import FakeStore
from tests.support import model
from tests.support.model import Reach, explore, installed, open_manual_items
from workitems.domain.decider import WorkItems
from workitems.domain.model import WorkItem

pytestmark = pytest.mark.unit

START = datetime(2027, 3, 1, 9, tzinfo=UTC)
MSPS = ("MSP-1", "MSP-2", "MSP-3")
CUSTOMERS = ("CRN-A", "CRN-A", "CRN-B")
NUMBERS = ("+61491570006", "+61491570110")
"""Few numbers: a mobile on another record (another customer's, a representative's) is the common case."""
ROLES = (
    ["msp-officer"],
    ["msp-approved-decision-maker"],
    ["msp-officer", "msp-approved-decision-maker"],
    ["im-trained"],
)
ADM = ["msp-approved-decision-maker"]
LABELLED = ("Aggressive", "Behaved inappropriately", "Acted aggressively towards staff")
DESCRIBED = ("Aggressive. Threatened staff.", "Shouted threats at counter staff and threw a chair.")
"""Behaviours as approving officers write them: only labels, and descriptions (issue 38's misfires among them)."""
REACH = Reach()


class MspImplementation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = FakeStore()
        self._installed = installed(handlers, self.store)
        self._installed.__enter__()
        self.shell = handlers.Shell(Policy())
        self.now = START
        self.handled: list[invariants.Handled] = []
        self.published: list[Event] = []
        self.sent: list[SmsDispatchRequested] = []
        self.desk: WorkingSet[WorkItem] = WorkingSet(WorkItems(), {})
        self.ids = itertools.count(1)

    def teardown(self) -> None:
        REACH.ended(self.published)
        self._installed.__exit__(None, None, None)
        self.loop.close()

    def _envelope(self) -> dict[str, Any]:
        return {
            "event_id": uuid.UUID(int=next(self.ids)),
            "occurred_at": self.now,
            "correlation_id": uuid.UUID(int=next(self.ids)),
        }

    def _handle(self, message: Event) -> list[Event]:
        out = list(self.loop.run_until_complete(self.shell.batched.one(None, message, self.now)))
        self._published(message, out)
        return out

    def _published(self, message: object, out: list[Event]) -> None:
        self.handled.append(invariants.Handled(message, out))
        self.published += out
        self.sent += [e for e in out if isinstance(e, SmsDispatchRequested)]
        for event in out:  # workitems reads every notification event, in order
            self.desk.step(event, self.now)

    def _act(self, action: Event, msp_id: str, roles: list[str] | None = None) -> list[Event]:
        update: dict[str, Any] = {**self._envelope(), "msp_id": msp_id}
        if roles is not None:
            update["officer_roles"] = roles
        return self._handle(action.model_copy(update=update))

    # ------------------------------------------------------------------------------------------- approvals

    @initialize()
    def start(self) -> None:
        self.now = START

    @rule(
        msp=st.sampled_from(MSPS),
        customer=st.sampled_from(CUSTOMERS),
        mobile=st.sampled_from((*NUMBERS, None)),
        representative=st.sampled_from((None, *NUMBERS, "+61491570999")),
        phone_ok=st.booleans(),
        agency=st.sampled_from((Agency.CENTRELINK, Agency.CENTRELINK, Agency.MEDICARE)),
        what=st.sampled_from((*LABELLED, *DESCRIBED)),
    )
    def approve(
        self,
        msp: str,
        customer: str,
        mobile: str | None,
        representative: str | None,
        phone_ok: bool,
        agency: Agency,
        what: str,
    ) -> None:
        """An MSP approved (an id already approved is refused): its customer, their mobile, a nominee's number, its
        behaviour described or only labelled."""
        approval: MspApproved = b.approval(agency, phone_ok=phone_ok)
        reps = (
            [Representative(role=Role.NOMINEE, name=b.NOMINEE_NAME, phone=representative)]
            if representative
            else []
        )
        behaviours = [b.BEHAVIOUR.model_copy(update={"what": what})]
        self._handle(
            approval.model_copy(
                update={
                    **self._envelope(),
                    "msp_id": msp,
                    "customer_ref": customer,
                    "customer_mobile": mobile,
                    "representatives": reps,
                    "behaviours": behaviours,
                }
            )
        )

    # ------------------------------------------------------------------------------------------- officers

    @rule(
        msp=st.sampled_from(MSPS),
        contacted=st.sampled_from((Role.CUSTOMER, Role.CUSTOMER, Role.NOMINEE)),
        outcome=st.sampled_from(tuple(PhoneOutcome)),
        aggression=st.booleans(),
        no_more=st.booleans(),
        roles=st.sampled_from(ROLES),
    )
    def phone(
        self,
        msp: str,
        contacted: Role,
        outcome: PhoneOutcome,
        aggression: bool,
        no_more: bool,
        roles: list[str],
    ) -> None:
        """A call recorded (again, perhaps: the same call twice), by an officer with any roles."""
        explained = b.EVERYTHING if outcome is PhoneOutcome.SUCCESSFUL else None
        self._act(
            b.phone(outcome.value, contacted, explained, aggression, no_more_attempts=no_more),
            msp,
            roles,
        )

    @rule(
        msp=st.sampled_from(MSPS),
        circumstance=st.sampled_from(tuple(SmsCircumstance)),
        later=st.sampled_from((0, 0, 2, 20)),
        found_on_multiple=st.booleans(),
        adm=st.booleans(),
    )
    def authorise(
        self,
        msp: str,
        circumstance: SmsCircumstance,
        later: int,
        found_on_multiple: bool,
        adm: bool,
    ) -> None:
        send_at = self.now + timedelta(hours=later) if later else None
        self._act(
            b.authorise(
                circumstance, adm=adm, send_at=send_at, on_multiple_records=found_on_multiple
            ),
            msp,
        )

    @rule(msp=st.sampled_from(MSPS), roles=st.sampled_from(ROLES))
    def decline(self, msp: str, roles: list[str]) -> None:
        self._act(b.decline(), msp, roles)

    @rule(msp=st.sampled_from(MSPS), fact=st.sampled_from(tuple(RiskFact)))
    def risk(self, msp: str, fact: RiskFact) -> None:
        self._act(b.risk(fact), msp)

    @rule(
        msp=st.sampled_from(MSPS), method=st.sampled_from(("post", "post", "staff-hand-delivery"))
    )
    def letter(self, msp: str, method: str) -> None:
        """The signed and approved letter attached, then its dispatch recorded."""
        self._act(b.letter(letter_id=f"L-{msp}"), msp)
        self._act(b.dispatch(method), msp)

    @rule(msp=st.sampled_from(MSPS), cims=st.sampled_from(("CIMS-1", "CIMS-2", "CIMS-3")))
    def incident(self, msp: str, cims: str) -> None:
        self._act(b.incident(incident_id=cims), msp)

    @rule(msp=st.sampled_from(MSPS), number=st.integers(1, 3), adm=st.booleans())
    def withdraw(self, msp: str, number: int, adm: bool) -> None:
        self._act(b.withdraw(number, adm=adm), msp)

    @rule(msp=st.sampled_from(MSPS))
    def describe(self, msp: str) -> None:
        self._act(b.describe(), msp)

    @rule(msp=st.sampled_from(MSPS))
    def result(self, msp: str) -> None:
        self._act(b.result(), msp)

    @rule(data=st.data())
    def tick_off(self, data: st.DataObject) -> None:
        """An MSP officer ticks off an open manual item (a risk response)."""
        manual = open_manual_items(self.desk.after)
        if not manual:
            return
        self.desk.step(
            TickOffWorkItem(
                **self._envelope(),
                producer="console",
                event_type="TickOffWorkItem",
                work_item_id=data.draw(st.sampled_from(manual), label="item"),
                officer_id="OFF-MSP",
                officer_roles=["msp-officer"],
                doc_note="Followed the local response guidelines.",
            ),
            self.now,
        )

    # ------------------------------------------------------------------------------------------- time

    @rule(hours=st.sampled_from((1, 3, 24)))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def fire_timers(self) -> None:
        """The SMS timers, as late as the scheduler happens to be."""
        timers = self.shell.timers
        for due in self.loop.run_until_complete(timers.claim(None, self.now, 100)):
            fired = timers.fire(due, self.now)
            self.loop.run_until_complete(timers.save(None, [fired.change]))
            self._published(due, list(fired.events))

    # ------------------------------------------------------------------------------------------- the promises

    @invariant()
    def promises(self) -> None:
        REACH.steps += 1
        states = {
            k: s
            for k, s in self.loop.run_until_complete(self.store.load(None, self.store.rows)).items()
            if s
        }
        invariants.nobody_is_texted_who_must_not_be(self.sent, states)
        self.sent = []  # each SMS checked against the records as they were when it was sent
        invariants.cannot_be_contacted_only_after_the_customer_was_tried(self.handled)
        invariants.every_aggressive_call_has_its_own_incident(self.handled, states)
        invariants.a_preliminary_message_goes_only_before_its_call(self.handled)
        invariants.behaviours_only_labelled_are_never_taken_as_described(
            states, frozenset(LABELLED), frozenset(DESCRIBED)
        )
        items = {k: v for k, v in self.desk.after.items() if v is not None}
        invariants.every_msp_and_its_items_can_be_completed(
            states, items, self.shell.decider, self.now, self.published
        )


def test_the_procedure_keeps_its_promises_in_every_order_explored(report):
    """The model run: ``EXAMPLES`` runs of up to 60 steps, every promise checked after every step."""
    explore(MspImplementation, REACH, 60, "104-07050030", report)


def pinned(*steps: Any, before: Any = None) -> None:
    """Run ``steps`` (method name and arguments) through the model, every promise checked after each; ``before``
    prepares the model first (what an earlier release left behind)."""
    model.pinned(MspImplementation, *steps, before=before)


N0, ELSEWHERE = NUMBERS[0], "+61491570999"
WORKER = ["msp-officer"]


def approved(
    msp: str = "MSP-1",
    customer: str = "CRN-A",
    mobile: str | None = N0,
    rep: str | None = None,
    ok: bool = True,
) -> tuple[Any, ...]:
    return ("approve", msp, customer, mobile, rep, ok, Agency.CENTRELINK, DESCRIBED[1])


@pytest.mark.rule("MSP-2.3")
def test_pinned_a_customer_whose_nominee_was_phoned_instead_is_not_texted_as_one_who_cannot_be_contacted():
    """Issue 38: the SMS may be sent where the "customer cannot be contacted by phone". Phoning the customer was
    appropriate; the nominee was phoned instead, and the customer was texted though nobody had tried them."""
    pinned(
        approved(rep=ELSEWHERE),
        ("phone", "MSP-1", Role.NOMINEE, PhoneOutcome.SUCCESSFUL, False, False, WORKER),
        ("authorise", "MSP-1", SmsCircumstance.CANNOT_BE_CONTACTED, 0, False, True),
        ("fire_timers",),
    )


@pytest.mark.rule("MSP-2.6")
def test_pinned_a_preliminary_message_is_not_sent_after_the_next_day_call_was_made_and_was_unproductive():
    """Issue 38: "waiting until the next day to call the customer may result in a more productive discussion and the
    customer would benefit from a preliminary message." The call was made, unproductive, before the message went."""
    pinned(
        approved(),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.UNSUCCESSFUL, False, False, WORKER),
        ("authorise", "MSP-1", SmsCircumstance.PRELIMINARY_BEFORE_NEXT_DAY_CALL, 20, False, True),
        ("advance", 3),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.UNPRODUCTIVE, False, False, WORKER),
        ("advance", 24),
        ("fire_timers",),
    )


@pytest.mark.rule("MSP-2.8", "MSP-2.9")
def test_pinned_a_mobile_that_became_a_representatives_number_elsewhere_stops_the_scheduled_sms():
    """Issue 38: "the approved decision maker needs to make sure the mobile number on file is not recorded on
    multiple records." "Where this does occur, the SMS must not be sent and existing phone and letter notification
    provisions apply." The SMS was authorised for later; another customer's MSP, approved meanwhile, names that
    mobile as its nominee's number. The check ran at authorisation only, and ignored representatives' numbers."""
    pinned(
        approved(),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.UNSUCCESSFUL, False, False, WORKER),
        ("authorise", "MSP-1", SmsCircumstance.CANNOT_BE_CONTACTED, 2, False, True),
        approved("MSP-2", "CRN-B", None, N0),
        ("advance", 3),
        ("fire_timers",),
    )


@pytest.mark.rule("MSP-1.6", "MSP-1.7")
def test_pinned_an_aggressive_call_refused_for_want_of_a_role_asks_for_its_incident():
    """Issue 38: "If the customer displays aggression or counterproductive behaviour see Customer aggression -
    Response. Record a new incident and link it to the MSP." The call's record was refused for the officer's
    roles, and the aggression with it."""
    pinned(
        approved(),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.UNPRODUCTIVE, True, False, ["im-trained"]),
    )


@pytest.mark.rule("MSP-1.7", "MSP-4.1")
def test_pinned_an_incident_asked_for_by_the_same_call_recorded_twice_can_be_withdrawn_and_the_msp_completed():
    """Issue 38: "Record a new incident and link it to the MSP": the successful aggressive call recorded twice asked
    for incident 2; "Record the result of the customer contact in the MSP record" was possible only with a second
    CIMS id for the same call."""
    pinned(
        approved(),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.SUCCESSFUL, True, False, WORKER),
        ("phone", "MSP-1", Role.CUSTOMER, PhoneOutcome.SUCCESSFUL, True, False, WORKER),
        ("incident", "MSP-1", "CIMS-1"),
        ("withdraw", "MSP-1", 2, True),
        ("decline", "MSP-1", ADM),
        ("letter", "MSP-1", "post"),
        ("result", "MSP-1"),
    )


def _awaiting_since_before_numbers(model: MspImplementation) -> None:
    """An MSP awaiting its incident when numbered incidents shipped: its state as v3 stored it (one incident, asked
    for), and the desk's MSP-INCIDENT:<msp> task raised from the unnumbered request."""
    model.approve(*approved()[1:])
    model.phone("MSP-1", Role.CUSTOMER, PhoneOutcome.UNPRODUCTIVE, False, False, WORKER)
    [required] = [
        e
        for e in model._act(
            b.phone("unproductive", explained=None, aggression=True), "MSP-1", WORKER
        )
        if getattr(e, "step", None) == "incident"
    ]
    for work_item_id in [k for k in model.desk.after if k.startswith("MSP-INCIDENT:")]:
        model.desk.after.pop(work_item_id)
    model.desk.step(
        required.model_copy(update={"number": None, "event_id": uuid.uuid4()}), model.now
    )


@pytest.mark.rule("MSP-1.7")
def test_pinned_an_incident_task_raised_before_calls_were_numbered_closes_with_the_first_incident():
    """Issue 38: "Record a new incident and link it to the MSP." The MSP-INCIDENT:<msp> task of an MSP awaiting
    its incident across the upgrade was left open when the incident, now number 1, was recorded."""
    pinned(("incident", "MSP-1", "CIMS-1"), before=_awaiting_since_before_numbers)
