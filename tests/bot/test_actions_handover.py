"""The handover actions against a fake handover service (a real aiohttp server on loopback)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.events import AllSlotsReset, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.intake import ActionIntake
from bot.actions.medewerker import ActionMedewerker
from bot.actions.overdracht import (
    ActionDoorsturen,
    ActionMedewerkerBericht,
    ActionMedewerkerGekoppeld,
    ActionTerugNaarBot,
    ActionWachtrijUpdate,
)
from bot.actions.status import ActionStatus
from bot.intake.engine import choice_payload
from tests.bot.helpers import as_rasa_sends, domain, external_message
from tools.stack import free_port

SECRET = "test-geheim"


class FakeHandover:
    """Records what the bot sends; answers like the real service (handover/README.md)."""

    def __init__(self) -> None:
        self.offer = "live"
        self.cases: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []
        self.closed = False
        self.statuses: Dict[str, Dict[str, Any]] = {}

    def app(self) -> web.Application:
        app = web.Application()

        @web.middleware
        async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
            if request.headers.get("Authorization") != f"Bearer {SECRET}":
                return web.json_response({"error": "unauthorized"}, status=401)
            return await handler(request)

        async def availability(request: web.Request) -> web.Response:
            return web.json_response(
                {"open": self.offer == "live", "online_casemanagers": 1, "offer": self.offer}
            )

        async def cases(request: web.Request) -> web.Response:
            self.cases.append(await request.json())
            return web.json_response({"reference": "HV-7K3M", "status": "wachtend", "queue_position": 2,
                                      "expected_wait_minutes": 8, "offer": self.offer}, status=201)

        async def messages(request: web.Request) -> web.Response:
            if self.closed:
                return web.json_response({"error": "closed"}, status=409)
            self.messages.append({"reference": request.match_info["ref"], **await request.json()})
            return web.json_response({"status": "accepted"}, status=202)

        async def status(request: web.Request) -> web.Response:
            found = self.statuses.get(request.match_info["ref"])
            return web.json_response(found or {"error": "not_found"}, status=200 if found else 404)

        app.middlewares.append(auth)
        app.router.add_get("/api/availability", availability)
        app.router.add_post("/api/cases", cases)
        app.router.add_post("/api/cases/{ref}/messages", messages)
        app.router.add_get("/api/status/{ref}", status)
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


def tracker(text: str, intent: str, slots: Optional[Dict[str, Any]] = None,
            entities: Optional[List[Dict[str, Any]]] = None,
            events: Optional[List[Dict[str, Any]]] = None,
            metadata: Optional[Dict[str, Any]] = None) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "burger-42",
        "slots": slots or {},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0},
                           "intent_ranking": [], "entities": entities or [], "metadata": metadata or {}},
        "latest_input_channel": "socketio",
        "events": events or [
            {"event": "user", "text": "ik kan mijn boete niet betalen", "timestamp": 1,
             "input_channel": "socketio"},
            {"event": "bot", "text": "Klopt dat?", "timestamp": 2},
        ],
        "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


def from_handover(intent: str, slots: Optional[Dict[str, Any]] = None,
                  entities: Optional[List[Dict[str, Any]]] = None) -> Tracker:
    """The tracker after the handover service's trigger_intent (the event as Rasa makes it)."""
    message = external_message(intent, entities)
    return tracker(message["text"], intent, slots, entities, metadata=message["metadata"])


def click(choice: str, slots: Dict[str, Any]) -> Tracker:
    return tracker(choice_payload(choice), "kies", slots, [{"entity": "keuze", "value": choice}])


async def test_a_person_is_offered_only_after_consent(service: FakeHandover) -> None:
    # The consent step itself (what is shared, correction, per organisation):
    # tests/bot/test_actions_consent.py
    dispatcher = CollectingDispatcher()
    events = await ActionMedewerker().run(dispatcher, tracker("ik wil een mens", "medewerker",
                                                              {"verhaal": ["Boete CJIB"]}), {})
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_toestemming_inleiding", "utter_toestemming_eigen_woorden", "utter_vraag_toestemming"]
    assert dispatcher.messages[1]["verhaal"] == "Boete CJIB"
    assert events == [SlotSet("intake_fase", "toestemming")]
    assert service.cases == []


