"""Bearer-token authentication for HTTP APIs that hold personal information.

A request needs ``Authorization: Bearer <JWT>``; the token is checked for signature (against the
configured public keys), issuer, audience and expiry. Anything else gets 401 with no data. With no
key configured every request is refused: the API is closed by default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from faststream.asgi.types import ASGIApp, Receive, Scope, Send

from servicekit.logs import get_logger

log = get_logger("servicekit.auth")

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


MAX_SUBJECT_CHARS = 64
MAX_ROLES, MAX_ROLE_CHARS = 32, 64


class UnauthorizedError(Exception):
    """``code`` is one of missing-token, malformed-token, expired-token, invalid-token, invalid-subject,
    invalid-roles, no-keys-configured."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def load_key(value: str) -> Any:
    """A PEM public key given inline or as the path of a PEM file; a bad one fails at start-up, not per request."""
    text = value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()
    return serialization.load_pem_public_key(text.encode())


@dataclass(frozen=True)
class BearerAuth:
    public_keys: Sequence[str]
    """PEM public keys (inline or file paths). Tokens signed by any of them are accepted."""
    issuer: str
    audience: str
    algorithms: Sequence[str] = ASYMMETRIC_ALGORITHMS
    leeway_s: float = 30.0

    _keys: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad:  # a shared secret would let anyone holding it mint tokens: public keys only
            raise ValueError(f"only asymmetric algorithms are accepted, not {', '.join(bad)}")
        object.__setattr__(self, "_keys", tuple(load_key(k) for k in self.public_keys))

    @property
    def configured(self) -> bool:
        return bool(self.public_keys)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or :class:`UnauthorizedError`."""
        keys = self._keys
        if not keys:
            raise UnauthorizedError("no-keys-configured")
        if not authorization:
            raise UnauthorizedError("missing-token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("malformed-token")
        expired = False
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token.strip(), key, algorithms=list(self.algorithms), audience=self.audience, issuer=self.issuer,
                    leeway=self.leeway_s, options={"require": ["exp", "iss", "aud", "sub"]})
                return _with_valid_roles(_with_valid_subject(claims))
            except jwt.ExpiredSignatureError:
                expired = True  # right key, but too late; keep looking in case another key says otherwise
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError, TypeError):
                continue  # signed by another key (or a key of another type): try the next
            except jwt.DecodeError:
                raise UnauthorizedError("malformed-token") from None
            except jwt.InvalidTokenError:
                raise UnauthorizedError("invalid-token") from None
        raise UnauthorizedError("expired-token" if expired else "invalid-token")


def _with_valid_subject(claims: dict[str, Any]) -> dict[str, Any]:
    """The officer is the subject: it is logged and recorded, so it is a short printable identifier."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUBJECT_CHARS or not sub.isprintable() or sub.strip() != sub:
        raise UnauthorizedError("invalid-subject")
    return claims


def _with_valid_roles(claims: dict[str, Any]) -> dict[str, Any]:
    """The officer's authority is the token's ``roles`` claim (none: no role): a short list of short names."""
    roles = claims.get("roles", [])
    if (not isinstance(roles, list) or len(roles) > MAX_ROLES
            or not all(isinstance(r, str) and 0 < len(r) <= MAX_ROLE_CHARS and r.isprintable() for r in roles)):
        raise UnauthorizedError("invalid-roles")
    return claims


def roles_of(scope: Scope) -> frozenset[str]:
    """The verified roles of the request's officer (what :func:`guarded` put in the scope)."""
    return frozenset(scope.get("principal", {}).get("roles", []))


@dataclass(frozen=True)
class SessionCookie:
    """A browser's bearer token, kept in an ``HttpOnly``, ``SameSite=Strict`` cookie for the pages under
    ``prefix`` (a console's), which is where the guard looks for it when the request has no ``Authorization``
    header. ``sign_in`` (open) is where the cookie is set, and where a page without a valid one is sent. Pages that
    change anything must also check a form token of the session (:func:`form_token`): the cookie alone is not
    consent."""

    prefix: str
    sign_in: str
    name: str = "officer_session"
    assets: frozenset[str] = frozenset()
    """Paths under ``prefix`` anyone may fetch (a stylesheet the sign-in page needs)."""

    def is_open(self, path: str) -> bool:
        return path == self.sign_in or path in self.assets

    def token(self, scope: Scope) -> str | None:
        for key, value in scope.get("headers") or []:
            if key.lower() != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                name, _, token = part.strip().partition("=")
                if name == self.name and token:
                    return str(token)
        return None

    def set_cookie(self, token: str, max_age_s: int) -> bytes:
        return (f"{self.name}={token}; Path={self.prefix}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict"
                .encode("latin-1"))

    def clear_cookie(self) -> bytes:
        return f"{self.name}=; Path={self.prefix}; Max-Age=0; HttpOnly; SameSite=Strict".encode("latin-1")


def form_token(token: str) -> str:
    """The session's form token: derived from the session's bearer token, which a page of another site cannot read
    (the cookie is ``HttpOnly``), so a form carrying it was served to this session."""
    return hashlib.sha256(b"form-token:" + token.encode("latin-1")).hexdigest()[:32]


def guarded(app: ASGIApp, auth: BearerAuth, open_paths: frozenset[str], session: SessionCookie | None = None) -> ASGIApp:
    """``app`` behind ``auth`` for every HTTP path but ``open_paths``; the claims go to ``scope['principal']``
    (and, for a session's pages, the token to ``scope['session_token']``)."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope["type"] != "http" or path in open_paths or (session is not None and session.is_open(path)):
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization")
        authorization = raw.decode("latin-1") if raw else None
        browser = session is not None and path.startswith(session.prefix) and authorization is None
        if browser:
            cookie = session.token(scope)  # type: ignore[union-attr]
            authorization = f"Bearer {cookie}" if cookie else None
        try:
            claims = auth.verify(authorization)
        except UnauthorizedError as exc:
            log.info("request refused", reason_code=exc.code, status=401)
            if browser:
                await to_sign_in(send, session.sign_in)  # type: ignore[union-attr]
            else:
                await unauthorized(send, exc.code)
            return
        extra = {"session_token": authorization.partition(" ")[2].strip()} if browser and authorization else {}
        await app({**scope, "principal": claims, **extra}, receive, send)

    return guard


def needs_role(app: ASGIApp, role: str, paths: frozenset[str]) -> ASGIApp:
    """``app`` (behind :func:`guarded`), with ``paths`` open only to a token holding ``role``: 403 for any other."""

    async def check(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in paths and role not in roles_of(scope):
            log.info("request refused", reason_code="needs-role", status=403)
            body = json.dumps({"error": "forbidden", "reason_code": "needs-role",
                               "detail": f"This needs the {role!r} role, which the token does not hold."}).encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return check


async def to_sign_in(send: Send, sign_in: str) -> None:
    """A page asked for without a valid session: 303 to the sign-in page (which says why), for GET and POST alike."""
    await send({"type": "http.response.start", "status": 303, "headers": [
        (b"location", sign_in.encode("latin-1")), (b"content-length", b"0"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b""})


async def unauthorized(send: Send, code: str) -> None:
    body = json.dumps({"error": "unauthorized", "reason_code": code}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", f'Bearer error="invalid_token", error_description="{code}"'.encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
