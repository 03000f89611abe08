"""What a live page watches and which changes concern it (issue 40: the queue, a record's page and a command's page
update themselves), decided without a database or a browser."""

from __future__ import annotations

import uuid

import pytest
from console.desk.live import Change, Watch, concerns

pytestmark = pytest.mark.unit

COMMAND = str(uuid.uuid4())


def test_a_watch_is_read_from_its_address_and_anything_else_is_no_watch():
    assert Watch.read("queue") == Watch("queue")
    assert Watch.read(f"command:{COMMAND}") == Watch("command", COMMAND)
    assert Watch.read("msp:MSP-1") == Watch("msp", "MSP-1")
    assert Watch.read("work-item:I059PL:E1:2027-03-01") == Watch(
        "work-item", "I059PL:E1:2027-03-01"
    )
    for text in ("command:not-a-uuid", "customer:CRN-1", "msp:", "msp:\x00", "x" * 300, ""):
        assert Watch.read(text) is None, text
    assert Watch.read("msp:MSP-1").text() == "msp:MSP-1"


def test_a_change_goes_through_the_database_as_ids_only_and_is_read_back():
    change = Change(0.0, "work-item", "W-1", "msp-implementation", COMMAND, "msp:MSP-1")
    assert Change.read(change.payload(), 5.0) == Change(
        5.0, "work-item", "W-1", "msp-implementation", COMMAND, "msp:MSP-1"
    )
    assert Change.read("not json", 1.0) is None
    assert Change.read('{"k": 1}', 1.0) is None, "ids are text"
    assert Change.read("[]", 1.0) is None


def test_a_page_is_told_only_of_changes_to_what_it_shows_and_the_queue_only_of_its_queues():
    raised = Change(1.0, "work-item", "W-1", "msp-implementation", None, "msp:MSP-1")
    queues = ["msp-implementation"]
    assert concerns(Watch("queue"), raised, queues)
    assert not concerns(Watch("queue"), raised, ["income-management"]), "another queue's item"
    assert concerns(Watch("work-item", "W-1"), raised, [])
    assert concerns(Watch("msp", "MSP-1"), raised, []), "the MSP page lists its work items"
    assert not concerns(Watch("msp", "MSP-2"), raised, [])
    answered = Change(1.0, "msp", "MSP-1", None, COMMAND)
    assert concerns(Watch("command", COMMAND), answered, [])
    assert not concerns(Watch("command", str(uuid.uuid4())), answered, [])
    assert not concerns(Watch("queue"), answered, queues), "no work item changed"
    assert concerns(Watch("msp", "MSP-1"), answered, [])