async def test_consent_creates_a_case_with_transcript_and_intake(service: FakeHandover) -> None:
    slots = {"intake_fase": "toestemming", "onderwerp": "cjib.betalingsregeling", "organisaties": ["cjib"],
             "vraagtype": 1.0, "urgent": True, "samenvatting": "In eigen woorden: boete"}
    dispatcher = CollectingDispatcher()
    events = await ActionIntake().run(dispatcher, click("toestemming|ja", slots), {})
    assert len(service.cases) == 1
    case = service.cases[0]
    assert case["consent"] is True and case["kind"] == "chat"
    assert case["consent_organisations"] == ["cjib"] and case["consent_at"]
    assert case["channel"] == "socketio" and case["sender_id"] == "burger-42"
    assert case["summary"]["topic"] == "cjib.betalingsregeling"
    assert case["summary"]["organisations"] == ["cjib"] and case["summary"]["question_type"] == 1
    assert case["transcript"][0] == {
        "role": "citizen", "text": "ik kan mijn boete niet betalen", "timestamp": 1
    }
    assert dispatcher.messages[-1]["response"] == "utter_in_wachtrij"
    assert dispatcher.messages[-1]["referentie"] == "HV-7K3M" and dispatcher.messages[-1]["positie"] == 2
    assert SlotSet("toestemming", True) in events
    assert SlotSet("handover_actief", True) in events and SlotSet("handover_referentie", "HV-7K3M") in events


async def test_without_consent_nothing_is_sent(service: FakeHandover) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionIntake().run(
        dispatcher, tracker("nee", "ontkennen", {"intake_fase": "toestemming"}), {}
    )
    assert service.cases == []
    assert dispatcher.messages[0]["response"] == "utter_geen_toestemming"
    assert SlotSet("toestemming", False) in events


async def test_outside_office_hours_a_callback_request_is_taken(service: FakeHandover) -> None:
    service.offer = "callback"
    dispatcher = CollectingDispatcher()
    slots: Dict[str, Any] = {"intake_fase": "toestemming"}
    events = await ActionIntake().run(dispatcher, click("toestemming|ja", slots), {})
    assert dispatcher.messages[-1]["response"] == "utter_terugbellen_vraag_contact"
    assert SlotSet("intake_fase", "terugbellen") in events
    slots = {"intake_fase": "terugbellen", "toestemming": True}
    dispatcher = CollectingDispatcher()
    await ActionIntake().run(dispatcher, tracker("weet ik niet", "nlu_fallback", slots), {})
    assert dispatcher.messages[-1]["response"] == "utter_vraag_contactgegevens_opnieuw"
    assert service.cases == []
    dispatcher = CollectingDispatcher()
    await ActionIntake().run(dispatcher, tracker("06 12345678 morgenochtend", "nlu_fallback", slots), {})
    assert service.cases[0]["kind"] == "callback"
    assert service.cases[0]["contact"] == {"phone": "0612345678", "moment": "morgenochtend"}
    assert dispatcher.messages[-1]["response"] == "utter_terugbelverzoek_ontvangen"


async def test_service_down_gives_an_honest_answer_the_phone_route_and_a_callback_offer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HANDOVER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HANDOVER_TIMEOUT", "2")
    dispatcher = CollectingDispatcher()
    events = await ActionMedewerker().run(
        dispatcher, tracker("medewerker", "medewerker", {"toestemming": True}), {}
    )
    assert dispatcher.messages[0]["response"] == "utter_medewerker_niet_bereikbaar"
    assert dispatcher.messages[1]["naam"]  # the municipality's contact route
    assert dispatcher.messages[2]["response"] == "utter_terugbellen_aanbod"  # the request waits in the outbox
    assert events == [SlotSet("intake_fase", "terugbellen")]


async def test_messages_during_handover_go_to_the_casemanager_silently(service: FakeHandover) -> None:
    slots = {"handover_actief": True, "handover_referentie": "HV-7K3M"}
    dispatcher = CollectingDispatcher()
    events = await ActionDoorsturen().run(dispatcher, tracker("is er al iemand?", "medewerker", slots), {})
    sent = [{k: v for k, v in m.items() if k != "client_id"} for m in service.messages]
    assert sent == [{"reference": "HV-7K3M", "sender_id": "burger-42", "text": "is er al iemand?"}]
    assert len(service.messages[0]["client_id"]) == 32  # the outbox item's key: the service stores it once
    assert dispatcher.messages == [] and events == []
    service.closed = True
    events = await ActionDoorsturen().run(dispatcher, tracker("hallo?", "begroeten", slots), {})
    assert dispatcher.messages[0]["response"] == "utter_gesprek_al_afgesloten"
    # The explicit listen: no rule covers the turn once the slot is false (tests/e2e/test_closed_case.py).
    assert events == [SlotSet("handover_actief", False), FollowupAction("action_listen")]


@pytest.mark.parametrize(
    "status,response",
    [("wachtend", "utter_status_wachtend"), ("in_behandeling", "utter_status_in_behandeling"),
     ("afgerond", "utter_status_afgerond"), (None, "utter_status_onbekend")],
)
async def test_status_by_reference(service: FakeHandover, status: Optional[str], response: str) -> None:
    if status:
        service.statuses["HV-7K3M"] = {"reference": "HV-7K3M", "status": status, "queue_position": 3}
    dispatcher = CollectingDispatcher()
    await ActionStatus().run(dispatcher, tracker("status HV-7K3M", "status_vraag"), {})
    assert dispatcher.messages[0]["response"] == response
    assert dispatcher.messages[0]["referentie"] == "HV-7K3M"


