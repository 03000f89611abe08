"""Signing in and out: a one-time code (a link made from the officer's token) or a pasted token becomes a
server-side session whose random id is the cookie; a sign-in from another site is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console import pages, sessions, signin
from console.web.common import (
    MAX_SESSION_ID_CHARS,
    Cookie,
    Form,
    Runtime,
    SignedIn,
    html,
    log,
)
from servicekit.http.auth import UnauthorizedError

router = APIRouter()
USED_OR_EXPIRED = "That link has been used or has expired. Ask for a new one."


@router.get("/console.css")
async def stylesheet() -> Response:
    return Response(pages.STYLE, media_type="text/css; charset=utf-8")


@router.get("/sign-in")
async def sign_in_form(request: Request, runtime: Runtime) -> Response:
    query = request.query_params
    if query.get("token"):
        return html(
            pages.sign_in_page("Sign-in links no longer carry a token: ask for a new link."), 400
        )
    code = one_field(query.get("code"))
    if code is None:
        return html(pages.sign_in_page(None))
    async with runtime.pool.acquire() as conn:
        officer_id = await sessions.code_for(conn, code)
    if officer_id is None:
        return html(pages.sign_in_page(USED_OR_EXPIRED), 401)
    return html(pages.sign_in_page(None, code=code, officer_id=officer_id))


@router.post("/sign-in")
async def sign_in(request: Request, runtime: Runtime, cookie: Cookie) -> Response:
    if (why := cross_site(request.headers)) is not None:
        log.info("sign-in refused", reason_code="cross-site", status=403)
        return html(
            pages.sign_in_page(
                f"A sign-in from another site is refused ({why}). Open your sign-in link directly."
            ),
            403,
        )
    try:
        form = await request.form(max_files=0, max_fields=4)
    except Exception:  # noqa: BLE001 - not a form the parser takes
        return html(pages.sign_in_page("That is not a sign-in form."), 400)
    settings: Any = runtime.settings
    code = one_field(form.get("code"))
    async with runtime.pool.acquire() as conn:
        if code is None:  # a pasted token: the same one-time code, made and spent at once
            code_or_refusal = await _code_for_token(
                runtime, request.app.state.auth, conn, str(form.get("token") or "")
            )
            if isinstance(code_or_refusal, Response):
                return code_or_refusal
            code = code_or_refusal
        made = await sessions.exchange(
            conn, code, idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s
        )
    if made is None:
        log.info("sign-in refused", reason_code="code-not-valid", status=401)
        return html(pages.sign_in_page(USED_OR_EXPIRED), 401)
    session_id, session, max_age = made
    log.info("signed in", officer_id=session.officer_id, status=303)
    return RedirectResponse(
        f"{pages.BASE}/", 303, headers={"set-cookie": cookie.set(session_id, max_age).decode()}
    )


async def _code_for_token(runtime: Runtime, auth: Any, conn: Any, token: str) -> str | Response:
    """A pasted token's one-time code, or the sign-in page saying why the token is not taken."""
    token = token.strip()
    try:
        claims = auth.verify(f"Bearer {token}" if token else None)
    except UnauthorizedError as exc:
        log.info("sign-in refused", reason_code=exc.code, status=401)
        return html(
            pages.sign_in_page(f"That token was not accepted ({exc.code}). Ask for a new link."),
            401,
        )
    try:
        return await signin.code_for_claims(runtime, conn, claims)
    except signin.NotAnOfficerError:
        log.info("sign-in refused", reason_code="operators-not-officers", status=403)
        return html(pages.sign_in_page(signin.OPERATORS_NOT_OFFICERS), 403)


@router.post("/sign-out")
async def sign_out(
    request: Request,
    runtime: Runtime,
    cookie: Cookie,
    officer: SignedIn,
    form: Form,  # noqa: ARG001 - checked: a sign-out is a form this console served
) -> Response:
    async with runtime.pool.acquire() as conn:
        await sessions.revoke(conn, request.state.session_id)
    log.info("signed out", officer_id=officer.officer_id, status=303)
    return RedirectResponse(signin.SIGN_IN, 303, headers={"set-cookie": cookie.clear().decode()})


def cross_site(headers: Mapping[str, str]) -> str | None:
    """Why a sign-in request comes from another site, or ``None``. A current browser says where a request comes
    from (``Sec-Fetch-Site``: this console's own page, or the address bar); where a browser does not, a form post's
    ``Origin`` must be this console's own (our pages' ``no-referrer`` policy makes a modern browser's ``null``,
    which is why ``Sec-Fetch-Site`` is read first)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site[:20]}"
    origin, host = headers.get("origin"), headers.get("host")
    if origin is not None and (host is None or origin.partition("://")[2] != host):
        return "Origin is another site"
    return None


def one_field(value: object) -> str | None:
    """A short printable ASCII value (a sign-in code is URL-safe base64), or ``None``."""
    text = value.strip() if isinstance(value, str) else ""
    return (
        text
        if text and len(text) <= MAX_SESSION_ID_CHARS and text.isascii() and text.isprintable()
        else None
    )
