"""`./dev run` in a terminal shows one readable stream, each line prefixed with its service; the JSON stays the
format of the files and of production."""

from __future__ import annotations

import json

import pytest

from devstack.system import readable_line

pytestmark = pytest.mark.unit


def test_a_json_line_reads_as_who_when_how_grave_what_then_the_rest():
    line = json.dumps(
        {
            "component": "servicekit.service",
            "event": "service stopped",
            "service": "expenses",
            "level": "info",
            "timestamp": "2026-12-02T18:39:16.565648Z",
            "topic": "im.payment-attempts",
        }
    )
    assert readable_line("expenses", line) == (
        "[expenses] 18:39:16 info    service stopped (servicekit.service)  topic=im.payment-attempts"
    )


@pytest.mark.parametrize("line", ["Started server process [12]", "[1, 2]", "{not json"])
def test_a_line_that_is_not_a_json_object_is_shown_as_it_is_with_its_service(line):
    assert readable_line("console", line) == f"[console] {line}"
