"""Generated documentation, as text: each event's JSON Schema, and the README's topic and ACL tables. Pure: the
repository's files are written by ``python -m devstack.contract_docs --write``, not by the contracts."""

from __future__ import annotations

import json
import re
from typing import Any

from contracts.access import acl_table
from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.topics import Catalogue, Topic

SERVICES = {"notification", "expenses", "workitems"}
START, END = "<!-- topic-catalogue:start -->", "<!-- topic-catalogue:end -->"
ACL_MARKERS = ("<!-- acls:start -->", "<!-- acls:end -->")


def events(catalogue: Catalogue = CATALOGUE) -> list[type[Event]]:
    return [e for topic in catalogue.topics for e in topic.events]


def schema_file(model: type[Event]) -> str:
    return f"{model.__name__}.v{model.schema_version_current}.json"


def schema_of(model: type[Event]) -> dict[str, Any]:
    """The schema of what a topic's reader accepts for this event type and version (:func:`as_read`)."""
    return as_read(model.model_json_schema(), model.schema_version_current)


def as_read(schema: dict[str, Any], version: int) -> dict[str, Any]:
    """``schema`` of version ``version`` as the topic's reader reads it: ``event_type`` is required (the reader
    chooses the contract by it), ``schema_version`` is this version's number, required from version 2 on (a
    message without it is read as version 1), and no string holds NUL. The snapshot of an older version gets the
    same (its upcaster reads what it says), so every published version tells what is accepted today."""
    properties, required = schema["properties"], schema.setdefault("required", [])
    properties["event_type"].pop("default", None)
    properties["schema_version"] = {
        "const": version,
        "description": f"This schema's version: {version}"
        + ("." if version > 1 else " (a message without it is of version 1)."),
        "title": "Schema Version",
    }
    required[:] = [
        "event_type",
        *(["schema_version"] if version > 1 else []),
        *(r for r in required if r not in ("event_type", "schema_version")),
    ]
    _no_nul(schema)
    return schema


NO_NUL = "^[^\\u0000]*$"
"""No string of any message may hold the NUL character (the reader refuses the message, ``nul-character``)."""


def _no_nul(node: Any) -> None:
    """Every free string of the schema says it: a string that is not already a pattern, a format or a choice."""
    if isinstance(node, dict):
        if (
            node.get("type") == "string"
            and not {"pattern", "format", "enum", "const"} & node.keys()
        ):
            node["pattern"] = NO_NUL
        for value in node.values():
            _no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value)


def topic_table(catalogue: Catalogue = CATALOGUE) -> str:
    lines = [
        "| topic | key | event types | producer | consumers | dead-letter topic |",
        "|---|---|---|---|---|---|",
    ]
    for t in catalogue.topics:
        dlq = f"`{t.dlq}`" if set(t.consumers) & SERVICES else "–"
        lines.append(
            f"| `{t.name}` | `{t.key}` | {', '.join(f'`{e}`' for e in t.event_types)} | {t.producer} "
            f"| {', '.join(t.consumers) or _reader(catalogue, t)} | {dlq} |"
        )
    return "\n".join(lines)


def _reader(catalogue: Catalogue, topic: Topic) -> str:
    reader = catalogue.reader_of(topic)
    return f"{reader}, the outcomes of its records" if reader else "–"


def readme_with_table(text: str, table: str, markers: tuple[str, str] = (START, END)) -> str:
    start, end = markers
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{table}\n{end}", text)


def readme_with_tables(text: str) -> str:
    """``text`` with the topic table and the ACL table regenerated from the catalogue."""
    return readme_with_table(
        readme_with_table(text, topic_table()), acl_table(CATALOGUE), ACL_MARKERS
    )


def schema_text(model: type[Event]) -> str:
    """A model's JSON Schema as its committed snapshot reads."""
    return json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n"
