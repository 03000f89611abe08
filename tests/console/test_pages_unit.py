"""The console's pure parts: what the pages work out from a subject's events, the forms made from the contracts
and read back, the HTML (labelled, escaped) and the session cookie."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from console import pages
from console.desk.due import SERVICE_LEVELS_H
from console.desk.records import Command, WorkItem
from console.desk.views import (
    codes_for,
    escalated,
    expense_actions,
    expense_view,
    msp_actions,
    msp_view,
    one_off_today,
    said,
)
from console.forms import fields_of, inputs
from console.issue import COMMANDS, request_schema
from console.sessions import SessionCookie, form_token, system_mark
from console.web.signing import cross_site
from jinja2 import UndefinedError
from starlette.datastructures import Headers

from contracts.notification import DescribeMspBehaviours, RecordPhoneContact, Step
from notification.domain.labels import behaviour_gaps
from tests.console.records import NOW, ONE_OFF, entry, raised, work_item

pytestmark = pytest.mark.unit

OFFICER = pages.Officer("OFF-1", ("msp-officer",), "f" * 32)


def test_an_msps_steps_say_what_is_done_what_is_required_now_and_what_is_to_come():
    """104-07050030: phone first; the SMS decision is for approved decision makers only."""
    view = msp_view(
        "MSP-1",
        [
            entry(
                "MspNotificationPlanned",
                customer_ref="CRN-1",
                agency="Centrelink",
                steps=["phone", "sms-decision", "letter", "record-result"],
            ),
            entry("MspStepRequired", step="phone", instructions=["Phone the customer."]),
            entry("MspStepDone", step="phone", outcome="successful: customer"),
            entry(
                "MspStepRequired",
                step="sms-decision",
                instructions=["SMS can only be sent by approved decision makers"],
                approved_decision_makers_only=True,
            ),
        ],
    )
    assert [(s.step, s.status) for s in view.steps] == [
        (Step.PHONE, "done"),
        (Step.SMS, "required"),
        (Step.LETTER, "to come"),
        (Step.RECORD_RESULT, "to come"),
    ]
    [required] = view.required
    assert required.approved_decision_makers_only
    assert required.actions == ("AuthoriseMspSms", "DeclineMspSms")
    assert (view.customer_ref, view.completed) == ("CRN-1", False)


@pytest.mark.rule("IM-7.3")
def test_an_expenses_windows_show_their_deadline_calendar_and_outcome_and_a_one_offs_two_days():
    """103-01050060: a one-off "cannot be ceased or varied on day 2"; a regular expense is retried for its
    period's window, then closed unpaid."""
    undelivered = {
        "status": "UNDLVD RI",
        "calendar": "7 calendar days",
        "failure_explanation": "Suspended.",
        "procedure_step": 4,
        "officer_options": ["Advise the customer"],
    }
    view = expense_view(
        "EXP-1",
        [
            entry(
                "ExpenseUndelivered",
                customer_ref="CRN-1",
                kind="weekly",
                amount="50.00",
                period_start="2027-03-01",
                window_closes_at="2027-03-08T13:00:00Z",
                **undelivered,
            ),
            entry(
                "UndeliveredExpensePeriodClosed",
                period_start="2027-03-01",
                closed_at="2027-03-08T13:00:00Z",
            ),
            entry(
                "ExpenseUndelivered",
                period_start="2027-03-08",
                window_closes_at="2027-03-15T13:00:00Z",
                **undelivered,
            ),
            entry(
                "ExpenseDelivered", period_start="2027-03-08", delivered_at="2027-03-10T01:00:00Z"
            ),
            entry(
                "ExpenseUndelivered",
                period_start="2027-03-15",
                window_closes_at="2027-03-22T13:00:00Z",
                **undelivered,
            ),
        ],
    )
    assert [(w.period_start, w.outcome) for w in view.windows] == [
        ("2027-03-01", "closed unpaid"),
        ("2027-03-08", "delivered"),
        ("2027-03-15", "retrying"),
    ]
    assert view.windows[0].calendar == "7 calendar days"
    one_off = expense_view(
        "EXP-2",
        [
            entry(
                "ExpenseUndelivered",
                kind="one-off",
                period_start="2027-03-01",
                window_closes_at="2027-03-02T13:00:00Z",
                day_1="2027-03-01",
                day_2="2027-03-02",
                **{**undelivered, "status": "UNDLVD IM"},
            ),
            entry("ExpenseCeased", closed_periods=["2027-03-01"]),
        ],
    )
    assert (one_off.one_off, one_off.day_1, one_off.day_2, one_off.ended) == (
        True,
        "2027-03-01",
        "2027-03-02",
        "ceased",
    )
    assert one_off.windows[0].outcome == "ceased"


