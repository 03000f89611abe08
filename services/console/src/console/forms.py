"""A staff action's form, made from its contract (the same request schema the command API documents), and the
submitted form turned back into the action's fields: one source for the API, the OpenAPI document and the pages.

Pure: no I/O. A checkbox left unticked is ``false``; an empty input is left out (the contract's default applies);
an optional group (such as what was explained on the phone) is sent only when something in it was filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts.dates import AGENCY_ZONE
from contracts.envelope import Event
from servicekit.http.web import REF

LABELS = {
    "smem_checked": "I checked the SMS/Email Search (SMEM) screen",
    "mobile_checked": "I checked whether the mobile number on file is recorded on multiple records",
    "mobile_on_multiple_records": "It is recorded on multiple records (the SMS must not be sent)",
    "doc_note": "DOC note (what was discussed and done)",
    "assignee_id": "Assign to (officer id)",
    "extreme_hardship": "The customer is in extreme hardship",
    "linked_to_msp": "The incident is linked to the MSP",
    "aggression_displayed": "The customer displayed aggression",
    "no_more_attempts": "No further call will be made (an unsuccessful or unproductive call then resolves the "
    "phone step)",
    "msp_note": "MSP note (a hand delivery by the local Police: record it here)",
    "includes_contact_card": "Includes the contact card",
    "mysupport_job": "mySupport job number",
    "send_at": "Send at (leave empty to send now)",
    "number": "Aggressive call number (as its incident task gives it)",
    "withdrawal_reason": "Why no incident is needed for this call",
}
HINTS = {
    "doc_note": "Record details on a DOC: what was discussed with the customer and done. Colleagues whose roles "
    "open the record can read it; it is never published.",
}
"""Officer-facing hints where a contract's description speaks to integrators (what is rejected, dead-lettered)."""
LIST_ITEMS = 3
"""How many items a list's form offers (a list of behaviours: each one its own group)."""
FORM_FIELDS = frozenset({"form_token", "idempotency_key"})
"""What every form carries beside the action's fields: the session's form token and the command's key."""


@dataclass(frozen=True)
class Input:
    name: str
    """The form field's name: the contract field's, dotted inside a group (``explained.contact_details``)."""
    label: str
    kind: str
    """``checkbox``, ``select``, ``text``, ``textarea``, ``decimal``, ``datetime``, ``hidden``, ``group`` or
    ``list`` (a few groups, one per item: the behaviours an officer describes)."""
    required: bool = False
    options: tuple[str, ...] = ()
    hint: str | None = None
    max_length: int | None = None
    value: str = ""
    children: tuple[Input, ...] = ()


def _label(name: str, schema: Mapping[str, Any]) -> str:
    return LABELS.get(name) or str(schema.get("title") or name.replace("_", " ")).capitalize()


