"""The console's pages and role rules over HTTP, on the real, secured broker and database: who may issue what (a
table written from the procedures, not read from the code), the browser session (cookie, form token, security
headers), reads scoped by role and audited, and a queue's filters and paging."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from console.issue import COMMANDS
from console.sessions import SessionCookie, system_mark

from contracts.catalogue import TEAM_NOTIFICATIONS
from contracts.roles import OPERATIONS, TRANSFER_GUIDANCE, OfficerRole
from contracts.workitems import Queue, TickOff, WorkItemCode, WorkItemRaised, WorkItemTickedOff
from devstack.tokens import Signer
from servicekit.clock import SimulatedClock
from tests.console.test_console_on_real_broker import console, officer
from tests.support.kafka_tools import eventually, publish_events, read_topic
from tests.support.signin import BROWSER, code_of, keep_cookie, press_sign_in, sign_in, sign_in_link
from tests.workitems.builders import T0, env

pytestmark = pytest.mark.integration

MSP, ADM, IM = (
    OfficerRole.MSP_OFFICER.value,
    OfficerRole.MSP_APPROVED_DECISION_MAKER.value,
    OfficerRole.IM_TRAINED.value,
)
ITEMS = {
    Queue.INCOME_MANAGEMENT: "I059PL:EXP-R:2027-03-01",
    Queue.MSP: "MSP-PHONE:MSP-R",
    Queue.MSP_APPROVED_DECISION_MAKERS: "MSP-SMS-DECISION:MSP-R",
}
BODIES: dict[str, dict[str, Any]] = {
    "RecordPhoneContact": {"msp_id": "MSP-R", "contacted": "customer", "outcome": "unsuccessful"},
    "RecordIncident": {"msp_id": "MSP-R", "incident_id": "INC-1", "linked_to_msp": True},
    "WithdrawMspIncident": {"msp_id": "MSP-R", "number": 1, "withdrawal_reason": "Recorded twice."},
    "RecordRiskFact": {"msp_id": "MSP-R", "fact": "mobile-on-multiple-records"},
    "AuthoriseMspSms": {
        "msp_id": "MSP-R",
        "circumstance": "customer-cannot-be-contacted-by-phone",
        "smem_checked": True,
        "mobile_checked": True,
    },
    "DeclineMspSms": {"msp_id": "MSP-R"},
    "AttachMspLetter": {
        "msp_id": "MSP-R",
        "letter_id": "L-1",
        "final": True,
        "signed": True,
        "approved": True,
        "includes_contact_card": True,
    },
    "RecordLetterDispatch": {"msp_id": "MSP-R", "method": "post"},
    "RecordMspResult": {"msp_id": "MSP-R"},
    "DescribeMspBehaviours": {
        "msp_id": "MSP-R",
        "behaviours": [
            {
                "what": "Threw a chair at the counter officer.",
                "occurred_on": "2027-02-20",
                "channel": "in-person",
            }
        ],
    },
    "CeaseExpense": {"expense_id": "EXP-R"},
    "VaryOneOffExpense": {"expense_id": "EXP-R", "new_amount": "10.00"},
    "CodeOneOffExpense": {
        "expense_id": "EXP-R2",
        "customer_ref": "CRN-R",
        "payee_id": "P-1",
        "amount": "10.00",
        "state": "NSW",
    },
    "RecordExpenseRemoval": {"expense_id": "EXP-R", "mysupport_job": "MS-1"},
    "RecordMySupportJob": {"expense_id": "EXP-R", "mysupport_job": "MS-1"},
}
WHO_MAY: dict[str, set[str]] = {
    # 104-07050030: the MSP's officers phone, record incidents and risks, send the letter and record the result
    # (and describe the behaviours an approval only labelled: the approving officer is one of them)
    **{
        c: {MSP, ADM}
        for c in (
            "RecordPhoneContact",
            "RecordIncident",
            "RecordRiskFact",
            "AttachMspLetter",
            "RecordLetterDispatch",
            "RecordMspResult",
            "DescribeMspBehaviours",
        )
    },
    # 104-07050030 step 2: "SMS can only be sent by approved decision makers"
    "AuthoriseMspSms": {ADM},
    "DeclineMspSms": {ADM},
    # an incident asked for in error is withdrawn by an approved decision maker (issue 38)
    "WithdrawMspIncident": {ADM},
    # 103-01050060 step 1: "For Service Officers trained in Income Management, go to Step 2"
    **{
        c: {IM}
        for c in (
            "CeaseExpense",
            "VaryOneOffExpense",
            "CodeOneOffExpense",
            "RecordExpenseRemoval",
            "RecordMySupportJob",
        )
    },
}
ITEM_WORKERS = {
    Queue.INCOME_MANAGEMENT: {IM},
    Queue.MSP: {MSP, ADM},
    Queue.MSP_APPROVED_DECISION_MAKERS: {ADM},
}


def raised(
    work_item_id: str, queue: Queue, code: WorkItemCode, subject: str = "EXP-R"
) -> WorkItemRaised:
    return WorkItemRaised(
        **env(
            "workitems",
            event_type="WorkItemRaised",
            work_item_id=work_item_id,
            code=code,
            title=f"{code.value} <b>",
            queue=queue,
            customer_ref="CRN-R",
            subject_type="expense" if queue is Queue.INCOME_MANAGEMENT else "msp",
            subject_id=subject,
            procedure="test",
            instructions=["Do the thing."],
            tick_off=TickOff.MANUAL,
            actor="test",
        )
    )


async def publish_all(kafka: Any, prefix: str, events: list[WorkItemRaised]) -> None:
    await publish_events(kafka.bootstrap_servers, prefix, events)


async def known(http: httpx.AsyncClient, signer: Signer, *items: str) -> None:
    async def all_known() -> bool:
        for item in items:
            answer = await http.post(
                "/commands/AssignWorkItem",
                json={"work_item_id": item, "assignee_id": "X"},
                headers=officer(signer, "OFF-NONE"),
            )
            if answer.status_code != 403:  # 404 until the console has read the item's queue
                return False
        return True

    await eventually(all_known, what="the console knows the items")


async def test_every_staff_action_is_open_to_exactly_the_roles_the_procedures_give_it(
    kafka, database_url, topic_prefix
):
    assert set(BODIES) | {"TickOffWorkItem", "AssignWorkItem", "UnassignWorkItem"} == set(
        COMMANDS
    ), "a new action needs its row here"
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        codes = {
            Queue.INCOME_MANAGEMENT: WorkItemCode.I059PL,
            Queue.MSP: WorkItemCode.MSP_PHONE,
            Queue.MSP_APPROVED_DECISION_MAKERS: WorkItemCode.MSP_SMS_DECISION,
        }
        events = [raised(item, queue, codes[queue]) for queue, item in ITEMS.items()]
        await publish_all(kafka, topic_prefix, events)
        await known(http, signer, *ITEMS.values())
        everyone = officer(
            signer, "OFF-9", MSP, ADM, IM
        )  # known here, with every role, once they issue a command
        assert (
            await http.post("/commands/DeclineMspSms", json={"msp_id": "MSP-R"}, headers=everyone)
        ).status_code == 202
        cases = [(command, body, WHO_MAY[command]) for command, body in BODIES.items()]
        for queue, item in ITEMS.items():
            cases += [
                (
                    "TickOffWorkItem",
                    {"work_item_id": item, "doc_note": "Noted."},
                    ITEM_WORKERS[queue],
                ),
                (
                    "AssignWorkItem",
                    {"work_item_id": item, "assignee_id": "OFF-9"},
                    ITEM_WORKERS[queue],
                ),
                ("UnassignWorkItem", {"work_item_id": item}, ITEM_WORKERS[queue]),
            ]
        for command, body, allowed in cases:
            for role in (MSP, ADM, IM, None):
                roles = [role] if role else []
                answer = await http.post(
                    f"/commands/{command}", json=body, headers=officer(signer, "OFF-R", *roles)
                )
                expected = 202 if role in allowed else 403
                assert answer.status_code == expected, (command, body, role, answer.text)
                if expected == 403:
                    assert answer.json()["reason_code"] == "role-required"
                    assert answer.json()["way_out"], "a refusal says what to do instead"
                    if allowed == {IM}:
                        assert answer.json()["way_out"] == TRANSFER_GUIDANCE

        # 103-01050060: an I059PL is assigned only to an officer trained in Income Management (as their latest
        # verified token said), and never to an officer the console has not seen sign in
        untrained = officer(signer, "OFF-U", MSP)
        assert (
            await http.post(
                "/commands/RecordMspResult", json={"msp_id": "MSP-R"}, headers=untrained
            )
        ).status_code == 202
        trained = officer(signer, "OFF-T", IM)
        to_untrained = await http.post(
            "/commands/AssignWorkItem",
            headers=trained,
            json={"work_item_id": ITEMS[Queue.INCOME_MANAGEMENT], "assignee_id": "OFF-U"},
        )
        assert (to_untrained.status_code, to_untrained.json()["reason_code"]) == (
            403,
            "assignee-role-required",
        )
        to_unknown = await http.post(
            "/commands/AssignWorkItem",
            headers=trained,
            json={"work_item_id": ITEMS[Queue.INCOME_MANAGEMENT], "assignee_id": "OFF-NEVER-SEEN"},
        )
        assert (to_unknown.status_code, to_unknown.json()["error"]) == (422, "unknown-assignee")


async def test_the_browser_session_its_form_token_and_reads_scoped_by_role_every_one_audited(
    kafka, database_url, topic_prefix, captured_logs
):
    """103-01050060 step 1: an officer not trained in Income Management is shown the transfer guidance, not the
    customer's income management items; the approved decision makers' queue only for them (104-07050030 step 2)."""
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        events = [
            raised(
                f"I059PL:EXP-P{n:02d}:2027-03-01",
                Queue.INCOME_MANAGEMENT,
                WorkItemCode.I059PL,
                f"EXP-P{n:02d}",
            )
            for n in range(30)
        ]
        events.append(
            raised(
                ITEMS[Queue.MSP_APPROVED_DECISION_MAKERS],
                Queue.MSP_APPROVED_DECISION_MAKERS,
                WorkItemCode.MSP_SMS_DECISION,
                "MSP-R",
            )
        )
        await publish_all(kafka, topic_prefix, events)
        await known(http, signer, events[-1].work_item_id, events[-2].work_item_id)

        assert (await http.get("/ui/")).status_code == 303, "no session: to the sign-in page"
        assert (await http.get("/ui/sign-in")).status_code == 200
        assert (await http.get("/ui/console.css")).status_code == 200, (
            "the sign-in page's style is open"
        )
        bad = await http.post("/ui/sign-in", data={"token": "not-a-token"}, headers=BROWSER)
        assert bad.status_code == 401
        assert "set-cookie" not in bad.headers
        forged_key = Signer(issuer=signer.issuer, audience="console")
        assert (
            await http.post(
                "/ui/sign-in",
                data={"token": forged_key.token("OFF-X", roles=[IM])},
                headers=BROWSER,
            )
        ).status_code == 401, "a token signed by another key is refused"

        im_token = signer.token("OFF-IM", roles=[IM])
        link = await sign_in_link(http, im_token)
        assert im_token not in link, "the link carries a one-time code, never the token"
        shown = await http.get(link)
        assert "signs you in as <strong>OFF-IM</strong>" in shown.text, (
            "who, before anything happens"
        )
        assert "set-cookie" not in shown.headers, (
            "opening the link signs nobody in: the page's button does"
        )
        signed_in = await press_sign_in(http, code_of(link))
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        named = SessionCookie(True, system_mark(database_url, topic_prefix)).name
        assert named.startswith("__Host-officer_session_"), "a cookie of this system's own"
        for attribute in (
            f"{named}=",
            "Path=/;",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
        ):
            assert attribute in cookie
        session_id = keep_cookie(http, cookie)
        assert session_id not in im_token, "the cookie is a random session id, not the token"
        page_1 = await http.get("/ui/")
        assert page_1.status_code == 200
        csp = page_1.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "style-src 'self'" in csp, "nothing from another site, no script"
        assert page_1.headers["referrer-policy"] == "no-referrer"
        assert "1–25 of 30" in page_1.text
        assert "I059PL &lt;b&gt;" in page_1.text, "every value escaped"
        assert "MSP-SMS-DECISION:" not in page_1.text, (
            "the approved decision makers' queue is not theirs"
        )
        page_2 = await http.get("/ui/", params={"page": "2"})
        assert "26–30 of 30" in page_2.text
        assert len(re.findall(r'href="/ui/work-items/', page_2.text)) == 5
        one = await http.get("/ui/", params={"customer_ref": "CRN-NOBODY"})
        assert "No work item matches these filters." in one.text

        msp_token = signer.token("OFF-MSP", roles=[MSP])
        await sign_in(http, msp_token)
        not_theirs = await http.get("/ui/work-items/I059PL:EXP-P01:2027-03-01")
        assert not_theirs.status_code == 403
        assert html.escape(TRANSFER_GUIDANCE) in not_theirs.text
        assert "EXP-P01" not in not_theirs.text.split("<h1>", 1)[1], "nothing of the item is shown"
        msp_item = ITEMS[Queue.MSP_APPROVED_DECISION_MAKERS]
        await sign_in(http, signer.token("OFF-IM-2", roles=[IM]))
        hidden = await http.get(f"/ui/work-items/{msp_item}")
        missing = await http.get("/ui/work-items/MSP-SMS-DECISION:MSP-NONE")
        assert (hidden.status_code, missing.status_code) == (404, 404)
        assert hidden.text == missing.text.replace("MSP-NONE", "MSP-R"), (
            "another queue's item is not said to exist"
        )
        await sign_in(http, msp_token)
        assert (await http.get("/ui/expenses/EXP-P01")).status_code == 403
        assert (await http.get("/ui/", params={"queue": "income-management"})).status_code == 400
        await sign_in(http, signer.token("OFF-ADM", roles=[ADM]))
        adm_queue = await http.get("/ui/")
        assert "MSP-SMS-DECISION" in adm_queue.text
        assert "I059PL:" not in adm_queue.text

        im_session = await sign_in(http, im_token)
        page_1 = await http.get("/ui/")
        assert (
            await http.post("/commands/CeaseExpense", json={"expense_id": "EXP-P01"})
        ).status_code == 401, "the JSON API takes a bearer header, never the browser's cookie"
        no_form_token = await http.post("/ui/commands/CeaseExpense", data={"expense_id": "EXP-P01"})
        assert no_form_token.status_code == 403
        signed_out = await http.post("/ui/sign-out", data={"form_token": _form_token(page_1.text)})
        assert signed_out.status_code == 303
        assert "Max-Age=0" in signed_out.headers["set-cookie"]
        http.cookies.set(named, im_session)  # the old cookie, kept by a thief
        assert (await http.get("/ui/")).status_code == 303, "signing out revoked the session itself"
    logs = [
        json.loads(line) for line in captured_logs.getvalue().splitlines() if line.startswith("{")
    ]
    reads = [
        (r.get("officer_id"), r.get("page"), r.get("status"))
        for r in logs
        if r.get("event") == "page read"
    ]
    assert ("OFF-MSP", "work-item", 403) in reads
    assert ("OFF-IM-2", "work-item", 404) in reads
    assert ("OFF-MSP", "expense", 403) in reads, "every read, refused or not, is in the audit log"
    assert any(
        r.get("event") == "work items listed" and r.get("officer_id") == "OFF-IM" for r in logs
    )


def _form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([0-9a-f]+)"', html)
    assert found, "every page of a session carries its form token"
    return found.group(1)


async def test_a_sign_in_link_works_once_only_from_this_consoles_own_pages_and_only_for_a_bounded_token(
    kafka, database_url, topic_prefix
):
    """Issue 26 found sign-in links that carried the bearer token and worked again and again, a token expiring
    in 2100 accepted, and sign-ins another site could make for the officer (login CSRF)."""
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        token = signer.token("OFF-IM", roles=[IM])
        old_style = await http.get("/ui/sign-in", params={"token": token})
        assert (old_style.status_code, "set-cookie" in old_style.headers) == (400, False), (
            "no token in a URL"
        )

        link = await sign_in_link(http, token)
        cross = await press_sign_in(http, code_of(link), **{"Sec-Fetch-Site": "cross-site"})
        assert (cross.status_code, "set-cookie" in cross.headers) == (403, False)
        elsewhere = await http.post(
            "/ui/sign-in",
            data={"code": code_of(link)},  # a browser without Sec-Fetch-Site
            headers={"Origin": "https://evil.example"},
        )
        assert (elsewhere.status_code, "set-cookie" in elsewhere.headers) == (403, False)
        assert (await press_sign_in(http, code_of(link))).status_code == 303, (
            "refusals did not spend the code"
        )
        again = await press_sign_in(http, code_of(link))
        assert (again.status_code, "set-cookie" in again.headers) == (401, False), (
            "a used code is refused"
        )
        assert (await http.get(link)).status_code == 401

        for lifetime_s in (
            12 * 3600 + 3600,
            74 * 365 * 86400,
        ):  # a 13-hour token, and one "expiring in 2100"
            too_long = await http.post(
                "/sign-in-codes", headers=signer.bearer("OFF-IM", roles=[IM], expires_in=lifetime_s)
            )
            assert (too_long.status_code, too_long.json()["reason_code"]) == (
                401,
                "lifetime-too-long",
            )
        no_iat = signer.token("OFF-IM", roles=[IM], iat=None)
        refused = await http.post("/sign-in-codes", headers={"Authorization": f"Bearer {no_iat}"})
        assert refused.status_code == 401, "a token must say when it was issued"


async def test_the_queue_opens_on_the_open_work_most_urgent_first_with_safety_items_marked_and_can_be_searched(
    kafka, database_url, topic_prefix
):
    """Issue 31: an approved decision maker's risk response sat on row 24 among ticked-off items. The default
    view is the open items of the officer's queues, a risk response first and marked, then the longest waiting;
    the filters stay in the address; a search finds an item by its own id, its MSP or expense, or the CRN."""
    signer = Signer(audience=["console", "console-ops"])
    later = SimulatedClock.starting_at(
        datetime(2027, 3, 20, tzinfo=UTC)
    )  # the items (10 March) all past due
    async with console(kafka, database_url, topic_prefix, signer, clock=later) as http:
        events = [
            raised(f"MSP-PHONE:MSP-Q{n}", Queue.MSP, WorkItemCode.MSP_PHONE, f"MSP-Q{n}")
            for n in range(3)
        ]
        events.append(
            raised(
                "MSP-RISK-RESPONSE:MSP-Q9:1", Queue.MSP, WorkItemCode.MSP_RISK_RESPONSE, "MSP-Q9"
            )
        )
        await publish_all(kafka, topic_prefix, events)
        await known(http, signer, *(e.work_item_id for e in events))
        await sign_in(http, signer.token("OFF-ADM", roles=[ADM], zoneinfo="Australia/Perth"))

        queue = (await http.get("/ui/")).text
        assert "Wed 10 Mar 2027, 12:00 AEDT (Wed 10 Mar 2027, 09:00 AWST your time)" in queue, (
            "the officer in Perth (their token's zoneinfo) reads their own time beside Canberra's"
        )
        rows = re.findall(r'<tr( class="safety")?>\s*<td[^>]*>(.*?)</td>', queue, re.S)
        assert rows[0][0] == ' class="safety"', "the risk response is the first row"
        assert "Safety first" in rows[0][1]
        assert len(rows) == 4
        assert queue.count("MSP-PHONE &lt;b&gt;</a>") == 3, "each row names the item by its title"
        assert "(most urgent first)" in queue
        assert "1–4 of 4" in queue
        assert queue.count("(overdue)") == 4, "each past the agency's service level, and said so"
        metrics = (
            await http.get("/metrics", headers=signer.bearer("OPS-1", roles=[OPERATIONS]))
        ).text
        assert 'work_items_overdue{queue="msp-implementation"} 4.0' in metrics
        assert 'work_items_overdue{queue="income-management"} 0.0' in metrics
        assert 'work_items_overdue_by_code{code="MSP-RISK-RESPONSE"} 1.0' in metrics, (
            "the risk response's own alert reads this"
        )
        assert 'work_items_overdue_by_code{code="MSP-PHONE"} 3.0' in metrics
        assert "commands_awaiting_outcome_oldest_seconds 0.0" in metrics, "no command waits"
        newest = (await http.get("/ui/", params={"order": "raised-desc"})).text
        assert "(newest first)" in newest
        assert re.findall(
            r'<th scope="col" aria-sort="(\w+)"><a href="([^"]+)">(\w+)</a>', newest
        ) == [("descending", "/ui/?status=open&amp;order=raised&amp;page=1", "Raised")], (
            "sorted by it; again, reversed"
        )
        by_customer = (await http.get("/ui/", params={"order": "customer"})).text
        assert (
            '<th scope="col" aria-sort="ascending"><a href="/ui/?status=open&amp;order=customer-desc&amp;page=1">'
            "Customer</a>" in by_customer
        ), "every column sorts"

        found = (await http.get("/ui/", params={"q": "MSP-Q1"})).text
        assert "1–1 of 1" in found
        assert 'href="/ui/work-items/MSP-PHONE%3AMSP-Q1"' in found
        assert 'value="MSP-Q1"' in found, "the search is kept in the form"
        page_2_link = re.search(r'href="(/ui/\?[^"]*order=raised-desc[^"]*)"', newest)
        assert page_2_link is None or "status=open" in page_2_link.group(1), (
            "links keep the filters"
        )
        mine = (await http.get("/ui/", params={"mine": "1"})).text
        assert "Your work: none" in mine or "No work item matches" in mine, (
            "nothing is assigned to them yet"
        )
        item = (await http.get("/ui/work-items/MSP-PHONE:MSP-Q1")).text
        assert 'id="action-AssignToMe"' in item, "one press takes the item"
        assert 'name="assignee_id" value="OFF-ADM"' in item
        colleagues = re.search(
            r'<select id="f-AssignWorkItem-assignee_id"[^>]*>(.*?)</select>', item, re.S
        )
        assert colleagues is not None, "a colleague is chosen, not typed"
        assert re.findall(r'<option value="([^"]+)"', colleagues.group(1)) == ["OFF-ADM"], (
            "only officers known to open the queue (OFF-NONE has no role)"
        )
        assert len(re.findall(r'id="(f-[^"]+)"', item)) == len(
            set(re.findall(r'id="(f-[^"]+)"', item))
        ), "every control's id is its own"


@pytest.mark.rule("IM-7.3")
async def test_a_paid_twice_item_comes_before_an_older_i059pl_with_its_deadline_and_why(
    kafka, database_url, topic_prefix
):
    """'Note: the expense cannot be ceased or varied on day 2. This must be done on day 1.' Issue 40: the
    paid-twice item had no due time and sank behind every older I059PL."""
    signer = Signer(audience=["console", "console-ops"])
    clock = SimulatedClock.starting_at(datetime(2027, 3, 10, 3, tzinfo=UTC))
    deadline = datetime(2027, 3, 10, 13, tzinfo=UTC)  # Thursday 11 March 00:00 in Sydney
    async with console(kafka, database_url, topic_prefix, signer, clock=clock) as http:
        older = raised("I059PL:EXP-A:2027-03-08", Queue.INCOME_MANAGEMENT, WorkItemCode.I059PL)
        paid_twice = raised(
            "IM-PAID-TWICE:EXP-B:EXP-C", Queue.INCOME_MANAGEMENT, WorkItemCode.PAID_TWICE
        ).model_copy(
            update={"due_at": deadline, "occurred_at": older.occurred_at + timedelta(hours=1)}
        )
        await publish_all(kafka, topic_prefix, [older, paid_twice])
        await known(http, signer, older.work_item_id, paid_twice.work_item_id)
        await sign_in(http, signer.token("OFF-IM", roles=[IM]))
        queue = (await http.get("/ui/")).text
        rows = re.findall(r'href="/ui/work-items/([^"]+)"', queue)
        assert rows.index("IM-PAID-TWICE%3AEXP-B%3AEXP-C") < rows.index(
            "I059PL%3AEXP-A%3A2027-03-08"
        )
        assert "Thu 11 Mar 2027, 00:00 AEDT" in queue
        item = (await http.get("/ui/work-items/IM-PAID-TWICE:EXP-B:EXP-C")).text
        assert "the later one-off can be ceased only until its day 2 begins" in item
        assert "IM-7.3" in item


@pytest.mark.rule("IM-1.1")
async def test_every_officer_sees_a_customers_income_management_items_and_the_way_on_but_no_action(
    kafka, database_url, topic_prefix
):
    """103-01050060 step 1: "All staff must investigate any Work Items which present on a customer's record, and
    take appropriate action, as part of every contact with a customer." An officer not trained in Income
    Management finds the I059PL by the customer's CRN, with the transfer guidance and no action; the MSP queue's
    items of the same customer stay with the MSP officers."""
    signer = Signer(audience="console")
    async with console(kafka, database_url, topic_prefix, signer) as http:
        i059pl = raised(
            "I059PL:EXP-C1:2027-03-01", Queue.INCOME_MANAGEMENT, WorkItemCode.I059PL, "EXP-C1"
        )
        sms = raised(
            "MSP-SMS-DECISION:MSP-C1",
            Queue.MSP_APPROVED_DECISION_MAKERS,
            WorkItemCode.MSP_SMS_DECISION,
            "MSP-C1",
        )
        await publish_all(kafka, topic_prefix, [i059pl, sms])
        await known(http, signer, i059pl.work_item_id, sms.work_item_id)

        await sign_in(http, signer.token("OFF-MSP", roles=[MSP]))
        searched = (await http.get("/ui/", params={"q": "CRN-R"})).text
        assert 'href="/ui/customers/CRN-R"' in searched, "a search offers the customer's page"
        page = await http.get("/ui/customers/CRN-R")
        assert page.status_code == 200
        assert "I059PL &lt;b&gt;" in page.text, "the I059PL shows, by its title"
        assert "Open" in page.text
        assert html.escape(TRANSFER_GUIDANCE) in page.text, (
            "with the way on for an officer not trained"
        )
        assert 'href="/ui/work-items/I059PL' not in page.text, "no details and no action"
        assert "MSP-SMS-DECISION &lt;b&gt;" not in page.text, (
            "the approved decision makers' item is not theirs"
        )
        assert (await http.get("/ui/customers/CRN-NOBODY")).status_code == 404

        await sign_in(http, signer.token("OFF-IM", roles=[IM]))
        trained = (await http.get("/ui/customers/CRN-R")).text
        assert 'href="/ui/work-items/I059PL%3AEXP-C1%3A2027-03-01"' in trained, (
            "the trained officer opens it"
        )
        assert html.escape(TRANSFER_GUIDANCE) not in trained, "and needs no transfer"
        item = (await http.get("/ui/work-items/I059PL:EXP-C1:2027-03-01")).text
        assert 'href="/ui/customers/CRN-R"' in item, "every record links to its customer"

        # Issue 40: an officer with none of the roles (the front line: all staff) had no search at all
        await sign_in(http, signer.token("OFF-FRONT", roles=[]))
        desk = (await http.get("/ui/")).text
        assert '<label for="q-q">Find a customer: CRN</label>' in desk
        found = await http.get("/ui/", params={"q": "CRN-R"}, follow_redirects=False)
        assert (found.status_code, found.headers["location"]) == (303, "/ui/customers/CRN-R")
        front = (await http.get("/ui/customers/CRN-R")).text
        assert "I059PL &lt;b&gt;" in front, "the I059PL shows to all staff, by its title"
        assert html.escape(TRANSFER_GUIDANCE) in front, "with the way on while it is open"
        assert "MSP-SMS-DECISION &lt;b&gt;" not in front
        closed = WorkItemTickedOff(
            **env(
                "workitems",
                event_type="WorkItemTickedOff",
                work_item_id=i059pl.work_item_id,
                code=WorkItemCode.I059PL,
                customer_ref="CRN-R",
                actor="OFF-IM",
                tick_off=TickOff.MANUAL,
                doc_recorded=True,
            )
        )
        await publish_events(kafka.bootstrap_servers, topic_prefix, [closed])

        async def guidance_gone() -> bool:
            return (
                html.escape(TRANSFER_GUIDANCE) not in (await http.get("/ui/customers/CRN-R")).text
            )

        await eventually(
            guidance_gone, what="no transfer once every Income Management item is closed"
        )


async def test_a_safety_item_and_an_overdue_one_are_pushed_to_their_team_once_and_a_closed_one_never(
    kafka, database_url, topic_prefix
):
    """Issue 40: nothing told the MSP team a safety item was raised or an item was overdue (only the operator's
    pager, 65 minutes later). The console asks the messaging gateway to tell the team that works the queue, team
    leaders first: a safety item at once, any item when it falls due if it is still open; once each; the team
    leader's page lists them. No customer goes out: ids, code, title and times only."""
    signer = Signer(audience=["console"])
    clock = SimulatedClock.starting_at(T0)
    risk = raised("MSP-RISK-RESPONSE:MSP-N:1", Queue.MSP, WorkItemCode.MSP_RISK_RESPONSE, "MSP-N")
    phone = raised("MSP-PHONE:MSP-N", Queue.MSP, WorkItemCode.MSP_PHONE, "MSP-N")
    letter = raised("MSP-LETTER:MSP-N", Queue.MSP, WorkItemCode.MSP_LETTER, "MSP-N")
    async with console(kafka, database_url, topic_prefix, signer, clock=clock) as http:
        await publish_all(kafka, topic_prefix, [risk, phone, letter])
        topic = topic_prefix + TEAM_NOTIFICATIONS.name
        [safety] = await read_topic(kafka.bootstrap_servers, topic, at_least=1)
        told = json.loads(safety.value)
        assert (told["work_item_id"], told["reason"]) == (risk.work_item_id, "safety-item-raised")
        assert told["notify"][0] == "team-leader"
        assert "customer_ref" not in told, "no customer goes out"
        ticked = WorkItemTickedOff(
            **env(
                "workitems",
                event_type="WorkItemTickedOff",
                work_item_id=letter.work_item_id,
                code=WorkItemCode.MSP_LETTER,
                customer_ref="CRN-R",
                actor="notification",
                tick_off=TickOff.AUTOMATIC,
            )
        )
        await publish_events(kafka.bootstrap_servers, topic_prefix, [ticked])

        await sign_in(http, signer.token("OFF-TL", roles=["team-leader", MSP]))
        assert "Safety item raised:" in (await http.get("/ui/team")).text

        async def letter_closed() -> bool:
            page = (await http.get(f"/ui/work-items/{letter.work_item_id}")).text
            return "Ticked off" in page

        await eventually(letter_closed, what="the letter's item closed")
        clock.advance(timedelta(hours=49))  # past the phone's 24 h and the letter's 48 h
        notices = await read_topic(kafka.bootstrap_servers, topic, at_least=3, settle=2.0)
        by_reason = sorted(
            (json.loads(r.value)["reason"], json.loads(r.value)["work_item_id"]) for r in notices
        )
        assert by_reason == [
            ("overdue", phone.work_item_id),
            ("overdue", risk.work_item_id),
            ("safety-item-raised", risk.work_item_id),
        ], "each once; the letter, closed before it fell due, never"
        team = (await http.get("/ui/team")).text
        assert team.count("Overdue:") == 2, team
        assert "Safety item raised:" not in team, "told more than a day ago"
