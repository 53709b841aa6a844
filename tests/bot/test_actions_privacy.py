""" "Verwijder mijn gegevens" through action_turn (bot/intake/conversation.py), with a fake handover
gateway: explain and ask, erase on yes (the gateway, and the marker for the tracker store), nothing on
no, honest when the service's part failed or there is no service, and anything else drops the
question. How the real gateway erases (service, outbox): tests/bot/test_gateway.py."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Optional

import pytest
from rasa_sdk.events import SlotSet

from bot.actions.turn import conversation, message_of
from bot.handover_gateway import NoHandoverService
from bot.intake.conversation import ERASE_NO, ERASE_YES, FORGET_RESPONSE, erase_answer
from bot.intake.effects import Erased
from bot.intake.knowledge import knowledge
from bot.tracker_store import ERASE_SLOT
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import SENDER, click, domain, from_handover, responses_of, take_turn, tracker

MARKER = SlotSet(ERASE_SLOT, True)
ASKING = {"verwijderen_gevraagd": True}  # the erasure question is open
QUESTION_CLOSED = SlotSet("verwijderen_gevraagd", False)
LIVE = {"handover_actief": True, "handover_referentie": "HV-7K3M"}


def request(slots: Optional[Dict[str, Any]] = None) -> Any:
    return tracker("verwijder mijn gegevens", "verwijder_gegevens", slots)


async def test_the_request_explains_what_goes_and_asks_first() -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, request())
    assert responses_of(dispatcher) == ["utter_verwijderen_uitleg"]
    assert events == [SlotSet("verwijderen_gevraagd", True)]
    assert gateway.calls == []  # nothing before the citizen confirmed


@pytest.fixture
def privacy_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installation with its own privacy page; the action server's cached conversation is rebuilt."""
    page = "https://www.zuidstad.nl/privacy"
    monkeypatch.setenv("GEMEENTE_PRIVACY_URL", page)
    knowledge.cache_clear()
    conversation.cache_clear()
    yield page
    knowledge.cache_clear()  # built again, lazily, after monkeypatch restored the environment
    conversation.cache_clear()


async def test_with_a_privacy_page_the_explanation_says_where_to_read_about_storage(
    privacy_page: str,
) -> None:
    gateway = FakeGateway()
    for asked in (
        request(),
        tracker("verwijder alles van mij", "verwijder_gegevens", ASKING),  # asked again
    ):
        dispatcher, _ = await take_turn(gateway, asked)
        # the question keeps its buttons; the sentence follows it
        assert responses_of(dispatcher) == ["utter_verwijderen_uitleg", "utter_privacy_bewaren"]
        assert dispatcher.messages[1]["privacy_url"] == privacy_page
    assert gateway.calls == []


async def test_without_a_privacy_page_the_explanation_has_no_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMEENTE_PRIVACY_URL", raising=False)
    knowledge.cache_clear()
    conversation.cache_clear()
    dispatcher, _ = await take_turn(FakeGateway(), request())
    assert responses_of(dispatcher) == ["utter_verwijderen_uitleg"]


def test_the_question_offers_yes_and_no_buttons_the_conversation_understands() -> None:
    question = domain()["responses"]["utter_verwijderen_uitleg"][0]
    assert "gesprek" in question["text"] and "medewerker" in question["text"]
    buttons = {b["title"]: b["payload"] for b in question["buttons"]}
    assert list(buttons) == ["Ja, verwijder alles", "Nee, toch niet"]
    # Rasa turns "{{" into "{" when it fills the response; the payload is then /kies{"keuze": ...}
    choices = [
        json.loads(p.replace("{{", "{").replace("}}", "}")[len("/kies") :])["keuze"] for p in buttons.values()
    ]
    assert choices == [ERASE_YES, ERASE_NO]


@pytest.mark.parametrize(
    "answer",
    [
        click(ERASE_YES, ASKING),
        tracker("ja", "bevestigen", ASKING),
        tracker("Ja, verwijder alles", "verwijder_gegevens", ASKING),  # the button title typed
    ],
)
async def test_yes_erases_at_the_gemeente_and_marks_the_conversation(answer: Any) -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, answer)
    assert gateway.called("erase") == [{"channel": "socketio", "sender_id": SENDER}]
    assert gateway.methods == ["erase"]
    assert responses_of(dispatcher) == ["utter_gegevens_verwijderd", FORGET_RESPONSE]
    assert MARKER in events and QUESTION_CLOSED in events  # (the bot then listens: bot/policy.py)


