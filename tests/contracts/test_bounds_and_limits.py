"""No field of any contract is unbounded, and decoding refuses what no contract needs, by name.

Issue "Nothing lost, nothing stuck": every free-text field has a maximum length, and the JSON a consumer
reads has bounded nesting and number length, so no record can make a consumer spend without limit.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from contracts.catalogue import PAYMENT_ATTEMPTS
from contracts.docs import events, schema_of
from contracts.topics import (
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    ContractError,
    exactly,
    load_json,
)

pytestmark = pytest.mark.unit


def unbounded(schema: dict[str, Any], path: str, defs: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        return unbounded(defs[schema["$ref"].split("/")[-1]], path, defs)
    branches = schema.get("anyOf", [])
    if {b.get("type") for b in branches} == {"number", "string"}:
        return []  # a Decimal: bounded by max_digits, checked on the models below
    found = [p for b in branches for p in unbounded(b, path, defs)]
    kind = schema.get("type")
    if kind == "string" and not {"enum", "const", "format", "maxLength"} & schema.keys():
        found.append(path)
    if kind == "array":
        found += [] if "maxItems" in schema else [path + "[]"]
        found += unbounded(schema.get("items", {}), path + "[*]", defs)
    for name, sub in schema.get("properties", {}).items():
        found += unbounded(sub, f"{path}.{name}", defs)
    return found


def decimal_fields(
    model: type[BaseModel], seen: set[type[BaseModel]]
) -> list[tuple[str, list[Any]]]:
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, info in model.model_fields.items():
        if info.annotation is Decimal or info.annotation == Decimal | None:
            found.append((f"{model.__name__}.{name}", info.metadata))
        for arg in getattr(info.annotation, "__args__", (info.annotation,)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found += decimal_fields(arg, seen)
    return found


@pytest.mark.parametrize("model", events(), ids=lambda m: m.__name__)
def test_every_string_and_list_of_every_contract_has_a_maximum(model):
    schema = schema_of(model)
    assert unbounded(schema, model.__name__, schema.get("$defs", {})) == []


@pytest.mark.parametrize("model", events(), ids=lambda m: m.__name__)
def test_every_amount_has_a_maximum_number_of_digits(model):
    for name, metadata in decimal_fields(model, set()):
        assert any(getattr(m, "max_digits", None) for m in metadata), name


def attempt(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "PaymentAttempted",
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": str(uuid.uuid4()),
        "producer": "payments-system",
        "expense_id": "EXP-1",
        "customer_ref": "CRN-1",
        "payee_id": "P-1",
        "amount": "20.00",
        "kind": "regular-weekly",
        "scheduled_on": "2027-01-04",
        "attempted_at": datetime.now(UTC).isoformat(),
        "outcome": "delivered",
        **changes,
    }


def reason(raw: bytes) -> str:
    with pytest.raises(ContractError) as refused:
        PAYMENT_ATTEMPTS.parse(raw)
    return refused.value.reason


def test_an_ordinary_event_passes_every_limit():
    assert PAYMENT_ATTEMPTS.parse(json.dumps(attempt()).encode()).expense_id == "EXP-1"


def test_nesting_deeper_than_the_limit_is_too_deep_however_deep():
    assert reason(b"[" * 5000 + b"]" * 5000) == "too-deep", (
        "deeper than the parser's own recursion limit"
    )
    just_over = b'{"a": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
    assert reason(just_over) == "too-deep"
    assert reason(b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)) == "not-an-object", (
        "within the limit"
    )


def test_a_number_longer_than_the_limit_is_refused_before_it_is_converted():
    assert (
        reason(
            json.dumps(attempt(amount=0))
            .encode()
            .replace(b'"amount": 0', b'"amount": ' + b"9" * 5000)
        )
        == "number-too-long"
    )
    assert reason(b'{"x": 1.' + b"5" * MAX_NUMBER_CHARS + b"}") == "number-too-long"


def test_an_amount_with_too_many_digits_is_schema_invalid():
    assert reason(json.dumps(attempt(amount="9" * 5000)).encode()) == "schema-invalid"


def test_a_nul_character_in_any_string_is_refused_and_an_escaped_backslash_is_not():
    assert reason(json.dumps(attempt(payee_id="P\x001")).encode()) == "nul-character"
    assert (
        PAYMENT_ATTEMPTS.parse(json.dumps(attempt(payee_id="P\\u0000")).encode()).payee_id
        == "P\\u0000"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe{}", "not-json"),
        (b'{"a": NaN}', "not-json"),
        (b"", "not-json"),
        (b"[1]", "not-an-object"),
        (json.dumps(attempt(customer_ref="C" * 33)).encode(), "schema-invalid"),
        (json.dumps(attempt(event_type="x" * 10_000)).encode(), "unknown-event-type"),
    ],
)
def test_other_refusals_are_named(raw, expected):
    assert reason(raw) == expected


def test_load_json_is_strict_utf8():
    with pytest.raises(ContractError):
        load_json('{"a": "é"}'.encode("utf-16"))


def _outcome(parse: Any, raw: bytes) -> Any:
    try:
        return ("data", parse(raw))
    except ContractError as exc:
        return ("refused", exc.reason)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028"])),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=30,
)
TRICKY = [
    b'{"a": "\\ud800"}',
    b'{"a": "\x00"}',
    b'{"a": "\\u0000"}',
    b'{"a": 1e400}',
    b'{"a": NaN}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"a": 1, "a": 2}',
    b'{"a": 12345678901234567890123}',
    b'{"a": 0.0000000000000000000000000000000001}',
    b'{"a": "12345678-1234-1234-1234-123456789012"}',
    b"[" * 2000 + b"]" * 2000,
    b'{"a": "\\t tab", "b": "\t raw tab"}',
    b"{}",
    b" ",
]


@pytest.mark.parametrize("raw", TRICKY)
def test_the_fast_json_path_answers_exactly_as_the_exact_one_on_tricky_bytes(raw):
    """Issue 42: orjson parses ordinary messages; whatever it accepts must read the same, and whatever it refuses
    takes the exact path, so every reason stays the standard parser's."""
    assert _outcome(load_json, raw) == _outcome(exactly, raw)


@given(value=JSONISH, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_the_fast_json_path_answers_exactly_as_the_exact_one(value, indent, ascii_only):
    raw = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _outcome(load_json, raw) == _outcome(exactly, raw)
