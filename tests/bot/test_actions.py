"""Actions as plain functions: a Tracker from a dict, a CollectingDispatcher, the events they return."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.intake import ActionIntake
from bot.actions.medewerker import ActionMedewerker
from bot.actions.status import ActionStatus
from bot.intake.engine import choice_payload


def tracker(text: str, intent: str, confidence: float = 0.95, slots: Optional[Dict[str, Any]] = None,
            entities: Optional[List[Dict[str, Any]]] = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": "burger-1",
            "slots": slots or {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": [{"name": intent, "confidence": confidence}],
                "entities": entities or [],
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def button_click(payload: str, slots: Dict[str, Any]) -> Tracker:
    choice = json.loads(payload[len("/kies") :])["keuze"]
    return tracker(payload, "kies", 1.0, slots, [{"entity": "keuze", "value": choice}])


def apply(slots: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    updated = dict(slots)
    for e in events:
        assert e["event"] == "slot"
        updated[e["name"]] = e["value"]
    return updated


async def test_intake_confirms_the_topic_and_stores_the_story() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionIntake().run(
        dispatcher, tracker("ik kan de boete niet betalen", "cjib.betalingsregeling"), {}
    )
    assert dispatcher.messages[0]["response"] == "utter_bevestig_onderwerp"
    assert dispatcher.messages[0]["buttons"][0] == {
        "title": "Ja, dat klopt", "payload": choice_payload("bevestig|cjib.betalingsregeling")
    }
    assert SlotSet("intake_fase", "bevestigen") in events
    assert SlotSet("verhaal", ["ik kan de boete niet betalen"]) in events
    assert SlotSet("kandidaten", ["cjib.betalingsregeling"]) in events
    # only changed slots are set
    assert all(e["value"] is not None for e in events)


async def test_intake_walks_the_tree_from_slots_to_an_outcome() -> None:
    slots: Dict[str, Any] = {}
    dispatcher = CollectingDispatcher()
    slots = apply(
        slots, await ActionIntake().run(dispatcher, tracker("boete", "cjib.openstaande_boetes"), {})
    )
    for title in ("Ja, dat klopt", "Nee", "Ja"):
        payload = next(
            b["payload"] for m in dispatcher.messages for b in m.get("buttons") or [] if b["title"] == title
        )
        dispatcher = CollectingDispatcher()
        slots = apply(slots, await ActionIntake().run(dispatcher, button_click(payload, slots), {}))
    assert slots["intake_fase"] == "uitkomst"
    assert slots["organisaties"] == ["cjib"]
    assert slots["vraagtype"] == 1
    assert [m["response"] for m in dispatcher.messages][:2] == ["utter_uitkomst", "utter_stappen"]
    assert dispatcher.messages[0]["samenvatting"]


async def test_question_texts_come_from_the_stroomschema_as_text() -> None:
    dispatcher = CollectingDispatcher()
    await ActionIntake().run(dispatcher, button_click(choice_payload("bevestig|digid.hulp"), {}), {})
    assert dispatcher.messages[-1]["text"]
    assert dispatcher.messages[-1]["buttons"][-1]["title"] == "Dit past niet"


async def test_medewerker_gives_the_municipality_contact_route() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionMedewerker().run(dispatcher, tracker("ik wil een mens", "medewerker"), {})
    assert events == []
    assert dispatcher.messages[0]["response"] == "utter_medewerker_contact"
    assert dispatcher.messages[1]["response"] in ("utter_contact_telefoon", "utter_contact_website")
    assert dispatcher.messages[1]["contact"].startswith("https://")


@pytest.mark.parametrize(
    "text,entities,expected",
    [
        ("status HV-7K3M", [{"entity": "referentie", "value": "HV-7K3M"}], "utter_status_niet_beschikbaar"),
        ("status hv-7k3m graag", [], "utter_status_niet_beschikbaar"),
        ("hoe staat mijn zaak ervoor", [], "utter_status_zonder_referentie"),
        ("status HV-0000", [], "utter_status_zonder_referentie"),  # 0 is not in the code alphabet
    ],
)
async def test_status_needs_a_valid_reference(
    text: str, entities: List[Dict[str, Any]], expected: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionStatus().run(dispatcher, tracker(text, "status_vraag", entities=entities), {})
    assert dispatcher.messages[0]["response"] == expected