@pytest.mark.parametrize(
    "answer",
    [
        click(ERASE_NO, ASKING),
        tracker("nee", "ontkennen", ASKING),
        tracker("Nee, toch niet", "nlu_fallback", ASKING),
    ],
)
async def test_no_erases_nothing(answer: Any) -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, answer)
    assert gateway.calls == []
    assert responses_of(dispatcher) == ["utter_verwijderen_geannuleerd"]
    assert events == [QUESTION_CLOSED]


async def test_service_failure_still_erases_the_chat_and_says_so_honestly() -> None:
    # The service answered 503, 500, 404 or 401 (tests/bot/test_gateway.py).
    gateway = FakeGateway(erase=Erased(at_gemeente=False))
    dispatcher, events = await take_turn(
        gateway, tracker("ja", "bevestigen", {**ASKING, "handover_referentie": "HV-7K3M"})
    )
    assert MARKER in events  # the chat itself is erased anyway
    said = responses_of(dispatcher)
    assert said[0] == "utter_gegevens_deels_verwijderd" and "utter_gegevens_verwijderd" not in said
    assert said[1] in ("utter_contact_telefoon", "utter_contact_website")  # how to ask the gemeente
    assert dispatcher.messages[-2] == {
        **dispatcher.messages[-2],
        "response": "utter_verwijderen_kenmerk",
        "referentie": "HV-7K3M",
    }
    assert said[-1] == FORGET_RESPONSE  # the chat is erased: the widget forgets it too, after the reference


async def test_unreachable_service_is_reported_honestly() -> None:
    gateway = FakeGateway(erase=Erased(at_gemeente=False))
    dispatcher, events = await take_turn(gateway, click(ERASE_YES, ASKING))
    assert MARKER in events
    assert responses_of(dispatcher)[0] == "utter_gegevens_deels_verwijderd"
    assert "utter_verwijderen_kenmerk" not in responses_of(dispatcher)  # no reference known: not mentioned


async def test_without_handover_service_the_chat_is_erased_and_the_gemeente_route_given() -> None:
    dispatcher, events = await take_turn(NoHandoverService(), click(ERASE_YES, ASKING))
    assert MARKER in events
    assert responses_of(dispatcher)[:1] == ["utter_gegevens_deels_verwijderd"]
    assert responses_of(dispatcher)[-1] == FORGET_RESPONSE


async def test_a_new_request_while_asking_asks_again() -> None:
    gateway = FakeGateway()
    again = tracker("verwijder alles van mij", "verwijder_gegevens", ASKING)
    dispatcher, events = await take_turn(gateway, again)
    assert responses_of(dispatcher) == ["utter_verwijderen_uitleg"] and events == []
    assert gateway.calls == []


@pytest.mark.parametrize(
    "other,handled_as",
    [
        (
            tracker("ik heb een boete van het cjib", "cjib.openstaande_boetes", ASKING),
            "utter_bevestig_onderwerp",
        ),
        (click("menu", ASKING), "utter_kies_groep"),
    ],
)
async def test_anything_else_is_no_answer_drops_the_question_and_is_handled_as_usual(
    other: Any, handled_as: str
) -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, other)
    assert gateway.calls == []  # nothing erased
    assert MARKER not in events and FORGET_RESPONSE not in responses_of(dispatcher)
    assert "utter_verwijderen_geannuleerd" not in responses_of(dispatcher)
    # the question is dropped, so a later "ja" meant for another question never erases anything
    assert QUESTION_CLOSED in events
    assert handled_as in responses_of(dispatcher)


@pytest.mark.parametrize(
    "other",
    [
        from_handover("medewerker_bericht", ASKING),  # a casemanager's message, not an answer
        from_handover("bevestigen", ASKING),  # anything that came in through trigger_intent
    ],
)
async def test_what_came_in_through_trigger_intent_is_no_answer(other: Any) -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, other)
    assert gateway.calls == []  # nothing erased
    assert MARKER not in events and FORGET_RESPONSE not in responses_of(dispatcher)
    assert "utter_verwijderen_geannuleerd" not in responses_of(dispatcher)


async def test_a_later_yes_after_the_question_was_dropped_erases_nothing() -> None:
    gateway = FakeGateway()
    _, events = await take_turn(gateway, tracker("ik heb een boete", "cjib.openstaande_boetes", ASKING))
    slots = {e["name"]: e["value"] for e in events}
    assert slots["verwijderen_gevraagd"] is False
    _, events = await take_turn(gateway, tracker("ja", "bevestigen", slots))
    assert gateway.calls == [] and MARKER not in events


