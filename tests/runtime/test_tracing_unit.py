"""The trace context's edges (issue 30): hostile header bytes, stored carriers that do not read, and the standard
switch (off unless an OTLP endpoint is set)."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from servicekit import tracing

pytestmark = pytest.mark.unit

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_trace_headers_are_read_from_bytes_and_anything_else_is_ignored():
    """Issue 37, finding 8: an upstream's ``tracestate`` is not carried onto every record downstream."""
    assert tracing.carrier_from_headers(
        [(b"TraceParent", VALID.encode()), (b"tracestate", b"a=1"), (b"other", b"x")]
    ) == {"traceparent": VALID}
    hostile = [
        (b"traceparent", b"\xff\xfe"),
        (b"tracestate", b"a" * 600),
        (b"\xff", b"x"),
        (b"traceparent", None),
    ]
    assert tracing.carrier_from_headers(hostile) == {}
    assert tracing.carrier_from_headers([(b"traceparent", b"garbage")]) == {
        "traceparent": "garbage"
    }
    context = tracing.context_of({"traceparent": "garbage"})
    assert not trace.get_current_span(context).get_span_context().is_valid, (
        "garbage starts a new trace"
    )


def test_a_valid_context_passes_through_even_with_tracing_off():
    assert not tracing.enabled()
    span = tracing.consume_span("t", 0, 1, {"traceparent": VALID}, "g")
    assert tracing.carrier_of(span)["traceparent"] == VALID
    assert tracing.loaded(tracing.stored(tracing.carrier_of(span))) == {"traceparent": VALID}


@pytest.mark.parametrize("garbage", [{}, {"traceparent": "garbage"}], ids=["none", "garbage"])
def test_a_record_of_no_trace_has_a_span_of_no_trace_and_passes_nothing_on(garbage):
    assert not tracing.enabled()
    span = tracing.consume_span("t", 0, 1, garbage, "g")
    assert not span.get_span_context().is_valid
    assert not span.is_recording()
    assert tracing.carrier_of(span) == {}


@pytest.mark.parametrize("text", [None, "", "not json", "[1]", '{"traceparent": 5, "x": "y"}'])
def test_a_stored_carrier_that_does_not_read_is_none(text):
    assert tracing.loaded(text) == {}


def test_tracing_is_off_unless_an_endpoint_is_set_and_not_disabled():
    assert tracing.configure_tracing("s", {}) is False
    assert (
        tracing.configure_tracing(
            "s", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}
        )
        is False
    )
    assert not tracing.enabled()


@pytest.mark.parametrize(
    ("traceparent", "expected"),
    [
        (VALID, True),
        (VALID[:-2] + "00", False),
        (VALID[:-2] + "03", True),
        ("", False),
        ("x-zz", False),
    ],
)
def test_a_row_is_sent_with_a_span_of_its_own_only_when_its_trace_is_sampled(traceparent, expected):
    assert tracing.sampled({"traceparent": traceparent} if traceparent else {}) is expected


def test_a_decision_under_a_span_not_recorded_makes_no_child_and_keeps_the_parent_current():
    parent = tracing.consume_span("t", 0, 1, {"traceparent": VALID}, "g")
    assert not parent.is_recording()
    with tracing.decision(parent, "X") as decided:
        assert decided is parent
        assert trace.get_current_span() is parent
    assert tracing.transaction_span([parent]) is trace.INVALID_SPAN


@pytest.mark.parametrize("flag", ["00", "01"])
def test_sampling_is_decided_here_whatever_the_parents_flag_says(flag):
    """Issue 37, finding 8: the upstream's sampled flag decided (16 of 16 recorded, or 0 of 16); the trace id
    decides now, by the configured ratio, the same in every service."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    parent = tracing.context_of({"traceparent": VALID[:-2] + flag})
    kept = TracerProvider(sampler=tracing.our_sampler(1.0)).get_tracer("t")
    dropped = TracerProvider(sampler=tracing.our_sampler(0.0)).get_tracer("t")
    assert kept.start_span("p", context=parent, kind=SpanKind.CONSUMER).is_recording()
    assert not dropped.start_span("p", context=parent, kind=SpanKind.CONSUMER).is_recording()
