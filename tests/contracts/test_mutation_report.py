"""The mutation command's judgement (devstack.mutation): which survivors are a message's words, which are explained,
and when the run fails."""

from __future__ import annotations

import pytest

from devstack.mutation import Mutant, explain, explanations, is_prose, report

pytestmark = pytest.mark.unit


def survivor(*diff: str, name: str = "expenses.domain.decide.x__reject__mutmut_3") -> Mutant:
    return Mutant(name, "survived", diff)


def test_a_changed_phrase_is_a_messages_words_but_a_changed_key_or_code_is_not():
    assert is_prose(survivor('-    "The expense has ended."', '+    "XXThe expense has ended.XX"'))
    assert is_prose(survivor('-    "The expense has ended."', '+    "the expense has ended."'))
    assert not is_prose(survivor('-    {"cause": e}', '+    {"XXcauseXX": e}')), "a key is data"
    assert not is_prose(survivor("-    x < y", "+    x <= y"))
    assert not is_prose(survivor('-    "The expense has ended."', "+    None"))


def test_a_survivor_is_explained_only_by_an_entry_for_its_function_and_its_exact_change():
    entry = {
        "function": "expenses.domain.decide.x__reject",
        "change": "-    a = b\n+    a = None\n",
        "why": "Equivalent: because.",
    }
    assert (
        explain(survivor("-        a = b", "+        a = None"), [entry]) == "Equivalent: because."
    )
    assert explain(survivor("-        a = b", "+        a = c"), [entry]) is None
    other = survivor(
        "-        a = b", "+        a = None", name="expenses.domain.model.x_evolve__mutmut_1"
    )
    assert explain(other, [entry]) is None


def test_the_run_fails_under_ninety_percent_or_with_an_unexplained_survivor():
    killed = [Mutant(f"m.domain.x.x_f__mutmut_{i}", "killed") for i in range(9)]
    _, ok = report([*killed, survivor('-    "A b."', '+    "XXA b.XX"')])
    assert ok, "9 of 10 killed and the survivor is a message's words"
    text, ok = report([*killed, survivor("-    x < y", "+    x <= y")])
    assert not ok
    assert "Unexplained survivors" in text
    _, ok = report(
        [
            *killed[:8],
            survivor('-    "A b."', '+    "XXA b.XX"'),
            survivor('-    "C d."', '+    "c d."'),
        ]
    )
    assert not ok, "8 of 10 is under the threshold"


def test_every_listed_survivor_says_why():
    for entry in explanations():
        assert entry["why"].startswith(("Equivalent", "Harmless")), entry["function"]
        assert entry["change"].strip(), entry["function"]
