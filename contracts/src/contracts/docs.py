"""Generated documentation: JSON Schema snapshots and the README's topic table.

    python -m contracts.docs --write    regenerate contracts/schemas/ and the README's topic table
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.topics import Catalogue

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "contracts" / "schemas"
README = ROOT / "README.md"
SERVICES = {"notification", "expenses", "workitems"}
START, END = "<!-- topic-catalogue:start -->", "<!-- topic-catalogue:end -->"


def events(catalogue: Catalogue = CATALOGUE) -> list[type[Event]]:
    return [e for topic in catalogue.topics for e in topic.events]


def schema_file(model: type[Event]) -> str:
    return f"{model.__name__}.v{model.schema_version_current}.json"


def schema_of(model: type[Event]) -> dict[str, Any]:
    return model.model_json_schema()


def topic_table(catalogue: Catalogue = CATALOGUE) -> str:
    lines = ["| topic | key | event types | producer | consumers | dead-letter topic |",
             "|---|---|---|---|---|---|"]
    for t in catalogue.topics:
        dlq = f"`{t.dlq}`" if set(t.consumers) & SERVICES else "–"
        lines.append(f"| `{t.name}` | `{t.key}` | {', '.join(f'`{e}`' for e in t.event_types)} | {t.producer} "
                     f"| {', '.join(t.consumers) or '–'} | {dlq} |")
    return "\n".join(lines)


def readme_with_table(text: str, table: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{table}\n{END}", text)


def write() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for model in events():
        (SCHEMA_DIR / schema_file(model)).write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n")
    README.write_text(readme_with_table(README.read_text(), topic_table()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    if parser.parse_args().write:
        write()
        return 0
    print(topic_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
