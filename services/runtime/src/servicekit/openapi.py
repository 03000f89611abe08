"""What every service's OpenAPI document shares: the bearer security scheme, the error body, the 401 answer,
and the committed snapshot beside the service (a test compares it; ``--write`` refreshes it)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

REF = "#/components/schemas/"


def error(description: str) -> dict[str, Any]:
    """A response whose body is the ``Error`` schema."""
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF + "Error"}}}}


UNAUTHORIZED = {"401": error("No token, or a token that is expired, malformed, or not signed by a configured key, or "
                             "for another issuer or audience, or with a malformed subject or roles claim. The body "
                             "carries only a reason code.")}


def document(*, title: str, description: str, paths: Mapping[str, Any], schemas: Mapping[str, Any],
             version: str = "1.0.0") -> dict[str, Any]:
    """An OpenAPI 3.1 document behind the bearer guard every service applies."""
    error_schema = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "detail": {"type": "string"}, "reason_code": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "Signed (RS/PS/ES/EdDSA) by a configured key; iss, aud, exp and sub required; the "
                           "officer's authority is its roles claim."}},
            "schemas": {**schemas, "Error": error_schema}},
        "paths": dict(paths),
    }


def render(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def snapshot_cli(make: Callable[[], Mapping[str, Any]], snapshot: Path, argv: Sequence[str] = sys.argv) -> None:
    """``python -m <service>.api [--write]``: print the document, or refresh the committed snapshot."""
    if "--write" in argv:
        snapshot.write_text(render(make()))
    else:
        sys.stdout.write(render(make()))
