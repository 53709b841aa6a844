"""Moments in plain Dutch: "maandag 7 december om 9.00 uur". Pure; the moment comes from the
handover service (ISO 8601 with its offset, in the gemeente's own time zone)."""

from __future__ import annotations

from datetime import datetime

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
