"""The office hours in plain Dutch, as the bot shows them to a citizen (no database)."""

from __future__ import annotations

import pytest

from handover.services.presence import office_hours_as_data, office_hours_in_words
from handover.settings import OfficeHours


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("mon-fri 09:00-17:00", "maandag tot en met vrijdag van 9.00 tot 17.00 uur"),
        (
            "mon-thu 09:00-17:00; fri 09:00-12:00",
            "maandag tot en met donderdag van 9.00 tot 17.00 uur en vrijdag van 9.00 tot 12.00 uur",
        ),
        # the same hours written as separate segments are still one group
        ("mon 08:30-17:00; tue 08:30-17:00", "maandag en dinsdag van 8.30 tot 17.00 uur"),
        (
            "mon 09:00-12:00; wed 09:00-12:00; sat 10:00-13:00",
            "maandag van 9.00 tot 12.00 uur, woensdag van 9.00 tot 12.00 uur"
            " en zaterdag van 10.00 tot 13.00 uur",
        ),
        ("mon-sun 00:00-24:00", "elke dag van 0.00 tot 24.00 uur"),
        ("", ""),
    ],
)
def test_office_hours_in_plain_dutch(spec: str, words: str) -> None:
    assert office_hours_in_words(OfficeHours.parse(spec)) == words


def test_office_hours_as_data_for_the_bot_in_the_same_groups() -> None:
    hours = OfficeHours.parse("mon-thu 08:30-17:00; fri 08:30-12:00; sun 00:00-24:00")
    assert office_hours_as_data(hours) == [
        {"first_day": 0, "last_day": 3, "opens": "08:30", "closes": "17:00"},
        {"first_day": 4, "last_day": 4, "opens": "08:30", "closes": "12:00"},
        {"first_day": 6, "last_day": 6, "opens": "00:00", "closes": "24:00"},
    ]
    assert office_hours_as_data(OfficeHours.parse("")) == []
