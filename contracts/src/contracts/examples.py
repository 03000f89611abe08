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
    """Every event type's example, complete with a fixed envelope (for the AsyncAPI documents): an upstream event's
    as its upstream sends it (:data:`BODIES`); every other one made from its published schema (:func:`generated`),
    so a consumer of any topic reads one."""
    from contracts.catalogue import CATALOGUE

    producers = {t: topic.producer for topic in CATALOGUE.topics for t in topic.event_types}
    out = {}
    for n, body in enumerate(BODIES.values(), 1):
        message = with_envelope(body, producers[body["event_type"]], EXAMPLE_INSTANT)
        fixed = uuid.UUID(int=n)
        out[body["event_type"]] = message | {"event_id": str(fixed), "correlation_id": str(fixed)}
    for model in (m for t in CATALOGUE.topics for m in t.events):
        if model.TYPE not in out:
            # named by its type: an event added moves no other's example
            fixed = uuid.uuid5(uuid.NAMESPACE_URL, f"example:{model.TYPE}")
            out[model.TYPE] = generated(model) | {
                "event_id": str(fixed),
                "correlation_id": str(fixed),
                "occurred_at": EXAMPLE_INSTANT,
                "producer": producers[model.TYPE],
            }
    return out


NAMED: dict[str, str] = {
    "customer_ref": "CRN-EXAMPLE-1",
    "msp_id": "MSP-EXAMPLE-1",
    "expense_id": "EXP-EXAMPLE-1",
    "officer_id": "OFF-EXAMPLE-1",
    "work_item_id": "I059PL:EXP-EXAMPLE-1:2026-12-01",
    "mobile": "0491 570 156",
    "phone": "0491 570 156",
    "customer_mobile": "0491 570 156",
    "state": "NSW",
    "time_zone": "Australia/Sydney",
}
"""Example values of the fields whose name says what they hold (the rest follow their schema); the mobile number
is one the Australian numbering plan keeps for fiction (0491 570 156)."""


def generated(model: Any) -> dict[str, Any]:
    """An example of ``model`` from its published schema: each required field, by its example, constant, default,
    first choice, or a value its type and name suggest (fictional: no real person, number or case)."""
    from contracts.docs import schema_of

    schema = schema_of(model)
    made = _example(schema, schema.get("$defs", {}), "")
    assert isinstance(made, dict)
    return made


def _example(node: Any, defs: dict[str, Any], name: str) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    for given in ("examples", "const", "default", "enum"):
        if node.get(given) not in (None, []):
            return node[given][0] if given in ("examples", "enum") else node[given]
    for choice in ("anyOf", "oneOf", "allOf"):
        if choice in node:
            options = [o for o in node[choice] if o.get("type") != "null"]
            return _example(options[0], defs, name) if options else None
    kind = node.get("type")
    if kind == "object":
        required = node.get("required", [])
        return {
            k: _example(v, defs, k) for k, v in node.get("properties", {}).items() if k in required
        }
    if kind == "array":
        return [
            _example(node.get("items", {}), defs, name)
            for _ in range(max(1, node.get("minItems", 1)))
        ]
    if kind in ("integer", "number"):
        return max(1, node.get("minimum", 1))
    if kind == "boolean":
        return False
    return _text(node, name)


def _text(node: dict[str, Any], name: str) -> str:
    formats = {"date-time": EXAMPLE_INSTANT, "date": "2026-12-01", "uuid": str(uuid.UUID(int=7))}
    if node.get("format") in formats:
        return formats[node["format"]]
    if name in NAMED:
        return NAMED[name]
    if "amount" in name:
        return "25.00"
    limit = node.get("maxLength", 64)
    if name.endswith(("_id", "_ids")):
        return f"{name.removesuffix('_ids').removesuffix('_id').upper()}-EXAMPLE-1"[:limit]
    return f"Example {name.replace('_', ' ')}"[:limit]
