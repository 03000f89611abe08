"""Every rule traced: seed sentence -> code -> test -> scenario, as ``docs/procedures.md``.

    python -m devstack.rules --write    regenerate docs/procedures.md
    python -m devstack.rules            print it

The rules and their quotations are ``contracts.procedures.RULES``; the implementing functions say so with
``@implements``; a test names the rules it proves with ``@pytest.mark.rule(...)`` and quotes each rule's sentence
(or a part of it) word for word in its docstring, and the two must agree; a scenario exercises a rule when its
``rules`` list names it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contracts.procedures import BY_ID, IMPLEMENTED, NOT_RULES, RULES, SEED_FILES, Rule
from contracts.seeds import ELISION, QUOTATION, even, locate, sentences

ROOT = Path(__file__).resolve().parents[4]
PROCEDURES = ROOT / "docs" / "procedures"
DOC = ROOT / "docs" / "procedures.md"
SCENARIOS = ROOT / "scenarios"
RULE_TESTS = ("notification", "expenses", "workitems", "contracts", "console", "e2e")
"""The test folders whose docstrings quote the procedures (the infrastructure tests quote no rule)."""
DOMAINS = (
    "notification.domain.decide",
    "notification.domain.sms",
    "expenses.domain.decide",
    "expenses.domain.calendar",
    "workitems.domain.decide",
    "contracts.roles",
    "contracts.notification",
    "contracts.phones",
    "console.desk.offers",
    "console.issue",
)
"""The modules whose functions carry ``@implements`` (imported so that their marks are read)."""
MIN_OVERLAP = 20
"""A quotation links a test to a rule when one contains the other and the shorter is at least this long."""


def published(seed: str) -> str:
    return (PROCEDURES / SEED_FILES[seed]).read_text()


def _tests() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for folder in RULE_TESTS:
        for path in sorted((ROOT / "tests" / folder).rglob("test_*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(
                    node, ast.FunctionDef | ast.AsyncFunctionDef
                ) and node.name.startswith("test"):
                    yield f"{path.relative_to(ROOT)}::{node.name}", node


def quotations() -> Iterator[tuple[str, str]]:
    """(test id, quotation) for every quotation in a rule test's docstring."""
    for test, node in _tests():
        for found in QUOTATION.finditer(ast.get_docstring(node) or ""):
            yield test, found.group(1) or found.group(2)


def marks() -> dict[str, list[str]]:
    """Test id -> the rule ids its ``@pytest.mark.rule(...)`` names."""
    found: dict[str, list[str]] = {}
    for test, node in _tests():
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "rule"
                and ast.unparse(decorator.func.value) == "pytest.mark"
            ):
                found.setdefault(test, []).extend(
                    a.value
                    for a in decorator.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                )
    return found


def disagreements() -> list[str]:
    """Where a test's marks and its quotations disagree: a mark with no quotation of that rule, an unknown id, or a
    quotation of a rule's sentence with no mark for it."""
    quoted: dict[str, set[str]] = {}
    for test, q in quotations():
        quoted.setdefault(test, set()).update(r.id for r in RULES if _proves(q, r))
    marked = {test: set(ids) for test, ids in marks().items()}
    problems = []
    for test in sorted(set(quoted) | set(marked)):
        says, proves = marked.get(test, set()), quoted.get(test, set())
        problems += [f"{test}: no such rule {i}" for i in sorted(says - set(BY_ID))]
        problems += [
            f"{test}: marked {i} but quotes none of its sentence"
            for i in sorted((says & set(BY_ID)) - proves)
        ]
        problems += [f"{test}: quotes {i} but is not marked with it" for i in sorted(proves - says)]
    return problems


def _proves(quoted: str, rule: Rule) -> bool:
    sentence = even(rule.quote).strip(" .,;:")
    for part in ELISION.split(quoted):
        words = even(part).strip(" .,;:")
        shorter = min(len(words), len(sentence))
        if shorter >= MIN_OVERLAP and (words in sentence or sentence in words):
            return True
    return False


