"""SMS length, counted as the network counts it.

GSM-7: 160 characters in one message, 153 per fragment when split; characters of the extension
table (``^{}\\[~]|€`` and form feed) count twice. Any character outside GSM-7 makes the whole
message UCS-2: 70 in one message, 67 per fragment, counted in UTF-16 code units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from contracts.procedures import implements

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
PER_FRAGMENT = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsSize:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    fragments: int


def sms_size(text: str) -> SmsSize:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        encoding = "UCS-2"
    fragments = 1 if units <= SINGLE[encoding] else math.ceil(units / PER_FRAGMENT[encoding])
    return SmsSize(encoding, units, fragments)


@implements("MSP-2.14", "MSP-2.7")
def msp_sms_text(contact_kind: str, contact_phone: str, starts_on: str) -> str:
    """The MSP SMS: prompt, limited, no sensitive detail; it carries the OMC/PSSO number and announces the letter.

    'Due to the SMS character limit, an SMS does not contain all required notification and decision information.
    Sending an SMS will complement, not replace the corresponding letter.'
    """
    who = "One Main Contact" if contact_kind == "OMC" else "Personalised Services Service Officer"
    return (
        f"Services Australia: from {starts_on} how you contact us has changed. Please call your {who} on "
        f"{contact_phone}. A letter with the details will follow."
    )
