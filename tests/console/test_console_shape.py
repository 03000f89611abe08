"""The console's shape (issue 40): its modules import one another without a cycle, none imports another inside a
function (where a cycle hides), the desk imports no I/O, no function is longer than a screen, and no template line
is wider than a diff can show."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "console" / "src" / "console"
MODULES = {
    ".".join(("console", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    ): p
    for p in PACKAGE.rglob("*.py")
}
IO = ("fastapi", "starlette", "asyncpg", "jinja2", "aiokafka", "faststream", "servicekit")
"""What the desk never imports: the web, the database, the templates, the bus, the runtime."""
MAX_FUNCTION_LINES = 60
MAX_TEMPLATE_LINE = 120


def imported(path: Path) -> tuple[set[str], set[str]]:
    """Every module ``path`` imports: at module level, and inside a function or class."""
    tree = ast.parse(path.read_text())
    top: set[str] = set()
    nested: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        (top if node in tree.body else nested).update(names)
    return top, nested


def console_imports(path: Path) -> tuple[set[str], set[str]]:
    top, nested = imported(path)
    return top & MODULES.keys(), nested & MODULES.keys()


def test_no_console_module_imports_another_inside_a_function():
    hidden = {m: nested for m, p in MODULES.items() if (nested := console_imports(p)[1])}
    assert hidden == {}


def test_the_console_modules_import_one_another_without_a_cycle():
    graph = {m: console_imports(p)[0] - {m} for m, p in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"an import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for other in sorted(graph.get(module, ())):
            if not module.startswith(f"{other}."):  # a module's own package is no cycle
                visit(other, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_the_desk_imports_no_web_database_template_or_store():
    desk = {m: p for m, p in MODULES.items() if m.startswith("console.desk")}
    assert len(desk) >= 6
    leaks = {
        m: sorted(
            i
            for i in imported(p)[0] | imported(p)[1]
            if i.split(".")[0] in IO
            or (i.startswith("console.") and not i.startswith("console.desk"))
        )
        for m, p in desk.items()
    }
    assert {m: found for m, found in leaks.items() if found} == {}


def test_no_console_function_is_longer_than_a_screen():
    long = {
        f"{m}.{node.name}": length
        for m, p in MODULES.items()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    }
    assert long == {}


def test_no_template_line_is_wider_than_a_diff_shows():
    wide = {
        f"{t.name}:{n}": len(line)
        for t in sorted((PACKAGE / "templates").glob("*.html"))
        for n, line in enumerate(t.read_text().splitlines(), 1)
        if len(line) > MAX_TEMPLATE_LINE
    }
    assert wide == {}
