"""Phone numbers as the contracts carry them: parsed as Australian numbers and kept in E.164 ("+61412345678").

104-07050030 step 2 asks the approved decision maker to "make sure the mobile number on file is not recorded on
multiple records": comparing numbers needs one form of each, so every number is normalised where it enters. A
number that does not parse as a valid number is a contract violation (the message is dead-lettered with the field's
name, never the number); whether a valid number is a mobile is the SMS decision's to judge (:func:`is_mobile`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from pydantic import AfterValidator, Field

REGION = "AU"
"""Numbers written without a country code are Australian."""


def _parsed(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, REGION)
    except NumberParseException:
        return None


CACHED_NUMBERS = 4096
"""Numbers whose parsing is remembered: each function here is pure, and a case's numbers (the contact officer's line
above all) recur in every message about it; parsing one costs tens of microseconds."""


@lru_cache(maxsize=CACHED_NUMBERS)
def e164(text: str) -> str:
    """``text`` as an E.164 number; ValueError (naming no digit of it) when it is not a valid phone number."""
    number = _parsed(text)
    if number is None:
        raise ValueError("not a phone number")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=CACHED_NUMBERS)
def is_mobile(number: str) -> bool:
    """Whether a (valid) number is a mobile one, that an SMS can reach."""
    parsed = _parsed(number)
    mobile = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return parsed is not None and phonenumbers.number_type(parsed) in mobile


PhoneNumber = Annotated[
    str,
    Field(
        min_length=3,
        max_length=32,
        examples=["+61412345678", "02 6123 4567"],
        description="A valid phone number by libphonenumber's rules (Australian unless it starts with +): a "
        "message with a number that is not one is refused, 'not a valid phone number'. No pattern can say which "
        "numbers are valid.",
    ),
    AfterValidator(e164),
]
"""A valid phone number, Australian unless it says its country; kept in E.164."""


@lru_cache(maxsize=CACHED_NUMBERS)
def national(number: str) -> str:
    """A number as an Australian reads it ("02 6123 4567"): for the SMS text and the officer's briefing."""
    parsed = _parsed(number)
    return (
        number
        if parsed is None
        else phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    )
