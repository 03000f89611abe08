"""Logs are for operators and never carry names, phone numbers, addresses, notes or safety flags."""

from __future__ import annotations

import io
import json

import pytest

from servicekit.logs import REDACTED, Redactor, configure_logging, get_logger

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    configure_logging(service="tests", level="INFO", pseudonym_key=b"tests")


def test_fields_outside_the_allowlist_are_redacted_and_customer_references_pseudonymised():
    stream = io.StringIO()
    configure_logging(service="svc", level="INFO", pseudonym_key=b"k", stream=stream)
    get_logger("t").info("sms withheld", msp_id="MSP-1", customer_ref="CRN-123456789",
                         mobile="0400 111 222", name="Jane Citizen", note="talked about self-harm",
                         reason_code="suicide-self-harm-risk")
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