def test_a_form_made_from_the_contract_reads_back_into_a_valid_action():
    schema, nested = request_schema(RecordPhoneContact)
    form = inputs(RecordPhoneContact, schema, nested, "MSP-1")
    assert [(f.name, f.kind) for f in form] == [
        ("msp_id", "hidden"),
        ("contacted", "select"),
        ("outcome", "select"),
        ("explained", "group"),
        ("aggression_displayed", "checkbox"),
        ("no_more_attempts", "checkbox"),
    ]
    submitted = {"msp_id": ["MSP-1"], "contacted": ["customer"], "outcome": ["unsuccessful"]}
    assert fields_of(form, submitted) == {
        "msp_id": "MSP-1",
        "contacted": "customer",
        "outcome": "unsuccessful",
        "aggression_displayed": False,
        "no_more_attempts": False,
    }, "nothing explained: no explained group"
    explained = fields_of(form, {**submitted, "explained.contact_details": ["true"]})
    assert explained["explained"] == {
        "reasons_and_behaviours": False,
        "duration_and_service_access": False,
        "contact_details": True,
        "letter_to_follow": False,
    }
    RecordPhoneContact.model_validate(
        {
            **explained,
            "event_id": uuid.uuid4(),
            "occurred_at": NOW,
            "producer": "c",
            "correlation_id": uuid.uuid4(),
            "officer_id": "OFF-1",
            "officer_roles": ["msp-officer"],
        }
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_actions_form_labels_every_control(command: str):
    kind = COMMANDS[command]
    schema, nested = request_schema(kind)
    html = pages.action_form(
        pages.ActionForm(command, command, inputs(kind, schema, nested, None), "key-1"), OFFICER
    )
    controls = re.findall(r'<(?:input|select|textarea) (?!type="hidden")[^>]*id="([^"]+)"', html)
    assert controls, "an action with fields has controls"
    for ident in controls:
        assert f'<label for="{ident}">' in html, (command, ident)
    assert 'name="form_token" value="' + "f" * 32 in html


def queue_of(*items: WorkItem) -> str:
    """The first page of an Income Management officer's open work, holding ``items``."""
    return pages.queue_page(
        OFFICER,
        pages.QueueQuery(None, "open", None, None, 1, 25),
        ["income-management"],
        ["I059PL"],
        list(items),
        len(items),
        pages.Due(SERVICE_LEVELS_H, NOW),
    )


def test_every_value_is_escaped():
    item = WorkItem(
        "I059PL:<x>",
        "income-management",
        "I059PL",
        "CRN-1",
        '<script>alert("x")</script>',
        "open",
        None,
        NOW,
        raised(subject_id="EXP-1", subject_type="expense"),
    )
    html = queue_of(item)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'href="/ui/work-items/I059PL%3A%3Cx%3E"' in html


def test_each_queue_row_has_a_cell_per_header_and_names_its_record_and_customer_as_links(
    monkeypatch,
):
    """Issue 40: the queue's cells were written by hand while its headers came from a list, so a forgotten cell
    shifted every later column; the About and Customer cells were text, not links."""
    item = work_item(
        "I059PL:E1:2027-03-01", "I059PL", "open", NOW, subject_id="EXP-1", subject_type="expense"
    )

    def queue(*extra: str) -> str:
        monkeypatch.setattr(pages, "COLUMN_TEXT", {**pages.COLUMN_TEXT, **{e: e for e in extra}})
        return queue_of(item)

    html = queue()
    [row] = re.findall(r"<tbody>(.*?)</tbody>", html, re.S)
    assert row.count("<td ") == html.count('<th scope="col"') == len(pages.COLUMN_TEXT)
    assert '<a href="/ui/expenses/EXP-1">EXP-1</a>' in row
    assert '<a href="/ui/customers/CRN-1">CRN-1</a>' in row
    with pytest.raises(UndefinedError, match="no_cell_for"):
        queue("a-new-column")  # a column with no cell fails loudly, it does not shift the others


def test_the_session_cookie_is_read_from_the_cookie_header_and_its_form_token_is_its_own():
    """Issue 26 found the cookie to be the JWT itself, without `Secure`: now a random session id, `__Host-` and
    `Secure` over TLS, `HttpOnly` and `SameSite=Strict` always."""
    served = SessionCookie(secure=True)
    scope = {
        "headers": [
            (b"cookie", b"theme=dark; __Host-officer_session=abc; officer_session=plain; other=1")
        ]
    }
    assert served.value(scope) == "abc"
    assert served.value({"headers": [(b"cookie", b"__Host-officer_session=")]}) is None
    assert (
        served.set("t", 60)
        == b"__Host-officer_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
    )
    assert (
        served.clear()
        == b"__Host-officer_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
    )
    development = SessionCookie(secure=False)
    assert development.value(scope) == "plain"
    assert (
        development.set("t", 60)
        == b"officer_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
    )
    assert form_token("a") != form_token("b")
    assert form_token("a") == form_token("a")


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        (
            {},
            False,
        ),  # no browser headers (a script with the link): the code is still one-time and short-lived
        (
            {b"sec-fetch-site": b"none", b"host": b"c:1"},
            False,
        ),  # typed or pasted into the address bar
        ({b"sec-fetch-site": b"same-origin", b"origin": b"http://c:1", b"host": b"c:1"}, False),
        (
            {b"sec-fetch-site": b"same-origin", b"origin": b"null", b"host": b"c:1"},
            False,
        ),  # our own no-referrer page
        ({b"sec-fetch-site": b"cross-site", b"host": b"c:1"}, True),
        ({b"sec-fetch-site": b"same-site", b"host": b"c:1"}, True),
        ({b"sec-fetch-site": b"cross-site", b"origin": b"http://c:1", b"host": b"c:1"}, True),
        (
            {b"origin": b"https://evil.example", b"host": b"c:1"},
            True,
        ),  # a browser without Sec-Fetch-Site
        ({b"origin": b"null", b"host": b"c:1"}, True),
    ],
)
def test_a_sign_in_from_another_site_is_refused(headers, refused):
    """Issue 26 found that a page on another site could sign the officer's browser in as someone else."""
    assert (cross_site(Headers(raw=list(headers.items()))) is not None) is refused


