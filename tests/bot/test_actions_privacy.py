""" "Verwijder mijn gegevens" (bot/actions/privacy.py) as plain functions, against a fake handover
service on loopback: explain and ask, erase on yes (service, outbox, marker for the tracker store),
nothing on no, honest when the service is down or absent, and hands off anything else."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection

from bot.actions.clients.outbox import MESSAGE, handover_outbox
from bot.actions.messages import intake
from bot.actions.privacy import CHOICE_NO, CHOICE_YES, FORGET_RESPONSE, ActionVerwijderGegevens, answer_of
from bot.intake.knowledge import knowledge
from bot.settings import BotSettings
from bot.tracker_store import ERASE_SLOT
from tests.bot.helpers import domain, external_message

SECRET = "test-geheim"
SENDER = "burger-42"
LOOP = {"name": "action_verwijder_gegevens"}
MARKER = SlotSet(ERASE_SLOT, True)


class FakeHandover:
    """The erase route of the handover service's bot API (handover/README.md)."""

    def __init__(self) -> None:
        self.erased: List[Dict[str, str]] = []
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()

        async def erase(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != f"Bearer {SECRET}":
                return web.json_response({"error": "unauthorized"}, status=401)
            if self.status != 200:
                return web.json_response({"error": "boom"}, status=self.status)
            self.erased.append(dict(request.match_info))
            return web.json_response({"erased_cases": 1})

        app.router.add_post("/api/conversations/{channel}/{sender_id}/erase", erase)
        return app


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch):
    fake = FakeHandover()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    monkeypatch.setenv("HANDOVER_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("HANDOVER_SHARED_SECRET", SECRET)
    yield fake
    await server.close()


@pytest.fixture
def no_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOVER_URL", raising=False)


def tracker(
    text: str,
    intent: str,
    *,
    loop: bool = True,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    latest_action: str = "action_listen",
    metadata: Optional[Dict[str, Any]] = None,
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": SENDER,
            "slots": slots or {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 1.0},
                "intent_ranking": [],
                "entities": entities or [],
                "metadata": metadata or {},
            },
            "latest_input_channel": "socketio",
            "events": [{"event": "user", "text": text, "timestamp": 1, "input_channel": "socketio"}],
            "paused": False,
            "followup_action": None,
            "active_loop": LOOP if loop else {},
            "latest_action_name": latest_action,
        }
    )



def from_handover(intent: str, latest_action: str = "action_listen") -> Tracker:
    """The tracker after an event that came in through trigger_intent (as Rasa makes it)."""
    message = external_message(intent)
    return tracker(message["text"], intent, latest_action=latest_action, metadata=message["metadata"])

def click(choice: str) -> Tracker:
    return tracker(f'/kies{{"keuze": "{choice}"}}', "kies", entities=[{"entity": "keuze", "value": choice}])


async def run(t: Tracker) -> tuple[CollectingDispatcher, list]:
    dispatcher = CollectingDispatcher()
    events = await ActionVerwijderGegevens().run(dispatcher, t, {})
    return dispatcher, events


def responses(dispatcher: CollectingDispatcher) -> List[Optional[str]]:
    return [m.get("response") for m in dispatcher.messages]


async def test_the_request_explains_what_goes_and_asks_first(service: FakeHandover) -> None:
    dispatcher, events = await run(tracker("verwijder mijn gegevens", "verwijder_gegevens", loop=False))
    assert responses(dispatcher) == ["utter_verwijderen_uitleg"]
    assert events == [ActiveLoop("action_verwijder_gegevens")]
    assert service.erased == []  # nothing before the citizen confirmed


@pytest.fixture
def privacy_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installation with its own privacy page; the action server's cached intake is rebuilt."""
    page = "https://www.zuidstad.nl/privacy"
    monkeypatch.setenv("GEMEENTE_PRIVACY_URL", page)
    knowledge.cache_clear()
    intake.cache_clear()
    yield page
    knowledge.cache_clear()  # built again, lazily, after monkeypatch restored the environment
    intake.cache_clear()


async def test_with_a_privacy_page_the_explanation_says_where_to_read_about_storage(
    service: FakeHandover, privacy_page: str
) -> None:
    for request in (
        tracker("verwijder mijn gegevens", "verwijder_gegevens", loop=False),
        tracker("verwijder alles van mij", "verwijder_gegevens"),  # asked again
    ):
        dispatcher, _ = await run(request)
        # the question keeps its buttons; the sentence follows it
        assert responses(dispatcher) == ["utter_verwijderen_uitleg", "utter_privacy_bewaren"]
        assert dispatcher.messages[1]["privacy_url"] == privacy_page
    assert service.erased == []


