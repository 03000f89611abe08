"""Every rule traced: each actionable sentence of the procedures has an id, a verbatim quotation and its line, the
functions that implement it, the tests that quote it, and the scenarios that exercise it (issue 19)."""

from __future__ import annotations

import pytest

from contracts.procedures import BY_ID, IMPLEMENTED, RULES, implements
from contracts.seeds import locate
from devstack import rules

pytestmark = pytest.mark.unit


def test_every_rule_quotes_its_procedure_word_for_word_and_ids_are_unique():
    assert len(BY_ID) == len(RULES)
    missing = [r.id for r in RULES if locate(rules.published(r.seed), r.quote) is None]
    assert missing == [], f"quotations not found verbatim in their procedure: {missing}"


def test_every_sentence_of_the_procedures_is_a_rule_or_said_not_to_be_one():
    for seed in rules.SEED_FILES:
        assert rules.unregistered(seed) == [], (
            f"{seed}: sentences with no rule (add one to contracts.procedures)"
        )


def test_a_sentence_whose_rule_is_removed_is_listed():
    without = tuple(r for r in RULES if r.id != "IM-7.3")
    assert any(
        "cannot be ceased or varied on day 2" in s
        for s in rules.unregistered("103-01050060", without)
    )


def test_every_rule_is_traced_to_code_and_tests_or_says_why_not():
    untraced = {t.rule.id: t.gaps for t in rules.traces() if t.gaps}
    assert untraced == {}


def test_each_test_is_marked_with_the_rules_it_quotes_and_quotes_the_rules_it_is_marked_with():
    assert rules.disagreements() == []


def test_a_rule_is_found_on_the_line_it_starts_on():
    published = rules.published("103-01050060")
    line = locate(published, BY_ID["IM-7.3"].quote)
    assert line is not None
    assert "Note: the expense cannot be" in published.splitlines()[line - 1]


def test_implements_refuses_an_unknown_rule_and_records_a_known_one(monkeypatch):
    monkeypatch.setitem(
        IMPLEMENTED, "IM-4.5", list(IMPLEMENTED.get("IM-4.5", []))
    )  # the real marks stay as found
    with pytest.raises(KeyError, match="NO-SUCH-RULE"):
        implements("NO-SUCH-RULE")

    def keeps_a_doc() -> None: ...

    implements("IM-4.5")(keeps_a_doc)
    assert any(name.endswith("keeps_a_doc") for name in IMPLEMENTED["IM-4.5"])


def test_the_generated_document_is_current():
    assert rules.DOC.read_text() == rules.document(), (
        "docs/procedures.md is stale: python -m devstack.rules --write"
    )
