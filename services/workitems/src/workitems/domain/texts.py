"""What each work item tells the officer, in the procedures' own words."""

from __future__ import annotations

from contracts.expenses import ExpenseKind
from contracts.notification import Role, Step
from contracts.workitems import Queue, WorkItemCode

I059PL_TITLE = "I059PL - A previous expense was not delivered, please discuss with customer"

# 103-01050060 step 1: who should action undelivered Income Management expense enquiries.
NOT_TRAINED_GUIDANCE = [
    "All staff must investigate any Work Items which present on a customer's record, and take appropriate action, "
    "as part of every contact with a customer.",
    "For Service Officers not trained in Income Management: cold transfer the customer to the Income Management "
    "Line, the Indigenous Services queue (if appropriate), or Multilingual Call (if appropriate). See the Resources "
    "page for a link to the National Transfer numbers.",
    "For assistance in determining what action is required, see the How to action a Work Item section on the "
    "Process page of Work Items and Messages for Income Management. If required, seek assistance from a specialised "
    "Service Officer (if available) or Service Support Officer, or contact the Access Support Centre (select Income "
    "Management option).",
]

TICK_OFF_WITH_DOC = "Manually tick off the Work Item. Record details on a DOC."

_NEXT_PERIOD = {
    ExpenseKind.WEEKLY: "The 1 week expense will now try to pay for the next week.",
    ExpenseKind.FORTNIGHTLY: "The 2 week expense will now try to pay for the next fortnightly period.",
}


def i059pl_instructions(step: int, kind: ExpenseKind, period: str) -> list[str]:
    """Step 5 (regular, window closed unpaid) or step 8 (one-off over 2 days old)."""
    advise = (
        f"Advise the customer of the period that the payment was not delivered ({period}) and discuss "
        "options if appropriate."
    )
    if step == 5:
        next_period = [_NEXT_PERIOD[kind]] if kind in _NEXT_PERIOD else []
        return [
            "The payment is undelivered and will not be paid for that period.",
            *next_period,
            advise,
            TICK_OFF_WITH_DOC,
        ]
    return ["The payment is undelivered and will not pay again.", advise, TICK_OFF_WITH_DOC]


REMOVAL_TITLE = "Request removal of the one-off expense (day 2, extreme hardship)"
CONFLICT_TITLE = (
    "Two one-off expenses for the same customer and payee are trying to pay: cease one first"
)
PAID_TWICE_TITLE = "An expense was paid late while a one-off was coded after it: both may pay"
ADVICE_WRONG_TITLE = "A period advised as not delivered was paid after all: tell the customer"
RISK_RESPONSE_TITLE = "Follow the guidelines the procedure refers to for a risk recorded on the MSP"

MSP_TITLES = {
    Step.DESCRIBE: "MSP: describe the behaviours taken into consideration (approving officer)",
    Step.PHONE: "MSP: phone {whom} to explain the Managed Service Plan",
    Step.SMS: "MSP: decide on the SMS (approved decision makers only)",
    Step.LETTER: "MSP: send the final, signed and approved letter",
    Step.INCIDENT: "MSP: record the incident in CIMS, linked to the MSP",
    Step.RECORD_RESULT: "MSP: record the result",
}

MSP_CODES = {
    Step.DESCRIBE: WorkItemCode.MSP_DESCRIBE_BEHAVIOURS,
    Step.PHONE: WorkItemCode.MSP_PHONE,
    Step.SMS: WorkItemCode.MSP_SMS_DECISION,
    Step.LETTER: WorkItemCode.MSP_LETTER,
    Step.INCIDENT: WorkItemCode.MSP_INCIDENT,
    Step.RECORD_RESULT: WorkItemCode.MSP_RECORD_RESULT,
}


def msp_title(step: Step, contact_role: Role | None) -> str:
    whom = (
        "the customer"
        if contact_role in (None, Role.CUSTOMER)
        else f"the customer's {contact_role.value.replace('-', ' ')}"
    )
    return MSP_TITLES[step].format(whom=whom)


def msp_queue(approved_decision_makers_only: bool) -> Queue:
    return Queue.MSP_APPROVED_DECISION_MAKERS if approved_decision_makers_only else Queue.MSP


AUTOMATIC_COMPLETION = {
    WorkItemCode.REMOVAL_ESCALATION: "the ICT Service Desk's removal of the expense is recorded",
    **{
        code: "the MSP step is recorded (phone contact, SMS decision, letter dispatch, incident or result)"
        for code in MSP_CODES.values()
    },
}
