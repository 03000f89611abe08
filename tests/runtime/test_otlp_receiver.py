"""The OTLP receiver tool, bounded and closed (issue 37, finding 9: "no authentication and no size limit: a 398 KB
gzip body took it to 826 MB")."""

from __future__ import annotations

import gzip
import http.client
import resource

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from servicekit.tools import otlp

pytestmark = pytest.mark.unit


def post(receiver: otlp.Receiver, body: bytes, **headers: str) -> int:
    connection = http.client.HTTPConnection(receiver.host, receiver.port, timeout=30)
    try:
        connection.request("POST", "/v1/traces", body, headers)
        return connection.getresponse().status
    finally:
        connection.close()


def announced(receiver: otlp.Receiver, length: int, **headers: str) -> int:
    """A request that announces a body of ``length`` bytes and sends none of it: the answer comes first."""
    connection = http.client.HTTPConnection(receiver.host, receiver.port, timeout=30)
    try:
        connection.putrequest("POST", "/v1/traces")
        for name, value in {**headers, "Content-Length": str(length)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def receiver():
    running = otlp.Receiver(token="s3cret-token").start()
    yield running
    running.stop()


def test_a_bomb_is_refused_without_being_inflated_and_the_limits_hold(receiver):
    bomb = gzip.compress(b"\x00" * (otlp.MAX_INFLATED_BYTES * 8))
    assert len(bomb) < 400_000
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    auth = {"Authorization": "Bearer s3cret-token"}
    assert post(receiver, bomb, **auth, **{"Content-Encoding": "gzip"}) == 413
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 64 * 1024, "the bomb was never held inflated"
    assert announced(receiver, otlp.MAX_BODY_BYTES + 1, **auth) == 413, "refused before it is read"
    assert post(receiver, b"not gzip", **auth, **{"Content-Encoding": "gzip"}) == 413
    assert post(receiver, b"\xff\xff\xff", **auth) == 400
    assert post(receiver, ExportTraceServiceRequest().SerializeToString(), **auth) == 200
    assert receiver.requests == 1


def test_every_request_carries_the_token_and_without_one_it_listens_on_loopback_only(receiver):
    empty = ExportTraceServiceRequest().SerializeToString()
    assert post(receiver, empty) == 401
    assert post(receiver, empty, Authorization="Bearer wrong") == 401
    assert receiver.requests == 0
    with pytest.raises(ValueError, match="needs a token"):
        otlp.Receiver(host="0.0.0.0")
    assert otlp.main(["--listen", "0.0.0.0:0"]) == 2