@pytest.mark.rule("MSP-1.1")
def test_a_list_of_behaviours_is_a_group_per_item_and_reads_back_into_the_described_behaviours():
    """104-07050030 step 1: "explain the reasons the MSP has been implemented, including a description of the
    behaviours taken into consideration": the approving officer describes each one, in its own group."""
    schema, nested = request_schema(DescribeMspBehaviours)
    form = inputs(DescribeMspBehaviours, schema, nested, "MSP-1")
    [behaviours] = [f for f in form if f.name == "behaviours"]
    assert behaviours.kind == "list"
    assert [g.name for g in behaviours.children] == ["behaviours.1", "behaviours.2", "behaviours.3"]
    assert [c.name for c in behaviours.children[0].children] == [
        "behaviours.1.what",
        "behaviours.1.occurred_on",
        "behaviours.1.channel",
    ]
    assert behaviours.children[0].children[0].required
    assert not behaviours.children[1].children[0].required
    submitted = {
        "msp_id": ["MSP-1"],
        "behaviours.1.what": ["Threw a chair at the counter officer."],
        "behaviours.1.occurred_on": ["2027-02-20"],
        "behaviours.1.channel": ["in-person"],
        "behaviours.2.what": [""],
    }
    fields = fields_of(form, submitted)
    assert fields["behaviours"] == [
        {
            "what": "Threw a chair at the counter officer.",
            "occurred_on": "2027-02-20",
            "channel": "in-person",
        }
    ]
    action = DescribeMspBehaviours.model_validate(
        {
            **fields,
            "event_id": uuid.uuid4(),
            "occurred_at": NOW,
            "producer": "c",
            "correlation_id": uuid.uuid4(),
            "officer_id": "OFF-1",
            "officer_roles": ["msp-officer"],
        }
    )
    assert behaviour_gaps(action.behaviours[0]) == []


