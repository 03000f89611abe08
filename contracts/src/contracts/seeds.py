"""Reading the procedures as published: a table of two columns with wrapped lines, bullets and icon links.

The text is read column by column, bullets and icons dropped, white space and curly quotes evened out, and compared
without regard to case; a cell's column, and a table from the text around it, are kept apart (``|``), so no quotation
spans them. Each piece keeps its line, so a quotation is found with the line it starts on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUOTATION = re.compile(r'"([^"]{20,}?)"|(?<![A-Za-z])\'(.{20,}?)\'(?![A-Za-z])', re.DOTALL)
"""A quotation in a docstring: in double quotes, or single quotes not inside a word, 20 characters or more."""
ELISION = re.compile(r"\[\.\.\.\]|\[…\]|…|\.\.\.")
"""What a quotation leaves out."""
_ICON = re.compile(r"\[[^\]]*?\.png\]")


def even(text: str) -> str:
    for curly, straight in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(curly, straight)
    return re.sub(r"\s+", " ", _ICON.sub(" ", text)).strip().lower()


@dataclass(frozen=True)
class Block:
    """A column of one table (or the text between tables): its pieces, each with the line it is on."""

    pieces: tuple[tuple[str, int], ...]

    @property
    def text(self) -> str:
        return even(" ".join(p for p, _ in self.pieces))

    def line_at(self, offset: int) -> int:
        """The line of the piece the evened text's ``offset`` falls in."""
        for k in range(1, len(self.pieces) + 1):
            if len(even(" ".join(p for p, _ in self.pieces[:k]))) > offset:
                return self.pieces[k - 1][1]
        return self.pieces[-1][1]


def blocks(published: str) -> list[Block]:
    found: list[Block] = []
    lines: list[tuple[str, int]] = []
    columns: list[list[tuple[str, int]]] = []

    def flush() -> None:
        found.extend(Block(tuple(column)) for column in columns if column)
        columns.clear()
        if lines:
            found.append(Block(tuple(lines)))
            lines.clear()

    for number, line in enumerate(published.splitlines(), 1):
        if line.startswith("+") and set(line.strip()) <= set("+-=:"):
            flush()
        elif line.startswith("|"):
            if lines:
                flush()
            cells = line.strip().strip("|").split("|")
            columns.extend([] for _ in range(len(cells) - len(columns)))
            for column, cell in zip(columns, cells, strict=False):
                column.append((re.sub(r"^-\s+", "", cell.strip()), number))
        else:
            if columns:
                flush()
            lines.append((re.sub(r"^\s*-\s+", "", line), number))
    flush()
    return found


def prose(published: str) -> str:
    """The published text as running prose, evened (see the module's docstring)."""
    return " | ".join(b.text for b in blocks(published))


def locate(published: str, quote: str) -> int | None:
    """The line ``quote`` starts on in the published text, or None when it is not there word for word."""
    wanted = even(quote)
    for block in blocks(published):
        at = block.text.find(wanted)
        if at >= 0:
            return block.line_at(at)
    return None


def sentences(published: str) -> list[str]:
    """The published text's sentences (evened), as well as a table of wrapped lines can be cut into them."""
    return [
        s.strip()
        for b in blocks(published)
        for s in re.split(r"(?<=[.!?])\s+", b.text)
        if len(s.strip()) > 15
    ]
