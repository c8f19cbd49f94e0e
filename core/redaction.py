"""Masking of personal data in free text before it is logged (DESIGN.md, the conversation log).

`redact(text)` replaces, in this order:

- e-mail addresses with `[email]` (dotted, plus-tagged, quoted and Unicode local parts,
  internationalised domains, IP-literal domains);
- IBANs (mod-97 valid, with or without spaces) with `[account]`;
- payment card numbers with `[card]`: 13-19 digits that pass the Luhn check, written in one piece
  or in groups (of three or more digits, but the last) joined by any separator (spaces of any
  kind, dashes, dots, slashes, commas, underscores; up to three in a row), even when glued to
  words (`cardno4222222222222`, `4242424242424242x`);
- phone numbers with `[phone]`, found by Google's libphonenumber (the `phonenumbers` package);
- other runs of 8 or more digits (account numbers) with `[account]`.

Phone numbers: the matcher runs with leniency POSSIBLE for each region of `PHONE_REGIONS`
(international numbers are found whatever the region; the regions decide which national formats
are read), and a match is masked when libphonenumber says it is a valid number, or when it has
10 or more digits and is not laid out like a date or a decimal (dots and slashes, except the US
`555.123.4567`). VALID alone would miss numbers the metadata does not know (new ranges,
reserved fiction ranges such as 07700 900xxx or 555-01xx that people still type) and POSSIBLE
alone also matches ordinary numbers (`25.00`, `2024-01-15`, `12345`); a 10-digit run in phone
layout is personal data either way.

Ordinary numbers survive: amounts (`£25.00`, `$1,299.99`), dates (`2024-01-15`, `15/01/2024`),
times (`08:53:13.100697` too), versions, counts (`2 weeks`) and short order numbers (`#12345`).
No I/O; every regular expression here is linear (possessive or unambiguous quantifiers), and
text with no digit and no `@` returns at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
ACCOUNT = "[account]"

# The national formats read as phone numbers (international ones are read whatever the region).
PHONE_REGIONS: tuple[str, ...] = ("GB", "US")
PHONE_MIN_DIGITS_WITHOUT_VALIDATION = 10

# Separators folded to their ASCII form (one character for one, so positions stay put) before
# numbers are scanned: every Unicode space and zero-width space, dashes, dots and slashes.
_SPACES = (
    "\t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\u00ad"
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_DOTS = "\u00b7\u2024\u2027\uff0e"
_SLASHES = "\\\u2044\u2215\uff0f"
_FOLD: dict[int, str] = {
    **dict.fromkeys(map(ord, _SPACES), " "),
    **dict.fromkeys(map(ord, _DASHES), "-"),
    **dict.fromkeys(map(ord, _DOTS), "."),
    **dict.fromkeys(map(ord, _SLASHES), "/"),
}
_FOLD_RE = re.compile("[" + re.escape(_SPACES + _DASHES + _DOTS + _SLASHES) + "]")

_ANY_DIGIT = re.compile(r"\d")
_EMAIL_RE = re.compile(
    r"""(?<![\w.!#$%&'*+/=?^`{|}~@-])"""
    r"""(?:"[^"\n@]{1,64}"|[\w!#$%&'*+/=?^`{|}~-]++(?:\.[\w!#$%&'*+/=?^`{|}~-]++)*+)"""
    r"""@(?:\[[0-9A-Fa-f:.]{2,45}\]|(?:[^\W_][\w-]{0,62}+\.)+[^\W\d_]{2,63}+(?![\w-]))"""
)

# Two letters, two check digits, then 11-30 letters/digits, optionally in groups of four.
_IBAN_RE = re.compile(
    r"(?<![\w-])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,3})?(?![\w-])",
)

# Card candidates: digit groups joined by 1-3 separators (on folded text).
_CARD_RUN = re.compile(r"\d++(?:[ \-./,_]{1,3}+\d++)*+")
_DIGITS = re.compile(r"\d++")
_CARD_MIN, _CARD_MAX, _CARD_GROUP_MIN = 13, 19, 3

_US_DOTTED = re.compile(r"\(?\d{3}\)?\.\d{3}\.\d{4}")
# A time of day with fractional seconds (`08:53:13.100697`, as log timestamps write it): its
# seconds and fraction can read as a dotted phone number in some regions.
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}:\d{2}[.,]\d{1,9}+")
# Enough digits, close enough together, to be a phone number at all: seven, each at most four
# separators from the next, and no separator a letter but the extension mark `x` (the library
# finds no number across other letters). So ids like ULIDs (`01M8P2RJT2BZS2V2KES7KCEGC5`), in
# every request's log record, are not handed to the library at all.
_PHONE_PREFILTER = re.compile(r"\d(?:[\W_xX]{0,4}+\d){6}")

# Dates come first in the account scanner so their digits are never read as an account number.
_DATE = r"\d{4}-\d{1,2}-\d{1,2}(?!\d)|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"
# A run of digit groups joined by single spaces, dashes or dots, possibly with parentheses and
# a leading `+`; never glued to a word (so ids like `ORD12345678x` stay whole).
_NUMBER = r"\+?\(?\d++\)?(?:[ .-]?\(?\d++\)?)*+"
_SCAN_RE = re.compile(rf"(?<![\w@+])(?:(?P<date>{_DATE})|(?P<number>{_NUMBER}))(?![\w@])")
_ACCOUNT_MIN_DIGITS = 8


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2*d, minus 9 when above 9


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    values = [int(char) for char in reversed(digits)]
    total = sum(values[0::2]) + sum(_LUHN_DOUBLED[value] for value in values[1::2])
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """The ISO 13616 mod-97 check (length 15-34 once separators are removed)."""
    compact = "".join(char for char in candidate if char.isalnum()).upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1