@pytest.mark.rule("MSP-1.7")
def test_each_aggressive_calls_incident_is_a_step_of_its_own_until_its_own_is_recorded():
    """'Record a new incident and link it to the MSP.' Issue 40: the page keyed steps by name, so once the first
    call's incident was recorded the second showed as done and no form recorded it; one incident was listed twice."""
    planned = entry(
        "MspNotificationPlanned",
        customer_ref="CRN-1",
        agency="Centrelink",
        steps=["phone", "incident", "letter", "record-result"],
    )
    one = [planned, entry("MspStepRequired", step="incident", number=1, instructions=[])]
    assert [(s.step, s.number, s.status) for s in msp_view("MSP-1", one).steps] == [
        (Step.PHONE, None, "to come"),
        (Step.INCIDENT, 1, "required"),
        (Step.LETTER, None, "to come"),
        (Step.RECORD_RESULT, None, "to come"),
    ]
    two = [
        *one,
        entry("MspStepRequired", step="incident", number=2, instructions=[]),
        entry("MspStepDone", step="incident", number=1, outcome="recorded"),
    ]
    view = msp_view("MSP-1", two)
    incidents = [(s.name, s.status) for s in view.steps if s.step is Step.INCIDENT]
    assert incidents == [
        ("Incident record for aggressive call 1", "done"),
        ("Incident record for aggressive call 2", "required"),
    ]
    assert {"RecordIncident", "WithdrawMspIncident"} <= set(msp_actions(view))
    both = [*two, entry("MspStepDone", step="incident", number=2, outcome="recorded")]
    assert "RecordIncident" not in msp_actions(msp_view("MSP-1", both))


@pytest.mark.rule("MSP-2.2")
def test_an_msp_offers_only_what_its_steps_ask_now_and_an_authorised_sms_reads_as_decided():
    """'SMS can only be sent by approved decision makers', and once one has authorised it, it is decided. Issue 31:
    finished MSPs still offered the SMS and phone actions. Issue 40: the letter's dispatch and the result were
    offered before a letter existed, and an SMS authorised for later still read as a decision required now, with
    Authorise and Decline offered."""
    planned = entry(
        "MspNotificationPlanned",
        customer_ref="CRN-1",
        agency="Centrelink",
        steps=["phone", "sms-decision", "letter", "record-result"],
    )
    phoned = [
        planned,
        entry("MspStepRequired", step="phone", instructions=[]),
        entry("MspStepDone", step="phone", outcome="x"),
        entry("MspStepRequired", step="sms-decision", instructions=[]),
    ]
    assert msp_actions(msp_view("MSP-1", phoned)) == (
        "AuthoriseMspSms",
        "DeclineMspSms",
        "RecordRiskFact",
    ), "the step required now, and a risk fact at any time"
    authorised = [
        *phoned,
        entry("MspSmsAuthorised", send_at=datetime(2027, 3, 1, 0, 10, tzinfo=UTC)),
        entry("MspStepRequired", step="letter", instructions=[]),
    ]
    view = msp_view("MSP-1", authorised)
    [sms] = [s for s in view.steps if s.step is Step.SMS]
    assert (sms.status, sms.outcome) == (
        "scheduled",
        "authorised, to be sent Mon 1 Mar 2027, 11:10 AEDT",
    )
    assert msp_actions(view) == ("AttachMspLetter", "RecordRiskFact"), "no dispatch before a letter"
    attached = [*authorised, entry("MspLetterAccepted", letter_id="L-1")]
    assert msp_actions(msp_view("MSP-1", attached)) == (
        "AttachMspLetter",
        "RecordLetterDispatch",
        "RecordRiskFact",
    ), "once attached it may be sent, or replaced until it is"
    assert msp_actions(msp_view("MSP-1", [*attached, entry("MspNotificationCompleted")])) == ()