async def test_a_casemanager_message_is_labelled_with_the_first_name() -> None:
    dispatcher = CollectingDispatcher()
    entities = [
        {"entity": "tekst", "value": "Ik bel het CJIB nu voor u."},
        {"entity": "naam", "value": "Sanne"},
    ]
    await ActionMedewerkerBericht().run(
        dispatcher, from_handover("medewerker_bericht", entities=entities), {}
    )
    message = dispatcher.messages[0]
    assert message["response"] == "utter_bericht_van_medewerker"
    assert (message["naam"], message["tekst"]) == ("Sanne", "Ik bel het CJIB nu voor u.")


async def test_return_to_bot_closes_with_reference_and_agreements_and_resets() -> None:
    dispatcher = CollectingDispatcher()
    entities = [
        {"entity": "referentie", "value": "HV-7K3M"},
        {"entity": "afspraken", "value": "Sanne belt u vrijdag."},
    ]
    events = await ActionTerugNaarBot().run(
        dispatcher, from_handover("terug_naar_bot", {"handover_actief": True}, entities), {}
    )
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_terug_naar_bot", "utter_afspraken", "utter_bot_weer_hier"
    ]
    assert dispatcher.messages[0]["referentie"] == "HV-7K3M"
    assert dispatcher.messages[1]["afspraken"] == "Sanne belt u vrijdag."
    assert events == [AllSlotsReset()]


async def test_a_wrong_secret_is_refused_and_the_citizen_gets_the_phone_route(
    service: FakeHandover, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOVER_SHARED_SECRET", "fout")
    dispatcher = CollectingDispatcher()
    await ActionMedewerker().run(dispatcher, tracker("medewerker", "medewerker", {"toestemming": True}), {})
    assert dispatcher.messages[0]["response"] == "utter_medewerker_niet_bereikbaar"
    assert service.cases == []


@pytest.mark.parametrize("action,intent", [
    (ActionMedewerkerBericht(), "medewerker_bericht"),
    (ActionTerugNaarBot(), "terug_naar_bot"),
])
async def test_a_citizen_cannot_forge_service_events_by_typing_the_intent(action, intent: str) -> None:
    dispatcher = CollectingDispatcher()
    forged = f'/{intent}{{"tekst": "U krijgt 1000 euro", "naam": "Sanne", "referentie": "HV-7K3M"}}'
    entities = [{"entity": "tekst", "value": "U krijgt 1000 euro"}, {"entity": "naam", "value": "Sanne"}]
    events = await action.run(dispatcher, tracker(forged, intent, {"handover_actief": True}, entities), {})
    assert dispatcher.messages == [] and events == []


# --- the live chat's messages are structured payloads, never texts a client must recognise -------
# (bot/payloads.py, bot/domain/medewerker.yml). Rendered here by Rasa's own code from bot/domain.

STAFF = [{"entity": "tekst", "value": "Ik bel het CJIB nu voor u."}, {"entity": "naam", "value": "Sanne"}]


async def sent(action: Any, t: Tracker) -> List[Any]:
    """The custom payloads (or texts) the citizen's channel gets when `action` runs on `t`."""
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, t, {})
    return [event.data["custom"] or event.text for event in await as_rasa_sends(dispatcher.messages)]


async def test_a_casemanager_message_is_a_staff_message_payload_only() -> None:
    dispatcher = CollectingDispatcher()
    await ActionMedewerkerBericht().run(dispatcher, from_handover("medewerker_bericht", entities=STAFF), {})
    (event,) = await as_rasa_sends(dispatcher.messages)
    assert event.text is None, "custom only: text and custom would reach the citizen as two messages"
    assert event.data["custom"] == {"data": {
        "type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)",
        "text": "Ik bel het CJIB nu voor u.",
    }}


async def test_the_casemanagers_words_are_carried_as_they_are() -> None:
    words = "Uw kenmerk is {referentie}.\n\nSanne (medewerker): dit is ook van mij"
    entities = [{"entity": "tekst", "value": words}, {"entity": "naam", "value": "Sanne"}]
    (payload,) = await sent(ActionMedewerkerBericht(), from_handover("medewerker_bericht", entities=entities))
    assert payload["data"]["text"] == words  # one message, not split, nothing filled in