def scenario_rules() -> dict[str, list[str]]:
    """Rule id -> the scenarios that name it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SCENARIOS.glob("*.json")):
        for rule_id in json.loads(path.read_text()).get("rules", []):
            found.setdefault(rule_id, []).append(path.stem)
    return found


@dataclass(frozen=True)
class Trace:
    rule: Rule
    line: int | None
    functions: tuple[str, ...]
    tests: tuple[str, ...]
    scenarios: tuple[str, ...]

    @property
    def gaps(self) -> list[str]:
        """What is missing for this rule to be traced."""
        missing = []
        if self.line is None:
            missing.append("quote not found in the procedure")
        if self.rule.handling == "automated" and not self.functions:
            missing.append("no implementing function")
        if self.rule.handling != "people" and not self.tests:
            missing.append("no test proves it (@pytest.mark.rule)")
        if self.rule.handling != "automated" and not self.rule.note:
            missing.append("not automated, and no note says what the system does instead")
        return missing


def traces() -> list[Trace]:
    for module in DOMAINS:
        importlib.import_module(module)
    marked = marks()
    in_scenarios = scenario_rules()
    return [
        Trace(
            rule,
            locate(published(rule.seed), rule.quote),
            tuple(sorted(set(IMPLEMENTED.get(rule.id, [])))),
            tuple(sorted(test for test, ids in marked.items() if rule.id in ids)),
            tuple(in_scenarios.get(rule.id, [])),
        )
        for rule in RULES
    ]


def unregistered(seed: str, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Sentences of the procedure that no rule quotes and that are not listed as not being rules."""
    quotes = [even(r.quote).strip(" .,;:") for r in rules if r.seed == seed]
    not_rules = [even(start) for start, _ in NOT_RULES]
    return [
        s
        for s in sentences(published(seed))
        if not any(q in s or s.strip(" .,;:") in q for q in quotes)
        and not any(n in s for n in not_rules)
    ]


def document() -> str:
    all_traces = traces()
    gaps = [t for t in all_traces if t.gaps]
    counts = {
        seed: {
            h: sum(1 for r in RULES if r.seed == seed and r.handling == h)
            for h in ("automated", "pointed", "people")
        }
        for seed in SEED_FILES
    }
    out = [
        "# The procedures' rules, traced",
        "",
        "Generated by `python -m devstack.rules --write` from `contracts.procedures` (checked by "
        "`tests/contracts/test_rules.py`): each actionable sentence of the two procedures, the line of "
        "`docs/procedures/` it starts on, the functions that implement it (`@implements`), the tests that prove "
        "it (`@pytest.mark.rule`, each quoting it), the scenarios that exercise it, and our reading where the "
        "sentence is ambiguous. Rules not traced are listed first.",
        "",
        "| procedure | rules | automated | pointed to | left to people |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {seed} | {sum(c.values())} | {c['automated']} | {c['pointed']} | {c['people']} |"
        for seed, c in counts.items()
    ]
    out += ["", "## Not traced", ""]
    out += [f"- **{t.rule.id}**: {'; '.join(t.gaps)}" for t in gaps] or [
        "None: every rule is traced."
    ]
    for seed, name in SEED_FILES.items():
        out += ["", f"## {seed} (`docs/procedures/{name}`)", ""]
        for t in (t for t in all_traces if t.rule.seed == seed):
            r = t.rule
            out += [f"### {r.id} ({r.handling})", "", f"> {r.quote}", "", f"- line {t.line}"]
            if r.note:
                out.append(f"- reading: {r.note}")
            out.append("- implemented by: " + (", ".join(f"`{f}`" for f in t.functions) or "–"))
            out.append("- tests: " + (", ".join(f"`{x}`" for x in t.tests) or "–"))
            out.append("- scenarios: " + (", ".join(f"`{s}`" for s in t.scenarios) or "–"))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write docs/procedures.md")
    text = document()
    if parser.parse_args().write:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