@pytest.mark.rule("IM-7.4")
def test_a_regular_expense_is_not_offered_a_one_offs_variation_or_removal():
    """103-01050060 step 7, for a one-off on day 2 in extreme hardship: "raise a mySupport webform." A weekly
    expense is ceased instead (step 4), so its page offers neither the variation nor the removal."""
    weekly = expense_view(
        "EXP-1",
        [
            entry(
                "ExpenseUndelivered",
                customer_ref="CRN-1",
                kind="weekly",
                period_start="2027-03-01",
                window_closes_at="2027-03-08T13:00:00Z",
                status="UNDLVD RI",
                calendar="7 days",
                failure_explanation=".",
                procedure_step=4,
                officer_options=[],
            )
        ],
    )
    assert expense_actions(weekly) == ("CeaseExpense",)
    one_off_entries = [ONE_OFF]
    one_off = expense_view("EXP-2", one_off_entries)
    assert expense_actions(one_off) == ("CeaseExpense",), (
        "varying is answered only with cease-and-code: it is not offered; the removal's steps only once escalated"
    )
    delivered = expense_view(
        "EXP-2",
        [
            *one_off_entries,
            entry(
                "ExpenseDelivered", period_start="2027-03-01", delivered_at="2027-03-01T03:00:00Z"
            ),
        ],
    )
    assert expense_actions(delivered) == (), "a delivered one-off can no longer be changed"


def test_a_send_at_control_takes_canberra_time_and_choices_read_in_the_procedures_words():
    """Issue 31: "Send at" had to be typed as ISO 8601, and the SMS form listed raw codes."""
    schema, nested = request_schema(COMMANDS["AuthoriseMspSms"])
    form = inputs(COMMANDS["AuthoriseMspSms"], schema, nested, "MSP-1")
    html = "".join(pages.control(f, "AuthoriseMspSms") for f in form)
    assert 'type="datetime-local"' in html
    assert ">customer cannot be contacted by phone.</option>" in html, (
        "104-07050030 step 2's own words"
    )
    assert ">customer-cannot-be-contacted-by-phone<" not in html
    assert '<option value="">Choose one</option>' in html, "no circumstance chosen for the officer"
    sent = fields_of(form, {"msp_id": ["MSP-1"], "send_at": ["2026-12-03T09:30"]})
    assert sent["send_at"] == "2026-12-03T09:30:00+11:00", "09:30 in Canberra, daylight saving"
    assert (
        fields_of(form, {"send_at": ["2027-06-03T09:30"]})["send_at"] == "2027-06-03T09:30:00+10:00"
    )
    assert (
        fields_of(form, {"send_at": ["2026-12-03T09:30:00+08:00"]})["send_at"]
        == "2026-12-03T09:30:00+08:00"
    )


@pytest.mark.rule("MSP-2.1")
def test_an_msp_task_is_due_by_the_agencys_service_level_and_says_so_and_an_income_management_item_is_not():
    """104-07050030 step 2: "it is important that customers are notified of the MSP decisions as soon as
    possible." How soon is the agency's: a setting, named as such on the page."""
    due = pages.Due(SERVICE_LEVELS_H, NOW)
    zone = ZoneInfo("Australia/Sydney")
    phone = work_item("MSP-PHONE:M1", "MSP-PHONE", "open", datetime(2027, 2, 27, 0, 0, tzinfo=UTC))
    text = due.text(phone, zone)
    assert text.startswith(
        "Due Sun 28 Feb 2027, 11:00 AEDT (overdue): the agency's service level for this task is "
        "24 hours from when it was raised (Sat 27 Feb 2027, 11:00 AEDT). MSP-2.1:"
    )
    assert due.when(phone, zone) == "Sun 28 Feb 2027, 11:00 AEDT (overdue)"
    done = work_item(
        "MSP-PHONE:M2", "MSP-PHONE", "ticked-off", datetime(2027, 2, 27, 0, 0, tzinfo=UTC)
    )
    assert "(overdue)" not in due.when(done, zone), "a finished task is not late"
    fresh = work_item("MSP-PHONE:M3", "MSP-PHONE", "open", NOW)
    assert "(overdue)" not in due.when(fresh, zone)
    i059pl = work_item("I059PL:E1:2027-03-01", "I059PL", "open", NOW)
    assert due.when(i059pl, zone) == "at the customer's next contact"
    assert due.text(i059pl, zone).startswith("No due time: IM-1.1")


