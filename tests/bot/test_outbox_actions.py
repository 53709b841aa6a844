"""The actions with the outbox, against a fake handover service that is down first and comes back
later on the same port: nothing the citizen sends while it is down gets lost."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import rasa_sdk_plugins
from bot.actions.clients import outbox as ob
from bot.actions.intake import ActionIntake
from bot.actions.medewerker import ActionMedewerker
from bot.actions.overdracht import ActionDoorsturen
from bot.settings import BotSettings
from tests.bot.test_actions_handover import SECRET, FakeHandover, tracker
from tools.stack import free_port

HANDOVER_SLOTS = {"handover_actief": True, "handover_referentie": "HV-7K3M"}


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> int:
    """A handover URL on a port where nothing listens (yet); short retries for the test."""
    port = free_port()
    monkeypatch.setenv("HANDOVER_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HANDOVER_SHARED_SECRET", SECRET)
    monkeypatch.setenv("HANDOVER_TIMEOUT", "2")
    monkeypatch.setattr(ob, "MAX_BACKOFF", 0.2)
    return port


async def start_service(port: int, fake: FakeHandover) -> TestServer:
    server = TestServer(fake.app(), host="127.0.0.1", port=port)
    await server.start_server()
    return server


async def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("did not happen in time")
        await asyncio.sleep(0.05)


def responses(dispatcher: CollectingDispatcher) -> List[Any]:
    return [m.get("response") for m in dispatcher.messages]


async def test_messages_typed_while_the_service_is_down_reach_the_casemanager_in_order(down: int) -> None:
    told: List[List[Any]] = []
    for text in ("Hallo?", "Ik wacht nog even.", "Mijn brief is van 3 mei."):
        dispatcher = CollectingDispatcher()
        events = await ActionDoorsturen().run(dispatcher, tracker(text, "nlu_fallback", HANDOVER_SLOTS), {})
        assert events == []  # the handover stays active
        told.append(responses(dispatcher))
    # Told honestly, once: the later messages wait behind the first.
    assert told == [["utter_bericht_komt_later"], [], []]

    fake = FakeHandover()
    server = await start_service(down, fake)
    try:
        # No further citizen message: the action server's background task delivers them.
        await eventually(lambda: len(fake.messages) >= 3)
        await asyncio.sleep(0.3)  # and nothing twice
    finally:
        await server.close()
    assert [m["text"] for m in fake.messages] == ["Hallo?", "Ik wacht nog even.", "Mijn brief is van 3 mei."]
    assert len({m["client_id"] for m in fake.messages}) == 3
    assert all(m["reference"] == "HV-7K3M" and m["sender_id"] == "burger-42" for m in fake.messages)


async def test_a_callback_request_made_while_the_service_is_down_arrives_when_it_is_back(down: int) -> None:
    slots = {"intake_fase": "terugbellen", "toestemming": True, "onderwerp": "cjib.betalingsregeling",
             "organisaties": ["cjib"]}
    dispatcher = CollectingDispatcher()
    message = tracker("06 12345678 morgenochtend", "nlu_fallback", slots)
    events = await ActionIntake().run(dispatcher, message, {})
    assert responses(dispatcher)[-1] == "utter_terugbelverzoek_bewaard"
    assert not any(isinstance(e, dict) and e.get("name") == "handover_referentie" for e in events)

    fake = FakeHandover()
    server = await start_service(down, fake)
    try:
        await eventually(lambda: len(fake.cases) >= 1)
        await asyncio.sleep(0.3)
    finally:
        await server.close()
    assert len(fake.cases) == 1
    case = fake.cases[0]
    assert case["kind"] == "callback" and case["sender_id"] == "burger-42"
    assert case["contact"] == {"phone": "0612345678", "moment": "morgenochtend"}
    assert case["summary"]["organisations"] == ["cjib"]


async def test_contact_details_that_read_as_asking_for_a_person_are_taken_as_the_callback_request(
    down: int,
) -> None:
    slots = {"intake_fase": "terugbellen", "toestemming": True}
    dispatcher = CollectingDispatcher()
    message = tracker("Bel mij op 06 12345678, morgenochtend", "medewerker", slots)
    events = await ActionMedewerker().run(dispatcher, message, {})
    assert responses(dispatcher) == ["utter_terugbelverzoek_bewaard"]  # not the offer of a person again
    assert events == [SlotSet("intake_fase", "uitkomst")]
    fake = FakeHandover()
    server = await start_service(down, fake)
    try:
        await eventually(lambda: len(fake.cases) >= 1)
    finally:
        await server.close()
    assert fake.cases[0]["contact"]["phone"] == "0612345678"


async def test_when_the_service_is_up_a_callback_request_gets_its_reference_at_once(down: int) -> None:
    fake = FakeHandover()
    server = await start_service(down, fake)
    try:
        dispatcher = CollectingDispatcher()
        message = tracker("mail mij op a@example.nl", "nlu_fallback", {"intake_fase": "terugbellen"})
        events = await ActionIntake().run(dispatcher, message, {})
    finally:
        await server.close()
    assert responses(dispatcher)[-1] == "utter_terugbelverzoek_ontvangen"
    assert dispatcher.messages[-1]["referentie"] == "HV-7K3M"
    assert SlotSet("handover_referentie", "HV-7K3M") in events


async def test_a_service_that_hangs_counts_as_down(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"offer": "live"})

    app = web.Application()
    app.router.add_get("/api/availability", hang)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    monkeypatch.setenv("HANDOVER_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("HANDOVER_TIMEOUT", "0.3")
    try:
        dispatcher = CollectingDispatcher()
        message = tracker("medewerker", "medewerker", {"toestemming": True})
        await ActionMedewerker().run(dispatcher, message, {})
    finally:
        await server.close()
    assert responses(dispatcher)[0] == "utter_medewerker_niet_bereikbaar"
    assert responses(dispatcher)[-1] == "utter_terugbellen_aanbod"


class FakeSanic:
    def __init__(self) -> None:
        self.listeners: Dict[str, Any] = {}

    def register_listener(self, listener: Any, event: str) -> None:
        self.listeners[event] = listener


async def test_at_server_start_the_outbox_sends_what_an_earlier_run_left(down: int) -> None:
    # An earlier action server stored a message and stopped before the service was back.
    left = ob.Outbox(ob.database_url(BotSettings.from_env().outbox_db))
    await left.add("zaak:HV-7K3M", "burger-42", ob.MESSAGE,
                   {"reference": "HV-7K3M", "sender_id": "burger-42", "text": "Bent u er nog?"})
    left.dispose()
    fake = FakeHandover()
    server = await start_service(down, fake)
    app = FakeSanic()
    rasa_sdk_plugins.attach_outbox(app)  # what the plugin does when rasa_sdk starts
    try:
        await app.listeners["after_server_start"](app, asyncio.get_running_loop())
        await eventually(lambda: len(fake.messages) >= 1)  # no action was called
        await app.listeners["before_server_stop"](app, asyncio.get_running_loop())
    finally:
        await server.close()
    assert [m["text"] for m in fake.messages] == ["Bent u er nog?"]


def test_rasa_sdk_finds_the_plugin() -> None:
    from rasa_sdk.plugin import plugin_manager

    assert any(isinstance(p, rasa_sdk_plugins.ActionServerPlugin) for p in plugin_manager().get_plugins())
