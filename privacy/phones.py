"""Phone numbers of any country in free text, validated with phonenumbers (Google's libphonenumber).

Used for callback requests (bot/intake/contact.py) and for redaction (privacy/pii.py). A number
counts only when libphonenumber says it is a valid number: "12345" or "06-123" never do. Numbers
without a country code are read as Dutch (`DEFAULT_REGION`); "+48 …" and "0048 …" as Polish.

Why not phonenumbers' own `PhoneNumberMatcher` alone: it drops a number that is followed by another
group of digits ("+48 512 345 678 2 keer", "06 12345678 15-03-1980"), and a chat message often goes
on like that. So candidates are cut back group by group, longest first, like the Dutch rule in
pii.py, and each cut is validated with `phonenumbers.parse` + `is_valid_number`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import phonenumbers

__all__ = ["DEFAULT_REGION", "PhoneMatch", "find_phone_numbers"]

DEFAULT_REGION = "NL"

# Where a number may start: "+48", "(+48)", "0048", "06", "(020)"; never inside a word, an amount
# ("€ 1.000,00") or a date; a time ("10:05") may start one, but never validates. Then digit groups
# with at most two separators between, or a bracketed group ("+32 (0)470 …", "(020) …"); bounded,
# so a long run of digits costs a few parses at most.
_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z+€.,/-])(?:\(?\+|\(?0)[0-9]{1,15}\)?"
    r"(?:(?:[ .-]{1,2}|(?<=\))|(?=\())\(?[0-9]{1,8}\)?){0,8}"
)


@dataclass(frozen=True)
class PhoneMatch:
    start: int
    end: int
    e164: str  # normalised: "+31612345678"
    country_code: int
    international: bool  # written with its country code ("+48 …", "0048 …", "(+31) …")


# No valid number has fewer digits ("+683 4002", Niue) or more (15 after "00", plus a "(0)").
_MIN_DIGITS, _MAX_DIGITS = 7, 18


def _cuts(candidate: str) -> Iterator[int]:
    """The whole candidate, then without its last digit group, and so on; only plausible lengths."""
    ends = [len(candidate)] + [
        i for i in range(len(candidate) - 1, 0, -1)
        if candidate[i] in " .-(" and candidate[i - 1] not in " .-("
    ]
    for end in ends:
        digits = sum(ch.isdigit() for ch in candidate[:end])
        if digits < _MIN_DIGITS:
            return
        if digits <= _MAX_DIGITS:
            yield end


def _valid(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def find_phone_numbers(
    text: str, region: str = DEFAULT_REGION, *, international_only: bool = False
) -> Iterator[PhoneMatch]:
    """Every valid phone number in `text`, in order, without overlaps; with `international_only`
    only those written with their country code (cheaper: the others are not parsed at all)."""
    pos = 0
    while (m := _CANDIDATE.search(text, pos)) is not None:
        pos = m.end()
        candidate = m.group()
        international = candidate.lstrip("(").startswith(("+", "00"))
        if international_only and not international:
            continue
        for cut in _cuts(candidate):
            number = _valid(candidate[:cut], region)
            if number is None or number.country_code is None:
                continue
            yield PhoneMatch(
                start=m.start(),
                end=m.start() + cut,
                e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                country_code=number.country_code,
                international=international,
            )
            pos = m.start() + cut  # what was cut off may hold the next number
            break
