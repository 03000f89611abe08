"""What officers read: every event, action and role of the system in the procedure's and the officer's words,
never a class name or a code value. A new event type in the catalogue needs its words here (a test says so)."""

from __future__ import annotations

import re

EVENTS = {
    # 104-07050030, the MSP's notification
    "MspApproved": "MSP approved",
    "MspNotificationPlanned": "Notification steps planned",
    "MspStepRequired": "A step is required",
    "MspStepDone": "A step was done",
    "MspSmsAuthorised": "SMS authorised",
    "MspSmsWithheld": "SMS not sent",
    "MspLetterAccepted": "Letter accepted",
    "MspNotificationCompleted": "Notification steps done",
    "MspRiskResponseRequired": "A risk needs a response",
    "MspActionRejected": "Action refused",
    "SmsDispatchRequested": "SMS sent to desktop messaging",
    "RecordPhoneContact": "Phone contact recorded",
    "RecordIncident": "Incident recorded",
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
    "PaymentAttemptDisregarded": "Payment attempt set aside",
    "CeaseExpense": "Cease the expense",
    "VaryOneOffExpense": "Vary the one-off's amount",
    "CodeOneOffExpense": "Code a one-off expense",
    "RecordMySupportJob": "Record the mySupport job number",
    "RecordExpenseRemoval": "Record the expense's removal",
    # work items
    "WorkItemRaised": "Work item raised",
    "WorkItemAssigned": "Work item assigned",
    "WorkItemTickedOff": "Work item ticked off",
    "WorkItemCancelled": "Work item cancelled",
    "WorkItemActionRejected": "Action refused",
    "TickOffWorkItem": "Tick off the work item",
    "AssignWorkItem": "Assign the work item",
}

ROLES = {
    "msp-officer": "MSP officer",
    "msp-approved-decision-maker": "approved decision maker",
    "im-trained": "trained in Income Management",
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
