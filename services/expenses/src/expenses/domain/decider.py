"""Undelivered expenses as the runtime's decider (:class:`servicekit.decider.Decider`): a payment attempt, a staff
action or a window falling due, against its expense's state; each output folded into the expense it is about (an
escalation may be about a sibling one-off); the DOC note an action carried kept as an internal fact, never
published. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.envelope import Event, officers_time
from contracts.expenses import (
    CeaseExpense,
    CodeOneOffExpense,
    ExpenseKind,
    PaymentAttempted,
    RecordExpenseRemoval,
    RecordMySupportJob,
    VaryOneOffExpense,
)
from expenses.domain.decide import (
    StaffAction,
    decide_attempt,
    decide_cease,
    decide_close,
    decide_code,
    decide_job,
    decide_removal,
    decide_vary,
    doc_to_keep,
)
from expenses.domain.model import (
    DocNote,
    Expense,
    ExpenseState,
    ExpenseStatus,
    PeriodWindow,
    evolve,
)
from servicekit.decider import NoReactions


@dataclass(frozen=True)
class WindowDue:
    """A retry window's deadline has passed (a timer)."""

    expense_id: str
    window: PeriodWindow


Message = PaymentAttempted | StaffAction | WindowDue
Output = Event | DocNote


def siblings(
    states: Mapping[str, ExpenseState | None], attempt: PaymentAttempted
) -> tuple[Expense, ...]:
    """A one-off's siblings as this run has left them: those stored, and the one-offs of the same customer and payee
    that earlier messages of the run made known ("cease first" on the payments system's path; paid twice)."""
    stored = (states.get(attempt.expense_id) or ExpenseState(None)).siblings
    here = {
        i: s.expense
        for i, s in states.items()
        if i != attempt.expense_id
        and s is not None
        and s.expense is not None
        and s.expense.kind is ExpenseKind.ONE_OFF
        and s.expense.pays
        and (s.expense.customer_ref, s.expense.payee_id) == (attempt.customer_ref, attempt.payee_id)
    }
    return tuple(s for s in stored if s.expense_id not in here) + tuple(here.values())


def decide_request(state: ExpenseState, request: StaffAction, now: datetime) -> list[Output]:
    """An officer's request, decided at the officer's time (:func:`contracts.envelope.officers_time`), with the DOC
    note it leaves on the expense's history."""
    if not isinstance(request, StaffAction):
        raise TypeError(f"no decision for {type(request).__name__}")  # the catalogue and this agree
    at = officers_time(request, now)
    match request:
        case CeaseExpense():
            events = decide_cease(state, request, at)
        case VaryOneOffExpense():
            events = decide_vary(state, request, at)
        case CodeOneOffExpense():
            events = decide_code(state, request, at)
        case RecordExpenseRemoval():
            events = decide_removal(state, request, at)
        case RecordMySupportJob():
            events = decide_job(state, request, at)
    doc = doc_to_keep(request, events, at)
    return [*events] if doc is None else [*events, doc]


class Expenses(NoReactions):
    @staticmethod
    def keys(message: Message) -> tuple[str]:
        return (message.expense_id,)

    @staticmethod
    def decide(
        states: Mapping[str, ExpenseState | None], message: Message, now: datetime
    ) -> Sequence[Output]:
        state = states.get(message.expense_id) or ExpenseState(None)
        match message:
            case WindowDue():
                assert state.expense is not None
                return decide_close(state.expense, message.window, now)
            case PaymentAttempted():
                if message.kind is ExpenseKind.ONE_OFF and (
                    state.expense is None or state.expense.status is not ExpenseStatus.ACTIVE
                ):
                    state = replace(state, siblings=siblings(states, message))
                return decide_attempt(state, message, now)
            case _:
                return decide_request(state, message, now)

    @staticmethod
    def key_of(output: Output) -> str:
        return output.key if isinstance(output, Event) else output.expense_id

    @staticmethod
    def evolve(state: ExpenseState | None, output: Output) -> ExpenseState:
        """A DOC note changes no state: the shell keeps it in the expense's history."""
        state = state or ExpenseState(None)
        return state if isinstance(output, DocNote) else evolve(state, output)
