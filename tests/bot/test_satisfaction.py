"""The one satisfaction question after a casemanager closed the case (bot/intake/satisfaction.py;
issue 14, item 9): in the conversation as plain functions, then through action_turn with a fake
gateway. The real gateway's call to the service: tests/bot/test_gateway.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional

import pytest

from bot.intake import satisfaction
from bot.intake.conversation import (
    BACK_TO_BOT_INTENT,
    STAFF_MESSAGE_INTENT,
    Context,
    Conversation,
    ConversationState,
    Message,
    Step,
)
from bot.intake.effects import CheckAvailability, Delivered, Refused, SendSatisfaction, Unavailable
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.schema import schema
from bot.intake.state import CHOICE_INTENT, DONE, IN_TREE, IntakeState, UserInput, choice_payload
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import (
    NOW,
    SENDER,
    apply,
    click,
    domain,
    from_handover,
    responses_of,
    take_turn,
    tracker,
)

REFERENCE = "HV-7K3M"
ON = Context(now=NOW, handover_configured=True)
LIVE = ConversationState(handover_actief=True, handover_referentie=REFERENCE)
ASKING = ConversationState(tevredenheid_vraag=satisfaction.ASKING_SCORE, tevredenheid_referentie=REFERENCE)
WORDS = replace(ASKING, tevredenheid_vraag=satisfaction.ASKING_WORDS, tevredenheid_cijfer=4)


@pytest.fixture(scope="module")
def talk() -> Conversation:
    return Conversation(Intake(knowledge(), schema()))


def msg(
    text: str,
    intent: str,
    entities: Optional[Dict[str, str]] = None,
    choice: Optional[str] = None,
    *,
    from_service: bool = False,
) -> Message:
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
    }
    user = UserInput(text=text, intent=intent, parse=parse, choice=choice)
    return Message(user=user, entities=dict(entities or {}), from_service=from_service)


def press(choice: str) -> Message:
    return msg(choice_payload(choice), CHOICE_INTENT, {"keuze": choice}, choice=choice)


def closed(**entities: str) -> Message:
    return msg(f"EXTERNAL: {BACK_TO_BOT_INTENT}", BACK_TO_BOT_INTENT, entities, from_service=True)


def names(step: Step) -> List[Optional[str]]:
    return [r.response for r in step.replies]


# --- asked after a close --------------------------------------------------------------------------


def test_the_question_follows_the_close_of_a_live_chat(talk: Conversation) -> None:
    step = talk.handle(LIVE, closed(referentie=REFERENCE, afspraken="Sanne belt u."), ON)
    assert names(step) == [
        "utter_terug_naar_bot",
        "utter_afspraken",
        "utter_bot_weer_hier",
        satisfaction.QUESTION,
    ]
    assert step.state == ASKING and step.effect is None


def test_the_question_has_a_button_per_score_and_one_to_skip_through_the_choice_payload() -> None:
    question = domain()["responses"][satisfaction.QUESTION][0]
    filled = [(b["title"], b["payload"].replace("{{", "{").replace("}}", "}")) for b in question["buttons"]]
    scores = [(str(n), choice_payload(f"tevredenheid|{n}")) for n in satisfaction.SCORES]
    assert filled == [*scores, ("Liever niet", choice_payload(satisfaction.SKIP))]
    (done,) = domain()["responses"][satisfaction.ASK_WORDS][0]["buttons"]
    assert (done["title"], done["payload"].replace("{{", "{").replace("}}", "}")) == (
        "Klaar",
        choice_payload(satisfaction.FINISHED),
    )


def test_a_closed_callback_request_asks_too_when_the_citizen_is_not_in_a_question(talk: Conversation) -> None:
    waiting = ConversationState(
        intake=IntakeState(intake_fase=DONE, onderwerp="x"), handover_referentie=REFERENCE
    )
    step = talk.handle(waiting, closed(referentie=REFERENCE), ON)
    assert names(step) == ["utter_terug_naar_bot", satisfaction.QUESTION]
    assert step.state.intake == waiting.intake  # the callback request's conversation is kept
    assert step.state.tevredenheid_vraag == satisfaction.ASKING_SCORE


@pytest.mark.parametrize(
    "state",
    [
        replace(LIVE, verwijderen_gevraagd=True),  # the citizen asked to erase their data
        ConversationState(intake=IntakeState(intake_fase=IN_TREE), handover_referentie=REFERENCE),
        ConversationState(handover_referentie=REFERENCE, afspraak_fase="kiezen"),
    ],
)
def test_no_question_while_another_question_is_open(talk: Conversation, state: ConversationState) -> None:
    step = talk.handle(state, closed(referentie=REFERENCE), ON)
    assert satisfaction.QUESTION not in names(step) and step.state.tevredenheid_vraag is None


def test_no_question_without_a_reference_to_send_it_for(talk: Conversation) -> None:
    step = talk.handle(ConversationState(handover_actief=True), closed(), ON)
    assert satisfaction.QUESTION not in names(step) and step.state == ConversationState()


# --- the answer -----------------------------------------------------------------------------------


def test_a_score_is_sent_at_once_and_asks_for_words(talk: Conversation) -> None:
    step = talk.handle(ASKING, press("tevredenheid|4"), ON)
    assert names(step) == [satisfaction.ASK_WORDS]
    assert step.effect == SendSatisfaction(REFERENCE, 4, None)
    assert step.state == WORDS
    # whatever the service answers, the citizen reads nothing more about it
    for result in (Delivered(), Refused(), Unavailable()):
        assert talk.after(step.state, step.effect, result) == Step((), WORDS)


@pytest.mark.parametrize(
    "typed,score", [("4", 4), ("vier", 4), (" Vijf ", 5), ("een 2", 2), ("1.", 1), ("één", 1), ("3!", 3)]
)
def test_a_typed_number_is_the_score(talk: Conversation, typed: str, score: int) -> None:
    step = talk.handle(ASKING, msg(typed, "nlu_fallback"), ON)
    assert step.effect == SendSatisfaction(REFERENCE, score, None)
    assert names(step) == [satisfaction.ASK_WORDS]


def test_words_are_sent_with_the_score_and_thanked_for(talk: Conversation) -> None:
    step = talk.handle(WORDS, msg("  Sanne was heel vriendelijk. ", "bedankt"), ON)
    assert names(step) == [satisfaction.THANKS]
    assert step.effect == SendSatisfaction(REFERENCE, 4, "Sanne was heel vriendelijk.")
    assert step.state == ConversationState()
    # no longer than the service takes: a longer text would be refused as a whole
    long = talk.handle(WORDS, msg("lang " * 400, "nlu_fallback"), ON).effect
    assert isinstance(long, SendSatisfaction) and long.words == ("lang " * 400)[: satisfaction.MAX_WORDS]


@pytest.mark.parametrize(
    "answer", [press(satisfaction.FINISHED), msg("Klaar", "nlu_fallback"), msg("nee, dank u", "ontkennen")]
)
def test_done_thanks_without_sending_again(talk: Conversation, answer: Message) -> None:
    step = talk.handle(WORDS, answer, ON)
    assert names(step) == [satisfaction.THANKS] and step.effect is None
    assert step.state == ConversationState()


@pytest.mark.parametrize("state", [ASKING, WORDS])
def test_rather_not_sends_nothing(talk: Conversation, state: ConversationState) -> None:
    step = talk.handle(state, press(satisfaction.SKIP), ON)
    assert names(step) == [satisfaction.SKIPPED] and step.effect is None
    assert step.state == ConversationState()


@pytest.mark.parametrize(
    "new",
    [
        msg("ik kan mijn boete van het cjib niet betalen", "cjib.betalingsregeling"),
        msg("ik wil een medewerker spreken", "medewerker"),
        msg("verwijder mijn gegevens", "verwijder_gegevens"),
        msg("hallo", "begroeten"),
        msg("6", "nlu_fallback"),
        msg("4 brieven van de belasting", "nlu_fallback"),
    ],
)
def test_another_message_at_the_score_question_is_handled_as_a_new_one(
    talk: Conversation, new: Message
) -> None:
    step = talk.handle(ASKING, new, ON)
    assert step == talk.handle(ConversationState(), new, ON)  # as if the question was never asked
    assert not isinstance(step.effect, SendSatisfaction)


def test_a_new_question_is_handled_for_real(talk: Conversation) -> None:
    step = talk.handle(ASKING, msg("ik wil een medewerker spreken", "medewerker"), ON)
    assert step.effect == CheckAvailability() and step.state.tevredenheid_vraag is None


@pytest.mark.parametrize(
    "other",
    [msg("/medewerker", "medewerker"), press("menu"), msg("verwijder mijn gegevens", "verwijder_gegevens")],
)
def test_a_button_or_erasure_at_the_words_question_is_no_comment(talk: Conversation, other: Message) -> None:
    step = talk.handle(WORDS, other, ON)
    assert step == talk.handle(ConversationState(), other, ON)  # the score went out already


@pytest.mark.parametrize(
    "question",
    [
        msg("ik kan mijn boete van het cjib niet betalen", "cjib.betalingsregeling"),
        msg("ik wil een medewerker spreken", "medewerker"),
        msg("kan iemand mij bellen?", "nlu_fallback"),
        msg("de deurwaarder komt morgen", "nlu_fallback"),
    ],
)
def test_a_new_question_at_the_words_question_is_no_comment(talk: Conversation, question: Message) -> None:
    step = talk.handle(WORDS, question, ON)
    assert step == talk.handle(ConversationState(), question, ON)  # the score went out already
    assert not isinstance(step.effect, SendSatisfaction)


@pytest.mark.parametrize(
    "comment",
    [
        msg("de medewerker was heel vriendelijk en heeft goed geholpen", "bedankt"),
        msg("het duurde lang voordat ik iemand sprak", "nlu_fallback"),
        msg("Fijn dat iemand meedacht.", "medewerker"),  # read as asking for a person by the model
    ],
)
def test_a_comment_about_the_person_who_helped_is_a_comment(talk: Conversation, comment: Message) -> None:
    step = talk.handle(WORDS, comment, ON)
    assert isinstance(step.effect, SendSatisfaction) and step.effect.words == comment.user.text


def test_a_crisis_drops_the_question(talk: Conversation) -> None:
    step = talk.handle(WORDS, msg("ik wil niet meer leven", "nlu_fallback"), ON)
    assert "utter_hulplijn_113" in names(step)
    assert not isinstance(step.effect, SendSatisfaction) and step.state.tevredenheid_vraag is None


def test_a_service_event_leaves_the_question_open(talk: Conversation) -> None:
    event = msg(
        "EXTERNAL", STAFF_MESSAGE_INTENT, {"tekst": "Nog één ding", "naam": "Sanne"}, from_service=True
    )
    step = talk.handle(ASKING, event, ON)
    assert step.state == ASKING
    assert talk.handle(step.state, msg("5", "nlu_fallback"), ON).effect == SendSatisfaction(
        REFERENCE, 5, None
    )


# --- through action_turn: the gateway gets the call -----------------------------------------------


async def test_the_answer_reaches_the_gateway_with_the_reference_score_and_words() -> None:
    gateway = FakeGateway()
    entities = [{"entity": "referentie", "value": REFERENCE}, {"entity": "afspraken", "value": ""}]
    slots = {"handover_actief": True, "handover_referentie": REFERENCE}
    dispatcher, events = await take_turn(gateway, from_handover("terug_naar_bot", slots, entities))
    assert responses_of(dispatcher)[-1] == satisfaction.QUESTION
    slots = apply(slots, events)

    dispatcher, events = await take_turn(gateway, click("tevredenheid|2", slots))
    assert responses_of(dispatcher) == [satisfaction.ASK_WORDS]
    slots = apply(slots, events)
    assert slots["tevredenheid_cijfer"] == 2

    dispatcher, events = await take_turn(gateway, tracker("Ik moest lang wachten", "nlu_fallback", slots))
    assert responses_of(dispatcher) == [satisfaction.THANKS]
    assert gateway.called("satisfaction") == [
        {"reference": REFERENCE, "sender_id": SENDER, "score": 2, "words": None},
        {"reference": REFERENCE, "sender_id": SENDER, "score": 2, "words": "Ik moest lang wachten"},
    ]
    assert ConversationState.from_slots(apply(slots, events)) == ConversationState()


@pytest.mark.parametrize("failure", [Unavailable(), Refused()])
async def test_a_failed_call_does_not_bother_the_citizen(failure: object) -> None:
    gateway = FakeGateway(satisfaction=failure)  # type: ignore[arg-type]
    slots = ASKING.as_slots()
    dispatcher, events = await take_turn(gateway, tracker("vier", "nlu_fallback", slots))
    assert responses_of(dispatcher) == [satisfaction.ASK_WORDS]
    assert gateway.called("satisfaction") == [
        {"reference": REFERENCE, "sender_id": SENDER, "score": 4, "words": None}
    ]
    dispatcher, _ = await take_turn(gateway, tracker("Goed geholpen", "bedankt", apply(slots, events)))
    assert responses_of(dispatcher) == [satisfaction.THANKS]


async def test_in_another_language_the_question_and_its_buttons_are_translated() -> None:
    from rasa_sdk.executor import CollectingDispatcher

    from bot.actions.messages import send
    from bot.intake.conversation import say

    dispatcher = CollectingDispatcher()
    send(dispatcher, [say(satisfaction.QUESTION), say(satisfaction.ASK_WORDS)], "en")
    question, words = dispatcher.messages
    assert question["text"].startswith("How happy are you with the help?")
    assert [b["title"] for b in question["buttons"]] == ["1", "2", "3", "4", "5", "I'd rather not"]
    assert question["buttons"][5]["payload"] == choice_payload(satisfaction.SKIP)
    assert [b["title"] for b in words["buttons"]] == ["Done"]
