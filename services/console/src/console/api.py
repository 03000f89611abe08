"""The command API: every staff action of the catalogue, issued by a verified officer.

``POST /commands/{type}`` takes the action's own fields as JSON (no envelope, no ``officer_id``: the officer is
the token's ``sub``, their authority the token's ``roles``), checks the role the action needs
(``contracts.roles``), writes the action durably to its staff-action topic through the outbox and answers
``202`` with the command id. An ``Idempotency-Key`` header makes a retried request the same command.
``GET /commands/{id}`` answers its status: ``pending``, ``accepted`` (with the events it caused) or ``rejected``
(with the service's reason code and reason), to the officer who issued it only.

Each action's request model is made from its contract (:func:`request_model`): the routes validate with it and
the OpenAPI document is generated from it, so the document accepts exactly what the API does.
"""

import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from console import signin
from console.issue import (
    COMMANDS,
    MAX_KEY_CHARS,
    issue,
    refuse_theirs,
    request_model,
)
from console.issue import (
    command_status as status_of,
)
from contracts.envelope import Event
from servicekit.http.web import (
    Principal,
    Refused,
    api_app,
    error_response,
    openapi_document,
    problems_of,
    refused,
    render,
    snapshot_cli,
)
from servicekit.logs import get_logger

if TYPE_CHECKING:
    from servicekit.service import ServiceRuntime

log = get_logger("console.api")

PREFIX = "/commands"
SIGN_IN_CODES = "/sign-in-codes"
OPENAPI_PATH = "/openapi.json"
OPENAPI_SNAPSHOT = Path(__file__).resolve().parents[2] / "openapi.json"
DESCRIPTION = (
    "The officers' front door: every staff action of the MSP implementation (104-07050030) and undelivered "
    "Income Management expenses (103-01050060) procedures as a command from a verified officer, whose "
    "roles say what they may do."
)


def handles(path: str) -> bool:
    return path in (PREFIX, OPENAPI_PATH, SIGN_IN_CODES) or path.startswith(PREFIX + "/")


class CommandAccepted(BaseModel):
    command_id: uuid.UUID
    status: Literal["pending", "accepted", "rejected"]


class Outcome(BaseModel):
    event_type: str
    event_id: str


class CommandStatus(BaseModel):
    command_id: uuid.UUID
    command_type: str
    subject_id: str | None = None
    submitted_at: datetime
    status: Literal["pending", "accepted", "rejected"]
    outcomes: list[Outcome]
    reason_code: str | None = None
    reason: str | None = None
    way_out: str | None = Field(
        default=None, description="What the procedure says to do instead, where it says."
    )


class SignInCode(BaseModel):
    sign_in_path: str = Field(
        description="The console's sign-in page with a one-time code: open it in the "
        "officer's browser, once."
    )
    expires_in_s: int


def _invalid_command(exc: RequestValidationError) -> JSONResponse:
    """A body that does not validate: one that sets what the console sets, one that is not a JSON object, or the
    action's fields not matching its contract (each field's problem)."""
    errors = exc.errors()
    theirs = [
        str(e["loc"][1]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 2
    ]
    try:
        refuse_theirs(theirs)
    except Refused as refusal:
        return error_response(refusal.status_code, refusal.body)
    if any(len(e["loc"]) == 1 for e in errors):
        return error_response(
            400,
            {
                "error": "bad-request",
                "detail": "the body must be a JSON object of the action's fields",
            },
        )
    return error_response(
        422,
        {
            "error": "invalid-command",
            "detail": "the action's fields do not match its contract",
            "problems": problems_of(errors),
        },
    )


def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="The same key (yours) and body again: the same command, written once.",
            max_length=MAX_KEY_CHARS,
        ),
    ] = None,
) -> str | None:
    """One printable ASCII value, at most :data:`MAX_KEY_CHARS` characters (the framework decodes any byte)."""
    values = request.headers.getlist("idempotency-key")
    if len(values) > 1 or (key is not None and not (key.isascii() and key.isprintable() and key)):
        raise Refused(
            400,
            "bad-request",
            f"idempotency-key must be one value of 1 to {MAX_KEY_CHARS} printable ASCII characters",
        )
    return key