def _resolve(schema: Mapping[str, Any], nested: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    return nested[ref.removeprefix(REF)] if isinstance(ref, str) else schema


def _input(
    name: str, schema: Mapping[str, Any], nested: Mapping[str, Any], required: bool
) -> Input:
    outer = schema
    choices = [_resolve(s, nested) for s in schema.get("anyOf", ())]
    not_null = [s for s in choices if s.get("type") != "null"]
    numeric = {s.get("type") for s in not_null} >= {"number", "string"}
    schema = not_null[0] if len(not_null) == 1 else _resolve(schema, nested)
    hint = (
        HINTS.get(name.rsplit(".", 1)[-1]) or outer.get("description") or schema.get("description")
    )
    hint = str(hint).split("\n")[0] if hint else None
    label = _label(name.rsplit(".", 1)[-1], outer)
    if schema.get("type") == "object":
        children = tuple(
            _input(f"{name}.{k}", v, nested, k in schema.get("required", ()))
            for k, v in schema.get("properties", {}).items()
        )
        return Input(name, label, "group", required, hint=hint, children=children)
    item = _resolve(schema.get("items", {}), nested)
    if schema.get("type") == "array" and item.get("type") == "object":
        return Input(
            name,
            label,
            "list",
            required,
            hint=hint,
            children=_groups(name, label, item, nested, required),
        )
    if "enum" in schema:
        return Input(
            name,
            label,
            "select",
            required,
            options=tuple(str(o) for o in schema["enum"]),
            hint=hint,
        )
    if schema.get("type") == "boolean":
        return Input(name, label, "checkbox", hint=hint)
    if numeric or schema.get("type") in ("number", "integer"):
        return Input(name, label, "decimal", required, hint=hint)
    if schema.get("format") == "date-time":
        return Input(
            name, label, "datetime", required, hint=((hint or "") + " In Canberra time.").strip()
        )
    max_length = schema.get("maxLength")
    return Input(
        name,
        label,
        "textarea" if (max_length or 0) > 200 else "text",
        required,
        hint=hint,
        max_length=max_length,
    )


def _groups(
    name: str, label: str, item: Mapping[str, Any], nested: Mapping[str, Any], required: bool
) -> tuple[Input, ...]:
    """A list of objects as :data:`LIST_ITEMS` numbered groups: the first required where the list is, the others
    optional in every field."""
    groups = (
        _input(f"{name}.{n}", item, nested, required and n == 1) for n in range(1, LIST_ITEMS + 1)
    )
    return tuple(
        Input(
            g.name,
            f"{label} {g.name.rsplit('.', 1)[-1]}",
            g.kind,
            g.required,
            children=g.children if g.required else tuple(_optional(c) for c in g.children),
        )
        for g in groups
    )


def _optional(field: Input) -> Input:
    """A field of an item the officer may leave out (the second and third behaviour): nothing in it is required."""
    return Input(
        field.name,
        field.label,
        field.kind,
        False,
        field.options,
        field.hint,
        field.max_length,
        field.value,
        tuple(_optional(c) for c in field.children),
    )


def inputs(
    kind: type[Event], schema: Mapping[str, Any], nested: Mapping[str, Any], subject: str | None
) -> list[Input]:
    """The form of a staff action (``schema``: its request schema); the key field is hidden and set to
    ``subject`` when the form is on that subject's page."""
    key = kind.key_field
    return [
        Input(k, _label(k, v), "hidden", True, value=subject)
        if k == key and subject is not None
        else _input(k, v, nested, k in schema.get("required", ()))
        for k, v in schema["properties"].items()
    ]


def _filled(field: Input, form: Mapping[str, Sequence[str]]) -> bool:
    if field.kind == "group":
        return any(_filled(c, form) for c in field.children)
    values = form.get(field.name, ())
    return bool(values) and bool(values[-1].strip()) if field.kind != "checkbox" else bool(values)


def fields_of(form_inputs: Sequence[Input], form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The action's fields from a submitted form (as parsed by ``urllib.parse.parse_qs``)."""
    fields: dict[str, Any] = {}
    for field in form_inputs:
        key = field.name.rsplit(".", 1)[-1]
        if field.kind == "checkbox":
            fields[key] = field.name in form
        elif field.kind == "group":
            if _filled(field, form):
                fields[key] = fields_of(field.children, form)
        elif field.kind == "list":
            fields[key] = [
                fields_of(group.children, form) for group in field.children if _filled(group, form)
            ]
        elif _filled(field, form) and field.kind == "datetime":
            fields[key] = in_canberra(form[field.name][-1].strip())
        elif _filled(field, form):
            fields[key] = form[field.name][-1].strip()
    return fields


def in_canberra(text: str) -> str:
    """A date-time control's value (local, without an offset: ``2026-11-23T09:00``) as the instant it names in
    Canberra time; a value with its own offset, or not a date-time at all, as it is (the contract judges it)."""
    try:
        given = datetime.fromisoformat(text)
    except ValueError:
        return text
    return (
        given if given.tzinfo is not None else given.replace(tzinfo=ZoneInfo(AGENCY_ZONE))
    ).isoformat()
