"""Generated documentation: JSON Schema snapshots, and the README's topic and ACL tables.

python -m contracts.docs --write    regenerate contracts/schemas/ and the README's topic and ACL tables
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from contracts.access import acl_table
from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.topics import Catalogue

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "contracts" / "schemas"
README = ROOT / "README.md"
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


def write() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for model in events():
        (SCHEMA_DIR / schema_file(model)).write_text(
            json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n"
        )
    README.write_text(readme_with_tables(README.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true")
    if parser.parse_args().write:
        write()
        return 0
    print(topic_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
