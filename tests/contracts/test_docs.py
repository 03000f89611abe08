"""The manual holds together: every relative link in the README and docs/ leads to a file (and a heading, when it
names one), and every `./dev` command the pages name is one the script has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
DEV_COMMAND = re.compile(r"\./dev ([a-z][a-z-]*)")


def slug(heading: str) -> str:
    """A heading's anchor as the usual Markdown renderers make it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {
        slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")
    }


def links() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in PAGES
        for target in LINK.findall(page.read_text())
        if not target.startswith(("http://", "https://", "mailto:"))
    ]


@pytest.mark.parametrize(("page", "target"), links(), ids=str)
def test_every_relative_link_leads_somewhere(page, target):
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    assert file.exists(), f"{page.relative_to(ROOT)} links to {target}, which is not there"
    if anchor and file.suffix == ".md":
        assert anchor in anchors(file), (
            f"{page.relative_to(ROOT)} links to #{anchor}, no such heading"
        )


def test_every_dev_command_the_pages_name_exists():
    script = (ROOT / "dev").read_text()
    commands = {
        c for pattern in re.findall(r"^  ([a-z|-]+)\)$", script, re.M) for c in pattern.split("|")
    }
    named = {c for page in PAGES for c in DEV_COMMAND.findall(page.read_text())}
    assert named <= commands, f"named but not in ./dev: {sorted(named - commands)}"


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
