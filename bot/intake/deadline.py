"""A deadline in days, when the citizen's words give one ("morgen", "over 3 dagen", "binnen een week",
"voor vrijdag").

Only what the text itself says. A weekday counts from `today` ("voor vrijdag" on a Wednesday: 2 days;
on a Friday: next Friday, 7); without `today` it stays unknown.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Optional

from bot.intake.schedule import DAYS

NUMBERS = {
    "een": 1, "één": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8,
    "negen": 9, "tien": 10, "elf": 11, "twaalf": 12, "veertien": 14,
}
_NUMBER = r"(\d{1,3}|" + "|".join(NUMBERS) + r")"
_SPAN = re.compile(rf"\b(over|binnen|nog|uiterlijk over|within)\s+{_NUMBER}\s+(dag|dagen|week|weken)\b")
_WEEKDAY = re.compile(
    r"\b(voor|vóór|uiterlijk|tot( en met)?|aanstaande|komende|a\.s\.?)\s+(aanstaande\s+|komende\s+)?("
    + "|".join(DAYS)
    + r")\b"
)
_FIXED = (
    (re.compile(r"\bovermorgen\b"), 2),
    (re.compile(r"\bmorgen(ochtend|middag|avond|vroeg)?\b"), 1),
    (re.compile(r"\b(vandaag|vanavond|vannacht|vanmiddag)\b"), 0),
)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


def deadline_days(text: str, today: Optional[date] = None) -> Optional[int]:
    """Days until the deadline the text names, or None; the nearest one when there are several."""
    lowered = text.lower()
    found = [days for pattern, days in _FIXED if pattern.search(lowered)]
    if today is not None:
        for match in _WEEKDAY.finditer(lowered):
            found.append((DAYS.index(match.group(4)) - today.weekday() - 1) % 7 + 1)
    for match in _SPAN.finditer(lowered):
        amount = _count(match.group(2))
        found.append(amount * 7 if match.group(3) in ("week", "weken") else amount)
    return min(found) if found else None