async def test_a_casemanager_message_in_between_keeps_the_question_open() -> None:
    gateway = FakeGateway()
    staff = [{"entity": "tekst", "value": "Ik ben er zo."}, {"entity": "naam", "value": "Sanne"}]
    message = from_handover("medewerker_bericht", {**LIVE, **ASKING}, staff)
    dispatcher, events = await take_turn(gateway, message)
    assert events == [] and responses_of(dispatcher) == ["utter_bericht_van_medewerker"]
    # no answer: nothing erased, and the citizen's "ja" afterwards still answers the question
    assert gateway.calls == []
    dispatcher, events = await take_turn(gateway, tracker("ja", "bevestigen", {**LIVE, **ASKING}))
    assert gateway.methods == ["erase"] and MARKER in events


async def test_erasure_during_a_live_chat_is_asked_by_the_bot_not_forwarded() -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(gateway, request(LIVE))
    assert responses_of(dispatcher) == ["utter_verwijderen_uitleg"]
    assert events == [SlotSet("verwijderen_gevraagd", True)]
    dispatcher, events = await take_turn(gateway, tracker("nee", "ontkennen", {**LIVE, **ASKING}))
    assert responses_of(dispatcher) == ["utter_verwijderen_geannuleerd"] and events == [QUESTION_CLOSED]
    dispatcher, events = await take_turn(gateway, click(ERASE_YES, {**LIVE, **ASKING}))
    assert responses_of(dispatcher) == ["utter_gegevens_verwijderd", FORGET_RESPONSE]
    assert gateway.methods == ["erase"]  # never forwarded to the casemanager


@pytest.mark.parametrize(
    "text,intent,expected",
    [
        ("ja", "bevestigen", True),
        ("Ja!", "nlu_fallback", True),
        ("jazeker", "bevestigen", True),
        ("nee", "ontkennen", False),
        ("Nee, toch niet", "verwijder_gegevens", False),
        ("klopt", "bevestigen", True),
        ("hoe laat is het", "buiten_bereik", None),
        ("janssen is mijn naam", "nlu_fallback", None),
    ],
)
def test_typed_answers(text: str, intent: str, expected: Optional[bool]) -> None:
    assert erase_answer(message_of(tracker(text, intent))) is expected


# --- the widget's sign to forget its browser copy, through Rasa's own channels -------------------


def generated(channel: str) -> Optional[Dict[str, Any]]:
    """What Rasa's response generator makes of the sign for an output channel (as Rasa does it)."""
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

    return TemplatedNaturalLanguageGenerator(domain()["responses"]).generate_from_slots(
        FORGET_RESPONSE, {}, channel
    )


async def test_the_socketio_channel_emits_the_sign_as_the_widget_reads_it() -> None:
    from unittest import mock

    from rasa.core.actions.action import create_bot_utterance
    from rasa.core.channels.socketio import SocketIOOutput
    from socketio import AsyncServer

    draft = generated("socketio")
    assert draft is not None and "text" not in draft  # nothing for the citizen to read
    # The real emit signature: Rasa passes the custom dict as emit(event, **custom), so a payload
    # with any key but data/room/... would raise TypeError here, and in production mid-erasure.
    sio = mock.create_autospec(AsyncServer, instance=True)
    output = SocketIOOutput(sio, "bot_uttered")
    await output.send_response(SENDER, create_bot_utterance(draft).message())
    sio.emit.assert_awaited_once_with("bot_uttered", data={"gemeente_chat": "vergeet_gesprek"}, room=SENDER)


def test_the_widget_knows_the_sign() -> None:
    from tests.bot.helpers import ROOT

    script = (ROOT / "widget" / "src" / "chat-widget.js").read_text(encoding="utf-8")
    ((key, value),) = generated("socketio")["custom"]["data"].items()
    assert f"var FORGET_KEY = '{key}';" in script and f"var FORGET_VALUE = '{value}';" in script


@pytest.mark.parametrize("channel", ["collector", "rest", "whatsapp"])
def test_other_channels_get_nothing_for_the_sign(channel: str) -> None:
    # REST answers (CollectingOutputChannel, "collector") and WhatsApp carry no custom JSON for it:
    # Rasa skips a response without a variation for the channel.
    assert generated(channel) is None