@pytest.mark.rule("IM-7.3")
def test_a_paid_twice_item_is_due_when_the_later_one_offs_day_2_begins_and_says_why():
    """103-01050060 step 7: "Note: the expense cannot be ceased or varied on day 2. This must be done on day 1."
    Issue 40: the paid-twice, conflict and removal items had no due time and sank behind older I059PLs."""
    due = pages.Due(SERVICE_LEVELS_H, datetime(2027, 2, 28, 2, 0, tzinfo=UTC))
    perth = ZoneInfo("Australia/Perth")
    day_2 = datetime(2027, 2, 28, 16, 0, tzinfo=UTC)  # Monday 1 March 00:00 in Perth
    item = work_item(
        "IM-PAID-TWICE:E1:E2",
        "IM-PAID-TWICE",
        "open",
        datetime(2027, 2, 28, 1, 0, tzinfo=UTC),
        due_at=day_2,
    )
    assert due.when(item, perth) == "Mon 1 Mar 2027, 00:00 AWST"
    assert due.text(item, perth) == (
        "Due Mon 1 Mar 2027, 00:00 AWST: the later one-off can be ceased only until its day 2 begins, in the "
        "customer's state. IM-7.3: “the expense cannot be ceased or varied on day 2.”"
    )
    late = pages.Due(SERVICE_LEVELS_H, day_2 + timedelta(minutes=1))
    assert late.when(item, perth).endswith("(overdue)"), "once day 2 has begun it is too late"


@pytest.mark.rule("IM-7.3")
def test_a_one_offs_page_says_whether_today_is_day_1_or_day_2_from_its_stored_days():
    """103-01050060 step 7: "Note: the expense cannot be ceased or varied on day 2. This must be done on day 1." The
    customer's today, against the days stored when the window opened."""
    view_entries = [
        entry(
            "ExpenseUndelivered",
            customer_ref="CRN-1",
            kind="one-off",
            period_start="2027-03-05",
            window_closes_at="2027-03-08T13:00:00Z",
            status="UNDLVD IM",
            calendar="2 working days",
            failure_explanation=".",
            procedure_step=7,
            officer_options=[],
            day_1="2027-03-05",
            day_2="2027-03-08",
        )
    ]
    view = expense_view("EXP-2", view_entries)
    assert (
        one_off_today(view, date(2027, 3, 4))
        == "Day 1 is Friday 5 March 2027: the one-off can be ceased or "
        "varied then."
    )
    assert (
        one_off_today(view, date(2027, 3, 5))
        == "Today is day 1: the one-off can still be ceased or varied until day 2, Monday 8 March 2027, "
        "begins."
    ), "on a Friday, Saturday and Sunday still count as day 1: not 'today only'"
    assert one_off_today(view, date(2027, 3, 6)) == (
        "Today counts as day 1 (a weekend or public holiday before "
        "day 2, Monday 8 March 2027): the one-off can still be ceased or "
        "varied."
    ), "as the expenses service judges a cease then"
    assert one_off_today(view, date(2027, 3, 8)) == (
        "Today is day 2: the expense cannot be ceased or varied on day 2. "
        "(IM-7.3). In extreme hardship, escalate the removal."
    )
    assert one_off_today(view, date(2027, 3, 9)) is None
    paid = expense_view(
        "EXP-3",
        [
            *view_entries,
            entry(
                "ExpenseDelivered", period_start="2027-03-05", delivered_at="2027-03-05T03:00:00Z"
            ),
        ],
    )
    assert one_off_today(paid, date(2027, 3, 5)) == (
        "The one-off was delivered: it can no longer be ceased, varied or removed."
    ), "not 'Today is day 1' with cease, vary and removal each then refused"


def test_the_doc_note_hint_speaks_to_officers_not_integrators():
    """Issue 31 item 7: the tick-off form's hint spoke of rejection and dead letters, to integrators."""
    for command in ("TickOffWorkItem", "CeaseExpense"):
        schema, nested = request_schema(COMMANDS[command])
        [doc] = [f for f in inputs(COMMANDS[command], schema, nested, "X") if f.name == "doc_note"]
        assert doc.hint is not None
        assert doc.hint.startswith("Record details on a DOC")
        assert "dead-letter" not in doc.hint
        assert "rejected" not in doc.hint


