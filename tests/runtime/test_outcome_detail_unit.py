"""A dead letter's detail, as the record's outcome carries it (issue 41): a detail may one day quote the record (a
field's name, say), so the outcome takes it as the header says it, escaped, and cut again, so that no record can
make an outcome its schema refuses (an outcome is not validated again: issue 42)."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from contracts.envelope import TEXT_CHARS
from servicekit.consume.consumer import DETAIL_LIMIT, dead_letter, detail_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("detail", ["\ud800" * 5000, "é" * 5000, "x" * 5000, ""])
def test_a_detail_of_any_characters_stays_within_the_outcomes_bound_and_is_json(detail):
    record = ConsumerRecord(
        topic="im.payment-attempts",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"EXP-1",
        value=b"{}",
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=2,
        headers=[],
    )
    letter = dead_letter(
        record,
        "im.payment-attempts.dlq",
        reason="schema-invalid",
        detail=detail,
        consumer="expenses",
        max_bytes=512 * 1024,
    )
    said = detail_of(letter)
    assert len(said) <= DETAIL_LIMIT <= TEXT_CHARS
    said.encode("utf-8")  # no lone surrogate left: JSON can carry it
    assert said[:10] == detail.encode("utf-8", "backslashreplace").decode()[:10]
