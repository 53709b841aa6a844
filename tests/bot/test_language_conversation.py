"""The conversation language in the conversation (issue 15, item 1): worked out from what the citizen
typed in this session (no slot), it keeps content in another language from being answered with the
Dutch welcome, and the casemanager's summary names it ("Taal: Pools"). Every text is still Dutch."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bot.intake.conversation import Context, Conversation, ConversationState, Message
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.language import DETECTED, REQUESTED, ConversationLanguage
from bot.intake.schema import schema
from bot.intake.state import IntakeState, UserInput, choice_payload
from bot.intake.transcript import language_of, typed_texts
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import CHANNEL, NOW, Chat, tracker

POLISH = ConversationLanguage("pl", DETECTED)


@pytest.fixture(scope="module")
def talk() -> Conversation:
    return Conversation(Intake(knowledge(), schema()))


def greeting(text: str, intent: str = "begroeten") -> Message:
    """A message NLU reads as a greeting (or `intent`), with nothing else in its parse."""
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.8},
             "intent_ranking": [{"name": intent, "confidence": 0.8}], "entities": []}
    return Message(user=UserInput(text=text, intent=intent, parse=parse), entities={})


def user(text: str, **extra: Any) -> Dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": 1, "input_channel": CHANNEL, **extra}


# --- which messages count ----------------------------------------------------------------------------


def test_only_what_the_citizen_typed_in_this_session_counts() -> None:
    events: List[Dict[str, Any]] = [
        user("Hello, I lost my job last month and I need money for the rent"),
        {"event": "session_started"},
        user("Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz"),
        {"event": "bot", "text": "Klopt dat?"},
        user(choice_payload("ja")),  # a button: its title is the bot's Dutch
        user("EXTERNAL: medewerker_bericht", metadata={"is_external": True}),  # the handover service
        user("tak"),
    ]
    assert typed_texts(events) == [
        "Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz", "tak"]
    assert language_of(events) == POLISH


def test_buttons_with_long_dutch_titles_do_not_take_a_polish_conversation_back_to_dutch() -> None:
    events = [user("Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz"),
              user("/medewerker"), user(choice_payload("toestemming|ja"))]
    assert language_of(events) == POLISH


def test_asking_for_english_in_the_session_is_remembered() -> None:
    events = [user("hallo"), user("sorry i not speak dutch. english please?"), user("ok"),
              user("Ik heb een brief van de gemeente gekregen over mijn bijstand")]
    assert language_of(events) == ConversationLanguage("en", REQUESTED)


# --- content in another language is never answered with the welcome --------------------------------


@pytest.mark.parametrize("text", [
    "hello i work here 4 month, my contract stop, what i do for money?",
    "Dzień dobry, pracuję tutaj od czterech miesięcy i skończyła się umowa",
])
def test_content_in_another_language_read_as_a_greeting_is_not_the_welcome(
    talk: Conversation, text: str
) -> None:
    language = ConversationLanguage("en" if text.startswith("hello") else "pl", DETECTED)
    step = talk.handle(ConversationState(), greeting(text), Context(now=NOW, language=language))
    responses = [r.response for r in step.replies]
    assert "utter_welkom" not in responses
    assert responses == ["utter_niet_begrepen"]  # still Dutch: the texts are not translated yet
    # The same message in a Dutch conversation: as before, a greeting with nothing to place.
    dutch = talk.handle(ConversationState(), greeting(text), Context(now=NOW))
    assert [r.response for r in dutch.replies] == ["utter_welkom"]


@pytest.mark.parametrize("text", [
    "sorry i not speak dutch, i have problem with my work contract and money",
    "kira yardimi icin basvurmak istiyorum ama nasil yapacagimi bilmiyorum",  # typed without Turkish letters
])
def test_content_in_another_language_read_as_out_of_scope_goes_to_the_intake(
    talk: Conversation, text: str
) -> None:
    language = ConversationLanguage("en" if text.startswith("sorry") else "tr", DETECTED)
    message = greeting(text, "buiten_bereik")
    step = talk.handle(ConversationState(), message, Context(now=NOW, language=language))
    assert "utter_buiten_bereik" not in [r.response for r in step.replies]
    # In a Dutch conversation NLU's "out of scope" is believed, as before.
    dutch = talk.handle(ConversationState(), message, Context(now=NOW))
    assert [r.response for r in dutch.replies] == ["utter_buiten_bereik"]


def test_a_status_question_in_another_language_needs_a_reference(talk: Conversation) -> None:
    text = "Straciłem pracę w magazynie i nie wiem co teraz zrobić z pieniędzmi"
    step = talk.handle(ConversationState(), greeting(text, "status_vraag"), Context(now=NOW, language=POLISH))
    # not "Wat is uw kenmerk?"
    assert "utter_status_zonder_referentie" not in [r.response for r in step.replies]
    with_reference = greeting("status HV-7K3M proszę", "status_vraag")
    asked = talk.handle(ConversationState(), with_reference, Context(now=NOW, language=POLISH))
    assert asked.effect is not None  # the status is looked up
    dutch = talk.handle(ConversationState(), greeting(text, "status_vraag"), Context(now=NOW))
    assert [r.response for r in dutch.replies] == ["utter_status_zonder_referentie"]


@pytest.mark.parametrize("text", ["hello", "Dzień dobry", "merhaba!", "hi there"])
def test_a_greeting_alone_in_another_language_still_gets_the_welcome(talk: Conversation, text: str) -> None:
    step = talk.handle(ConversationState(), greeting(text), Context(now=NOW, language=POLISH))
    assert [r.response for r in step.replies] == ["utter_welkom"]


# --- the casemanager sees the language ----------------------------------------------------------------


POLISH_SESSION = [
    user("Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz"),
    {"event": "bot", "text": "Klopt dat?", "timestamp": 2},
    user("tak"),
]


def polish_intake(gateway: FakeGateway) -> Chat:
    return Chat(gateway, {
        "intake_fase": "uitkomst", "onderwerp": "uwv.recht_ww", "organisaties": ["uwv"], "vraagtype": 1.0,
        "verhaal": ["Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz"],
        "samenvatting": "In eigen woorden: “straciłem pracę” Organisaties: UWV. Vraagtype 1.",
    })


async def test_the_casemanager_summary_names_the_conversation_language() -> None:
    service = FakeGateway()
    chat = polish_intake(service)
    await chat.send(tracker("/medewerker", "medewerker", events=[*POLISH_SESSION, user("/medewerker")]))
    assert "utter_vraag_toestemming" in chat.responses
    await chat.send(tracker(choice_payload("toestemming|ja"), "kies", entities=[
        {"entity": "keuze", "value": "toestemming|ja"}], events=POLISH_SESSION))
    [case] = service.cases
    assert case["summary"]["summary_text"] == (
        "In eigen woorden: “straciłem pracę” Organisaties: UWV. Vraagtype 1. Taal: Pools.")
    assert case["transcript"][0]["text"].startswith("Dzień dobry")  # the citizen's own words, as written


async def test_a_dutch_conversation_gets_no_language_line() -> None:
    service = FakeGateway()
    chat = polish_intake(service)
    dutch = [user("Ik ben mijn baan kwijt en ik heb geen geld voor de huur")]
    await chat.send(tracker("/medewerker", "medewerker", events=dutch))
    await chat.send(tracker(choice_payload("toestemming|ja"), "kies", entities=[
        {"entity": "keuze", "value": "toestemming|ja"}], events=dutch))
    [case] = service.cases
    assert "Taal" not in case["summary"]["summary_text"]


def test_the_summary_line_is_only_for_another_language() -> None:
    from bot.intake.consent import casemanager_summary

    state = IntakeState(samenvatting="In eigen woorden: “boete”")
    assert casemanager_summary(state, "Pools") == "In eigen woorden: “boete” Taal: Pools."
    assert casemanager_summary(state, "Oekraïens") == "In eigen woorden: “boete” Taal: Oekraïens."
    assert casemanager_summary(state, "Nederlands") == "In eigen woorden: “boete”"
    assert casemanager_summary(state) == "In eigen woorden: “boete”"
    assert casemanager_summary(IntakeState(), "Pools") is None
