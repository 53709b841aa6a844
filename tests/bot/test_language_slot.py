"""The slot `taal`: the conversation language for the handover service's insight counts (Rasa's
event broker carries slots, never sentences to be parsed). Dutch, the default, is never set."""

from __future__ import annotations

from typing import Any, Dict, List

from bot.actions.turn import conversation_language
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import from_handover, take_turn, tracker


def user(text: str) -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "vraag"}}, "metadata": {}}


def test_only_a_change_away_from_the_default_is_set() -> None:
    assert conversation_language(None, "nl") is None
    assert conversation_language(None, "en") == "en"
    assert conversation_language("en", "nl") == "nl"  # once set, it follows the conversation


async def _turn(text: str, slots: Dict[str, Any]) -> List[Dict[str, Any]]:
    _, events = await take_turn(FakeGateway(), tracker(text, "vraag", slots, events=[user(text)]))
    return [e for e in events if e.get("name") == "taal"]


async def test_an_english_conversation_sets_it_and_a_dutch_one_does_not() -> None:
    english = "Hello, I lost my job and I cannot pay the rent. Can someone help me in English please?"
    assert [e["value"] for e in await _turn(english, {})] == ["en"]
    assert await _turn(english, {"taal": "en"}) == []
    assert await _turn("Ik ben mijn baan kwijt en kan de huur niet betalen", {}) == []


async def test_the_language_survives_the_reset_after_a_live_chat() -> None:
    latest = from_handover("terug_naar_bot", {"handover_actief": True, "taal": "en"})
    latest.events = [user("Hello, I need help with my rent please, in English")]
    _, events = await take_turn(FakeGateway(), latest)
    assert not [e for e in events if e.get("name") == "taal"]
