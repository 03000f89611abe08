"""The web console in a real browser (Debian's chromium through chromium-driver), on the real, secured broker and
database: one story per procedure worked end to end by officers signed in with verified tokens, each page kept as
a screenshot under ``test-results/console/``."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from console.app import ConsoleSettings
from console.app import create_runtime as console_runtime
from console.sessions import form_token
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from contracts.catalogue import EXPENSE_EVENTS, MSP_APPROVALS, PAYMENT_ATTEMPTS, SMS_DISPATCH
from contracts.expenses import ExpenseKind
from contracts.roles import TRANSFER_GUIDANCE, OfficerRole
from devstack.tokens import SYSTEM_AUDIENCES, Signer
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from expenses.domain.decide import DAY_2_WAY_OUT
from notification.app import NotificationSettings
from notification.app import create_runtime as notification_runtime
from servicekit.clock import SimulatedClock
from servicekit.service import ServiceRuntime
from tests.console.test_console_on_real_broker import signed_settings
from tests.expenses.builders import at, attempt
from tests.notification.builders import T0, approval
from tests.support import axe
from tests.support.browser import Browser
from tests.support.http import served
from tests.support.kafka_tools import eventually, publish, read_topic
from tests.support.signin import sign_in as signed_in
from tests.support.signin import sign_in_link
from tests.workitems.builders import PERIOD, paid_twice, period_closed
from workitems.app import WorkitemsSettings
from workitems.app import create_runtime as workitems_runtime
from workitems.domain.decide import i059pl_id

pytestmark = [pytest.mark.integration, pytest.mark.browser]

MSP_OFFICER, ADM, IM, TEAM_LEADER = (
    OfficerRole.MSP_OFFICER.value,
    OfficerRole.MSP_APPROVED_DECISION_MAKER.value,
    OfficerRole.IM_TRAINED.value,
    OfficerRole.TEAM_LEADER.value,
)
SETTINGS: dict[str, tuple[Any, Any]] = {
    "notification": (NotificationSettings, notification_runtime),
    "expenses": (ExpensesSettings, expenses_runtime),
    "workitems": (WorkitemsSettings, workitems_runtime),
    "console": (ConsoleSettings, console_runtime),
}


@contextlib.asynccontextmanager
async def system(
    kafka: Any, database_url: str, prefix: str, signer: Signer, clock: SimulatedClock, *names: str
) -> AsyncIterator[dict[str, ServiceRuntime]]:
    """The named services and the console, in this test's loop, on one simulated clock."""
    runtimes = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in (*names, "console"):
            settings_type, create = SETTINGS[name]
            runtimes[name] = create(
                signed_settings(settings_type, name, kafka, database_url, prefix, signer), clock
            )
            await stack.enter_async_context(served(runtimes[name]))
        yield runtimes


def msp_desk(
    kafka: Any, database_url: str, prefix: str, signer: Signer
) -> contextlib.AbstractAsyncContextManager[dict[str, ServiceRuntime]]:
    """The MSP procedure's services and the console, from the day an approval is published."""
    return system(
        kafka,
        database_url,
        prefix,
        signer,
        SimulatedClock.starting_at(T0),
        "notification",
        "workitems",
    )


def base_of(console: ServiceRuntime) -> str:
    return f"http://{console.settings.http_host}:{console.settings.http_port}"


async def sign_in(
    browser: Browser, console: ServiceRuntime, signer: Signer, officer: str, *roles: str
) -> None:
    """The one-time sign-in link an officer is given (made from their token), opened and its button pressed."""
    async with httpx.AsyncClient(base_url=base_of(console)) as http:
        link = await sign_in_link(http, signer.token(officer, roles=list(roles), expires_in=1800))
    await browser.open(f"{base_of(console)}{link}")
    await browser.shot(f"sign-in-{officer.lower()}")
    await browser.press(f"Sign in as {officer}")
    await browser.until(f"Signed in as {officer}", reload=False)
    assert "/ui/sign-in" not in browser.url, "on to the work items, the code spent"


async def accepted(browser: Browser, what: str) -> None:
    await browser.until("Accepted.", what=f"{what} accepted")
    assert "Refused" not in await browser.text()


