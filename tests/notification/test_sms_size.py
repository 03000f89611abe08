"""SMS length as the network counts it (GSM-7 160/153, UCS-2 70/67, extension characters twice)."""

from __future__ import annotations

import pytest

from notification.domain.sms import msp_sms_text, sms_size

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "encoding", "units", "fragments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("ş" * 70, "UCS-2", 70, 1),
        ("ş" * 71, "UCS-2", 71, 2),
        ("ş" * 134, "UCS-2", 134, 2),
        ("ş" * 135, "UCS-2", 135, 3),
        ("é" * 160, "GSM-7", 160, 1),  # é is in the GSM-7 basic set
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "[", "GSM-7", 161, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 35 + "a", "UCS-2", 71, 2),
    ],
)
def test_length_encoding_and_fragments(text, encoding, units, fragments):
    size = sms_size(text)
    assert (size.encoding, size.units, size.fragments) == (encoding, units, fragments)


@pytest.mark.rule("MSP-2.14", "MSP-2.15")
def test_the_msp_sms_carries_the_contact_number_and_announces_the_letter():
    """Step 2: "Due to the SMS character limit, an SMS does not contain all required notification and decision
    information. Sending an SMS will complement, not replace the corresponding letter." """
    text = msp_sms_text("OMC", "1800 555 010", "2027-03-01")
    assert "1800 555 010" in text
    assert "One Main Contact" in text
    assert "letter" in text
    assert sms_size(text).fragments <= 2
