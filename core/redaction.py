"""Masking of personal data in free text before it is logged (DESIGN.md, the conversation log).

`redact(text)` replaces e-mail addresses with `[email]`, phone numbers (international `+44 …`,
`0044 …`, and national formats such as `020 7946 0958` or `(555) 123-4567`) with `[phone]`,
payment card numbers (13–19 digits, spaces or dashes allowed, Luhn-valid) with `[card]`, and IBANs
(mod-97 valid) and other long digit runs (8+ digits) with `[account]`.

Ordinary numbers survive: amounts (`£25.00`, `$1,299.99`), dates (`2024-01-15`, `15/01/2024`),
times, counts (`2 weeks`) and short order numbers (`#12345`). Pure Python, no I/O.
"""

from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
ACCOUNT = "[account]"

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# Two letters, two check digits, then 11-30 letters/digits, optionally in groups of four.
_IBAN_RE = re.compile(
    r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?\b",
)

# Dates come first in the number scanner so their digits are never read as an account number.
_DATE = r"\d{4}-\d{1,2}-\d{1,2}(?!\d)|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"
# A run of digit groups joined by single spaces, dashes or dots, possibly with parentheses and
# a leading `+`; never glued to a word (so ids like `ORD12345678x` stay whole).
_NUMBER = r"\+?\(?\d++\)?(?:[ .-]?\(?\d++\)?)*"  # possessive: no backtracking blow-up
_SCAN_RE = re.compile(
    rf"(?<![\w@+])(?:(?P<date>{_DATE})|(?P<number>{_NUMBER}))(?![\w@])",
)
_US_DOTTED = re.compile(r"\(?\d{3}\)?\.\d{3}\.\d{4}")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """The ISO 13616 mod-97 check (length 15-34 once spaces are removed)."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1


def _mask_iban(match: re.Match[str]) -> str:
    return ACCOUNT if iban_valid(match.group(0)) else match.group(0)


def _classify_number(text: str) -> str | None:
    """What a run of digits is: a label to mask it with, or None to keep it."""
    digits = "".join(char for char in text if char.isdigit())
    count = len(digits)
    international = text.startswith("+") or (text.startswith("00") and count >= 10)
    if "." in text and not international:
        # Decimals, versions and amounts use dots; only a US-style 555.123.4567 is a phone.
        if _US_DOTTED.fullmatch(text):
            return PHONE
        return None
    if international:
        national = digits[2:] if text.startswith("00") else digits
        if 8 <= len(national) <= 15:
            return PHONE
        return ACCOUNT if count >= 8 else None
    if 13 <= count <= 19 and luhn_valid(digits):
        return CARD
    if count in (10, 11) and (digits[0] == "0" or text != digits):
        return PHONE  # 020 7946 0958, 07700900123, (555) 123-4567, 555-123-4567
    if count >= 8:
        return ACCOUNT
    return None


def _mask_number(match: re.Match[str]) -> str:
    if match.group("date") is not None:
        return match.group(0)
    text = match.group("number")
    # A trailing ")" without an opening one is punctuation around the number, not part of it.
    suffix = ""
    if text.endswith(")") and text.count("(") < text.count(")"):
        text, suffix = text[:-1], ")"
    label = _classify_number(text)
    return match.group(0) if label is None else label + suffix


def redact(text: str) -> str:
    """`text` with e-mails, phone numbers, card numbers and account numbers masked."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _IBAN_RE.sub(_mask_iban, text)
    return _SCAN_RE.sub(_mask_number, text)
