"""Complete example bodies of the upstream events, as an upstream system sends them (without the envelope, which
``with_envelope`` adds; a value ``"now"`` is the current instant). The integration guide's files in
``docs/examples/`` are written from these (``python -m devstack.contract_docs --write``), the AsyncAPI documents
carry them, and the tests check each against its contract and its published schema."""

from __future__ import annotations

import uuid
from typing import Any

BODIES: dict[str, dict[str, Any]] = {
    "payment-attempt-one-off-failed.json": {
        "event_type": "PaymentAttempted",
        "expense_id": "EXP-EXAMPLE-1",
        "customer_ref": "CRN-EXAMPLE-1",
        "payee_id": "PAYEE-EXAMPLE-POWER",
        "amount": "120.00",
        "kind": "one-off",
        "attempted_at": "now",
        "outcome": "failed",
        "coded_at": "now",
        "state": "NSW",
        "failure_reason": "insufficient-funds-not-reported-by-due-date",
    },
    "msp-approved.json": {
        "event_type": "MspApproved",
        "schema_version": 2,
        "msp_id": "MSP-EXAMPLE-1",
        "customer_ref": "CRN-EXAMPLE-2",
        "agency": "Centrelink",
        "approving_officer_id": "OFF-ADM-1",  # a demo officer, who signs in
        "behaviours": [
            {
                "what": "Made repeated threats to harm counter staff at the service centre on 3 November.",
                "occurred_on": "2026-11-03",
                "channel": "in-person",
            }
        ],
        "reasons": "Threats to staff safety during face to face visits.",
        "starts_on": "2026-12-01",
        "ends_on": "2027-05-31",
        "duration_reasons": "Six months, matching the period over which the incidents occurred.",
        "service_access": "Phone contact with the One Main Contact only; no face to face service.",
        "channel_restrictions": ["no face to face"],
        "contact": {"kind": "OMC", "name": "Morgan Demo-Officer", "phone": "1800 555 061"},
        "customer_mobile": "0491 570 157",
        "representatives": [],
        "phone_customer_appropriate": True,
    },
}

EXAMPLE_INSTANT = "2026-12-02T10:00:00+11:00"


def with_envelope(body: dict[str, Any], producer: str, now: str) -> dict[str, Any]:
    """An example's body as its producer sends it: a fresh id and correlation, the producer, ``occurred_at`` now,
    and every field whose value is the word ``"now"`` at the current instant."""
    filled = {k: now if v == "now" else v for k, v in body.items()}
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "correlation_id": str(uuid.uuid4()),
        "producer": producer,
    } | filled


def example_messages() -> dict[str, dict[str, Any]]:
    """Each upstream event type's example, complete with a fixed envelope (for the AsyncAPI documents)."""
    from contracts.catalogue import CATALOGUE

    producers = {t: topic.producer for topic in CATALOGUE.topics for t in topic.event_types}
    out = {}
    for n, body in enumerate(BODIES.values(), 1):
        message = with_envelope(body, producers[body["event_type"]], EXAMPLE_INSTANT)
        fixed = uuid.UUID(int=n)
        out[body["event_type"]] = message | {"event_id": str(fixed), "correlation_id": str(fixed)}
    return out
