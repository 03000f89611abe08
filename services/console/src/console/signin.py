"""Signing an officer in from a verified token: the one-time code a sign-in link carries. The command API's
``/sign-in-codes`` and the console's pages both use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console import sessions, store
from contracts.roles import OPERATIONS, known_roles

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

SIGN_IN = "/ui/sign-in"
"""The console's sign-in page, which a one-time code opens."""
OPERATORS_NOT_OFFICERS = (
    "An operator's token opens no console session: the console is for officers working cases. Sign in with your "
    "officer's account."
)


class NotAnOfficerError(Exception):
    """A verified token that opens no console session: an operator's (the operations role). Operators read metrics
    and dead letters, never a customer's case; a person who is both signs in to the console as an officer."""


async def code_for_claims(runtime: ServiceRuntime, conn: Any, claims: dict[str, Any]) -> str:
    """A one-time sign-in code for a verified token's officer; their roles recorded, for assigning work to them.
    :class:`NotAnOfficerError` for an operator's token."""
    if OPERATIONS in (claims.get("roles") or ()):
        raise NotAnOfficerError
    roles = known_roles(claims.get("roles", []))
    await store.officer_seen(conn, str(claims["sub"]), roles, runtime.clock.now())
    settings: Any = runtime.settings
    return await sessions.new_code(conn, claims, roles, settings.sign_in_code_ttl_s)