def test_what_a_command_caused_names_the_step_or_item_it_was_about():
    """Issue 40: after a call the result page said only that a step was done and a step is required, not which."""
    assert said(entry("MspStepDone", step="phone", outcome="x").event) == (
        "Done: Phone the customer (or their nominee / power of attorney)"
    )
    assert said(entry("MspStepRequired", step="incident", number=2, instructions=[]).event) == (
        "Now required: Incident record for aggressive call 2"
    )
    assert said(entry("WorkItemRaised", title="Phone the customer").event) == (
        "Work item raised: Phone the customer"
    )
    assert said(entry("MspNotificationCompleted").event) == "Notification steps done", (
        "the rest in words"
    )


def test_each_systems_console_has_a_session_cookie_of_its_own():
    """Issue 40: two systems' consoles on one machine shared the session cookie, so signing in to one signed the
    officer out of the other. The name carries a mark of the system (its database and topics, never credentials)."""
    one = system_mark("postgresql://console:secret@127.0.0.1:5432/postgres", "")
    assert one == system_mark("postgresql://console:other@127.0.0.1:5432/postgres", "")
    assert one != system_mark("postgresql://console:secret@127.0.0.1:5433/postgres", "")
    assert one != system_mark("postgresql://console:secret@127.0.0.1:5432/postgres", "staging.")
    assert SessionCookie(True, one).name == f"__Host-officer_session_{one}"
    assert SessionCookie(False, one).name == f"officer_session_{one}"


@pytest.mark.rule("IM-7.4")
def test_a_day_2_cease_in_extreme_hardship_is_named_as_the_escalation_it_raised():
    """103-01050060 step 7: 'If unable to cease the expense as it is day 2 and there is extreme hardship requiring
    the new expense to be coded immediately, raise a mySupport webform.' Issue 40: it came back headed as a refused
    cease, and was listed as one."""
    assert escalated("CeaseExpense", ["ExpenseActionRejected", "ExpenseRemovalEscalationRequested"])
    assert not escalated("CeaseExpense", ["ExpenseActionRejected"]), "a plain refusal stays one"
    assert not escalated("VaryOneOffExpense", ["ExpenseRemovalEscalationRequested"])


def test_the_code_filter_lists_only_the_codes_of_the_officers_queues():
    """Issue 40: the Code filter listed codes the officer could never see."""
    assert codes_for(["income-management"]) == [
        "I059PL",
        "IM-REMOVAL-ESCALATION",
        "IM-ONE-OFF-CONFLICT",
        "IM-PAID-TWICE",
        "IM-ADVICE-WRONG",
    ]
    msp = codes_for(["msp-approved-decision-makers"])
    assert "MSP-SMS-DECISION" in msp
    assert [c for c in msp if not c.startswith("MSP-")] == []
    assert codes_for([]) == []


def test_a_commands_result_names_what_it_caused_and_links_each_record_it_names():
    """Issue 40: the result of an action says what it did, with links: each outcome names its step or item, and
    opens the record it is about; an outcome kept before links were (no record named) is said without one."""
    command = Command(
        uuid.uuid4(),
        "OFF-1",
        "RecordPhoneContact",
        "MSP-1",
        NOW,
        "accepted",
        [
            {
                "event_type": "MspStepDone",
                "said": "Done: Phone the customer",
                "subject": "msp",
                "key": "MSP-1",
            },
            {
                "event_type": "WorkItemRaised",
                "said": "Work item raised: MSP: send the letter",
                "subject": "work-item",
                "key": "MSP-LETTER:MSP-1",
            },
            {"event_type": "MspStepRequired", "said": "Now required: Signed and approved letter"},
        ],
        None,
        None,
        "f",
    )
    page = pages.command_page(OFFICER, command, "/ui/msp/MSP-1", None)
    assert '<li>Done: Phone the customer:\n<a href="/ui/msp/MSP-1">open it</a></li>' in page
    assert 'href="/ui/work-items/MSP-LETTER%3AMSP-1"' in page
    assert "<li>Now required: Signed and approved letter</li>" in page