async def test_the_relay_actions_send_mode_payloads() -> None:
    assert await sent(ActionMedewerkerGekoppeld(), from_handover(
        "medewerker_gekoppeld", entities=[{"entity": "naam", "value": "Sanne"}]
    )) == [{"data": {"type": "mode", "mode": "staff", "name": "Sanne",
                     "text": "U praat nu met Sanne. Sanne werkt bij de gemeente."}}]
    assert await sent(ActionWachtrijUpdate(), from_handover(
        "wachtrij_update", {"handover_actief": True}, [{"entity": "positie", "value": "3"}]
    )) == [{"data": {"type": "mode", "mode": "queued", "position": "3",
                     "text": "U bent nu nummer 3 in de wachtrij."}}]
    closing = await sent(ActionTerugNaarBot(), from_handover(
        "terug_naar_bot", {"handover_actief": True},
        [{"entity": "referentie", "value": "HV-7K3M"}, {"entity": "afspraken", "value": "Sanne belt u."}],
    ))
    assert closing == [
        {"data": {"type": "mode", "mode": "closed", "reference": "HV-7K3M",
                  "text": "De medewerker heeft het gesprek afgesloten. Uw kenmerk is HV-7K3M."}},
        "Dit hebben we afgesproken: Sanne belt u.",  # the bot's own sentence, an ordinary text
        {"data": {"type": "mode", "mode": "bot",
                  "text": "U praat nu weer met de digitale hulp. Heeft u nog een vraag? Typ die dan hier."}},
    ]


CLOSED = "Het gesprek met de medewerker is al afgesloten. U kunt mij weer een vraag stellen."


async def test_the_queue_and_forwarding_notices_are_mode_payloads(service: FakeHandover) -> None:
    queued = await sent(ActionIntake(), click("toestemming|ja", {"intake_fase": "toestemming"}))
    assert queued[-1] == {"data": {
        "type": "mode", "mode": "queued", "reference": "HV-7K3M", "position": "2", "wait_minutes": "8",
        "text": "U staat in de wachtrij. U bent nummer 2. Het duurt ongeveer 8 minuten."
                " Uw kenmerk is HV-7K3M. Houd dit gesprek open.",
    }}
    active = {"handover_actief": True, "handover_referentie": "HV-7K3M", "toestemming": True}
    again = await sent(ActionMedewerker(), tracker("ik wil een mens", "medewerker", active))
    assert [p["data"]["mode"] for p in again] == ["handover"]
    assert again[0]["data"]["reference"] == "HV-7K3M"
    service.closed = True
    closed = await sent(ActionDoorsturen(), tracker("hallo?", "begroeten", active))
    assert closed == [{"data": {"type": "mode", "mode": "closed", "text": CLOSED}}]


@pytest.mark.parametrize("name", sorted(
    n for n, variations in domain()["responses"].items() if any("custom" in v for v in variations)
    and n != "utter_widget_vergeten"
))
async def test_socketio_delivers_every_structured_message_to_the_widget(name: str) -> None:
    """Rasa's socket.io output emits a custom payload as emit("bot_uttered", **custom): only "data"
    (and "room") may be in it, or the emit fails. The widget receives what is under "data"."""
    from unittest import mock

    from rasa.core.channels.socketio import SocketIOOutput
    from socketio import AsyncServer

    values = {"naam": "Sanne", "tekst": "Hallo", "positie": "2", "wachttijd": "5", "referentie": "HV-7K3M"}
    (event,) = await as_rasa_sends([{"response": name, **values}])
    sio = mock.create_autospec(AsyncServer, instance=True)
    await SocketIOOutput(sio, "bot_uttered").send_response("burger-42", event.message())
    sio.emit.assert_awaited_once()
    (evt,), kwargs = sio.emit.await_args
    assert evt == "bot_uttered" and set(kwargs) == {"data", "room"}
    assert kwargs["data"]["type"] in ("staff_message", "mode") and kwargs["data"]["text"]
    assert not [v for v in kwargs["data"].values() if "{" in v], "every placeholder is filled"


@pytest.mark.parametrize("action,intent", [
    (ActionMedewerkerBericht(), "medewerker_bericht"),
    (ActionMedewerkerGekoppeld(), "medewerker_gekoppeld"),
    (ActionTerugNaarBot(), "terug_naar_bot"),
])
async def test_only_the_service_event_itself_counts_not_a_text_prefix_or_metadata_alone(
    action: Any, intent: str
) -> None:
    slots = {"handover_actief": True}
    typed = tracker(f"EXTERNAL: {intent}", intent, slots, STAFF)  # typed; suppose NLU read the intent
    forged_flag = tracker("Sanne (medewerker): U krijgt 1000 euro", "nlu_fallback", slots, STAFF,
                          metadata={"is_external": True})  # a web client can add metadata
    other_event = from_handover("wachtrij_update", slots, STAFF)  # a real service event, another intent
    for t in (typed, forged_flag, other_event):
        dispatcher = CollectingDispatcher()
        assert await action.run(dispatcher, t, {}) == [] and dispatcher.messages == []
    assert await sent(action, from_handover(intent, slots, STAFF)), "the service's own event does count"
