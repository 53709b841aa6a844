"""Deadlines in days from the citizen's own words (bot/intake/deadline.py), reported by the routing CLI."""

from __future__ import annotations

from datetime import date
from typing import Optional

import pytest

from bot.intake.deadline import deadline_days
from bot.intake.knowledge import knowledge
from bot.intake.routing import route


@pytest.mark.parametrize("text,days", [
    ("de deurwaarder komt morgen", 1),
    ("morgenochtend wordt het gas afgesloten", 1),
    ("ik moet het overmorgen betalen", 2),
    ("vandaag nog moet ik eruit", 0),
    ("over 3 dagen is de zitting", 3),
    ("ik moet binnen twee weken betalen", 14),
    ("over een week moet ik het huis uit", 7),
    ("nog 5 dagen en dan stopt mijn uitkering", 5),
    ("morgen of over drie dagen, ik weet het niet", 1),  # the nearest counts
    ("voor vrijdag moet het binnen zijn", None),  # a weekday depends on today: unknown without it
    ("ik heb een boete van de morgenster", None),
    ("ik heb een brief gekregen", None),
])
def test_deadline_days(text: str, days: Optional[int]) -> None:
    assert deadline_days(text) == days


WEDNESDAY, FRIDAY = date(2026, 12, 9), date(2026, 12, 11)


@pytest.mark.parametrize("text,on_wednesday,on_friday", [
    ("voor vrijdag moet het binnen zijn", 2, 7),  # said on the Friday itself: next Friday
    ("uiterlijk maandag betalen", 5, 3),
    ("de verhuurder geeft me tot en met zondag", 4, 2),
    ("voor vrijdag, nee morgen al", 1, 1),  # the nearest counts
    ("ik werk op maandag en dinsdag", None, None),  # a weekday without a deadline word
])
def test_a_weekday_is_a_deadline_counted_from_today(
    text: str, on_wednesday: Optional[int], on_friday: Optional[int]
) -> None:
    assert (deadline_days(text, WEDNESDAY), deadline_days(text, FRIDAY)) == (on_wednesday, on_friday)


def test_the_routing_reports_the_deadline_and_all_topics() -> None:
    parse = {
        "text": "de deurwaarder komt morgen voor de boete",
        "intent": {"name": "cjib.beslaglegging", "confidence": 0.6},
        "intent_ranking": [{"name": "cjib.beslaglegging", "confidence": 0.6},
                           {"name": "cjib.openstaande_boetes", "confidence": 0.5}],
        "entities": [],
    }
    answer = route(parse, knowledge()).as_json()
    assert answer["deadline_days"] == 1
    assert answer["topics"] == ["cjib.beslaglegging", "cjib.openstaande_boetes"]
