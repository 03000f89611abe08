"""A throw-away identity provider: an ES256 signing key whose public half a service is configured with, and
the bearer tokens it signs. For the demo and the tests; production keys come from the real provider."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from contracts.roles import OPERATIONS, OfficerRole

SYSTEM_AUDIENCES = ["notification", "expenses", "workitems", "console"]
"""Every service's default audience: a token for all of them (the demo's, the tests' operators)."""
EVERY_ROLE = [*(r.value for r in OfficerRole), OPERATIONS]
"""Every officer role and the operations role: the demo's and the black-box tests' reader, who checks every queue
and reads the services' metrics and moves their simulated clocks."""
OPERATOR = "OPS-1"
"""The development operator (``./dev run`` signs a token for it, with the operations role only)."""
DEMO_OFFICERS: dict[str, list[str]] = {
    "OFF-MSP-1": [OfficerRole.MSP_OFFICER.value],
    "OFF-ADM-1": [OfficerRole.MSP_APPROVED_DECISION_MAKER.value],
    "OFF-IM-1": [OfficerRole.IM_TRAINED.value],
    "OFF-IM-2": [OfficerRole.IM_TRAINED.value],
    "OFF-FRONT-1": [],
    "OFF-TL-1": [
        OfficerRole.TEAM_LEADER.value,
        OfficerRole.MSP_APPROVED_DECISION_MAKER.value,
        OfficerRole.IM_TRAINED.value,
    ],
}
"""The development officers ``./dev run`` and ``./dev demo`` print sign-in links for: one per role, a second
officer trained in Income Management (to assign an item to a colleague, and read a colleague's DOC note), one
with none of the roles (the front line: all staff, who find a customer's work items) and a team leader of every
queue."""
DEMO_ZONES: dict[str, str] = {
    "OFF-MSP-1": "Australia/Brisbane",
    "OFF-IM-2": "Australia/Perth",
}
"""Where some demo officers work (their token's ``zoneinfo`` claim): their pages add their own time to Canberra's."""


def demo_claims(officer: str) -> dict[str, Any]:
    """A demo officer's claims: their roles, and their time zone where :data:`DEMO_ZONES` gives one."""
    zone = DEMO_ZONES.get(officer)
    return {"roles": DEMO_OFFICERS[officer], **({"zoneinfo": zone} if zone else {})}


class Signer:
    def __init__(
        self, issuer: str = "https://login.test/officers", audience: str | list[str] = "workitems"
    ) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.issuer, self.audience = issuer, audience

    def env(self) -> dict[str, str]:
        """The shared settings that make every service accept this signer's tokens."""
        return {"JWT_PUBLIC_KEYS": json.dumps([self.public_pem]), "JWT_ISSUER": self.issuer}

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def token(self, sub: str = "OFF-5", *, expires_in: float = 300, **claims: Any) -> str:
        now = time.time()
        payload = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + expires_in,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="ES256")

    def bearer(self, sub: str = "OFF-5", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **kwargs)}"}