@pytest.mark.rule("IM-1.3", "IM-4.5", "IM-5.4", "IM-7.3", "IM-7.4")
async def test_undelivered_expenses_through_the_console_day_2_refusal_transfer_guidance_and_i059pl_tick_off(
    kafka, database_url, topic_prefix, browser: Browser
):
    """103-01050060: a one-off "cannot be ceased or varied on day 2" and the officer is shown what to do instead,
    and takes it: "raise a mySupport webform.";
    step 1, "For Service Officers not trained in Income Management: [...] Cold transfer the customer to: the Income
    Management Line"; steps 5 and 8: "Manually tick off the Work Item. Record details on a DOC."
    Issue 40 besides: the DOC note typed into the refused cease is carried into the escalation, whose item is due
    by the end of day 2 and asks for the mySupport job number, then the removal; an officer with no role finds the
    customer's I059PL by CRN; a paid-twice item leads the queue with its due time and why; of two officers taking
    one item, the one who loses is told who has it."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    monday = at(2027, 3, 1, 10)
    clock = SimulatedClock.starting_at(monday)
    async with system(
        kafka, database_url, topic_prefix, signer, clock, "expenses", "workitems"
    ) as services:
        console = services["console"]
        weekly = attempt(
            kind=ExpenseKind.WEEKLY,
            expense_id="EXP-UI-W",
            when=monday,
            scheduled_on=date(2027, 3, 1),
        )
        one_off = attempt(kind=ExpenseKind.ONE_OFF, expense_id="EXP-UI-O", when=monday)
        for failed in (weekly, one_off):
            await publish(
                kafka.bootstrap_servers,
                topic_prefix + PAYMENT_ATTEMPTS.name,
                [failed.to_json()],
                key=failed.key.encode(),
            )

        await sign_in(browser, console, signer, "OFF-IM-1", IM)
        await browser.open(f"{base_of(console)}/ui/expenses/EXP-UI-O")
        text = await browser.until("UNDLVD IM", what="the one-off's retry window")
        assert (
            "Today is day 1: the one-off can still be ceased or varied until day 2, Tuesday 2 March 2027, begins."
            in text
        )
        assert "Day 1 (cease or vary allowed)\nMonday 1 March 2027" in text, "dates in words"
        assert "Day 2 (it cannot be ceased or varied)\nTuesday 2 March 2027" in text
        assert "Wed 3 Mar 2027, 00:00 AEDT" in text, (
            "the window closes at the customer's midnight, in their zone"
        )
        assert "T00:00" not in text, "no raw ISO instant"
        assert "Z\n" not in text
        await browser.shot("expense-one-off-day-1-and-2")
        clock.set(at(2027, 3, 2, 9))  # day 2
        await browser.open(f"{base_of(console)}/ui/expenses/EXP-UI-O")
        assert (
            "Today is day 2: the expense cannot be ceased or varied on day 2."
            in await browser.until("Today is day 2")
        )
        await browser.shot("one-off-on-day-2")
        await browser.expand("CeaseExpense")
        hardship = "Customer in extreme hardship: new one-off needed today."
        await browser.type("CeaseExpense", "doc_note", hardship)
        await browser.submit("CeaseExpense")
        refused = await browser.until("Refused", what="the day-2 refusal")
        assert "it cannot be ceased or varied on day 2" in refused
        assert "one-off-day-2" not in refused, "the reason in words, not its code"
        assert f"What to do instead\n{DAY_2_WAY_OUT}" in refused
        await browser.shot("cease-refused-on-day-2-with-way-out")
        # the way out is the next action: the escalation, from the refusal itself, the note typed once
        carried = await browser._run(
            lambda: browser._field("NextAction", "doc_note").get_attribute("value")
        )
        assert carried == hardship, "the note typed into the refused cease is carried into it"
        await browser.submit("NextAction")
        escalated = await browser.until(
            "It did start this", what="the escalation the refusal offered"
        )
        assert "Removal escalated (mySupport, ICT Service Desk)" in escalated, (
            "what the refused cease did cause"
        )
        assert "Removal escalated for extreme hardship: raised" in escalated, (
            "issue 40: headed as the escalation it is, not as a refused cease"
        )
        assert "The cease itself" in escalated
        assert "What to do next" in escalated, "the way on, once the escalation is raised"
        await browser.shot("escalation-taken-from-the-refusal")
        await browser.open(f"{base_of(console)}/ui/work-items/IM-REMOVAL-ESCALATION:EXP-UI-O")
        escalation = await browser.until("Record the mySupport job number", what="its next step")
        assert "Due Wed 3 Mar 2027, 00:00 AEDT" in escalation, "due by the end of day 2, its day"
        await browser.expand("RecordMySupportJob")
        await browser.type("RecordMySupportJob", "mysupport_job", "MS-4711")
        await browser.submit("RecordMySupportJob")
        await accepted(browser, "the mySupport job number")
        await browser.open(f"{base_of(console)}/ui/work-items/IM-REMOVAL-ESCALATION:EXP-UI-O")
        await browser.until("Record the expense's removal", what="the removal, quoting the job")
        assert not await browser.has_action("RecordMySupportJob"), "recorded: not asked again"
        await browser.shot("escalation-item-asks-for-the-removal")

        clock.set(at(2027, 3, 9, 10))  # the weekly window (7 days) has closed unpaid
        await services["expenses"].fire_timers()
        item = i059pl_id("EXP-UI-W", date(2027, 3, 1))
        await sign_in(browser, console, signer, "OFF-FRONT-1")  # all staff: no role
        await browser.until("Find a customer", reload=False)
        await browser.type_into("q-q", weekly.customer_ref)
        await browser.press("Find")
        customer = await browser.until(
            "I059PL - A previous expense was not delivered", what="the customer's I059PL"
        )
        assert TRANSFER_GUIDANCE in customer, "IM-1.1: every officer learns of it, with the way on"
        assert not await browser._run(
            lambda: browser.driver.find_elements(By.PARTIAL_LINK_TEXT, "I059PL")
        ), "no details, no action for an officer not trained"
        await browser.shot("untrained-officer-finds-the-customers-i059pl")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        guidance = await browser.until(
            "Not in your queues", what="an untrained officer refused the I059PL"
        )
        assert TRANSFER_GUIDANCE in guidance
        await browser.shot("untrained-officer-shown-transfer-guidance")
        await browser.forge(
            "/ui/commands/TickOffWorkItem", {"work_item_id": item, "doc_note": "Discussed."}
        )
        forged = await browser.text()
        assert "Tick off, with a DOC note: refused" in forged
        assert TRANSFER_GUIDANCE in forged
        await browser.shot("untrained-tick-off-refused")

        # a one-off found paid twice (as the expenses service reports it): to be acted on by its day
        twice = paid_twice("EXP-UI-P", ("EXP-UI-Q",)).model_copy(
            update={"act_by": at(2027, 3, 10, 0), "occurred_at": at(2027, 3, 9, 10)}
        )
        await publish(
            kafka.bootstrap_servers,
            topic_prefix + EXPENSE_EVENTS.name,
            [twice.to_json()],
            key=twice.key.encode(),
        )
        await sign_in(browser, console, signer, "OFF-IM-1", IM)
        await browser.until_link("An expense was paid late")
        await browser.until_link("I059PL")
        await browser.shot("queue-im-trained")
        rows = await browser._run(
            lambda: [r.text for r in browser.driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
        )
        assert rows[0].startswith("An expense was paid late"), rows
        assert "Wed 10 Mar 2027, 00:00 AEDT" in rows[0], "its due time, its day's"
        assert "EXP-UI-W" in await browser.text(), "the queue says what each item is about"
        await browser.click_link("An expense was paid late")
        why = await browser.until("the later one-off can be ceased only until its day 2 begins")
        assert "IM-7.3" in why, "and the rule it comes from"
        await browser.shot("paid-twice-item-due-and-why")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Assign to me", reload=False)
        # OFF-IM-1 is choosing a colleague (typing: the page is not swapped) when OFF-IM-2 takes the item first
        async with httpx.AsyncClient(base_url=base_of(console)) as http:
            await sign_in_link(
                http, signer.token("OFF-IM-2", roles=[IM])
            )  # known, with their roles
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Assign to me", reload=False)
        await browser.expand("AssignWorkItem")
        await browser.choose("AssignWorkItem", "assignee_id", "OFF-IM-2")
        async with httpx.AsyncClient(base_url=base_of(console)) as http:
            taken = await http.post(
                "/commands/AssignWorkItem",
                json={"work_item_id": item, "assignee_id": "OFF-IM-2", "expects_nobody": True},
                headers=signer.bearer("OFF-IM-2", roles=[IM]),
            )
            assert taken.status_code == 202, taken.text
        await browser.until("This page has changed since you opened it", reload=False)
        await browser.submit("AssignToMe")
        lost = await browser.until("Refused", reload=False, what="the race lost, and to whom")
        assert "The work item changed hands since you looked: OFF-IM-2 has it now." in lost
        await browser.shot("race-lost-told-who-has-it")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Assigned to\nOFF-IM-2", reload=False)
        await browser.choose("AssignToMe", "reason", "away")
        await browser.submit("AssignToMe")
        await accepted(browser, "the assignment to themselves, with why")
        await browser.open(f"{base_of(console)}/ui/?mine=1")
        await browser.until_link("I059PL")
        await browser.shot("my-work-after-assign-to-me")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Hand it back to the queue", reload=False)
        await browser.expand("UnassignWorkItem")
        await browser.choose("UnassignWorkItem", "reason", "workload")
        await browser.submit("UnassignWorkItem")
        await accepted(browser, "handing it back to the queue")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Assigned to\nunassigned")
        assert "Hand it back to the queue" not in await browser.text(), (
            "nobody has it: nothing to hand back"
        )
        await browser.submit("AssignToMe")
        await accepted(browser, "taking it again")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Tick off, with a DOC note", reload=False)
        assert "Assigned to\nOFF-IM-1" in await browser.text()
        await browser.shot("i059pl-work-item")
        await browser.type(
            "TickOffWorkItem", "doc_note", "Discussed the undelivered expense with the customer."
        )
        await browser.submit("TickOffWorkItem")
        await accepted(browser, "the tick-off")
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        await browser.until("Ticked off", what="the I059PL ticked off")
        await browser.open(f"{base_of(console)}/ui/expenses/EXP-UI-W")
        await browser.until("closed unpaid", what="the weekly window closed unpaid")
        await browser.shot("expense-weekly-window-closed")

        # a colleague reads the DOC note back, on the item and on the one-off's page
        await sign_in(browser, console, signer, "OFF-IM-2", IM)
        await browser.open(f"{base_of(console)}/ui/work-items/{item}")
        note = await browser.until(
            "Discussed the undelivered expense with the customer.", reload=False
        )
        assert "DOC note by OFF-IM-1" in note
        await browser.shot("colleague-reads-the-doc-note")
        await browser.open(f"{base_of(console)}/ui/expenses/EXP-UI-O")
        assert "Customer in extreme hardship: new one-off needed today." in await browser.text()


async def test_the_accessibility_check_finds_what_it_is_there_to_find(browser: Browser):
    """axe-core at WCAG 2.1 A and AA, as every story's pages are checked: a page with an unlabelled field, no
    language and no title fails it (so a story's 0 violations mean something)."""
    await browser.open(
        "data:text/html,<html><body><form><input type=text name=x></form></body></html>"
    )
    found = {v["id"] for v in await browser._run(lambda: axe.violations(browser.driver))}
    assert {"html-has-lang", "document-title", "label"} <= found


@pytest.mark.rule("MSP-2.13")
async def test_the_approved_decision_maker_opens_the_console_on_the_risk_response_first_with_its_due_time_and_why(
    kafka, database_url, topic_prefix, browser: Browser
):
    """104-07050030 step 2: "family and domestic violence involving an immediate threat to safety, staff are to
    follow their local response guidelines". An MSP officer records a family and domestic violence risk on an MSP;
    the approved decision maker's console opens on the risk response, first and marked, due within the agency's
    service level; the item says which risk it answers and the rule it serves, in the rule's words (issue 40: it
    cited the SMS's "as soon as possible" and named no risk)."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    async with msp_desk(kafka, database_url, topic_prefix, signer) as services:
        console = services["console"]
        for msp_id in ("MSP-UI-2", "MSP-UI-3"):
            await publish(
                kafka.bootstrap_servers,
                topic_prefix + MSP_APPROVALS.name,
                [approval(msp_id=msp_id).to_json()],
                key=msp_id.encode(),
            )
        await sign_in(browser, console, signer, "OFF-MSP-1", MSP_OFFICER)
        await browser.open(f"{base_of(console)}/ui/msp/MSP-UI-3")
        await browser.until("Record a risk fact", what="the MSP's page")
        await browser.expand("RecordRiskFact")
        await browser.choose("RecordRiskFact", "fact", "family-domestic-violence-immediate-threat")
        await browser.submit("RecordRiskFact")
        await accepted(browser, "the risk fact")

        await sign_in(browser, console, signer, "OFF-ADM-1", ADM)
        await browser.until_link("Follow the guidelines")
        rows = await browser._run(
            lambda: [r.text for r in browser.driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
        )
        assert rows[0].startswith("Safety first Follow the guidelines"), rows
        assert "MSP-UI-3" in rows[0]
        await browser.shot("adm-queue-risk-response-first")
        await browser.click_link("Follow the guidelines")
        item = await browser.until(
            "the agency's service level for this task is 1 hour", reload=False
        )
        assert (
            "The risk recorded\nFamily and domestic violence with an immediate threat to safety"
            in item
        )
        assert (
            "MSP-2.13: “family and domestic violence involving an immediate threat to safety, staff are to follow "
            "their local response guidelines”" in item
        )
        assert "as soon as possible" not in item
        await browser.shot("risk-response-due-and-why")


async def refused_a_forged_sms(browser: Browser, console: ServiceRuntime, signer: Signer) -> None:
    """An MSP officer's forged SMS authorisation, from the page and over HTTP: refused by the verified roles, with
    the way out; a form without the session's form token is not the officer's."""
    sms = {
        "msp_id": "MSP-UI-2C",
        "circumstance": "successful-contact-confirmation-helps",
        "smem_checked": "true",
        "mobile_checked": "true",
    }
    await browser.forge("/ui/commands/AuthoriseMspSms", {**sms, "idempotency_key": "forged-1"})
    refused = await browser.text()
    assert "Authorise the SMS: refused" in refused
    assert "Refer the MSP to an approved decision maker" in refused, (
        "the way out, not only the refusal"
    )
    await browser.shot("forged-sms-refused")
    async with httpx.AsyncClient(base_url=base_of(console)) as http:
        session_id = await signed_in(http, signer.token("OFF-MSP-1", roles=[MSP_OFFICER]))
        forged = await http.post(
            "/ui/commands/AuthoriseMspSms", data={**sms, "form_token": form_token(session_id)}
        )
        assert forged.status_code == 403, "refused by the verified roles, whatever the page offered"
        no_token = await http.post("/ui/commands/RecordMspResult", data={"msp_id": "MSP-UI-2C"})
        assert no_token.status_code == 403, (
            "a form without the session's form token is not the officer's"
        )


async def marked(browser: Browser) -> str | None:
    """The mark left on the document the browser shows (gone if the page was loaded again)."""
    return await browser._run(
        lambda: browser.driver.execute_script(
            "return document.documentElement.dataset.seen || null"
        )
    )


async def mark(browser: Browser) -> None:
    await browser._run(
        lambda: browser.driver.execute_script("document.documentElement.dataset.seen = 'yes'")
    )


async def at_a_phones_width(browser: Browser) -> None:
    """Issue 40: at 400 px the queue scrolled sideways, its due time and status off the screen. Nothing is wider
    than the screen now, and every cell of the first item (due and status too) is on it."""
    size = await browser._run(browser.driver.get_window_size)
    await browser._run(lambda: browser.driver.set_window_size(400, 900))
    try:
        found = await browser._run(
            lambda: browser.driver.execute_script(
                "const row = document.querySelector('table.queue tbody tr');"
                "return {wide: document.documentElement.scrollWidth, screen: window.innerWidth,"
                " cells: [...row.cells].map(c => [c.dataset.label, Math.round(c.getBoundingClientRect().right)])};"
            )
        )
        assert found["wide"] <= found["screen"], found
        assert {"Due", "Status"} <= {label for label, _ in found["cells"]}, found
        assert all(right <= found["screen"] for _, right in found["cells"]), found
        await browser.shot("queue-at-400-px")
    finally:
        await browser._run(lambda: browser.driver.set_window_size(size["width"], size["height"]))


async def test_an_open_queue_shows_a_new_approval_and_a_commands_page_its_outcome_without_a_reload(
    kafka, database_url, topic_prefix, browser: Browser, report
):
    """Issue 40: a new approval did not appear in an open queue until the officer read it again, and a command's
    outcome waited for its page's next 2-second re-check. Both now come to the open page: the document the browser
    shows is never loaded again (its mark stays), yet it shows them."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    async with msp_desk(kafka, database_url, topic_prefix, signer) as services:
        console = services["console"]

        async def approve(msp_id: str) -> None:
            await publish(
                kafka.bootstrap_servers,
                topic_prefix + MSP_APPROVALS.name,
                [approval(msp_id=msp_id).to_json()],
                key=msp_id.encode(),
            )

        await approve("MSP-LIVE-1")
        await sign_in(browser, console, signer, "OFF-MSP-1", MSP_OFFICER)
        await browser.until_link("MSP-LIVE-1")
        await mark(browser)
        await approve("MSP-LIVE-2")
        await browser.until("MSP-LIVE-2", reload=False, what="the new approval, in the open queue")
        assert await marked(browser) == "yes", "shown without loading the page again"
        await browser.shot("queue-told-of-a-new-approval")
        await at_a_phones_width(browser)

        await browser.open(f"{base_of(console)}/ui/msp/MSP-LIVE-2")
        await browser.until("Record the phone contact", reload=False)
        await browser.expand("RecordPhoneContact")
        await browser.choose("RecordPhoneContact", "contacted", "customer")
        await browser.choose("RecordPhoneContact", "outcome", "unsuccessful")
        await browser.submit("RecordPhoneContact")
        await browser.until(
            re.compile(r"Sent\.|Accepted\."), reload=False, what="the command's page"
        )
        await mark(browser)
        await browser.until("Accepted.", reload=False, what="the outcome, on the open page")
        assert await marked(browser) == "yes", (
            "the outcome came to the page: it was not loaded again"
        )
        await browser.shot("command-page-told-of-its-outcome")


async def test_a_team_leader_gives_three_items_in_one_action_and_each_is_answered_on_its_own(
    kafka, database_url, topic_prefix, browser: Browser
):
    """Issue 40: a team leader sees the open, overdue and assigned items per queue and per officer, and gives three
    Income Management items to an officer in one action. A colleague takes the third meanwhile: it is not given,
    and the page says who has it now; the other two are given."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    async with system(
        kafka, database_url, topic_prefix, signer, SimulatedClock.starting_at(T0), "workitems"
    ) as services:
        console = services["console"]
        expenses = ("EXP-TL-1", "EXP-TL-2", "EXP-TL-3")
        for expense_id in expenses:
            closed = period_closed(ExpenseKind.WEEKLY, expense_id)
            await publish(
                kafka.bootstrap_servers,
                topic_prefix + EXPENSE_EVENTS.name,
                [closed.to_json()],
                key=closed.key.encode(),
            )
        items = [i059pl_id(e, PERIOD) for e in expenses]
        async with httpx.AsyncClient(base_url=base_of(console)) as http:
            for colleague in ("OFF-IM-1", "OFF-IM-2"):  # known to the console, with their roles
                await sign_in_link(http, signer.token(colleague, roles=[IM]))
            await sign_in(browser, console, signer, "OFF-TL-1", TEAM_LEADER, IM)
            await browser.open(f"{base_of(console)}/ui/team")
            team = await browser.until("EXP-TL-3", what="the three items, on the team's page")
            assert re.search(r"Income Management\s+3\s+0\s+0\s+3", team), (
                "open, overdue, assigned, nobody"
            )
            await browser.shot("team-leader-view")

            def choose_all() -> None:
                for n in (1, 2, 3):
                    browser.driver.find_element(By.ID, f"give-{n}").click()

            await browser._run(choose_all)
            await browser._run(
                lambda: Select(browser.driver.find_element(By.ID, "give-to")).select_by_value(
                    "OFF-IM-2"
                )
            )
            taken = await http.post(
                "/commands/AssignWorkItem",
                json={"work_item_id": items[2], "assignee_id": "OFF-IM-1", "expects_nobody": True},
                headers=signer.bearer("OFF-IM-1", roles=[IM]),
            )
            assert taken.status_code == 202, taken.text

            async def answered() -> bool:
                status = await http.get(
                    f"/commands/{taken.json()['command_id']}",
                    headers=signer.bearer("OFF-IM-1", roles=[IM]),
                )
                return bool(status.json()["status"] == "accepted")

            await eventually(answered, what="the colleague's taking of the third item")
        await browser.press("Give the chosen items")
        given = await browser.until(
            re.compile(r"(given\.[\s\S]*){2}"), reload=False, what="two items given"
        )
        await browser.until("OFF-IM-1 has it now", reload=False, what="the third, refused, and why")
        given = await browser.text()
        assert given.count(": given.") == 2, given
        assert f"{items[2]}: not given: The work item changed hands since you looked" in given
        await browser.shot("team-leader-given-two-of-three")


@pytest.mark.rule("MSP-1.6", "MSP-1.7", "MSP-2.2")
async def test_an_msp_with_two_aggressive_calls_and_an_sms_for_later_is_completed_from_the_console_alone(
    kafka, database_url, topic_prefix, browser: Browser
):
    """104-07050030: "If the customer displays aggression or counterproductive behaviour see Customer aggression -
    Response. Record a new incident and link it to the MSP." and step 2: "SMS can only be sent by approved decision
    makers". The MSP officer is offered no SMS action (a forged one is refused 403). Issue 40: with two aggressive
    calls, the second incident showed as done, no form recorded it and the result was refused. Each call's incident
    is a step of its own, with its own form; an SMS the approved decision maker authorised for later shows as
    decided, to be sent then, never as still required; and the MSP is completed from the console alone."""
    signer = Signer(audience=SYSTEM_AUDIENCES)
    clock = SimulatedClock.starting_at(T0)
    async with system(
        kafka, database_url, topic_prefix, signer, clock, "notification", "workitems"
    ) as services:
        console = services["console"]
        await publish(
            kafka.bootstrap_servers,
            topic_prefix + MSP_APPROVALS.name,
            [approval(msp_id="MSP-UI-2C").to_json()],
            key=b"MSP-UI-2C",
        )
        page = f"{base_of(console)}/ui/msp/MSP-UI-2C"
        await sign_in(browser, console, signer, "OFF-MSP-1", MSP_OFFICER)
        await browser.until_link("MSP: phone")
        assert await browser.labelled() == [], "every filter has its label"
        await browser.shot("queue-msp-officer")
        await browser.click_link("MSP: phone")
        await browser.shot("work-item-phone")
        await browser.click_link("msp MSP-UI-2C")
        text = await browser.until("Required now", what="the MSP's steps")
        assert "Required next: Phone the customer" in text
        assert not await browser.has_action("AuthoriseMspSms"), (
            "an MSP officer is offered no SMS action"
        )
        assert await browser.labelled() == [], "every form control has its label"
        await browser.shot("msp-officer-sees-no-sms-action")
        await refused_a_forged_sms(browser, console, signer)

        async def phoned(outcome: str, *explained: str) -> None:
            await browser.open(page)
            await browser.until("Record the phone contact", reload=False)
            await browser.expand("RecordPhoneContact")
            await browser.choose("RecordPhoneContact", "contacted", "customer")
            await browser.choose("RecordPhoneContact", "outcome", outcome)
            await browser.tick("RecordPhoneContact", "aggression_displayed", *explained)
            await browser.submit("RecordPhoneContact")
            await accepted(browser, f"an aggressive {outcome} call")

        await phoned("unproductive")
        await phoned(
            "successful",
            "explained.reasons_and_behaviours",
            "explained.duration_and_service_access",
            "explained.contact_details",
            "explained.letter_to_follow",
        )
        await browser.open(page)
        steps = await browser.until("for aggressive call 2", what="the second call's incident")
        assert re.search(r"Required now\s+Incident record for aggressive call 1", steps), steps
        assert re.search(r"Required now\s+Incident record for aggressive call 2", steps), steps
        await browser.shot("two-aggressive-calls-two-incidents")
        for number in (1, 2):
            await browser.open(page)
            await browser.until("Record an incident", reload=False)
            await browser.expand("RecordIncident")
            await browser.type("RecordIncident", "incident_id", f"CIMS-{number}")
            await browser.tick("RecordIncident", "linked_to_msp")
            await browser.submit("RecordIncident")
            await accepted(browser, f"incident {number}")
        await browser.open(page)
        steps = await browser.until(re.compile(r"Done\s+Incident record for aggressive call 2"))
        assert re.search(r"Done\s+Incident record for aggressive call 1", steps), steps

        await sign_in(browser, console, signer, "OFF-ADM-1", ADM)
        await browser.until_link("MSP: decide on the SMS")
        await browser.shot("queue-approved-decision-maker")
        await browser.click_link("MSP: decide on the SMS")
        await browser.click_link("msp MSP-UI-2C")
        await browser.until("Authorise the SMS", reload=False)
        await browser.expand("AuthoriseMspSms")
        await browser.choose(
            "AuthoriseMspSms", "circumstance", "successful-contact-confirmation-helps"
        )
        await browser.tick("AuthoriseMspSms", "smem_checked", "mobile_checked")
        later = browser._field("AuthoriseMspSms", "send_at")
        await browser._run(
            lambda: browser.driver.execute_script("arguments[0].value = '2027-03-01T15:00'", later)
        )
        await browser.submit("AuthoriseMspSms")
        await accepted(browser, "the SMS for later")
        await browser.open(page)
        decided = await browser.until(re.compile(r"Decided\s+SMS decision"), reload=False)
        assert "Mon 1 Mar 2027, 15:00 AEDT" in decided, "to be sent then, in Canberra's time"
        assert not await browser.has_action("AuthoriseMspSms"), "decided: nothing more is asked"
        assert "Required now\nSMS decision" not in decided
        await browser.until(
            "MSP: decide on the SMS (approved decision makers only) (Ticked off)",
            what="its task closed when decided, not at the send",
        )
        await browser.shot("sms-authorised-for-later-shown-as-decided")
        clock.set(datetime(2027, 3, 1, 4, 30, tzinfo=UTC))  # 15:30 in Canberra
        await services["notification"].fire_timers()
        [dispatch] = await read_topic(
            kafka.bootstrap_servers, topic_prefix + SMS_DISPATCH.name, at_least=1
        )
        assert (dispatch.key, json.loads(dispatch.value)["event_type"]) == (
            b"MSP-UI-2C",
            "SmsDispatchRequested",
        ), "sent at its time, for the desktop messaging gateway"

        await sign_in(browser, console, signer, "OFF-MSP-1", MSP_OFFICER)
        await browser.open(page)
        await browser.until("Attach the letter", reload=False)
        await browser.expand("AttachMspLetter")
        await browser.type("AttachMspLetter", "letter_id", "LTR-UI-2C")
        await browser.tick(
            "AttachMspLetter", "final", "signed", "approved", "includes_contact_card"
        )
        await browser.submit("AttachMspLetter")
        await accepted(browser, "the letter")
        await browser.open(page)
        await browser.expand("RecordLetterDispatch")
        await browser.choose("RecordLetterDispatch", "method", "post")
        await browser.submit("RecordLetterDispatch")
        await accepted(browser, "the letter's dispatch")
        await browser.open(page)
        await browser.until("Required next: Record the result", what="the result step required")
        await browser.submit("RecordMspResult")
        await accepted(browser, "the result")
        await browser.open(page)
        await browser.until("The notification is complete.", what="the MSP's notification complete")
        await browser.shot("msp-with-two-incidents-complete")
