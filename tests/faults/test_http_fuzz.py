"""Property-based fuzzing of the console's HTTP surface (its pages, forms, sign-in and command API), served on the
real broker and database: whatever arrives, the answer is a 4xx or a success, never a 500.

Issue 26: "Hostile HTTP input gives 500: more than 20 query fields (also on the sign-in page, signed out), a
sign-in form over 64 KB, a NUL in a console page id or form field (the path is also percent-decoded twice). The
console's audit log writes requested ids unbounded (a 60,000-character line)."

Requests are written as raw bytes on a socket (no client tidies them): NUL and invalid UTF-8 percent-encoded in
the path and the query, many query fields, form and JSON bodies with NUL characters, invalid UTF-8, deep
nesting and sizes past the limits, with a valid session (and its form token) or a bearer token where the surface
takes one, so that hostile values reach the code behind the checks. ``HTTP_FUZZ_EXAMPLES`` sets how many
requests hypothesis draws (default 300).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from console.app import ConsoleSettings
from console.app import create_runtime as console_runtime
from console.issue import COMMANDS
from console.sessions import SessionCookie, form_token, system_mark
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.roles import OfficerRole
from devstack.procs import free_port
from devstack.tokens import Signer
from tests.faults.test_fuzz import Loop
from tests.support.http import served
from tests.support.signin import sign_in

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("HTTP_FUZZ_EXAMPLES", "300"))
EVERY_OFFICER_ROLE = [r.value for r in OfficerRole]
LONGEST_LOG_LINE = 4000

# Percent-encoded hostile bytes as a path or query carries them, and raw text an attacker types.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "%00",
            "%ff%fe",
            "%C0%80",
            "%2500",
            "a%00b",
            "%0a",
            "%0d%0a",
            "%E2%80%AE",
            "..%2f..%2f",
            "I059PL%3AEXP-1%3A2027-03-01",
            "MSP-1",
            "EXP-1",
            "%",
            "%zz",
            "x" * 5000,
            "%ff" * 2000,
        ]
    ),
    st.text(max_size=40).map(lambda t: quote(t, safe="")),
    st.binary(max_size=40).map(lambda b: quote(b, safe="")),
)
PAGES = st.sampled_from(
    [
        "/ui/",
        "/ui/work-items/",
        "/ui/msp/",
        "/ui/expenses/",
        "/ui/commands/",
        "/ui/sign-in",
        "/ui/sign-out",
        "/ui/nowhere/",
        "/commands/",
        "/sign-in-codes",
        "/openapi.json",
    ]
)
COMMAND_NAMES = st.one_of(st.sampled_from(sorted(COMMANDS)), HOSTILE_TEXT)


def _query() -> st.SearchStrategy[str]:
    field = st.tuples(
        st.one_of(
            st.sampled_from(["page", "queue", "status", "code", "customer_ref", "code", "token"]),
            HOSTILE_TEXT,
        ),
        HOSTILE_TEXT,
    )
    return st.lists(field, max_size=40).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["\x00", "a\x00b", "MSP-1", "EXP-1", "customer", "unsuccessful"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=20,
)


def _form_body(token: str) -> st.SearchStrategy[bytes]:
    fields = st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(
                    [
                        "msp_id",
                        "expense_id",
                        "work_item_id",
                        "doc_note",
                        "contacted",
                        "outcome",
                        "code",
                        "token",
                        "form_token",
                    ]
                ),
                HOSTILE_TEXT,
            ),
            HOSTILE_TEXT,
        ),
        max_size=30,
    )
    encoded = fields.map(
        lambda pairs: "&".join([f"form_token={token}", *(f"{k}={v}" for k, v in pairs)]).encode()
    )
    return st.one_of(
        encoded,
        st.binary(max_size=300),
        st.just(b"token=" + b"A" * 70_000),
        st.just(b"a=1&" * 200),
        st.just(f"form_token={token}&msp_id=\x00".encode()),
    )


def _json_body() -> st.SearchStrategy[bytes]:
    return st.one_of(
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(
                [
                    "msp_id",
                    "expense_id",
                    "work_item_id",
                    "doc_note",
                    "contacted",
                    "outcome",
                    "amount",
                    "state",
                    "behaviours",
                ]
            ),
            JSON_VALUES,
            max_size=8,
        ).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.just(b"[" * 5000 + b"]" * 5000),
        st.just(b'{"a": "' + b"x" * 70_000 + b'"}'),
    )


def request(
    port: int, method: str, target: bytes, headers: dict[str, str], body: bytes = b""
) -> int:
    """One raw HTTP/1.1 request, its status (0 when the server closed without an answer)."""
    head = [
        method.encode() + b" " + target + b" HTTP/1.1",
        b"Host: 127.0.0.1:" + str(port).encode(),
        b"Connection: close",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    head += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_hostile_request_to_the_console_gets_a_500_and_no_id_reaches_a_log_unbounded(
    kafka, database_url, topic_prefix, captured_logs, report
):
    signer = Signer(audience="console")
    port = free_port()
    runtime = console_runtime(
        ConsoleSettings(
            **kafka.settings("console"),
            database_url=database_url,
            topic_prefix=topic_prefix,
            http_port=port,
            jwt_public_keys=[signer.public_pem],
            jwt_issuer=signer.issuer,
        )
    )
    loop = Loop()

    stack = contextlib.AsyncExitStack()
    clients: list[httpx.AsyncClient] = []

    async def start() -> None:
        clients.append(await stack.enter_async_context(served(runtime)))

    def signed_in() -> dict[str, str]:
        """A fresh session's headers (a drawn sign-out with the right form token ends the one before)."""
        session_id = loop.run(
            sign_in(clients[0], signer.token("OFF-FUZZ", roles=EVERY_OFFICER_ROLE))
        )
        return {
            "Cookie": f"{SessionCookie(True, system_mark(database_url, topic_prefix)).name}={session_id}",
            "Sec-Fetch-Site": "same-origin",
            "form_token": form_token(session_id),
        }

    loop.run(start())
    browser = signed_in()
    bearer = {"Authorization": f"Bearer {signer.token('OFF-FUZZ', roles=EVERY_OFFICER_ROLE)}"}
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    try:

        @settings(  # type: ignore[untyped-decorator]
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )
        @given(data=st.data())  # type: ignore[untyped-decorator]
        def example(data: Any) -> None:
            page = data.draw(PAGES)
            signed = data.draw(st.booleans())
            session = {k: v for k, v in browser.items() if k != "form_token"}
            headers = dict(session if page.startswith("/ui") else bearer) if signed else {}
            tail = (
                data.draw(
                    COMMAND_NAMES if page in ("/commands/", "/ui/commands/") else HOSTILE_TEXT
                )
                if page.endswith("/") and page != "/ui/"
                else ""
            )
            query = data.draw(_query())
            target = (page + tail + (f"?{query}" if query else "")).encode("latin-1", "replace")
            method = data.draw(st.sampled_from(["GET", "POST", "POST", "PUT"]))
            body = b""
            if method != "GET":
                if page.startswith("/ui"):
                    body = data.draw(_form_body(browser["form_token"]))
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                else:
                    body = data.draw(_json_body())
                    headers["Content-Type"] = data.draw(
                        st.sampled_from(["application/json", "text/plain", "x\x7f"])
                    )
            status = request(port, method, target, headers, body)
            statuses[status] += 1
            if status >= 500 or status == 0:
                failures.append(f"{method} {target[:200]!r} ({len(body)} B body) -> {status}")
            if page == "/ui/sign-out" and status == 303 and signed:
                browser.update(signed_in())

        example()
        # the audit log's id, bounded before it is written: a page asked for with a 60,000-character id
        fresh = {k: v for k, v in signed_in().items() if k != "form_token"}
        assert request(port, "GET", b"/ui/work-items/" + b"W" * 60_000, fresh) == 404
    finally:
        loop.run(stack.aclose())
        loop.close()
    assert not failures, failures[:20]
    longest = max((len(line) for line in captured_logs.getvalue().splitlines()), default=0)
    assert longest < LONGEST_LOG_LINE, f"a log line of {longest} characters"
    report(
        f"HTTP fuzz: {sum(statuses.values())} hostile requests to the console, statuses "
        + ", ".join(f"{k} x{n}" for k, n in sorted(statuses.items()))
        + f"; longest log line {longest} chars"
    )
