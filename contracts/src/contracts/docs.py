"""Generated documentation, as text: each event's JSON Schema, and the README's topic and ACL tables. Pure: the
repository's files are written by ``python -m devstack.contract_docs --write``, not by the contracts."""

from __future__ import annotations

import json
import re
from typing import Any

from contracts.access import acl_table
from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.topics import Catalogue

SERVICES = {"notification", "expenses", "workitems"}
START, END = "<!-- topic-catalogue:start -->", "<!-- topic-catalogue:end -->"
ACL_MARKERS = ("<!-- acls:start -->", "<!-- acls:end -->")


def events(catalogue: Catalogue = CATALOGUE) -> list[type[Event]]:
    return [e for topic in catalogue.topics for e in topic.events]


def schema_file(model: type[Event]) -> str:
    return f"{model.__name__}.v{model.schema_version_current}.json"


def schema_of(model: type[Event]) -> dict[str, Any]:
    return model.model_json_schema()


def topic_table(catalogue: Catalogue = CATALOGUE) -> str:
    lines = [
        "| topic | key | event types | producer | consumers | dead-letter topic |",
        "|---|---|---|---|---|---|",
    ]
    for t in catalogue.topics:
        dlq = f"`{t.dlq}`" if set(t.consumers) & SERVICES else "–"
        lines.append(
            f"| `{t.name}` | `{t.key}` | {', '.join(f'`{e}`' for e in t.event_types)} | {t.producer} "
            f"| {', '.join(t.consumers) or '–'} | {dlq} |"
        )
    return "\n".join(lines)


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
