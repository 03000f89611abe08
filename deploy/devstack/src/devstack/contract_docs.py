"""The contracts' generated files in this repository: each event's JSON Schema snapshot (``contracts/schemas/``)
and the topic and ACL tables of docs/integration.md, made from the catalogue by :mod:`contracts.docs`.

python -m devstack.contract_docs --write    regenerate them (a test fails while they are stale)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contracts.asyncapi import document
from contracts.catalogue import CATALOGUE
from contracts.docs import (
    as_read,
    events,
    readme_with_tables,
    schema_file,
    schema_of,
    schema_text,
    topic_table,
)
from contracts.envelope import MONEY_PATTERN
from contracts.examples import BODIES

ROOT = Path(__file__).resolve().parents[4]
SCHEMA_DIR = ROOT / "contracts" / "schemas"
README = ROOT / "docs" / "integration.md"
"""Where the topic and ACL tables live (between their markers)."""


EXAMPLE_DIR = ROOT / "docs" / "examples"
ASYNCAPI_DIR = ROOT / "docs" / "asyncapi"
SERVICES = ("notification", "expenses", "workitems", "console")


def generated() -> dict[Path, str]:
    """Every generated file but the tables: the example bodies and the AsyncAPI documents (the system's, each
    service's), as their committed copies must read."""
    files = {EXAMPLE_DIR / name: json.dumps(body, indent=2) + "\n" for name, body in BODIES.items()}
    docs = {
        "system": document(
            "system", CATALOGUE, version=VERSION, everything=True, description=SYSTEM
        )
    }
    docs |= {
        s: document(s, CATALOGUE, version=VERSION, description=f"The {s} service.")
        for s in SERVICES
    }
    files |= {
        ASYNCAPI_DIR / f"{name}.json": json.dumps(doc, indent=2, sort_keys=True) + "\n"
        for name, doc in docs.items()
    }
    return files | older_snapshots()


def older_snapshots() -> dict[Path, str]:
    """Each superseded version's snapshot, its fields as published, but its envelope and its amounts as the reader
    reads them today (an old version is upcast, then read by today's model: an amount is refused by today's rule)."""
    current = {model.__name__: schema_of(model) for model in events()}
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.v*.json")):
        event_type, _, version = path.name.removesuffix(".json").rpartition(".v")
        today = current[event_type]
        if int(version) == today["properties"]["schema_version"]["const"]:
            continue
        schema = as_read(json.loads(path.read_text()), int(version))
        for name in schema["properties"]:
            now = today["properties"].get(name)
            if now is not None and json.dumps(MONEY_PATTERN) in json.dumps(now):
                schema["properties"][name] = now
        found[path] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return found


VERSION = "1.0.0"
SYSTEM = (
    "Every topic of the MSP notification, Income Management expenses and work items services: who sends what, "
    "keyed how, on which topic, with which schema. Upstream systems send PaymentAttempted and MspApproved."
)


def write() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for model in events():
        (SCHEMA_DIR / schema_file(model)).write_text(schema_text(model))
    README.write_text(readme_with_tables(README.read_text()))
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


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
