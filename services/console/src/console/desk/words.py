"""What officers read: every event, action and role of the system in the procedure's and the officer's words,
never a class name or a code value. A new event type in the catalogue needs its words here (a test says so)."""

from __future__ import annotations

import re

EVENTS = {
    # 104-07050030, the MSP's notification
    "MspApproved": "MSP approved",
    "MspApprovalOutcomes": "What became of MSP approvals (told to the approvals system)",
    "MspNotificationPlanned": "Notification steps planned",
    "MspStepRequired": "A step is required",
    "MspStepDone": "A step was done",
    "MspSmsAuthorised": "SMS authorised",
    "MspSmsWithheld": "SMS not sent",
    "MspLetterAccepted": "Letter accepted",
    "MspNotificationCompleted": "Notification steps done",
    "MspRiskResponseRequired": "A risk needs a response",
    "TeamNotificationRequested": "The team was told",
    "MspActionRejected": "Action refused",
    "SmsDispatchRequested": "SMS sent to desktop messaging",
    "RecordPhoneContact": "Phone contact recorded",
    "RecordIncident": "Incident recorded",
    "WithdrawMspIncident": "Incident withdrawn (asked for in error)",
    "AuthoriseMspSms": "SMS authorisation",
    "DeclineMspSms": "SMS declined",
    "RecordRiskFact": "Risk recorded",
    "AttachMspLetter": "Letter attached",
    "RecordLetterDispatch": "Letter dispatch recorded",
    "RecordMspResult": "Result recorded",
    "DescribeMspBehaviours": "Behaviours described",
    # 103-01050060, undelivered Income Management expenses
    "PaymentAttempted": "Payment attempted",
    "ExpenseUndelivered": "Expense not delivered",
    "ExpenseDelivered": "Expense delivered",
    "UndeliveredExpensePeriodClosed": "Retry window closed unpaid",
    "ExpenseClosureReversed": "Closed period paid after all",
    "ExpenseCeased": "Expense ceased",
    "OneOffExpenseVaried": "One-off amount varied",
    "OneOffExpenseCoded": "One-off expense coded",
    "ExpenseRemoved": "Expense removed by the ICT Service Desk",
    "ExpenseActionRejected": "Action refused",
    "ExpenseRemovalEscalationRequested": "Removal escalated (mySupport, ICT Service Desk)",
    "MySupportJobRecorded": "mySupport job number recorded",
    "OneOffConflictDetected": "Two one-offs trying at once",
    "OneOffPaidTwice": "Paid late while a one-off was coded after it: both may pay",
    "PaymentAttemptDisregarded": "Payment attempt set aside",
    "PaymentAttemptOutcomes": "What became of payment attempts (told to the payments system)",
    "CeaseExpense": "Cease the expense",
    "VaryOneOffExpense": "Vary the one-off's amount",
    "CodeOneOffExpense": "Code a one-off expense",
    "RecordMySupportJob": "Record the mySupport job number",
    "RecordExpenseRemoval": "Record the expense's removal",
    # work items
    "WorkItemRaised": "Work item raised",
    "WorkItemAssigned": "Work item assigned",
    "WorkItemUnassigned": "Work item handed back to its queue",
    "WorkItemTickedOff": "Work item ticked off",
    "WorkItemCancelled": "Work item cancelled",
    "WorkItemActionRejected": "Action refused",
    "TickOffWorkItem": "Tick off the work item",
    "AssignWorkItem": "Assign the work item",
    "UnassignWorkItem": "Hand the work item back to its queue",
}

ACTIONS = {
    "RecordPhoneContact": "Record the phone contact",
    "RecordIncident": "Record an incident",
    "WithdrawMspIncident": "Withdraw an incident asked for in error",
    "RecordRiskFact": "Record a risk fact",
    "AuthoriseMspSms": "Authorise the SMS",
    "DeclineMspSms": "Decline the SMS",
    "AttachMspLetter": "Attach the letter",
    "RecordLetterDispatch": "Record the letter's dispatch",
    "RecordMspResult": "Record the result",
    "CeaseExpense": "Cease the expense",
    "VaryOneOffExpense": "Vary the one-off's amount",
    "CodeOneOffExpense": "Code a one-off expense",
    "RecordExpenseRemoval": "Record the expense's removal",
    "TickOffWorkItem": "Tick off, with a DOC note",
    "AssignWorkItem": "Assign to a colleague",
    "DescribeMspBehaviours": "Describe the behaviours",
    "RecordMySupportJob": "Record the mySupport job number",
    "UnassignWorkItem": "Hand it back to the queue",
}
"""Each staff action as the form that offers it is titled (its button's words)."""


def action(command_type: str) -> str:
    """A staff action's title; one this console does not know in plain words."""
    return ACTIONS.get(command_type) or event(command_type)


