"""A small OTLP/HTTP trace receiver: what the tests and the bench point the services at, and the compose profile's
stand-in collector. It decodes the real protocol (``ExportTraceServiceRequest`` in protobuf, optionally gzip), keeps
the spans in memory as plain dicts and, run as a program, writes each as one JSON line.

    python -m servicekit.tools.otlp [--listen 127.0.0.1:4318]

Point a service at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``. For a real backend (Jaeger,
Tempo, an OpenTelemetry Collector) point the services there instead: see docs/operations.md, "Traces"."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

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


@dataclass
class Receiver:
    """Listens on loopback (a free port unless given) until :meth:`stop`; :attr:`spans` holds what arrived."""

    host: str = "127.0.0.1"
    port: int = 0
    on_span: Callable[[dict[str, Any]], None] | None = None
    spans: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.received(list(spans_of(request)))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

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
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    receiver = Receiver(host, int(port), on_span=lambda s: print(json.dumps(s), flush=True)).start()
    print(f"OTLP/HTTP traces at {receiver.endpoint}/v1/traces", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
