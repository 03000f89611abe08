"""104-07050030 step 1, "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without
explaining why": when a behaviour (or the reasons) is described, and what its description still lacks. The rule
is the notification's; the contracts keep only the shape of a behaviour."""

from __future__ import annotations

import re
from datetime import date
from typing import Protocol

from contracts.notification import Behaviour, Channel
from contracts.procedures import implements

LABELS = frozenset(
    {
        "inappropriate",
        "aggressive",
        "aggression",
        "aggressively",
        "counterproductive",
        "unacceptable",
        "abusive",
        "rude",
        "hostile",
        "threatening",
        "offensive",
        "disruptive",
        "difficult",
        "unreasonable",
        "challenging",
        "violent",
        "behaviour",
        "behaviours",
        "behavior",
        "behaviors",
        "conduct",
        "manner",
        "language",
        "verbally",
        "very",
        "extremely",
        "displayed",
        "showed",
        "shown",
        "exhibited",
        "demonstrated",
        "behaved",
        "behaving",
        "behave",
        "behaves",
        "acted",
        "acting",
        "act",
        "acts",
        "became",
        "become",
        "got",
        "getting",
        "quite",
        "really",
        "highly",
    }
)
"""Words that summarise a behaviour without describing it: 'inappropriate', 'aggressive' and their kin."""
FILLER = frozenset(
    {
        "the",
        "a",
        "an",
        "and",
        "or",
        "was",
        "were",
        "is",
        "are",
        "be",
        "being",
        "been",
        "has",
        "had",
        "have",
        "his",
        "her",
        "their",
        "they",
        "he",
        "she",
        "customer",
        "customers",
        "staff",
        "officer",
        "officers",
        "member",
        "members",
        "towards",
        "toward",
        "to",
        "at",
        "with",
        "in",
        "on",
        "of",
        "by",
        "for",
        "today",
        "yesterday",
        "again",
        "some",
        "over",
        "during",
        "via",
        "through",
        "from",
        "while",
        "whilst",
        "when",
        "who",
        "him",
        "them",
        "it",
    }
)
"""Words that carry no account of what happened (who, the day, the grammar)."""


PLACE_AND_FREQUENCY = frozenset(
    {
        "office",
        "offices",
        "centre",
        "center",
        "branch",
        "counter",
        "desk",
        "site",
        "premises",
        "phone",
        "phones",
        "online",
        "call",
        "calls",
        "visit",
        "visits",
        "occasion",
        "occasions",
        "time",
        "times",
        "several",
        "many",
        "multiple",
        "numerous",
        "repeated",
        "repeatedly",
        "often",
        "frequently",
        "recently",
        "various",
        "different",
    }
)
"""Words that say where or how often, not what the customer did (an office, several occasions)."""


def _label(word: str) -> bool:
    """A label, or a label made an adverb ('inappropriately', 'abusively')."""
    return word in LABELS or (word.endswith("ly") and word[:-2] in LABELS)


NOT_WHAT_WAS_DONE = FILLER | PLACE_AND_FREQUENCY
_SENTENCE_END = re.compile(r"[.!?;:]+")
_WORD = re.compile(r"[A-Za-z]+")


def substance(text: str) -> list[str]:
    """The words of ``text`` that say what the customer did: not a label, not filler, not where or how often, and
    not a name (a capitalised word inside a sentence: "Parramatta"; a sentence's first word is no name)."""
    found: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        for n, w in enumerate(_WORD.findall(sentence)):
            word = w.lower()
            if (
                not _label(word)
                and word not in NOT_WHAT_WAS_DONE
                and not (n > 0 and w[0].isupper())
            ):
                found.append(word)
    return found


@implements("MSP-1.2")
def only_a_label(text: str) -> bool:
    """104-07050030 step 1: "Do not summarise the customer's behaviours as 'inappropriate' or 'aggressive' without
    explaining why". The rule an officer can predict: a text is only a label when no word of it says what the
    customer did. Labels ('inappropriate', 'aggressive' and their kin), where (an office, a place's name) and how
    often (several occasions) do not count; one word that does ("swore", "threatened") is a description."""
    return not substance(text)


class Described(Protocol):
    """A behaviour as a case keeps it: what happened, when, on which channel."""

    @property
    def what(self) -> str: ...
    @property
    def occurred_on(self) -> date | None: ...
    @property
    def channel(self) -> Channel | None: ...


def behaviour_gaps(behaviour: Behaviour | Described) -> list[str]:
    """What a behaviour's description lacks, in words for the officer who completes it (empty: described)."""
    return [
        gap
        for gap, missing in (
            (
                "what happened, not only a label such as 'inappropriate' or 'aggressive'",
                only_a_label(behaviour.what),
            ),
            ("when it happened", behaviour.occurred_on is None),
            ("on which channel", behaviour.channel is None),
        )
        if missing
    ]
