"""Consent through the real actions, against a fake handover service that records every request:
nothing reaches the service before consent, and the case carries exactly what was agreed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Dict, List

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.intake import ActionIntake
from bot.actions.medewerker import ActionMedewerker
from bot.actions.toestemming import ActionAanvulling
from tests.bot.test_actions_handover import SECRET, FakeHandover, click, tracker

CONSENT_QUESTION = [
    "utter_toestemming_inleiding",
    "utter_toestemming_eigen_woorden",
    "utter_toestemming_onderwerp",
    "utter_toestemming_met_organisaties",
    "utter_vraag_toestemming",
]


class RecordingHandover(FakeHandover):
    """The fake service, plus a log of every request that reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: List[str] = []

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
            self.requests.append(f"{request.method} {request.path}")
            return await handler(request)

        app.middlewares.insert(0, record)
        return app


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RecordingHandover]:
    fake = RecordingHandover()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    monkeypatch.setenv("HANDOVER_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("HANDOVER_SHARED_SECRET", SECRET)
    yield fake
    await server.close()


class Conversation:
    """Runs the actions turn by turn and keeps the slots as Rasa would."""

    def __init__(self, slots: Dict[str, Any]) -> None:
        self.slots = dict(slots)
        self.responses: List[str] = []
        self.events: List[Dict[str, Any]] = []

    async def run(self, action: Any, latest: Tracker) -> CollectingDispatcher:
        dispatcher = CollectingDispatcher()
        current = Tracker.from_dict(
            {
                **latest.current_state(),
                "slots": self.slots,
                "events": latest.events,
                "latest_input_channel": "socketio",
            }
        )
        self.events = await action.run(dispatcher, current, {})
        for event in self.events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        self.responses = [m.get("response") for m in dispatcher.messages]
        return dispatcher

    async def ask_person(self) -> CollectingDispatcher:
        return await self.run(ActionMedewerker(), tracker("ik wil een mens spreken", "medewerker"))

    async def press(self, choice: str) -> CollectingDispatcher:
        return await self.run(ActionIntake(), click(choice, {}))

    async def type(self, text: str, intent: str = "nlu_fallback") -> CollectingDispatcher:
        return await self.run(ActionIntake(), tracker(text, intent))

    async def correct(self, text: str, intent: str = "begroeten") -> CollectingDispatcher:
        """While tekst_verwacht is true, the rules send every message to action_aanvulling."""
        return await self.run(ActionAanvulling(), tracker(text, intent))


def uwv_and_svb() -> Conversation:
    """Intake state of a citizen who lost their job and has an AOW question (gemeente, UWV and SVB)."""
    return Conversation(
        {
            "intake_fase": "uitkomst",
            "onderwerp": "uwv.recht_ww",
            "organisaties": ["gemeente", "uwv", "svb"],
            "vraagtype": 3.0,
            "verhaal": ["ik ben mijn baan kwijt en weet niet hoe het moet met de aow"],
            "samenvatting": "In eigen woorden: “baan kwijt” Organisaties: Gemeente, UWV, SVB. Vraagtype 3.",
        }
    )


async def test_nothing_reaches_the_service_until_consent_is_complete(service: RecordingHandover) -> None:
    talk = uwv_and_svb()
    await talk.ask_person()
    assert talk.responses == CONSENT_QUESTION
    assert SlotSet("intake_fase", "toestemming") in talk.events

    await talk.press("toestemming|aanpassen")
    assert talk.responses == ["utter_vraag_aanpassing"] and talk.slots["tekst_verwacht"] is True
    await talk.correct("   ")  # empty: asked again, and the action says it still waits for text
    assert talk.responses == ["utter_aanpassing_leeg"]
    assert talk.events == [SlotSet("tekst_verwacht", True)]
    await talk.correct("Ik heb ook nog een brief van de SVB gekregen")
    assert talk.events[-1] == SlotSet("tekst_verwacht", False)
    assert talk.responses == [
        "utter_aanpassing_ontvangen",
        *CONSENT_QUESTION[:3],
        "utter_toestemming_aanvulling",
        *CONSENT_QUESTION[3:],
    ]
    assert talk.slots["tekst_verwacht"] is False

    await talk.press("toestemming|ja")
    assert talk.responses == ["utter_toestemming_per_organisatie", "utter_vraag_toestemming_organisatie"]
    await talk.press("toestemming_org|xyz|ja")  # forged: ignored, the open question comes again
    assert talk.responses == ["utter_kies_ja_nee", "utter_vraag_toestemming_organisatie"]
    await talk.press("toestemming_org|uwv|ja")
    assert service.requests == [] and service.cases == []

    before = datetime.now(timezone.utc)
    dispatcher = await talk.press("toestemming_org|svb|nee")
    assert service.requests == ["GET /api/availability", "POST /api/cases"]
    assert dispatcher.messages[0]["response"] == "utter_toestemming_organisaties_gekozen"
    assert dispatcher.messages[0]["organisaties"] == "UWV"
    assert dispatcher.messages[-1]["response"] == "utter_in_wachtrij"

    [case] = service.cases
    consent_at = datetime.fromisoformat(case.pop("consent_at"))
    assert consent_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= consent_at <= datetime.now(timezone.utc)
    assert case == {
        "channel": "socketio",
        "sender_id": "burger-42",
        "kind": "chat",
        "transcript": [
            {"role": "citizen", "text": "ik kan mijn boete niet betalen", "timestamp": 1},
            {"role": "bot", "text": "Klopt dat?", "timestamp": 2},
        ],
        "summary": {
            "topic": "uwv.recht_ww",
            "organisations": ["gemeente", "uwv", "svb"],
            "question_type": 3,
            "urgent": False,
            "life_event": None,
            "summary_text": "In eigen woorden: “baan kwijt” Organisaties: Gemeente, UWV, SVB. Vraagtype 3. "
            "Aanvulling van inwoner: “Ik heb ook nog een brief van de SVB gekregen”",
            "self_service": None,
        },
        "consent": True,
        "consent_organisations": ["gemeente", "uwv"],  # a subset of the summary's organisations
        "contact": {},
    }
    assert talk.slots["toestemming"] is True and talk.slots["toestemming_tijd"] == consent_at.isoformat()
    assert talk.slots["toestemming_organisaties"] == ["gemeente", "uwv"]


async def test_without_consent_nothing_is_sent_and_the_advice_stays_anonymous(
    service: RecordingHandover,
) -> None:
    talk = uwv_and_svb()
    await talk.ask_person()
    await talk.press("toestemming|nee")
    assert talk.responses == ["utter_geen_toestemming"]
    assert talk.slots["toestemming"] is False and talk.slots["toestemming_tijd"]
    await talk.press("geen_toestemming|advies")
    assert talk.responses[0] == "utter_advies_zonder_medewerker"
    assert service.requests == []
    # asking for a person again asks consent again; a "no" is not a licence to send
    await talk.ask_person()
    assert talk.responses == CONSENT_QUESTION
    assert service.requests == []


async def test_a_callback_without_consent_carries_only_the_contact_details_and_ids(
    service: RecordingHandover,
) -> None:
    talk = uwv_and_svb()
    await talk.ask_person()
    await talk.press("toestemming|nee")
    await talk.press("geen_toestemming|terugbellen")
    assert talk.responses == ["utter_terugbellen_zonder_gesprek"]
    assert service.requests == []
    await talk.type("bel mij op 06 12345678 morgenochtend")
    assert talk.responses == ["utter_terugbelverzoek_ontvangen"]
    [case] = service.cases
    case.pop("client_id", None)  # the outbox's idempotency key, when it sends one
    assert case == {
        "channel": "socketio",
        "sender_id": "burger-42",
        "kind": "callback",
        "transcript": [],
        "summary": {"topic": "uwv.recht_ww", "organisations": ["gemeente", "uwv", "svb"]},
        "consent": False,
        "consent_at": None,
        "consent_organisations": [],
        "contact": {"phone": "0612345678", "moment": "bel mij op morgenochtend"},
    }
