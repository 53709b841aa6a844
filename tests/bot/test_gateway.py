"""The real handover gateway (bot/handover_gateway/: ServiceGateway, HandoverClient, the outbox)
against a fake handover service (a real aiohttp server on loopback): how its HTTP answers and the
outbox's outcomes become the results the conversation knows (bot/intake/effects.py). Also with
action_turn on top, where the outbox's timing matters: nothing the citizen sends while the service
is down gets lost. What the citizen reads for each result: tests/bot/test_actions_*.py with
tests/bot/fakes.py."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.events import SlotSet

import rasa_sdk_plugins
from bot.handover_gateway import HandoverGateway, NoHandoverService, ServiceGateway, gateway_for
from bot.handover_gateway import outbox as ob
from bot.intake.effects import (
    Availability,
    CaseOpened,
    CaseStatus,
    CaseUnknown,
    Delivered,
    Erased,
    NoOneAvailable,
    Queued,
    Refused,
    Unavailable,
)
from bot.settings import BotSettings
from tests.bot.fakes import METHODS, FakeGateway
from tests.bot.helpers import SENDER, responses_of, take_turn, tracker
from tools.stack import free_port

SECRET = "test-geheim"
REFERENCE = "HV-7K3M"
HANDOVER_SLOTS = {"handover_actief": True, "handover_referentie": REFERENCE}


class FakeHandover:
    """Records what the bot sends; answers like the real service (handover/README.md, "Bot API")."""

    def __init__(self) -> None:
        self.url = ""  # set when it runs
        self.offer = "live"
        self.hours: Dict[str, Any] = {}  # what /api/availability says of the office hours
        self.requests: List[str] = []
        self.cases: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []
        self.closed = False
        self.case_status = 201  # any other: the service refuses the case with that status
        self.message_status = 202  # any other: the service refuses the message with that status
        self.statuses: Dict[str, Dict[str, Any]] = {}
        self.erased: List[Dict[str, str]] = []
        self.erase_status = 200
        self.answers: List[Dict[str, Any]] = []  # satisfaction answers
        self.answer_status = 202
        self.case_answer: Dict[str, Any] = {
            "reference": REFERENCE,
            "status": "wachtend",
            "queue_position": 2,
            "expected_wait_minutes": 8,
        }

    def app(self) -> web.Application:
        app = web.Application()

        @web.middleware
        async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
            self.requests.append(f"{request.method} {request.path}")
            return await handler(request)

        @web.middleware
        async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
            if request.headers.get("Authorization") != f"Bearer {SECRET}":
                return web.json_response({"error": "unauthorized"}, status=401)
            return await handler(request)

        async def availability(request: web.Request) -> web.Response:
            return web.json_response(
                {"open": self.offer == "live", "online_casemanagers": 1, "offer": self.offer, **self.hours}
            )

        async def cases(request: web.Request) -> web.Response:
            if self.case_status != 201:
                return web.json_response({"error": "refused"}, status=self.case_status)
            self.cases.append(await request.json())
            return web.json_response({**self.case_answer, "offer": self.offer}, status=201)

        async def messages(request: web.Request) -> web.Response:
            if self.closed:
                return web.json_response({"error": "closed"}, status=409)
            if self.message_status != 202:
                return web.json_response({"error": "refused"}, status=self.message_status)
            self.messages.append({"reference": request.match_info["ref"], **await request.json()})
            return web.json_response({"status": "accepted"}, status=202)

        async def status(request: web.Request) -> web.Response:
            found = self.statuses.get(request.match_info["ref"])
            return web.json_response(found or {"error": "not_found"}, status=200 if found else 404)

        async def erase(request: web.Request) -> web.Response:
            if self.erase_status != 200:
                return web.json_response({"error": "boom"}, status=self.erase_status)
            self.erased.append(dict(request.match_info))
            return web.json_response({"erased_cases": 1})

        async def satisfaction(request: web.Request) -> web.Response:
            if self.answer_status != 202:
                return web.json_response({"error": "refused"}, status=self.answer_status)
            body = await request.json()
            self.answers.append({"reference": request.match_info["ref"], **body})
            return web.json_response(
                {"status": "recorded", "reference": request.match_info["ref"], "score": body["score"]},
                status=202,
            )

        app.middlewares.extend([record, auth])
        app.router.add_get("/api/availability", availability)
        app.router.add_post("/api/cases", cases)
        app.router.add_post("/api/cases/{ref}/messages", messages)
        app.router.add_get("/api/status/{ref}", status)
        app.router.add_post("/api/cases/{ref}/tevredenheid", satisfaction)
        app.router.add_post("/api/conversations/{channel}/{sender_id}/erase", erase)
        return app


def settings_for(url: str, outbox_db: Path, secret: str = SECRET, timeout: float = 2) -> BotSettings:
    return BotSettings(
        handover_url=url, handover_secret=secret, handover_timeout=timeout, outbox_db=str(outbox_db)
    )


async def start_service(fake: FakeHandover, port: Optional[int] = None) -> TestServer:
    server = TestServer(fake.app(), host="127.0.0.1", port=port)
    await server.start_server()
    return server


@pytest.fixture
async def service() -> AsyncIterator[FakeHandover]:
    fake = FakeHandover()
    server = await start_service(fake)
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
def gateway(service: FakeHandover, own_outbox: Path) -> ServiceGateway:
    return ServiceGateway(settings_for(service.url, own_outbox))


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> int:
    """A port where nothing listens (yet); short retries for the test."""
    monkeypatch.setattr(ob, "MAX_BACKOFF", 0.2)
    return free_port()


async def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("did not happen in time")
        await asyncio.sleep(0.05)


def case(kind: str = "chat") -> Dict[str, Any]:
    return {
        "channel": "socketio",
        "sender_id": SENDER,
        "kind": kind,
        "transcript": [],
        "consent": True,
        "summary": {"topic": "cjib.betalingsregeling", "organisations": ["cjib"]},
    }


# --- the protocol --------------------------------------------------------------------------------


@pytest.mark.parametrize("implementation", [ServiceGateway, NoHandoverService, FakeGateway])
def test_every_gateway_has_the_protocols_methods_and_signatures(implementation: type) -> None:
    methods = dict(inspect.getmembers(HandoverGateway, inspect.iscoroutinefunction))
    assert set(methods) == set(METHODS)
    for name, method in methods.items():
        ours = getattr(implementation, name)
        assert inspect.iscoroutinefunction(ours), name
        assert inspect.signature(ours) == inspect.signature(method), name


async def test_the_fake_gateway_answers_from_its_script_and_records_every_call() -> None:
    fake = FakeGateway(forward=[Queued(first=True), Queued(first=False)])
    assert await fake.forward(REFERENCE, SENDER, "een") == Queued(first=True)
    assert await fake.forward(REFERENCE, SENDER, "twee") == Queued(first=False)
    assert await fake.forward(REFERENCE, SENDER, "drie") == Queued(first=False)  # the last one repeats
    assert await fake.open_case(case()) == CaseOpened(REFERENCE, 2, 8)  # unscripted: a working service
    assert fake.methods == ["forward", "forward", "forward", "open_case"]
    assert fake.called("forward")[1] == {"reference": REFERENCE, "sender_id": SENDER, "text": "twee"}
    assert fake.cases == [case()]
    without = FakeGateway(configured=False)
    assert without.configured is False
    for name in METHODS:  # unscripted without a service: as NoHandoverService answers
        args = inspect.signature(getattr(NoHandoverService, name)).parameters
        values = {
            "case": case(),
            "reference": REFERENCE,
            "sender_id": SENDER,
            "text": "x",
            "channel": "rest",
            "message_id": "",
            "organisation": "cjib",
            "organisations": ("cjib",),
            "slot_id": 12,
            "score": 4,
            "words": None,
        }
        call = {k: values[k] for k in args if k != "self"}
        assert await getattr(without, name)(**call) == await getattr(NoHandoverService(), name)(**call)
    with pytest.raises(TypeError):
        FakeGateway(open=Unavailable())


def test_the_gateway_follows_the_settings(own_outbox: Path) -> None:
    without = gateway_for(BotSettings(handover_url=None, handover_secret=None, handover_timeout=2))
    assert isinstance(without, NoHandoverService) and without.configured is False
    real = gateway_for(settings_for("http://127.0.0.1:1", own_outbox))
    assert isinstance(real, ServiceGateway) and real.configured is True


async def test_without_a_handover_service_nothing_happens_and_nothing_is_claimed() -> None:
    none = NoHandoverService()
    assert await none.open_case(case()) == Unavailable()
    assert await none.request_callback(case("callback")) == Refused()
    assert await none.forward(REFERENCE, SENDER, "hallo") == Refused(case_gone=True)
    assert await none.status(REFERENCE) == Unavailable()
    assert await none.erase("socketio", SENDER) == Erased(at_gemeente=False)
    assert await none.satisfaction(REFERENCE, SENDER, 4, None) == Refused()


# --- a live chat -----------------------------------------------------------------------------------


async def test_a_case_is_opened_when_someone_is_available(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    sent = case()
    assert await gateway.open_case(sent) == CaseOpened(reference=REFERENCE, position=2, wait_minutes=8)
    assert service.requests == ["GET /api/availability", "POST /api/cases"]
    assert service.cases == [sent]  # the payload as the action made it (bot/actions/case_payload.py)


async def test_a_case_without_queue_details_gets_the_defaults(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    service.case_answer = {"reference": REFERENCE, "status": "wachtend"}
    assert await gateway.open_case(case()) == CaseOpened(reference=REFERENCE, position=1, wait_minutes=5)


async def test_outside_office_hours_no_case_is_opened(service: FakeHandover, gateway: ServiceGateway) -> None:
    service.offer = "callback"
    assert await gateway.open_case(case()) == NoOneAvailable()
    assert service.requests == ["GET /api/availability"] and service.cases == []


async def test_a_wrong_secret_is_refused_and_counts_as_unavailable(
    service: FakeHandover, own_outbox: Path
) -> None:
    wrong = ServiceGateway(settings_for(service.url, own_outbox, secret="fout"))
    assert await wrong.open_case(case()) == Unavailable()
    assert service.cases == []


async def test_office_hours_sent_as_data_are_worded_by_the_bot(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    """The bot words the data itself (and so can translate it); the service's Dutch words only when
    it sends no usable data."""
    dutch = "maandag tot en met vrijdag van 9.00 tot 17.00 uur"
    service.offer = "callback"
    service.hours = {
        "hours": "iets anders",
        "office_hours": [{"first_day": 0, "last_day": 4, "opens": "09:00", "closes": "17:00"}],
    }
    assert await gateway.availability() == Availability(live=False, hours=dutch)
    service.hours = {"hours": dutch}  # an older service
    assert await gateway.availability() == Availability(live=False, hours=dutch)
    service.hours = {"hours": dutch, "office_hours": [{"first_day": "ma"}]}
    assert await gateway.availability() == Availability(live=False, hours=dutch)
    service.hours = {"hours": None, "office_hours": []}
    assert await gateway.availability() == Availability(live=False, hours=None)


async def test_a_service_that_is_down_is_unavailable(down: int, own_outbox: Path) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    assert await gateway.open_case(case()) == Unavailable()
    assert await gateway.status(REFERENCE) == Unavailable()


async def test_a_service_that_hangs_counts_as_down(own_outbox: Path) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"offer": "live"})

    app = web.Application()
    app.router.add_get("/api/availability", hang)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    try:
        gateway = ServiceGateway(settings_for(url, own_outbox, timeout=0.3))
        assert await gateway.open_case(case()) == Unavailable()
        # and the citizen hears it honestly, with the phone route and a callback offer
        dispatcher, _ = await take_turn(gateway, tracker("medewerker", "medewerker", {"toestemming": True}))
    finally:
        await server.close()
    assert responses_of(dispatcher)[0] == "utter_medewerker_niet_bereikbaar"
    assert responses_of(dispatcher)[-1] == "utter_terugbellen_aanbod"


# --- messages for the casemanager -------------------------------------------------------------------


async def test_a_message_is_delivered_once_with_its_outbox_key(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    assert await gateway.forward(REFERENCE, SENDER, "is er al iemand?") == Delivered()
    sent = [{k: v for k, v in m.items() if k != "client_id"} for m in service.messages]
    assert sent == [{"reference": REFERENCE, "sender_id": SENDER, "text": "is er al iemand?"}]
    assert len(service.messages[0]["client_id"]) == 32  # the outbox item's key: the service stores it once


async def test_a_message_for_a_closed_case_is_refused_for_good(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    service.closed = True
    assert await gateway.forward(REFERENCE, SENDER, "hallo?") == Refused(case_gone=True)
    service.closed, service.message_status = False, 404  # erased meanwhile
    assert await gateway.forward(REFERENCE, SENDER, "hallo?") == Refused(case_gone=True)
    service.message_status = 422  # refused, but the case is still there
    assert await gateway.forward(REFERENCE, SENDER, "hallo?") == Refused(case_gone=False)
    assert service.messages == []


async def test_a_closed_case_ends_the_live_chat_through_action_turn(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    dispatcher, events = await take_turn(gateway, tracker("is er al iemand?", "medewerker", HANDOVER_SLOTS))
    assert dispatcher.messages == [] and events == []
    assert [m["text"] for m in service.messages] == ["is er al iemand?"]
    service.closed = True
    dispatcher, events = await take_turn(gateway, tracker("hallo?", "begroeten", HANDOVER_SLOTS))
    assert responses_of(dispatcher) == ["utter_gesprek_al_afgesloten"]
    assert events == [SlotSet("handover_actief", False)]


async def test_messages_typed_while_the_service_is_down_reach_the_casemanager_in_order(
    down: int, own_outbox: Path
) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    told: List[List[Any]] = []
    for text in ("Hallo?", "Ik wacht nog even.", "Mijn brief is van 3 mei."):
        dispatcher, events = await take_turn(gateway, tracker(text, "nlu_fallback", HANDOVER_SLOTS))
        assert events == []  # the handover stays active
        told.append(responses_of(dispatcher))
    # Told honestly, once: the later messages wait behind the first.
    assert told == [["utter_bericht_komt_later"], [], []]

    fake = FakeHandover()
    server = await start_service(fake, down)
    try:
        # No further citizen message: the outbox's background task delivers them.
        await eventually(lambda: len(fake.messages) >= 3)
        await asyncio.sleep(0.3)  # and nothing twice
    finally:
        await server.close()
    assert [m["text"] for m in fake.messages] == ["Hallo?", "Ik wacht nog even.", "Mijn brief is van 3 mei."]
    assert len({m["client_id"] for m in fake.messages}) == 3
    assert all(m["reference"] == REFERENCE and m["sender_id"] == SENDER for m in fake.messages)


async def test_the_first_message_of_an_outage_is_queued_first_and_the_rest_behind_it(
    down: int, own_outbox: Path
) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    assert await gateway.forward(REFERENCE, SENDER, "een") == Queued(first=True)
    assert await gateway.forward(REFERENCE, SENDER, "twee") == Queued(first=False)


# --- callback requests ------------------------------------------------------------------------------


async def test_when_the_service_is_up_a_callback_request_gets_its_reference_at_once(
    down: int, own_outbox: Path
) -> None:
    fake = FakeHandover()
    server = await start_service(fake, down)
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    try:
        message = tracker("mail mij op a@example.nl", "nlu_fallback", {"intake_fase": "terugbellen"})
        dispatcher, events = await take_turn(gateway, message)
    finally:
        await server.close()
    assert responses_of(dispatcher)[-1] == "utter_terugbelverzoek_ontvangen"
    assert dispatcher.messages[-1]["referentie"] == REFERENCE
    assert SlotSet("handover_referentie", REFERENCE) in events
    [sent] = fake.cases
    assert sent["kind"] == "callback" and sent["contact"]["email"] == "a@example.nl"


async def test_a_callback_request_made_while_the_service_is_down_arrives_when_it_is_back(
    down: int, own_outbox: Path
) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    slots = {
        "intake_fase": "terugbellen",
        "toestemming": True,
        "onderwerp": "cjib.betalingsregeling",
        "organisaties": ["cjib"],
    }
    dispatcher, events = await take_turn(gateway, tracker("06 12345678 morgenochtend", "nlu_fallback", slots))
    assert responses_of(dispatcher)[-1] == "utter_terugbelverzoek_bewaard"
    assert not any(isinstance(e, dict) and e.get("name") == "handover_referentie" for e in events)

    fake = FakeHandover()
    server = await start_service(fake, down)
    try:
        await eventually(lambda: len(fake.cases) >= 1)
        await asyncio.sleep(0.3)
    finally:
        await server.close()
    assert len(fake.cases) == 1
    sent = fake.cases[0]
    assert sent["kind"] == "callback" and sent["sender_id"] == SENDER
    assert sent["contact"] == {"phone": "+31612345678", "moment": "morgenochtend"}
    assert sent["summary"]["organisations"] == ["cjib"]


async def test_contact_details_that_read_as_asking_for_a_person_are_taken_as_the_callback_request(
    down: int, own_outbox: Path
) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    slots = {"intake_fase": "terugbellen", "toestemming": True}
    message = tracker("Bel mij op 06 12345678, morgenochtend", "medewerker", slots)
    dispatcher, events = await take_turn(gateway, message)
    assert responses_of(dispatcher) == ["utter_terugbelverzoek_bewaard"]  # not the offer of a person again
    assert events == [SlotSet("intake_fase", "uitkomst")]
    fake = FakeHandover()
    server = await start_service(fake, down)
    try:
        await eventually(lambda: len(fake.cases) >= 1)
    finally:
        await server.close()
    assert fake.cases[0]["contact"]["phone"] == "+31612345678"


async def test_a_callback_request_is_delivered_with_the_reference_it_got(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    assert await gateway.request_callback(case("callback")) == Delivered(REFERENCE)
    service.case_answer = {"status": "wachtend"}  # no reference: nothing to show the citizen
    assert await gateway.request_callback(case("callback")) == Delivered(None)


async def test_a_callback_request_the_service_refuses_is_refused(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    service.case_status = 422
    assert await gateway.request_callback(case("callback")) == Refused(case_gone=False)


# --- status -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["wachtend", "in_behandeling", "afgerond"])
async def test_status_by_reference(service: FakeHandover, gateway: ServiceGateway, status: str) -> None:
    service.statuses[REFERENCE] = {"reference": REFERENCE, "status": status, "queue_position": 3}
    assert await gateway.status(REFERENCE) == CaseStatus(status, 3)


async def test_an_unknown_reference_is_unknown(service: FakeHandover, gateway: ServiceGateway) -> None:
    assert await gateway.status(REFERENCE) == CaseUnknown()
    service.statuses[REFERENCE] = {"reference": REFERENCE, "status": "afgerond", "queue_position": None}
    assert await gateway.status(REFERENCE) == CaseStatus("afgerond", None)


# --- erasure ----------------------------------------------------------------------------------------


async def test_erasure_at_the_gemeente(service: FakeHandover, gateway: ServiceGateway) -> None:
    assert await gateway.erase("socketio", SENDER) == Erased(at_gemeente=True)
    assert service.erased == [{"channel": "socketio", "sender_id": SENDER}]


async def test_erasure_also_drops_the_messages_still_waiting_in_the_outbox(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    box = gateway._outbox().outbox
    await box.add(
        "zaak:HV-7K3M", SENDER, ob.MESSAGE, {"reference": REFERENCE, "sender_id": SENDER, "text": "mijn bsn"}
    )
    await box.add("zaak:HV-AAAA", "iemand-anders", ob.MESSAGE, {"reference": "HV-AAAA", "text": "hallo"})
    assert await gateway.erase("socketio", SENDER) == Erased(at_gemeente=True)
    assert await box.waiting("zaak:HV-7K3M") == 0
    assert await box.waiting("zaak:HV-AAAA") == 1


@pytest.mark.parametrize("status", [503, 500, 404, 401])
async def test_a_failed_erasure_is_never_claimed(
    service: FakeHandover, gateway: ServiceGateway, status: int
) -> None:
    service.erase_status = status
    assert await gateway.erase("socketio", SENDER) == Erased(at_gemeente=False)
    assert service.erased == []


async def test_an_unreachable_service_erased_nothing(down: int, own_outbox: Path) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    assert await gateway.erase("socketio", SENDER) == Erased(at_gemeente=False)


# --- the satisfaction answer after closing (handover/openapi.yaml: postSatisfaction) ---------------


async def test_the_satisfaction_answer_is_posted_with_the_secret(
    service: FakeHandover, gateway: ServiceGateway
) -> None:
    assert await gateway.satisfaction(REFERENCE, SENDER, 4, "Sanne was vriendelijk") == Delivered()
    assert await gateway.satisfaction(REFERENCE, SENDER, 2, None) == Delivered()
    assert service.answers == [
        {"reference": REFERENCE, "sender_id": SENDER, "score": 4, "text": "Sanne was vriendelijk"},
        {"reference": REFERENCE, "sender_id": SENDER, "score": 2},  # no words: no "text"
    ]
    assert service.requests[-1] == f"POST /api/cases/{REFERENCE}/tevredenheid"


@pytest.mark.parametrize("status,result", [(409, Refused()), (404, Refused()), (403, Refused()),
                                           (400, Refused()), (500, Unavailable()), (401, Unavailable())])
async def test_a_failed_satisfaction_answer_is_logged_without_personal_data(
    service: FakeHandover, gateway: ServiceGateway, status: int, result: Any, caplog: pytest.LogCaptureFixture
) -> None:
    service.answer_status = status
    with caplog.at_level("DEBUG"):
        assert await gateway.satisfaction(REFERENCE, SENDER, 1, "Mijn BSN is 123456782") == result
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))  # not aiohttp's
    assert "satisfaction answer" in ours
    assert REFERENCE not in ours and "BSN" not in ours and SENDER not in ours


async def test_a_satisfaction_answer_to_an_unreachable_service_is_unavailable(
    down: int, own_outbox: Path
) -> None:
    gateway = ServiceGateway(settings_for(f"http://127.0.0.1:{down}", own_outbox))
    assert await gateway.satisfaction(REFERENCE, SENDER, 5, None) == Unavailable()


# --- the outbox's background task in the action server ------------------------------------------


class FakeSanic:
    def __init__(self) -> None:
        self.listeners: Dict[str, Any] = {}

    def register_listener(self, listener: Any, event: str) -> None:
        self.listeners[event] = listener


async def test_at_server_start_the_outbox_sends_what_an_earlier_run_left(
    down: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plugin reads the action server's settings from the environment, as in production.
    monkeypatch.setenv("HANDOVER_URL", f"http://127.0.0.1:{down}")
    monkeypatch.setenv("HANDOVER_SHARED_SECRET", SECRET)
    monkeypatch.setenv("HANDOVER_TIMEOUT", "2")
    # An earlier action server stored a message and stopped before the service was back.
    left = ob.Outbox(ob.database_url(BotSettings.from_env().outbox_db))
    await left.add(
        "zaak:HV-7K3M",
        SENDER,
        ob.MESSAGE,
        {"reference": REFERENCE, "sender_id": SENDER, "text": "Bent u er nog?"},
    )
    left.dispose()
    fake = FakeHandover()
    server = await start_service(fake, down)
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
