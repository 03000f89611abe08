"""Every actionable sentence of the two procedures, by id, in the procedures' own words.

An auditor's question, "where is this sentence, and what proves it is followed?", is answered from here: each
:class:`Rule` quotes its sentence verbatim (checked against ``docs/procedures/``), the domain functions that carry
it out say so with :func:`implements`, and ``python -m devstack.rules --write`` writes ``docs/procedures.md``
with the functions, the tests that prove it (marked, and quoting it), and the scenarios that exercise it.

``handling`` says what the system does with a rule: ``automated`` (decided by a service), ``pointed`` (the system
does not decide it; it puts the procedure's words or a task in front of the officer at the right moment) or
``people`` (left to people, with what the system does instead in ``note``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

MSP = "104-07050030"
IM = "103-01050060"
SEED_FILES = {
    MSP: "104-07050030-msp-implementing.txt",
    IM: "103-01050060-undelivered-im-expenses.txt",
}

Handling = Literal["automated", "pointed", "people"]


@dataclass(frozen=True)
class Rule:
    id: str
    seed: str
    quote: str
    handling: Handling = "automated"
    note: str = ""
    """The interpretation where the sentence is ambiguous, or why (and how) it is not automated."""


RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------------ 104-07050030 MSP - Implementing
    Rule(
        "MSP-1.1",
        MSP,
        "explain the reasons the MSP has been implemented, including a description of the "
        "behaviours taken into consideration",
        note="A described behaviour says what happened, when and on which channel; the phone task's briefing "
        "carries each, and the call must record that it was explained.",
    ),
    Rule(
        "MSP-1.2",
        MSP,
        "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without "
        "explaining why",
        note="Only a label: no word that says what the customer did (labels, where and how often set aside). "
        "Such an approval is planned with the approving officer's task to describe the behaviours first.",
    ),
    Rule(
        "MSP-1.3",
        MSP,
        "explain the reasons for the duration of the MSP and how the customer can access services "
        "for the duration of the MSP",
    ),
    Rule(
        "MSP-1.4",
        MSP,
        "provide contact details. For example One Main Contact (OMC), Personalised Services Service "
        "Officer (PSSO) or urgent query voicemail number",
    ),
    Rule("MSP-1.5", MSP, "advise they will receive a letter explaining the MSP"),
    Rule(
        "MSP-1.6",
        MSP,
        "If the customer displays aggression or counterproductive behaviour see Customer aggression "
        "- Response",
        "pointed",
        note="The response guidance is a screen of its own: the phone task points to it, and aggression on any "
        "call asks for the incident (MSP-1.7).",
    ),
    Rule("MSP-1.7", MSP, "Record a new incident and link it to the MSP."),
    Rule(
        "MSP-1.8",
        MSP,
        "There are limited circumstances where it is not appropriate to phone a customer.",
    ),
    Rule(
        "MSP-1.9",
        MSP,
        "Wherever possible contact the customer's Power of Attorney, nominee or person permitted to "
        "enquire where a decision is made not to contact the customer directly.",
        note="In that order of preference; with no one to phone the step is skipped.",
    ),
    Rule(
        "MSP-1.10",
        MSP,
        "For Centrelink customers where phone contact is unsuccessful, consider sending an MSP SMS "
        "through Desktop Messaging",
        note="An unsuccessful call is an attempt: it asks for the SMS decision and the letter at once.",
    ),
    Rule(
        "MSP-2.1",
        MSP,
        "it is important that customers are notified of the MSP decisions as soon as possible.",
        note="An authorised SMS is sent at once unless a later send time is given.",
    ),
    Rule("MSP-2.2", MSP, "SMS can only be sent by approved decision makers"),
    Rule(
        "MSP-2.3",
        MSP,
        "customer cannot be contacted by phone.",
        note="Only after the customer was phoned and not reached, or when there was no one to phone: a "
        "representative phoned instead is not a try.",
    ),
    Rule("MSP-2.4", MSP, "telephone discussion with the customer was unproductive."),
    Rule(
        "MSP-2.5",
        MSP,
        "telephone contact was successful and it was determined that the customer may benefit "
        "from confirmation of MSP details by SMS.",
    ),
    Rule(
        "MSP-2.6",
        MSP,
        "waiting until the next day to call the customer may result in a more productive "
        "discussion and the customer would benefit from a preliminary message.",
        note="Only while that call is still to come: before any call or after an unsuccessful one; a message "
        "authorised for it is withheld if a call is recorded before it is sent.",
    ),
    Rule(
        "MSP-2.7",
        MSP,
        "customer may benefit from having One Main Contact/Personalised Services Service Officer "
        "number(s) captured on their mobile phone",
    ),
    Rule(
        "MSP-2.8",
        MSP,
        "the approved decision maker needs to make sure the mobile number on file is not recorded "
        "on multiple records.",
    ),
    Rule(
        "MSP-2.9",
        MSP,
        "Where this does occur, the SMS must not be sent and existing phone and letter "
        "notification provisions apply.",
    ),
    Rule(
        "MSP-2.10",
        MSP,
        "Before sending a customer aggression related Desktop Electronic message, see SMS/Email "
        "Search (SMEM) screen.",
    ),
    Rule(
        "MSP-2.11",
        MSP,
        "A MSP SMS should not be sent to customers talking about suicide or self-harm",
    ),
    Rule(
        "MSP-2.12",
        MSP,
        "refer to Customers talking about suicide or self-harm",
        "pointed",
        note="A guideline of its own: MspRiskResponseRequired raises an MSP-RISK-RESPONSE task with these words.",
    ),
    Rule(
        "MSP-2.13",
        MSP,
        "family and domestic violence involving an immediate threat to safety, staff are to "
        "follow their local response guidelines",
        "pointed",
        note="The SMS is withheld (automated); the local guidelines are a task with these words.",
    ),
    Rule(
        "MSP-2.14",
        MSP,
        "an SMS does not contain all required notification and decision information.",
        note="The text is fixed by the service: no sensitive detail, the contact number, the letter announced.",
    ),
    Rule("MSP-2.15", MSP, "Sending an SMS will complement, not replace the corresponding letter."),
    Rule("MSP-3.1", MSP, "Customers must be advised of their MSP in writing."),
    Rule(
        "MSP-3.2",
        MSP,
        "Send the signed and approved MSP letter including the OMC/PSSO contact card.",
    ),
    Rule("MSP-3.3", MSP, "Ensure that only the final approved letter is attached to the MSP."),
    Rule(
        "MSP-3.4",
        MSP,
        "Staff/Security Guards must not exit the premises to hand deliver the letter to the "
        "customer.",
    ),
    Rule(
        "MSP-3.5",
        MSP,
        "In some serious cases, the letter may be hand delivered by the local Police (where these "
        "arrangements exist).",
    ),
    Rule("MSP-3.6", MSP, "Record this in the MSP notes."),
    Rule("MSP-4.1", MSP, "Record the result of the customer contact in the MSP record"),
    Rule(
        "MSP-4.2",
        MSP,
        "For Child Support customers, see the Proposing/reviewing an MSP to include service channel "
        "restriction table in Personalised Services.",
        "pointed",
        note="The completion summary of a Child Support MSP carries this pointer.",
    ),
    # ------------------------------------------------------------------ 103-01050060 undelivered IM expenses
    Rule(
        "IM-1.1",
        IM,
        "All staff must investigate any Work Items which present on a customer's record, and take "
        "appropriate action, as part of every contact with a customer.",
        "pointed",
        note="Every Income Management work item carries these words as guidance.",
    ),
    Rule(
        "IM-1.2",
        IM,
        "For Service Officers trained in Income Management, go to Step 2.",
        note="Trained is the verified im-trained role: it opens the income management queue and its actions.",
    ),
    Rule(
        "IM-1.3",
        IM,
        "For Service Officers not trained in Income Management: cold transfer the customer to",
        "pointed",
        note="Every refusal for want of the role gives the transfer guidance as its way out.",
    ),
    Rule(
        "IM-1.4",
        IM,
        "seek assistance from a specialised Service Officer (if available) or Service Support "
        "Officer",
        "pointed",
        note="Guidance on every Income Management work item.",
    ),
    Rule("IM-2.1", IM, "'UNDLVD RI' for all undelivered regular expenses"),
    Rule("IM-2.2", IM, "'UNDLVD IM' for all undelivered one-off expenses"),
    Rule(
        "IM-2.3",
        IM,
        "The Payment Summary (PS) screen displays undelivered payments.",
        "people",
        note="A screen of the payments system: this system publishes ExpenseUndelivered with the status instead.",
    ),
    Rule(
        "IM-3.1",
        IM,
        "if the regular expense fails, the system will attempt to pay the expense for 7 days.",
        note="7 calendar days from local midnight of the scheduled date in the customer's state.",
    ),
    Rule(
        "IM-3.2",
        IM,
        "If the expense is not paid by the end of the 7 days, the system will stop attempting to pay "
        "the expense for this period, and it will remain as unpaid.",
    ),
    Rule("IM-3.3", IM, "It will then attempt to pay the expense for the next 7 day period."),
    Rule(
        "IM-3.4",
        IM,
        "Work Item 'I059PL - A previous expense was not delivered, please discuss with customer' is "
        "created on the Income Management Summary screen.",
    ),
    Rule(
        "IM-3.5",
        IM,
        "if the regular expense fails, the system will attempt to pay the expense for 14 days.",
    ),
    Rule(
        "IM-3.6",
        IM,
        "If the expense is not paid by the end of the 14 days, the system will stop attempting to "
        "pay the expense for this period, and will remain as unpaid.",
    ),
    Rule("IM-3.7", IM, "It will then attempt to pay the expense for the next 14 day period."),
    Rule(
        "IM-4.1",
        IM,
        "Check to see why the payment failed.",
        "pointed",
        note="The failure reason is explained in words on the undelivered event and the console.",
    ),
    Rule("IM-4.2", IM, "If appropriate, the expense can be ceased."),
    Rule(
        "IM-4.3",
        IM,
        "This will stop any further payments for the expense, including the current period.",
    ),
    Rule(
        "IM-4.4",
        IM,
        "Determine the most appropriate action to be taken after discussing with the customer, and "
        "update as appropriate",
        "people",
        note="The discussion is the officer's: the step's options are listed for them.",
    ),
    Rule(
        "IM-4.5",
        IM,
        "Record details on a DOC.",
        note="Steps 4, 5 and 8 end with it: a regular expense is ceased (step 4) and an I059PL ticked off (steps 5 "
        "and 8) only with the DOC note (refused doc-note-required without one); a one-off's actions (step 7 asks "
        "for none) keep one when given. Every note is kept in the record's history, never published.",
    ),
    Rule(
        "IM-5.1",
        IM,
        "The payment is undelivered and will not be paid for that period.",
        "pointed",
        note="The step-5 I059PL's instructions say this (the period stays unpaid: IM-3.2).",
    ),
    Rule(
        "IM-5.2",
        IM,
        "The 1 week expense will now try to pay for the next week.",
        "pointed",
        note="The weekly I059PL's instructions say this (the next period is tried: IM-3.3).",
    ),
    Rule(
        "IM-5.3",
        IM,
        "Advise the customer of the period that the payment was not delivered and discuss options "
        "if appropriate.",
        "people",
        note="The I059PL names the period and says this.",
    ),
    Rule(
        "IM-5.4",
        IM,
        "Manually tick off the Work Item.",
        note="An I059PL is ticked off by an officer only, with a DOC note.",
    ),
    Rule(
        "IM-6.1",
        IM,
        "When the one-off expense is coded, the expense will attempt to deliver for the next 2 "
        "working days.",
        note="Day 1 is the working day of coding (the next one on a weekend or holiday); days and the deadline "
        "are stored once.",
    ),
    Rule(
        "IM-6.2",
        IM,
        "If the expense does not deliver within the 2 days, the expense will not try to pay again.",
    ),
    Rule("IM-7.1", IM, "it will automatically end on day 3."),
    Rule(
        "IM-7.2",
        IM,
        "the existing expense needs to be ceased before the new one-off expense can be coded.",
        note="Serialised per customer and payee; the payments system's coding raises a conflict task.",
    ),
    Rule(
        "IM-7.3",
        IM,
        "the expense cannot be ceased or varied on day 2.",
        note="Judged at the officer's time (when the console accepted the request), never later than it is "
        "handled.",
    ),
    Rule("IM-7.4", IM, "raise a mySupport webform."),
    Rule(
        "IM-7.5",
        IM,
        "Phone the ICT Service Desk quoting the mySupport job number to request the removal of the "
        "existing expense.",
    ),
    Rule(
        "IM-7.6",
        IM,
        "They will advise when another expense can be coded.",
        "people",
        note="The Service Desk's advice is recorded as the removal, after which a one-off may be coded.",
    ),
    Rule(
        "IM-7.7",
        IM,
        "check the Available Balance of the Income Management account and the Current Balance of the "
        "Income Management account",
        "people",
        note="Listed in the step's options.",
    ),
    Rule(
        "IM-8.1",
        IM,
        "The payment is undelivered and will not pay again.",
        "pointed",
        note="The step-8 I059PL's instructions say this (the one-off ended: IM-6.2).",
    ),
)
BY_ID = {r.id: r for r in RULES}

NOT_RULES: tuple[tuple[str, str], ...] = (
    ("Procedure ends here.", "navigation"),
    ("Services Australia ABN", "footer"),
    ("+ Read more", "a heading"),
    ("[Expand/Collapse all sections]", "page furniture"),
    ("see the Resources page", "a link"),
    ("Resources has a link", "a link"),
    ("The Resources page contains a link", "a link"),
    ("See Centrelink letter online and electronic messaging.", "a link"),
    ("Who should action undelivered Income Management expense enquiries?", "a heading"),
    ("this table explains what actions to take", "an introduction"),
    ("for undelivered regular expenses, go to step 3", "navigation"),
    ("action required if", "navigation"),
    ("for processing assistance for customers related to this step see", "links"),
    (
        "the most common reason is due to insufficient funds",
        "an explanation (IM-4.1 lists the reasons)",
    ),
    ("to reduce the risk to staff safety", "the purpose of MSP-2.1"),
    (
        "where possible, an sms should be sent to the customer where it is determined that prompt message delivery",
        "the purpose of the SMS circumstances (MSP-2.3 to MSP-2.7)",
    ),
    ("due to the sms character limit", "the reason for MSP-2.14"),
    (
        "this expense will attempt to pay for 2 days then it will be unpaid",
        "restates IM-6.1 (IM-7.1 holds its end)",
    ),
    ("this must be done on day 1.", "the other side of IM-7.3"),
    (
        "the 2 week expense will now try to pay for the next fortnightly period",
        "the fortnightly twin of IM-5.2",
    ),
    ("the work item 'i059pl - a previous expense was not delivered", "the other kinds' IM-3.4"),
    ("no action required for the one-off expense.", "the other side of IM-7.7"),
    ("the payment summary (ps) screen displays", "IM-2.3"),
    ("Managed Service Plan (MSP) - Implementing", "the title"),
    ("Undelivered Income Management expenses and actioning Work Items", "the title"),
    ("if required: seek assistance", "IM-1.4"),
)
"""Sentences of the procedures that are not rules, by how they begin, with why: the coverage test lists any other
sentence that no rule quotes."""

F = TypeVar("F", bound=Callable[..., object])
IMPLEMENTED: dict[str, list[str]] = {}
"""Rule id -> the ``module.function`` names that implement it (filled as the modules are imported)."""


APPLIED: ContextVar[set[str] | None] = ContextVar("rules_applied", default=None)
"""While a decision is traced (``servicekit.tracing.decision``), the ids of the rules whose code ran in it."""


def implements(*rule_ids: str) -> Callable[[F], F]:
    """Mark a domain function as carrying out these rules (an unknown id fails at import); while a decision is
    traced, a call adds them to :data:`APPLIED`."""
    unknown = [i for i in rule_ids if i not in BY_ID]
    if unknown:
        raise KeyError(f"no such rule: {', '.join(unknown)}")

    def mark(function: F) -> F:
        name = f"{function.__module__}.{getattr(function, '__qualname__', repr(function))}"
        for rule_id in rule_ids:
            IMPLEMENTED.setdefault(rule_id, []).append(name)

        @functools.wraps(function)
        def applied(*args: Any, **kwargs: Any) -> Any:
            seen = APPLIED.get()
            if seen is not None:
                seen.update(rule_ids)
            return function(*args, **kwargs)

        return cast("F", applied)

    return mark
