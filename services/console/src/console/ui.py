"""The web console: the officers' pages under ``/ui``, served by the console service beside its command API.

A browser signs in with a one-time code (``/ui/sign-in?code=…``, a link made by ``POST /sign-in-codes`` from
the officer's token) or a token pasted into the sign-in form; either becomes a server-side session
(:mod:`console.sessions`) whose random id is the cookie. The pages authenticate themselves by that session, not
by the services' bearer guard. A sign-in from another site is refused (``Sec-Fetch-Site``, ``Origin``), so no
page elsewhere can sign an officer's browser in as someone else. Every form carries the session's form token and
a fresh idempotency key, and is issued through :func:`console.issue.issue`: the same roles check, the same outbox,
the same refusals as the API. Reads are scoped like the work items API: an officer sees the queues, MSPs and
expenses their roles open, and every read is in the audit log.

The pages are a FastAPI application of their own (mounted at ``/ui``, outside the API's OpenAPI document): the
routers of :mod:`console.web` (signing in, the queue, records, commands) with the dependencies of
:mod:`console.web.common`; a refusal is an exception its handler renders.
"""

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import pages, sessions, signin
from console.web import commands, live, queue, records, signing, team
from console.web.common import NotSignedIn, PageRefused, html
from servicekit.http.web import MAX_BODY_BYTES, served_app

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

BASE = pages.BASE
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def handles(path: str) -> bool:
    return path == BASE or path.startswith(BASE + "/")


def secured(app: ASGIApp) -> ASGIApp:
    """Every answer of the pages with the console's security headers: scripts only the console's own (the live
    updates), no framing, no caching."""

    async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await app(scope, receive, sending)

    return with_headers


def make_ui(runtime: "ServiceRuntime") -> ASGIApp:
    """The pages, with the runtime, the session cookie and the token check they share."""
    settings: Any = runtime.settings
    ui = served_app()
    ui.state.runtime = runtime
    ui.state.auth = settings.bearer_auth()
    ui.state.cookie = sessions.SessionCookie(
        secure=settings.secure_cookies,
        system=sessions.system_mark(settings.database_url, settings.topic_prefix),
    )
    ui.state.hub = live.Hub(settings.database_dsn(), settings.schema_name, runtime.draining)
    ui.add_exception_handler(PageRefused, on_refused)
    ui.add_exception_handler(NotSignedIn, on_not_signed_in)
    ui.add_exception_handler(StarletteHTTPException, on_http)
    ui.add_exception_handler(RequestValidationError, on_invalid)
    for router in (
        signing.router,
        queue.router,
        records.router,
        commands.router,
        live.router,
        team.router,
    ):
        ui.include_router(router)
    return secured(ui)


def refusal(request: Request, refused: PageRefused) -> HTMLResponse:
    officer = getattr(request.state, "officer", None)
    return html(
        pages.refused_page(
            officer, refused.title, refused.reason, refused.way_out, refused.details
        ),
        refused.status,
    )


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return refusal(request, exc)


async def on_not_signed_in(request: Request, exc: Exception) -> Response:  # noqa: ARG001
    return RedirectResponse(signin.SIGN_IN, 303)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        reason = "Pages are read with GET, and forms sent with POST."
        return refusal(request, PageRefused(405, "Not allowed", reason))
    if exc.status_code == 413:
        reason = f"A form is at most {MAX_BODY_BYTES} bytes."
        return refusal(request, PageRefused(413, "Too large", reason))
    return refusal(request, PageRefused(exc.status_code, "Not found", "No such page."))


async def on_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(e["loc"][:1] == ("path",) for e in exc.errors()):
        return refusal(request, PageRefused(404, "Not found", "No such page."))
    return refusal(
        request, PageRefused(400, "Bad filter", "A filter has a value this page does not offer.")
    )
