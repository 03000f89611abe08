"""A team leader's counts (issue 40), decided without a database: per queue (an empty one too) and per officer."""

from __future__ import annotations

import pytest
from console.desk.team import Counts, leads_a_team, per_officer, per_queue, skipped_because

pytestmark = pytest.mark.unit

ROWS = [
    {"queue": "income-management", "assignee_id": None, "open": 3, "overdue": 1},
    {"queue": "income-management", "assignee_id": "OFF-IM-1", "open": 2, "overdue": 2},
    {"queue": "msp-implementation", "assignee_id": "OFF-IM-1", "open": 1, "overdue": 0},
    {"queue": "msp-implementation", "assignee_id": "OFF-MSP-1", "open": 4, "overdue": 0},
]


def test_each_queue_counts_open_overdue_and_assigned_and_an_empty_queue_is_listed():
    counts = per_queue(ROWS, ["income-management", "msp-implementation", "msp-decision-makers"])
    assert counts["income-management"] == Counts(open=5, overdue=3, assigned=2)
    assert counts["income-management"].unassigned == 3
    assert counts["msp-implementation"] == Counts(open=5, overdue=0, assigned=5)
    assert counts["msp-decision-makers"] == Counts(), "a queue with nothing open is still shown"


def test_each_officer_counts_what_they_hold_across_queues_and_nobody_is_no_officer():
    assert per_officer(ROWS) == {
        "OFF-IM-1": Counts(open=3, overdue=2, assigned=3),
        "OFF-MSP-1": Counts(open=4, overdue=0, assigned=4),
    }


def test_only_a_team_leader_leads_a_team_and_a_skip_says_why_in_words():
    assert leads_a_team(["team-leader", "im-trained"])
    assert not leads_a_team(["im-trained"])
    assert "roles do not open" in skipped_because("assignee-role-required")
    assert skipped_because("something-new") == "it was refused before it was sent"
