"""When a work item is due, and why. The procedures give the MSP's tasks no deadline but one: 104-07050030
step 2, "it is important that customers are notified of the MSP decisions as soon as possible". How soon is the
agency's to say: its service levels are a setting (``CONSOLE_SERVICE_LEVELS_H``, hours from when the task was
raised, per task), named as the agency's wherever a due time is shown. An I059PL has none: the procedure says to
act on it "as part of every contact with a customer" (103-01050060 step 1). The step-7 items carry the procedure's
own deadline, the customer's day 1 or day 2 (``WorkItemRaised.due_at``), which comes first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from console.desk.localtime import when
from contracts.procedures import BY_ID
from contracts.workitems import WorkItemCode

SERVICE_LEVELS_H: dict[str, float] = {
    code.value: hours
    for code, hours in (
        (WorkItemCode.MSP_RISK_RESPONSE, 1),
        (WorkItemCode.MSP_DESCRIBE_BEHAVIOURS, 24),
        (WorkItemCode.MSP_PHONE, 24),
        (WorkItemCode.MSP_SMS_DECISION, 24),
        (WorkItemCode.MSP_INCIDENT, 24),
        (WorkItemCode.MSP_LETTER, 48),
        (WorkItemCode.MSP_RECORD_RESULT, 72),
    )
}
"""The defaults: a risk within the hour, the call and the SMS decision within a day of approval, the letter
within two, the result within three."""


_CEASE_BY_DAY_2 = (
    "the later one-off can be ceased only until its day 2 begins, in the customer's state",
    "IM-7.3",
)
OWN_DEADLINES: dict[str, tuple[str, str]] = {
    WorkItemCode.PAID_TWICE.value: _CEASE_BY_DAY_2,
    WorkItemCode.ONE_OFF_CONFLICT.value: _CEASE_BY_DAY_2,
    WorkItemCode.REMOVAL_ESCALATION.value: (
        "the removal helps only until the one-off's day 2 ends, in the customer's state (it ends on day 3)",
        "IM-7.4",
    ),
}
"""The items whose deadline the procedure itself gives (103-01050060 step 7), carried on the item
(``WorkItemRaised.due_at``): why, and the rule it comes from."""


def due_at(
    code: str,
    raised_at: datetime | None,
    levels: Mapping[str, float],
    own: datetime | None = None,
) -> datetime | None:
    """The procedure's own deadline where the item carries one, else the agency's service level for its code."""
    if own is not None:
        return own
    hours = levels.get(code)
    return (
        raised_at + timedelta(hours=hours) if raised_at is not None and hours is not None else None
    )


def due_text(
    code: str,
    raised_at: datetime | None,
    status: str,
    levels: Mapping[str, float],
    now: datetime,
    zone: ZoneInfo,
    officers: ZoneInfo | None = None,
    own: datetime | None = None,
    rule_id: str = "MSP-2.1",
) -> str:
    """``Due … (overdue)``, the procedure's deadline or the agency's service level it comes from, and the
    procedure's words it serves (``rule_id``: the rule a service level serves, where it is not MSP-2.1's "as soon
    as possible": a risk response serves the guidelines its risk refers to)."""
    due = due_at(code, raised_at, levels, own)
    if due is None:
        rule = BY_ID["IM-1.1"]
        return f"No due time: {rule.id}, “{rule.quote}”"
    late = " (overdue)" if status == "open" and due < now else ""
    if own is not None:
        why, rule_id = OWN_DEADLINES.get(code, ("the procedure's deadline", "IM-7.3"))
        rule = BY_ID[rule_id]
        return f"Due {when(due, zone, officers)}{late}: {why}. {rule.id}: “{rule.quote}”"
    rule = BY_ID[rule_id]
    hours = levels[code]
    return (
        f"Due {when(due, zone, officers)}{late}: the agency's service level for this task is {hours:g} "
        f"{'hour' if hours == 1 else 'hours'} from when it was raised ({when(raised_at, zone, officers)}). "
        f"{rule.id}: “{rule.quote}”"
    )
