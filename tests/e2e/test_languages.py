"""The issue's own examples in other languages through the real Rasa server, action server and model
(issue 15, item 1): content in another language is never answered with the welcome, nor with "Wat
is uw kenmerk?". The replies' language is tested in tests/bot/test_vertaling_sturen.py; these tests
check what the citizen no longer gets.

The model of December 2026 (290 examples in these languages) already reads these messages as topics,
so they also pass without the conversation language; they guard the behaviour end to end. The rule
for messages NLU does read as a greeting, out of scope or a status question is tested in
tests/bot/test_language_conversation.py."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Citizen

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.mark.parametrize("text", [
    "hello i work here 4 month, my contract stop, what i do for money?",
    "Dzień dobry, straciłem pracę w fabryce, umowa się skończyła i nie wiem co teraz z pieniędzmi",
    "merhaba, işimi kaybettim ve kirayı ödeyemiyorum, ne yapmalıyım",  # noqa: RUF001
])
def test_a_first_message_in_another_language_is_not_the_welcome_or_a_status_question(
    citizen: Citizen, text: str
) -> None:
    citizen.say(text)
    said = " ".join(citizen.texts())
    assert said, "the bot said nothing"
    assert "Welkom" not in said and "kenmerk" not in said, said


def test_a_greeting_in_english_still_gets_the_welcome(citizen: Citizen) -> None:
    citizen.say("hello")
    assert "Welkom" in " ".join(citizen.texts())
