"""The console's shape (issue 40): its modules import one another without a cycle, and none imports another inside
a function (where a cycle hides)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "console" / "src" / "console"


def imports(path: Path) -> tuple[set[str], set[str]]:
    """The console modules ``path`` imports: at module level, and inside a function or class."""
    tree = ast.parse(path.read_text())
    top: set[str] = set()
    nested: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "console":
                names = [a.name for a in node.names]
            elif node.module.startswith("console."):
                names = [node.module.split(".")[1]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("console.")]
        (top if node in tree.body else nested).update(names)
    return top, nested


def test_no_console_module_imports_another_inside_a_function():
    hidden = {p.stem: nested for p in PACKAGE.glob("*.py") if (nested := imports(p)[1])}
    assert hidden == {}


def test_the_console_modules_import_one_another_without_a_cycle():
    graph = {p.stem: imports(p)[0] - {p.stem} for p in PACKAGE.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"an import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for other in sorted(graph.get(module, ())):
            visit(other, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
