"""What every service's HTTP API shares, on FastAPI: the error body, strict JSON, the bearer-guarded officer, and an
OpenAPI document generated from the same pydantic models the routes validate with.

The runtime's guard (:func:`servicekit.http.auth.guarded`) verifies the token before a request reaches an API; a route
reads the verified officer with :func:`principal`. Every refusal, the framework's own included (an unknown path, a
wrong method, a body over the limit, a query or a body that does not validate), answers with :class:`Error`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.topics import ContractError, load_json

REF = "#/components/schemas/"
MAX_BODY_BYTES = 64 * 1024
STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "invalid-request",
}
UNAUTHORIZED_TEXT = (
    "No token, or a token that is expired, malformed, or not signed by a configured key, or for "
    "another issuer or audience, or with a malformed subject or roles claim. The body carries only "
    "a reason code."
)


class Problem(BaseModel):
    field: str
    problem: str


class Error(BaseModel):
    """Every refusal's body."""

    error: str = Field(
        description="What kind of refusal: bad-request, forbidden, not-found, invalid-command, ..."
    )
    detail: str | None = None
    reason_code: str | None = Field(
        default=None, description="Why, where the procedure or the access rules say."
    )
    way_out: str | None = Field(
        default=None, description="What the procedure says to do instead, where it says."
    )
    problems: list[Problem] | None = Field(
        default=None, description="Each field that does not match, and why."
    )


class Refused(HTTPException):
    """A refusal a route raises: its status and :class:`Error` body."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(status, detail)
        self.body: dict[str, Any] = {"error": error, "detail": detail, **extra}


def error_response(status: int, body: Mapping[str, Any]) -> JSONResponse:
    return JSONResponse(
        {k: v for k, v in body.items() if v is not None},
        status,
        headers={"cache-control": "no-store"},
    )


def refused(description: str) -> dict[str, Any]:
    """A route's documented refusal (``responses={403: refused("...")}``)."""
    return {"model": Error, "description": description}


class StrictJsonRequest(Request):
    """A request whose JSON body is read by the contracts' own parser: strict UTF-8, bounded nesting and numbers,
    no NUL character (the standard parser lets a deep nesting raise ``RecursionError``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = load_json(await self.body())
            except ContractError as exc:
                raise Refused(
                    400, "bad-request", f"the body is not JSON within limits: {exc}"
                ) from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Any:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def principal(request: Request) -> tuple[str, frozenset[str]]:
    """The verified officer and roles (what the runtime's guard put in the scope)."""
    claims = request.scope.get("principal") or {}
    return str(claims.get("sub", "")), frozenset(claims.get("roles", []))


Principal = Annotated[tuple[str, frozenset[str]], Depends(principal)]
"""A route's verified officer and roles, as a parameter: ``officer: Principal``."""


def problems_of(errors: Sequence[Mapping[str, Any]], skip: int = 1) -> list[dict[str, str]]:
    """Each validation error as the field it is about (its location past ``skip`` parts) and the problem."""
    return [
        {
            "field": ".".join(str(p) for p in e["loc"][skip:]) or str(e["loc"][0]),
            "problem": str(e["msg"]),
        }
        for e in errors
    ]


TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}
"""FastAPI's own OpenTelemetry instrumentation, off: its HTTP spans carry ``url.path`` and ``url.query`` (sign-in codes,
customer references in a search or a customer's page), its logs the messages of validation errors (the values
sent). The runtime makes the spans that matter itself (an officer's command, every record), with ids and codes only."""


def served_app(**kwargs: Any) -> FastAPI:
    """Every FastAPI app the services serve: no interactive docs or document of the framework's (a service serves
    its own), bodies at most :data:`MAX_BODY_BYTES`, the framework's own telemetry off (:data:`TELEMETRY`)."""
    return FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        max_body_size=MAX_BODY_BYTES,
        telemetry=TELEMETRY,
        **kwargs,
    )


def api_app(
    title: str,
    description: str,
    version: str = "1.0.0",
    *,
    on_invalid_body: Callable[[RequestValidationError], JSONResponse] | None = None,
) -> FastAPI:
    """A service's JSON API: no interactive docs (the OpenAPI document is served by the service), strict JSON,
    bodies at most :data:`MAX_BODY_BYTES`, and every refusal an :class:`Error`. ``on_invalid_body`` answers a
    body that does not validate (a query, header or path parameter that does not is a 400)."""
    app = served_app(title=title, description=description, version=version)
    app.router.route_class = StrictJsonRoute

    async def on_http(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
        assert isinstance(exc, StarletteHTTPException)
        body = (
            exc.body
            if isinstance(exc, Refused)
            else {"error": STATUS_CODES.get(exc.status_code, "error"), "detail": str(exc.detail)}
        )
        return error_response(exc.status_code, body)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if (
            on_invalid_body is not None
            and errors
            and all(e["loc"][:1] == ("body",) for e in errors)
            and not any(e["type"] == "json_invalid" for e in errors)
        ):
            return on_invalid_body(exc)
        return error_response(
            400,
            {
                "error": "bad-request",
                "detail": "the request does not match this API",
                "problems": problems_of(errors),
            },
        )

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    return app


def openapi_document(
    app: FastAPI, *, extra_schemas: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The API's OpenAPI 3.1 document, generated from its routes and their pydantic models, behind the bearer guard
    every service applies: a 401 on every operation, and every refusal (the framework's 422 included) an Error."""
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas |= dict(extra_schemas or {})
    if (
        "Error" not in schemas
    ):  # an API that documents no refusal of its own still answers 401 with it
        error_schema = Error.model_json_schema(ref_template=REF + "{model}")
        schemas |= error_schema.pop("$defs", {}) | {"Error": error_schema}
    error = {"application/json": {"schema": {"$ref": REF + "Error"}}}
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses and "HTTPValidationError" in json.dumps(responses["422"]):
                del responses["422"]
                responses["400"] = responses.get("400") or {
                    "description": "A query, header or path parameter that does not match.",
                    "content": error,
                }
            responses["401"] = {"description": UNAUTHORIZED_TEXT, "content": error}
    doc["security"] = [{"bearer": []}]
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Signed (RS/PS/ES/EdDSA) by a configured key; iss, aud, exp, iat and sub required; the "
            "officer's authority is its roles claim.",
        }
    }
    return doc


def render(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def snapshot_cli(
    make: Callable[[], Mapping[str, Any]], snapshot: Path, argv: Sequence[str] = sys.argv
) -> None:
    """``python -m <service>.api [--write]``: print the document, or refresh the committed snapshot."""
    if "--write" in argv:
        snapshot.write_text(render(make()))
    else:
        sys.stdout.write(render(make()))
