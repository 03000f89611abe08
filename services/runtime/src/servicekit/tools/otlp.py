"""A small OTLP/HTTP trace receiver: what the tests and the bench point the services at, and the compose profile's
stand-in collector. It decodes the real protocol (``ExportTraceServiceRequest`` in protobuf, optionally gzip), keeps
the spans in memory as plain dicts and, run as a program, writes each as one JSON line.

    python -m servicekit.tools.otlp [--listen 127.0.0.1:4318] [--token-file FILE]

Point a service at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``. For a real backend (Jaeger,
Tempo, an OpenTelemetry Collector) point the services there instead: see docs/operations.md, "Traces".

Bounded and closed: a body over :data:`MAX_BODY_BYTES`, or one that inflates past :data:`MAX_INFLATED_BYTES`, is
refused (413) before it is held whole; a body that is not an export request is a 400. It listens on loopback unless
given a token (``--token-file``, or ``OTLP_RECEIVER_TOKEN_FILE``): then every request must carry it as a bearer
token (services send it with ``OTEL_EXPORTER_OTLP_BEARER_TOKEN_FILE``), and without one it refuses to listen anywhere
else."""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

MAX_BODY_BYTES = 4 * 1024 * 1024
"""The largest export request read (the SDK's batches of 512 spans are far below it)."""
MAX_INFLATED_BYTES = 16 * 1024 * 1024
"""The most a gzip body may inflate to: a small body that inflates to gigabytes is refused, never held."""
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def spans_of(request: ExportTraceServiceRequest) -> Iterator[dict[str, Any]]:
    """Each span of an export request as a dict: ids in hex, its service, attributes, links, status."""
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": resource.get("service.name"),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                    "links": [
                        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                        for link in span.links
                    ],
                    "events": [event.name for event in span.events],
                    "status": {"code": span.status.code, "message": span.status.message},
                }


class TooLargeError(ValueError):
    """A gzip body that inflates past :data:`MAX_INFLATED_BYTES`."""


def inflated(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """A gzip body inflated: :class:`TooLargeError` once it passes ``limit`` bytes (no more than one byte past it
    is ever inflated), ``zlib.error`` for bytes that are not gzip."""
    out = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(body, limit + 1)
    if len(out) > limit:
        raise TooLargeError
    return out


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class Receiver:
    """Listens on loopback (a free port unless given) until :meth:`stop`; :attr:`spans` holds what arrived."""

    host: str = "127.0.0.1"
    port: int = 0
    on_span: Callable[[dict[str, Any]], None] | None = None
    spans: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    token: str | None = None
    """The bearer token every request must carry; ``None`` (loopback only) for none."""

    def __post_init__(self) -> None:
        if self.token is None and not _loopback(self.host):
            raise ValueError(
                f"an OTLP receiver on {self.host} (not loopback) needs a token: --token-file"
            )
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if receiver.token is not None and not hmac.compare_digest(
                    self.headers.get("Authorization", "").encode("latin-1", "replace"),
                    f"Bearer {receiver.token}".encode(),
                ):
                    self._answer(401, b"a bearer token is required")
                    return
                if self.path != "/v1/traces":
                    self._answer(404, b"not found")
                    return
                try:
                    length = int(self.headers.get("Content-Length") or "")
                except ValueError:
                    self._answer(411, b"Content-Length is required")
                    return
                if not 0 <= length <= MAX_BODY_BYTES:
                    self._answer(413, b"too large")
                    return
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    try:
                        body = inflated(body)
                    except (zlib.error, TooLargeError):
                        self._answer(413, b"not a gzip body within the limit")
                        return
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except Exception:  # noqa: BLE001 - protobuf's DecodeError and its kin: not an export request
                    self._answer(400, b"not an OTLP export request")
                    return
                receiver.received(list(spans_of(request)))
                self._answer(
                    200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
                )

            def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def received(self, spans: list[dict[str, Any]]) -> None:
        with self._lock:
            self.requests += 1
            self.spans.extend(spans)
        for span in spans:
            if self.on_span is not None:
                self.on_span(span)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.spans)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:4318", help="host:port (default 127.0.0.1:4318)"
    )
    parser.add_argument(
        "--token-file",
        default=os.environ.get("OTLP_RECEIVER_TOKEN_FILE") or None,
        help="a file holding the bearer token every request must carry (needed off loopback)",
    )
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    token = open(args.token_file).read().strip() if args.token_file else None  # noqa: SIM115
    try:
        receiver = Receiver(
            host, int(port), on_span=lambda s: print(json.dumps(s), flush=True), token=token or None
        ).start()
    except ValueError as exc:
        print(f"otlp: not started: {exc}", file=sys.stderr)
        return 2
    print(f"OTLP/HTTP traces at {receiver.endpoint}/v1/traces", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
