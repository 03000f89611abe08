"""Every quotation a rule test claims is the procedure's own words, found verbatim in the procedures.

The procedures are the specification (`docs/procedures/`, copies of the published text; where the workplace's
`shared/seeds/` is beside the checkout, the copies must be identical to it). A rule test quotes the line it pins, in
its docstring, in single or double quotes; ``[...]`` marks what the quotation leaves out. The published text is a
table of two columns with wrapped lines, bullets and icon links: it is read column by column, bullets and icons
dropped, white space and curly quotes evened out, and compared without regard to case (a quotation may begin
mid-sentence with a capital).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.seeds import ELISION, even, prose
from devstack.rules import quotations

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROCEDURES = ROOT / "docs" / "procedures"
SEEDS = ROOT.parent / "shared" / "seeds"
COPIES = {
    "104-07050030-msp-implementing.txt": "000_97d8a63abc96ce88.txt",
    "103-01050060-undelivered-im-expenses.txt": "003_d5db5f0400d77816.txt",
}


def test_every_quotation_in_a_rule_test_is_in_the_procedures_word_for_word():
    text = " \n ".join(prose(p.read_text()) for p in sorted(PROCEDURES.glob("*.txt")))
    claimed = list(quotations())
    assert len(claimed) > 40, "the rule tests quote the procedures"
    misquoted = [
        (where, part)
        for where, quoted in claimed
        for part in ELISION.split(quoted)
        if (words := even(part).strip(" .,;:")) and words not in text
    ]
    assert misquoted == [], "\n".join(f"{where}: {part!r}" for where, part in misquoted)


def test_the_procedures_kept_here_are_the_published_ones():
    assert {p.name for p in PROCEDURES.glob("*.txt")} == set(COPIES)
    if SEEDS.is_dir():  # the workplace's copy, where the checkout has one beside it
        for ours, theirs in COPIES.items():
            assert (PROCEDURES / ours).read_bytes() == (SEEDS / theirs).read_bytes(), ours


def test_the_reader_finds_words_across_wrapped_cells_bullets_and_icons_and_not_what_is_not_there():
    published = (
        "+---+---+\n| 1 | Phone the customer   |\n|   | and explain:         |\n|   | -   the reasons      |\n"
        "|   | [x\\icon.png]Cold     |\n|   | transfer             |\n+---+---+\n"
    )
    text = prose(published)
    assert "phone the customer and explain: the reasons cold transfer" in text
    assert "1 phone" not in text, "the step column is read apart from the action column"
