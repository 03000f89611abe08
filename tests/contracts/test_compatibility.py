"""Contracts change only on purpose: JSON Schemas are snapshotted, and the README's topic table is generated.

A failing test here means a contract changed. If the change is compatible, regenerate with
`.venv/bin/python -m contracts.docs --write` and commit the snapshot with the change. If it is
breaking, raise the event's ``schema_version_current`` and add an upcaster from the old version.
"""

from __future__ import annotations

import json

import pytest

from contracts.docs import README, SCHEMA_DIR, events, readme_with_tables, schema_file, schema_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", events(), ids=lambda m: m.__name__)
def test_the_json_schema_of_each_event_matches_its_snapshot(model):
    path = SCHEMA_DIR / schema_file(model)
    assert path.exists(), f"no snapshot {path.name}: a new event or version; run contracts.docs --write"
    assert schema_of(model) == json.loads(path.read_text()), f"{model.__name__} changed (see this module's docstring)"


def test_every_snapshot_still_has_its_event():
    """Removing an event type (or a version) is a breaking change too."""
    current = {schema_file(m) for m in events()}
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} <= current


def test_the_readme_topic_and_acl_tables_are_generated_from_the_catalogue():
    text = README.read_text()
    assert readme_with_tables(text) == text, "README tables are stale: run contracts.docs --write"