Key = Annotated[str | None, Depends(idempotency_key)]
ISSUE_REFUSALS = {
    400: refused("Not a JSON object within limits, or a malformed Idempotency-Key."),
    403: refused(
        "The token's roles do not allow this action (reason_code role-required), or the assignee's do not "
        "open the item's queue (assignee-role-required); way_out says what to do instead."
    ),
    404: refused("A work item command on an item not (yet) known."),
    409: refused("The Idempotency-Key was used for another command."),
    413: refused("A body over the limit."),
    422: refused(
        "A field the console sets (not-yours-to-set), an assignee who never signed in (unknown-assignee), "
        "or fields not matching the contract (invalid-command, with each field's problem)."
    ),
}


def make_api(runtime: "ServiceRuntime") -> FastAPI:
    app = api_app("console", DESCRIPTION, on_invalid_body=_invalid_command)
    for name, kind in COMMANDS.items():
        _command_route(app, runtime, name, kind)

    @app.get(
        PREFIX + "/{command_id}",
        response_model=CommandStatus,
        response_model_exclude_none=True,
        summary="A command you issued: pending, accepted (with the events it caused) or rejected (with why)",
        responses={404: refused("No such command of yours.")},
    )
    async def command_status(officer: Principal, command_id: str) -> dict[str, Any]:
        return await status_of(runtime, officer[0], command_id)

    @app.post(
        SIGN_IN_CODES,
        status_code=201,
        response_model=SignInCode,
        summary="A one-time sign-in link for the bearer token's officer (the token never rides in a URL)",
        responses={403: refused("An operator's token (reason_code operators-not-officers).")},
        response_description="The link; it works once, until it expires, and signs in only from the officer's "
        "own browser (no other site may submit it).",
    )
    async def sign_in_code(request: Request) -> dict[str, Any]:
        return await _sign_in_code(runtime, request.scope.get("principal") or {})

    @app.get(OPENAPI_PATH, summary="This document")
    async def openapi_json() -> dict[str, Any]:
        return openapi()

    return app


def _command_route(app: FastAPI, runtime: "ServiceRuntime", name: str, kind: type[Event]) -> None:
    body_model = request_model(kind)

    async def issue_command(officer: Principal, key: Key, body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]
        fields = body.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
        try:
            answer, _ = await issue(runtime, officer[0], officer[1], kind, fields, key)
        except Refused as exc:
            log.info(
                "command refused",
                officer_id=officer[0],
                code=exc.body["error"],
                status=exc.status_code,
                reason_code=exc.body.get("reason_code"),
            )
            raise
        return answer

    summary = (kind.__doc__ or name).strip().split("\n")[0]
    app.post(
        f"{PREFIX}/{name}",
        status_code=202,
        response_model=CommandAccepted,
        summary=summary,
        operation_id=name,
        responses=ISSUE_REFUSALS,  # type: ignore[arg-type]
        response_description="Written (through the outbox) to its staff-action topic; the service decides "
        "next.",
    )(issue_command)


async def _sign_in_code(runtime: "ServiceRuntime", claims: dict[str, Any]) -> dict[str, Any]:
    """A one-time sign-in link for the token's officer: what an identity provider's redirect (or ``./dev sign-in``)
    hands the browser, so the token itself never rides in a URL."""
    async with runtime.pool.acquire() as conn:
        try:
            code = await signin.code_for_claims(runtime, conn, claims)
        except signin.NotAnOfficerError:
            raise Refused(
                403,
                "forbidden",
                signin.OPERATORS_NOT_OFFICERS,
                reason_code="operators-not-officers",
            ) from None
    settings: Any = runtime.settings
    log.info("sign-in code issued", officer_id=str(claims.get("sub", "")), status=201)
    return {
        "sign_in_path": f"{signin.SIGN_IN}?code={code}",
        "expires_in_s": int(settings.sign_in_code_ttl_s),
    }


def openapi() -> dict[str, Any]:
    """The command API's OpenAPI 3.1 document (also committed as ``services/console/openapi.json``), generated from
    the routes above and each action's request model."""
    return openapi_document(_DOCUMENTED)


def render_openapi() -> str:
    return render(openapi())


class _NoRuntime:
    """What the document is made from when no service runs (``python -m console.api``): routes, never called."""

    pool: Any = None


_DOCUMENTED = make_api(_NoRuntime())  # type: ignore[arg-type]

if __name__ == "__main__":  # python -m console.api --write: refresh the committed snapshot
    snapshot_cli(openapi, OPENAPI_SNAPSHOT)
