"""The contracts' generated files in this repository: each event's JSON Schema snapshot (``contracts/schemas/``)
and the topic and ACL tables of docs/integration.md, made from the catalogue by :mod:`contracts.docs`.

python -m devstack.contract_docs --write    regenerate them (a test fails while they are stale)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts.docs import events, readme_with_tables, schema_file, schema_text, topic_table

ROOT = Path(__file__).resolve().parents[4]
SCHEMA_DIR = ROOT / "contracts" / "schemas"
README = ROOT / "docs" / "integration.md"
"""Where the topic and ACL tables live (between their markers)."""


def write() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for model in events():
        (SCHEMA_DIR / schema_file(model)).write_text(schema_text(model))
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
