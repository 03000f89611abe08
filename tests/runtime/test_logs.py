"""Logs are for operators and never carry names, phone numbers, addresses, notes or safety flags."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging

import pytest
from opentelemetry import trace

from servicekit.logs import REDACTED, LineLogger, LineSink, Redactor, configure_logging, get_logger

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    configure_logging(service="tests", level="INFO", pseudonym_key=b"tests")


def test_fields_outside_the_allowlist_are_redacted_and_customer_references_pseudonymised():
    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    get_logger("t").info(
        "sms withheld",
        msp_id="MSP-1",
        customer_ref="CRN-123456789",
        mobile="0400 111 222",
        name="Jane Citizen",
        note="talked about self-harm",
        reason_code="suicide-self-harm-risk",
    )
    line = json.loads(stream.getvalue().strip())
    assert line["msp_id"] == "MSP-1"
    assert line["service"] == "svc"
    assert line["reason_code"] == "suicide-self-harm-risk"
    assert line["mobile"] == line["name"] == line["note"] == REDACTED
    assert line["customer_ref"].startswith("cust-")
    raw = stream.getvalue()
    for secret in ("0400 111 222", "Jane", "talked about", "CRN-123456789"):
        assert secret not in raw


def test_a_pseudonym_is_stable_for_one_key_and_differs_between_keys():
    a, b = Redactor(b"one"), Redactor(b"two")
    assert a.pseudonym("CRN-1") == a.pseudonym("CRN-1")
    assert a.pseudonym("CRN-1") != a.pseudonym("CRN-2")
    assert a.pseudonym("CRN-1") != b.pseudonym("CRN-1")


def test_log_level_filters_below_the_setting():
    stream = io.StringIO()
    configure_logging(service="svc", level="WARNING", pseudonym_key=b"k", stream=stream)
    get_logger().info("chatter")
    get_logger().warning("retrying", attempt=2)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [x["event"] for x in lines] == ["retrying"]


class Recording:
    """A binary stream that keeps each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def flush(self) -> None:
        pass


def sink() -> tuple[Recording, LineSink]:
    out = Recording()
    holder = type("Stdout", (), {"buffer": out})()
    return out, LineSink(holder, gather=True)


async def test_the_lines_of_one_turn_of_the_event_loop_are_written_with_one_call_at_its_end():
    out, lines = sink()
    for n in range(3):
        lines.write(b'{"n": %d}' % n)
    assert out.writes == [], "nothing is written while the turn goes on"
    await asyncio.sleep(
        0
    )  # the end of this turn: the flush was scheduled before this task's resumption
    assert out.writes == [b'{"n": 0}\n{"n": 1}\n{"n": 2}\n']


async def test_an_error_is_written_at_once_with_the_lines_before_it():
    out, lines = sink()
    lines.write(b'{"level": "info"}')
    LineLogger(lines).error(b'{"level": "error"}')
    assert out.writes == [b'{"level": "info"}\n{"level": "error"}\n']


def test_outside_a_running_event_loop_each_line_is_written_at_once():
    out, lines = sink()
    lines.write(b'{"n": 1}')
    assert out.writes == [b'{"n": 1}\n']


def test_a_logger_cached_on_first_use_renders_like_any_other():
    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream, cache=True)
    log = get_logger("t")
    log.info("first", customer_ref="CRN-1")
    log.info("second", customer_ref="CRN-1", note="free text")
    first, second = (json.loads(x) for x in stream.getvalue().splitlines())
    assert first["customer_ref"] == second["customer_ref"] != "CRN-1"
    assert second["note"] == REDACTED


