"""Moments and office hours in plain Dutch: "maandag 7 december om 9.00 uur", "maandag tot en met
vrijdag van 9.00 tot 17.00 uur". Pure; both come from the handover service as data (ISO 8601 with
its offset, in the gemeente's own time zone; office hours as groups of days)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)


def when_in_words(iso: str) -> str:
    """The moment as the citizen reads it, in the time zone it was given in; the text itself when
    it is not a moment (never an error for the citizen)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return (
        f"{DAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} "
        f"om {moment.hour}.{moment.minute:02d} uur"
    )


def office_hours_in_words(groups: Any) -> Optional[str]:
    """The handover service's office hours as data (`office_hours`: consecutive days with the same
    hours, `{"first_day": 0, "last_day": 4, "opens": "09:00", "closes": "17:00"}`, 0 = Monday) in
    plain Dutch: "maandag tot en met vrijdag van 9.00 tot 17.00 uur". The translations word this
    form in the conversation's language (bot/i18n/catalogue.py). None when the data is not usable."""
    if not isinstance(groups, list) or not groups:
        return None
    parts = []
    for group in groups:
        if not isinstance(group, dict):
            return None
        first, last = group.get("first_day"), group.get("last_day")
        opens, closes = _clock(group.get("opens")), _clock(group.get("closes"))
        if not (isinstance(first, int) and isinstance(last, int) and 0 <= first <= last <= 6):
            return None
        if opens is None or closes is None:
            return None
        parts.append(f"{_days(first, last)} van {opens} tot {closes} uur")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " en " + parts[-1]


def _days(first: int, last: int) -> str:
    if first == last:
        return DAYS[first]
    if (first, last) == (0, 6):
        return "elke dag"
    joiner = " en " if last == first + 1 else " tot en met "
    return DAYS[first] + joiner + DAYS[last]


def _clock(value: Any) -> Optional[str]:
    """"09:00" → "9.00" (as the Dutch write a time); None when it is no time of day."""
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-4]):[0-5]\d", value):
        return None
    hour, minute = value.split(":")
    return f"{int(hour)}.{minute}"
