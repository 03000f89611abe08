"""`./dev run` in a terminal shows one readable stream, each line prefixed with its service; the JSON stays the
format of the files and of production."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devstack.system import readable_line, system_line

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


def test_the_launchers_own_lines_have_the_services_format_on_a_terminal_and_in_a_pipe():
    """Issue 41: "three log formats in one terminal": the launcher's own lines were plain text between the services'
    JSON (piped) or readable (terminal) lines. Now each stream has one format."""
    at = datetime(2026, 12, 7, 6, 1, 2, tzinfo=UTC)
    assert system_line("[system] stopping ...", readable=True, at=at) == (
        "[system] 06:01:02 info    stopping ..."
    )
    piped = json.loads(system_line("[system] stopping ...", readable=False, at=at))
    assert piped == {
        "timestamp": "2026-12-07T06:01:02Z",
        "level": "info",
        "event": "stopping ...",
        "service": "system",
    }
    assert readable_line("system", json.dumps(piped)) == system_line(
        "stopping ...", readable=True, at=at
    ), "a piped line reads as the terminal's"