def test_a_librarys_records_are_json_lines_at_the_level_they_deserve_and_an_exception_is_named_not_quoted():
    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    )
    logging.getLogger("aiokafka.conn").error("Unable to connect to broker")
    try:
        raise ValueError("Jane Citizen, 0400 111 222")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("aiokafka").info("chatter below the libraries' threshold")
    refused, failed = (json.loads(x) for x in stream.getvalue().splitlines())
    assert "Group Coordinator" not in stream.getvalue(), (
        "retried by the client while the group forms: debug, not an alarm nor news (issue 41)"
    )
    assert (refused["component"], refused["level"]) == ("aiokafka.conn", "error")
    assert (failed["event"], failed["error_type"], failed["service"]) == (
        "Exception in ASGI application",
        "ValueError",
        "svc",
    )
    assert "Jane" not in stream.getvalue()
    assert "0400" not in stream.getvalue()


def test_a_traceback_a_library_logs_as_text_is_given_by_its_exception_type_alone():
    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    logging.getLogger("uvicorn.error").error(
        'Traceback (most recent call last):\n  File "app.py", line 3, in lifespan\n'
        "pydantic_core._pydantic_core.ValidationError: input_value='0400 111 222'"
    )
    [line] = (json.loads(x) for x in stream.getvalue().splitlines())
    assert (line["event"], line["error_type"]) == ("traceback", "ValidationError")
    assert "0400" not in stream.getvalue()


def test_a_transition_line_gives_its_time_in_utc_with_a_z_and_its_ids_as_text():
    from datetime import UTC, datetime

    from devstack.synthetic import medicare_approval
    from servicekit.logs import log_transition

    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    approval = medicare_approval("MSP-1", "CRN-1", datetime(2027, 3, 1, tzinfo=UTC))
    before = datetime.now(UTC)
    log_transition("t", approval, "msp_id", "customer_ref")
    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "MspApproved"
    assert line["event_id"] == str(approval.event_id)
    assert line["correlation_id"] == str(approval.correlation_id)
    assert line["timestamp"].endswith("Z")
    assert before <= datetime.fromisoformat(line["timestamp"]) <= datetime.now(UTC)


@pytest.mark.parametrize("traced", [False, True], ids=["outside-a-span", "in-a-span"])
def test_a_transition_line_is_the_line_structlog_writes_for_the_same_fields(traced):
    """``log_transition`` builds its line itself (issue 42): the same fields, redacted and pseudonymised alike, as
    the structlog line an operator reads for any other message; an unlisted field named by mistake is redacted."""
    from datetime import UTC, datetime

    from opentelemetry.sdk.trace import TracerProvider

    from devstack.synthetic import medicare_approval
    from servicekit.logs import log_transition

    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    approval = medicare_approval("MSP-1", "CRN-1", datetime(2027, 3, 1, tzinfo=UTC))
    fields = ("msp_id", "customer_ref", "reasons", "not_a_field")
    span = TracerProvider().get_tracer("t").start_span("s")
    with contextlib.ExitStack() as stack:
        if traced:
            stack.enter_context(trace.use_span(span))
        log_transition("t", approval, *fields)
        values = vars(approval)
        get_logger("t").info(
            approval.event_type,
            event_id=approval.event_id,
            correlation_id=approval.correlation_id,
            **{f: values[f] for f in fields if values.get(f) is not None},
        )
    fast, slow = (json.loads(line) for line in stream.getvalue().splitlines())
    assert fast.pop("timestamp").endswith("Z")
    assert slow.pop("timestamp").endswith("Z")
    assert fast == slow
    assert list(fast) == list(slow)  # the same order, so the lines read the same
    assert fast["customer_ref"].startswith("cust-")
    assert fast["reasons"] == REDACTED  # free text
    assert ("trace_id" in fast) is traced


def test_a_transition_line_follows_the_configured_level():
    from datetime import UTC, datetime

    from devstack.synthetic import medicare_approval
    from servicekit.logs import log_transition

    stream = io.StringIO()
    configure_logging(service="svc", level="WARNING", pseudonym_key=b"k", stream=stream)
    log_transition("t", medicare_approval("MSP-1", "CRN-1", datetime(2027, 3, 1, tzinfo=UTC)))
    assert stream.getvalue() == ""