def _replace_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, label) span replaced; overlapping spans merge (the first
    one's label wins)."""
    merged: list[list[Any]] = []
    for start, end, label in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, label])
    if not merged:
        return text
    out: list[str] = []
    position = 0
    for start, end, label in merged:
        out.append(text[position:start])
        out.append(label)
        position = end
    out.append(text[position:])
    return "".join(out)


def _iban_spans(work: str) -> list[tuple[int, int, str]]:
    """Valid IBANs; a match that runs into the next word (`... 1332 ok`) is cut back at a
    separator until it is valid."""
    spans: list[tuple[int, int, str]] = []
    for match in _IBAN_RE.finditer(work):
        candidate = match[0]
        ends = [i for i, char in enumerate(candidate) if char in " -"] + [len(candidate)]
        for end in reversed(ends):
            if iban_valid(candidate[:end]):
                spans.append((match.start(), match.start() + end, ACCOUNT))
                break
    return spans


# --------------------------------------------------------------------------- cards


def _card_spans(work: str) -> list[tuple[int, int, str]]:
    """Card numbers in (folded) text: for each digit run, from the left, the longest sequence
    of whole groups with 13-19 digits that passes the Luhn check (every group of 3+ digits but
    the last, so dates and phone numbers next to each other are not read as one card)."""
    spans: list[tuple[int, int, str]] = []
    for run in _CARD_RUN.finditer(work):
        if run.end() - run.start() < _CARD_MIN:
            continue
        groups = [(m.start(), m.end()) for m in _DIGITS.finditer(work, run.start(), run.end())]
        index = 0
        while index < len(groups):
            found = _card_at(work, groups, index)
            if found is None:
                index += 1
                continue
            last = found
            spans.append((groups[index][0], groups[last][1], CARD))
            index = last + 1
    return spans


def _card_at(work: str, groups: Sequence[tuple[int, int]], first: int) -> int | None:
    """The index of the last group of the longest card starting at group `first`, or None."""
    candidates: list[tuple[int, str]] = []
    digits = ""
    for index in range(first, len(groups)):
        start, end = groups[index]
        short = end - start < _CARD_GROUP_MIN
        if short and index == first:
            break
        digits += work[start:end]
        if len(digits) > _CARD_MAX:
            break
        if len(digits) >= _CARD_MIN:
            candidates.append((index, digits))
        if short:  # a short group (`3056 9309 0259 04`) can only end a card
            break
    for index, number in reversed(candidates):
        if luhn_valid(number):
            return index
    return None


# --------------------------------------------------------------------------- phones


@lru_cache(maxsize=1)
def _phone_library() -> tuple[Any, Any, Any]:
    import phonenumbers

    return phonenumbers.PhoneNumberMatcher, phonenumbers.Leniency.POSSIBLE, phonenumbers


def _phone_shaped(raw: str) -> bool:
    """Long enough to mask without validation, and not laid out like a date or a decimal."""
    if sum(char.isdigit() for char in raw) < PHONE_MIN_DIGITS_WITHOUT_VALIDATION:
        return False
    return ("." not in raw and "/" not in raw) or _US_DOTTED.fullmatch(raw) is not None


@lru_cache(maxsize=16)
def _phone_stage(region: str) -> Callable[[str], list[tuple[int, int, str]]]:
    """The phone numbers of one region's reading; skipped when too few digits are left (the
    text is masked after each region, so a number one region found is not parsed again)."""

    def find(work: str) -> list[tuple[int, int, str]]:
        if _PHONE_PREFILTER.search(work) is None:
            return []
        matcher, possible, library = _phone_library()
        times = [m.span() for m in _TIME_OF_DAY.finditer(work)]
        return [
            (match.start, match.end, PHONE)
            for match in matcher(work, region, leniency=possible)
            if not any(start < match.end and match.start < end for start, end in times)
            and (library.is_valid_number(match.number) or _phone_shaped(match.raw_string))
        ]

    return find


# --------------------------------------------------------------------------- accounts


def _account_spans(work: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for match in _SCAN_RE.finditer(work):
        number = match.group("number")
        if number is None or "." in number:  # a date, or decimals, versions and amounts
            continue
        start, end = match.span()
        # A trailing ")" without an opening one is punctuation around the number.
        if number.endswith(")") and number.count("(") < number.count(")"):
            end -= 1
        if sum(char.isdigit() for char in number) >= _ACCOUNT_MIN_DIGITS:
            spans.append((start, end, ACCOUNT))
    return spans


def _fold(text: str) -> str:
    """`text` with every separator variant in its ASCII form (same length, same positions)."""
    return _FOLD_RE.sub(lambda match: _FOLD[ord(match[0])], text)


def redact(text: str, *, phone_regions: Sequence[str] = PHONE_REGIONS) -> str:
    """`text` with e-mails, card numbers, phone numbers and account numbers masked."""
    if not text or ("@" not in text and _ANY_DIGIT.search(text) is None):
        return text
    if "@" in text:
        text = _EMAIL_RE.sub(EMAIL, text)
        if _ANY_DIGIT.search(text) is None:
            return text
    # Numbers are found on the folded text and masked in both (the labels fold to themselves).
    work = _fold(text)
    stages: list[Callable[[str], list[tuple[int, int, str]]]] = [_iban_spans, _card_spans]
    stages += [_phone_stage(region) for region in phone_regions]
    stages.append(_account_spans)
    for find in stages:
        spans = find(work)
        if spans:
            text, work = _replace_spans(text, spans), _replace_spans(work, spans)
    return text
