"""The system's topic catalogue. Names are without the deployment's topic prefix."""

from __future__ import annotations

from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseActionRejected,
    ExpenseCeased,
    ExpenseClosureReversed,
    ExpenseDelivered,
    ExpenseRemovalEscalationRequested,
    ExpenseRemoved,
    ExpenseUndelivered,
    OneOffExpenseCoded,
    OneOffExpenseVaried,
    PaymentAttemptDisregarded,
    PaymentAttempted,
    RecordExpenseRemoval,
    UndeliveredExpensePeriodClosed,
    VaryOneOffExpense,
)
from contracts.topics import Catalogue, Topic

PAYMENT_ATTEMPTS = Topic(
    "im.payment-attempts", "expense_id", (PaymentAttempted,), "payments-system", ("expenses",),
    "Every attempt to pay an Income Management expense, delivered or failed.")
EXPENSE_ACTIONS = Topic(
    "im.expense-actions", "expense_id",
    (CeaseExpense, VaryOneOffExpense, CodeOneOffExpense, RecordExpenseRemoval), "staff-ui", ("expenses",),
    "Officers' requests on expenses: cease, vary a one-off, code a one-off, record a Service Desk removal.")
EXPENSE_EVENTS = Topic(
    "im.expense-events", "expense_id",
    (ExpenseUndelivered, ExpenseDelivered, UndeliveredExpensePeriodClosed, ExpenseClosureReversed, ExpenseCeased,
     OneOffExpenseVaried, OneOffExpenseCoded, ExpenseRemoved, ExpenseActionRejected,
     ExpenseRemovalEscalationRequested, PaymentAttemptDisregarded),
    "expenses", ("workitems",),
    "What the expenses procedure decided: undelivered (UNDLVD RI / UNDLVD IM), delivered, windows closed "
    "unpaid (I059PL), reversals, ceases, rejections and escalations.")

CATALOGUE = Catalogue((PAYMENT_ATTEMPTS, EXPENSE_ACTIONS, EXPENSE_EVENTS))
