"""Mutation testing of the three services' pure domains: ``./dev mutation``.

    ./dev mutation            run it, print the report per domain module, fail on an unexplained survivor or a
                              kill rate under 90 %
    ./dev mutation --write    the same, and write the report to docs/mutation.md

mutmut (pinned in the lock) changes one thing at a time in each function of ``services/*/src/*/domain/`` (an
operator, a constant, an argument, a branch) and runs the fast tier's tests of the services against each change; a
change no test notices has *survived*. mutmut names a module by its path under ``src/``, so the run happens in a
throw-away stage where each service's package sits under one ``src/`` (the tests import ``expenses.domain...``, and
the stage's mutated copies come first on ``sys.path``, before the editable installs).

A survivor is accepted only when it is explained: a change to the words of a message for officers (its letters or
their case: the words are reviewed against the procedure, not asserted letter by letter) is explained by its kind;
every other survivor must be listed in ``tests/mutation_survivors.toml`` with why it is equivalent or harmless.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
SERVICES = ("expenses", "notification", "workitems")
TESTS = ("tests/expenses", "tests/notification", "tests/workitems", "tests/runtime")
EXPLAINED = ROOT / "tests" / "mutation_survivors.toml"
REPORT = ROOT / "docs" / "mutation.md"
THRESHOLD = 0.90
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Mutant:
    name: str  # expenses.domain.decide.x_decide_attempt__mutmut_12
    status: str
    diff: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        return re.sub(r"__mutmut_\d+$", "", self.name)


def stage(into: Path) -> None:
    """The layout mutmut reads: each service's package under src/, the tests, the pytest settings."""
    for service in SERVICES:
        shutil.copytree(
            ROOT / "services" / service / "src" / service,
            into / "src" / service,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copytree(ROOT / "tests", into / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for pyproject in (ROOT / "services").glob(
        "*/pyproject.toml"
    ):  # a test reads the calendar's pins
        (into / pyproject.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pyproject, into / pyproject.relative_to(ROOT))
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = ["[tool.pytest.ini_options]", *(f"{k} = {json.dumps(v)}" for k, v in ini.items())]
    lines += [
        "",
        "[tool.mutmut]",
        'source_paths = ["src/"]',
        'also_copy = ["services/"]',
        'only_mutate = ["src/*/domain/*.py"]',
        'pytest_add_cli_args = ["-m", "unit", "-q"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(list(TESTS))}",
    ]
    (into / "pyproject.toml").write_text("\n".join(lines) + "\n")


def _mutmut(stage_dir: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [str(MUTMUT), *args], cwd=stage_dir, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(
            f"mutmut {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def run(children: int) -> list[Mutant]:
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        stage_dir = Path(tmp)
        stage(stage_dir)
        started = time.monotonic()
        print(f"== mutmut run (stage {stage_dir}, {children} children) ...", flush=True)
        _mutmut(stage_dir, "run", "--max-children", str(children))
        print(f"== done in {time.monotonic() - started:.0f} s", flush=True)
        results = [
            line.strip().rsplit(": ", 1)
            for line in _mutmut(stage_dir, "results", "--all", "true").splitlines()
            if ": " in line
        ]
        return [
            Mutant(name, status, _diff(stage_dir, name) if status == "survived" else ())
            for name, status in results
        ]


def _diff(stage_dir: Path, name: str) -> tuple[str, ...]:
    shown = _mutmut(stage_dir, "show", name, check=False)
    return tuple(
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line[1:]).strip()


def is_prose(mutant: Mutant) -> bool:
    """Only the letters of a phrase changed (``XX`` around it, or its case): a message's words, not a code."""
    minus = [_norm(d) for d in mutant.diff if d.startswith("-")]
    plus = [_norm(d) for d in mutant.diff if d.startswith("+")]
    if not minus or len(minus) != len(plus) or not any('"' in m or "'" in m for m in minus):
        return False
    return all(
        m != p and m.lower() == p.replace("XX", "").lower() and _phrase(m)
        for m, p in zip(minus, plus, strict=True)
    )


def _phrase(line: str) -> bool:
    """The line's string literals read as words to a person (a space in them), not a key, a code or a value."""
    return any(" " in literal for literal in re.findall(r'"([^"]*)"', line))


def explanations() -> list[dict[str, str]]:
    return list(tomllib.loads(EXPLAINED.read_text()).get("survivor", []))


def explain(mutant: Mutant, known: list[dict[str, str]]) -> str | None:
    if is_prose(mutant):
        return "prose"
    change = [line[0] + _norm(line) for line in mutant.diff]
    for entry in known:
        listed = [line.strip() for line in entry["change"].strip().splitlines()]
        if entry["function"] == mutant.function and [c[0] + _norm(c) for c in listed] == change:
            return entry["why"]
    return None


def report(mutants: list[Mutant]) -> tuple[str, bool]:
    known = explanations()
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for m in mutants:
        by_module[m.module][m.status] += 1
    lines = [
        "# Mutation testing of the domains",
        "",
        "Written by `./dev mutation --write` (`deploy/devstack/src/devstack/mutation.py`, mutmut pinned in the lock). "
        "Each mutant is one change to one function of `services/*/src/*/domain/`; *killed*: a fast-tier test failed "
        "on it; *survived*: none did. A survivor is explained by its kind (the words of a message) or in "
        "`tests/mutation_survivors.toml`.",
        "",
        "| module | mutants | killed | survived | no tests | other |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for module in sorted(by_module):
        c = by_module[module]
        other = sum(c.values()) - c["killed"] - c["survived"] - c["no tests"]
        lines.append(
            f"| `{module}` | {sum(c.values())} | {c['killed']} | {c['survived']} | {c['no tests']} | {other} |"
        )
    total = len(mutants)
    killed = sum(1 for m in mutants if m.status == "killed")
    rate = killed / total if total else 0.0
    lines += ["", f"**{killed} of {total} killed ({rate:.1%}).**", ""]
    survivors = [m for m in mutants if m.status != "killed"]
    unexplained = []
    groups: dict[str, list[Mutant]] = defaultdict(list)
    for m in survivors:
        why = (
            explain(m, known) if m.status == "survived" else f"{m.status} (not run against a test)"
        )
        if why is None:
            unexplained.append(m)
        else:
            groups[why].append(m)
    lines += ["## Every survivor and why", ""]
    for why, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        label = (
            "A message's words: the letters or case of an officer-facing text"
            if why == "prose"
            else why
        )
        lines.append(
            f"- **{label}** ({len(members)}): " + ", ".join(f"`{m.name}`" for m in members)
        )
    if unexplained:
        lines += [
            "",
            "## Unexplained survivors (each needs a test or an entry in tests/mutation_survivors.toml)",
            "",
        ]
        for m in unexplained:
            lines.append(f"- `{m.name}`")
            lines += [f"      {d}" for d in m.diff]
    used = {why for why in groups}
    stale = [e["function"] for e in known if e["why"] not in used]
    if stale:
        lines += [
            "",
            f"Entries of tests/mutation_survivors.toml that matched no survivor ({len(stale)}): "
            + ", ".join(f"`{f}`" for f in stale),
        ]
    ok = rate >= THRESHOLD and not unexplained
    lines += ["", f"Threshold {THRESHOLD:.0%}: {'met' if rate >= THRESHOLD else 'NOT met'}."]
    return "\n".join(lines) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack.mutation", description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the report to docs/mutation.md")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    text, ok = report(run(args.children))
    print(text)
    if args.write:
        REPORT.write_text(text)
        print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