QUEUES = {
    "income-management": "Income Management",
    "msp-implementation": "MSP implementation",
    "msp-approved-decision-makers": "Approved decision makers",
}
TICK_OFF = {
    "manual": "By an officer, with a DOC note",
    "automatic": "By the system, when the step is done",
}
FACTS = {
    "step": "Step",
    "outcome": "Outcome",
    "status": "Status",
    "reason": "Reason",
    "way_out": "What to do instead",
    "officer_id": "Officer",
    "assignee_id": "Assigned to",
    "previous_assignee_id": "Had it",
    "actor": "By",
    "circumstance": "Circumstance",
    "letter_id": "Letter",
    "period_start": "Period starting",
    "window_closes_at": "Retry window closes",
    "closed_at": "Closed",
    "delivered_at": "Delivered",
    "new_amount": "New amount (AUD)",
    "old_amount": "Old amount (AUD)",
    "doc_recorded": "DOC note kept",
    "queue": "Queue",
    "code": "Work item",
    "send_at": "Send at",
    "action": "Action",
}
"""What a timeline line shows of an event, where it has it (never a phone number, a name or a note), as the officer
reads it."""


ROLES = {
    "msp-officer": "MSP officer",
    "msp-approved-decision-maker": "approved decision maker",
    "im-trained": "trained in Income Management",
    "team-leader": "team leader",
    "ops": "operations",
}


def event(event_type: str) -> str:
    """An event's or an action's words; an unknown type (a newer service's) split into plain words."""
    if event_type in EVENTS:
        return EVENTS[event_type]
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", event_type)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else event_type


def roles(held: tuple[str, ...] | list[str]) -> str:
    return ", ".join(ROLES.get(r, r) for r in held) or "no roles"


CHOICES = {
    # 104-07050030 step 1: "contact the customer's Power of Attorney, nominee or person permitted to enquire"
    "customer": "The customer",
    "power-of-attorney": "Their power of attorney",
    "nominee": "Their nominee",
    "person-permitted-to-enquire": "A person permitted to enquire",
    "successful": "Successful",
    "unsuccessful": "Unsuccessful (no answer, no contact)",
    "unproductive": "Unproductive (the discussion did not get anywhere)",
    # 104-07050030 step 2, the circumstances in which an approved decision maker may send an SMS, in its words
    "customer-cannot-be-contacted-by-phone": "customer cannot be contacted by phone.",
    "telephone-discussion-unproductive": "telephone discussion with the customer was unproductive.",
    "successful-contact-confirmation-helps": "telephone contact was successful and it was determined that the "
    "customer may benefit from confirmation of MSP details by SMS.",
    "preliminary-message-before-next-day-call": "waiting until the next day to call the customer may result in a "
    "more productive discussion and the customer would benefit from a "
    "preliminary message.",
    "capture-omc-psso-number": "customer may benefit from having One Main Contact/Personalised Services Service "
    "Officer number(s) captured on their mobile phone",
    "suicide-or-self-harm": "The customer is talking about suicide or self-harm",
    "family-domestic-violence-immediate-threat": "Family and domestic violence with an immediate threat to safety",
    "mobile-on-multiple-records": "The mobile number is recorded on multiple records",
    # why a work item changes hands (a hand-back, or a reassignment while someone holds it)
    "workload": "Balancing the team's workload",
    "away": "The officer holding it is away",
    "skills": "It needs another officer's training or delegation",
    "conflict-of-interest": "A conflict of interest",
    "customer-contact": "The customer is in contact with another officer",
    "post": "By post",
    "local-police-hand-delivery": "Hand delivered by the local Police",
    "staff-hand-delivery": "Hand delivered by staff",
    "security-guard-hand-delivery": "Hand delivered by a security guard",
    "phone": "Phone",
    "in-person": "In person",
    "online": "Online",
    "mail": "Mail",
    "social-media": "Social media",
    "ACT": "Australian Capital Territory",
    "NSW": "New South Wales",
    "NT": "Northern Territory",
    "QLD": "Queensland",
    "SA": "South Australia",
    "TAS": "Tasmania",
    "VIC": "Victoria",
    "WA": "Western Australia",
}
"""Each choice a form offers, as the officer reads it (the value sent stays the contract's)."""


def choice(value: str) -> str:
    return CHOICES.get(value, value)


def fact(name: str, value: object) -> str | None:
    """A fact's value in the officer's words (an action, a queue, a choice, a flag), or ``None`` where it has none
    (a date, an amount, an id: the page shows those as they are, instants in local time)."""
    if name == "action":
        return event(str(value))
    if name == "queue":
        return QUEUES.get(str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return CHOICES.get(value) if isinstance(value, str) else None


KINDS = {
    "regular-weekly": "Regular, weekly",
    "regular-fortnightly": "Regular, fortnightly",
    "one-off": "One-off",
}
"""An expense's kind as the officer reads it (103-01050060: "weekly regular expenses", "fortnightly", "one-off")."""
OUTCOMES = {
    "retrying": "Still trying",
    "delivered": "Delivered",
    "closed unpaid": "Closed unpaid",
    "ceased": "Ceased",
    "removed": "Removed",
}
"""A retry window's outcome as the officer reads it."""


def calendar(text: str) -> str:
    """A stored calendar as the officer reads it: the days it counts and the customer's time zone, without the
    versions of the packages it was worked out with (kept with the window for the audit, not for the officer)."""
    without = re.sub(r", holidays [0-9][0-9.a-z]*", "", text)
    return re.sub(r" \(tzdata [0-9][0-9.a-z]*\)", "", without)