async def test_without_a_privacy_page_the_explanation_has_no_link(
    service: FakeHandover, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMEENTE_PRIVACY_URL", raising=False)
    knowledge.cache_clear()
    intake.cache_clear()
    dispatcher, _ = await run(tracker("verwijder mijn gegevens", "verwijder_gegevens", loop=False))
    assert responses(dispatcher) == ["utter_verwijderen_uitleg"]


def test_the_question_offers_yes_and_no_buttons_the_action_understands() -> None:
    question = domain()["responses"]["utter_verwijderen_uitleg"][0]
    assert "gesprek" in question["text"] and "medewerker" in question["text"]
    buttons = {b["title"]: b["payload"] for b in question["buttons"]}
    assert list(buttons) == ["Ja, verwijder alles", "Nee, toch niet"]
    # Rasa turns "{{" into "{" when it fills the response; the payload is then /kies{"keuze": ...}
    choices = [
        json.loads(p.replace("{{", "{").replace("}}", "}")[len("/kies") :])["keuze"] for p in buttons.values()
    ]
    assert choices == [CHOICE_YES, CHOICE_NO]


@pytest.mark.parametrize(
    "answer",
    [
        click(CHOICE_YES),
        tracker("ja", "bevestigen"),
        tracker("Ja, verwijder alles", "verwijder_gegevens"),  # the button title typed
    ],
)
async def test_yes_erases_at_the_gemeente_and_marks_the_conversation(
    service: FakeHandover, answer: Tracker
) -> None:
    dispatcher, events = await run(answer)
    assert service.erased == [{"channel": "socketio", "sender_id": SENDER}]
    assert responses(dispatcher) == ["utter_gegevens_verwijderd", FORGET_RESPONSE]
    assert MARKER in events and ActiveLoop(None) in events and FollowupAction("action_listen") in events


async def test_yes_also_drops_the_messages_still_waiting_in_the_outbox(service: FakeHandover) -> None:
    box = handover_outbox(BotSettings.from_env()).outbox
    await box.add(
        "zaak:HV-7K3M", SENDER, MESSAGE, {"reference": "HV-7K3M", "sender_id": SENDER, "text": "mijn bsn"}
    )
    await box.add("zaak:HV-AAAA", "iemand-anders", MESSAGE, {"reference": "HV-AAAA", "text": "hallo"})
    await run(click(CHOICE_YES))
    assert await box.waiting("zaak:HV-7K3M") == 0
    assert await box.waiting("zaak:HV-AAAA") == 1


@pytest.mark.parametrize(
    "answer", [click(CHOICE_NO), tracker("nee", "ontkennen"), tracker("Nee, toch niet", "nlu_fallback")]
)
async def test_no_erases_nothing(service: FakeHandover, answer: Tracker) -> None:
    dispatcher, events = await run(answer)
    assert service.erased == []
    assert responses(dispatcher) == ["utter_verwijderen_geannuleerd"]
    assert events == [ActiveLoop(None), FollowupAction("action_listen")]


@pytest.mark.parametrize("status", [503, 500, 404, 401])
async def test_service_failure_still_erases_the_chat_and_says_so_honestly(
    service: FakeHandover, status: int
) -> None:
    service.status = status
    dispatcher, events = await run(tracker("ja", "bevestigen", slots={"handover_referentie": "HV-7K3M"}))
    assert MARKER in events  # the chat itself is erased anyway
    said = responses(dispatcher)
    assert said[0] == "utter_gegevens_deels_verwijderd" and "utter_gegevens_verwijderd" not in said
    assert said[1] in ("utter_contact_telefoon", "utter_contact_website")  # how to ask the gemeente
    assert dispatcher.messages[-2] == {
        **dispatcher.messages[-2],
        "response": "utter_verwijderen_kenmerk",
        "referentie": "HV-7K3M",
    }
    assert said[-1] == FORGET_RESPONSE  # the chat is erased: the widget forgets it too, after the reference


async def test_unreachable_service_is_reported_honestly(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.stack import free_port

    monkeypatch.setenv("HANDOVER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HANDOVER_TIMEOUT", "2")
    dispatcher, events = await run(click(CHOICE_YES))
    assert MARKER in events
    assert responses(dispatcher)[0] == "utter_gegevens_deels_verwijderd"
    assert "utter_verwijderen_kenmerk" not in responses(dispatcher)  # no reference known: not mentioned


async def test_without_handover_service_the_chat_is_erased_and_the_gemeente_route_given(
    no_service: None,
) -> None:
    dispatcher, events = await run(click(CHOICE_YES))
    assert MARKER in events
    assert responses(dispatcher)[:1] == ["utter_gegevens_deels_verwijderd"]
    assert responses(dispatcher)[-1] == FORGET_RESPONSE


async def test_a_new_request_while_asking_asks_again(service: FakeHandover) -> None:
    dispatcher, events = await run(tracker("verwijder alles van mij", "verwijder_gegevens"))
    assert responses(dispatcher) == ["utter_verwijderen_uitleg"] and events == []


@pytest.mark.parametrize(
    "other",
    [
        tracker("ik heb een boete van het cjib", "cjib.openstaande_boetes"),
        click("menu"),
        from_handover("medewerker_bericht"),  # a casemanager's message, not an answer
        from_handover("bevestigen"),  # anything that came in through trigger_intent
    ],
)
async def test_anything_else_is_rejected_so_the_rules_handle_it(
    service: FakeHandover, other: Tracker
) -> None:
    with pytest.raises(ActionExecutionRejection):
        await run(other)
    assert service.erased == []


async def test_after_another_action_handled_the_message_the_question_is_dropped(
    service: FakeHandover,
) -> None:
    dispatcher, events = await run(
        tracker("ik heb een boete", "cjib.openstaande_boetes", latest_action="action_intake")
    )
    assert events == [ActiveLoop(None), FollowupAction("action_listen")] and dispatcher.messages == []


async def test_a_casemanager_message_in_between_keeps_the_question_open(service: FakeHandover) -> None:
    t = from_handover("medewerker_bericht", latest_action="action_medewerker_bericht")
    dispatcher, events = await run(t)
    assert events == [] and dispatcher.messages == []


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
    assert answer_of(tracker(text, intent)) is expected


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
