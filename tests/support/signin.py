"""Signing a client in to the console as a browser does: a one-time link from the officer's token, its page, and
the page's button (a same-origin form post); the session cookie then set on the client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

BROWSER = {"Sec-Fetch-Site": "same-origin"}


async def sign_in_link(http: httpx.AsyncClient, token: str) -> str:
    """``POST /sign-in-codes`` with the officer's bearer token: the one-time link's path."""
    made = await http.post("/sign-in-codes", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    return str(made.json()["sign_in_path"])


def code_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["code"][0]


async def press_sign_in(http: httpx.AsyncClient, code: str, **headers: str) -> httpx.Response:
    """The sign-in page's button, pressed in this console's own page (or with ``headers`` saying otherwise)."""
    origin = str(http.base_url).rstrip("/")
    return await http.post(
        "/ui/sign-in", data={"code": code}, headers={**BROWSER, "Origin": origin, **headers}
    )


def keep_cookie(http: httpx.AsyncClient, set_cookie: str) -> str:
    """Hold the session cookie the answer set (a ``Secure`` one too: the tests speak plain HTTP on loopback);
    returns its value."""
    name, _, value = set_cookie.split(";", 1)[0].partition("=")
    http.cookies.clear()
    http.cookies.set(name, value)
    return value


async def sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign ``http`` in as the token's officer, as their browser would; returns the session id (the cookie)."""
    link = await sign_in_link(http, token)
    page = await http.get(link)
    assert page.status_code == 200, page.text
    pressed = await press_sign_in(http, code_of(link))
    assert pressed.status_code == 303, pressed.text
    return keep_cookie(http, pressed.headers["set-cookie"])
