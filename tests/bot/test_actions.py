"""action_turn as a plain function: a Tracker from a dict, a CollectingDispatcher, the events it returns.

The latest message's intent decides the route (bot/intake/conversation.py), as the rules did before.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from rasa_sdk.events import SlotSet

from bot.intake.state import choice_payload
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import apply, take_turn, tracker


def button_click(payload: str, slots: Dict[str, Any]) -> Any:
    choice = json.loads(payload[len("/kies") :])["keuze"]
    return tracker(payload, "kies", slots, [{"entity": "keuze", "value": choice}])


async def test_intake_confirms_the_topic_and_stores_the_story() -> None:
    gateway = FakeGateway()
    dispatcher, events = await take_turn(
        gateway, tracker("ik kan de boete niet betalen", "cjib.betalingsregeling", confidence=0.95)
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
    assert gateway.calls == []


async def test_intake_walks_the_tree_from_slots_to_an_outcome() -> None:
    gateway = FakeGateway()
    slots: Dict[str, Any] = {}
    dispatcher, events = await take_turn(gateway, tracker("boete", "cjib.openstaande_boetes"))
    slots = apply(slots, events)
    for title in ("Ja, dat klopt", "Nee", "Ja"):
        payload = next(
            b["payload"] for m in dispatcher.messages for b in m.get("buttons") or [] if b["title"] == title
        )
        dispatcher, events = await take_turn(gateway, button_click(payload, slots))
        slots = apply(slots, events)
    assert slots["intake_fase"] == "uitkomst"
    assert slots["organisaties"] == ["cjib"]
    assert slots["vraagtype"] == 1
    assert [m["response"] for m in dispatcher.messages][:2] == ["utter_uitkomst", "utter_stappen"]
    assert dispatcher.messages[0]["samenvatting"]
    assert gateway.calls == []


async def test_question_texts_come_from_the_stroomschema_as_text() -> None:
    dispatcher, _ = await take_turn(
        FakeGateway(), button_click(choice_payload("bevestig|digid.hulp"), {})
    )
    assert dispatcher.messages[-1]["text"]
    assert dispatcher.messages[-1]["buttons"][-1]["title"] == "Dit past niet"


async def test_medewerker_gives_the_municipality_contact_route() -> None:
    gateway = FakeGateway(configured=False)  # no handover service (HANDOVER_URL unset)
    dispatcher, events = await take_turn(gateway, tracker("ik wil een mens", "medewerker"))
    assert events == []
    assert dispatcher.messages[0]["response"] == "utter_medewerker_contact"
    assert dispatcher.messages[1]["response"] in ("utter_contact_telefoon", "utter_contact_website")
    assert dispatcher.messages[1]["contact"].startswith("https://")
    assert gateway.calls == []


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
    gateway = FakeGateway(configured=False)
    dispatcher, events = await take_turn(gateway, tracker(text, "status_vraag", entities=entities))
    assert dispatcher.messages[0]["response"] == expected
    assert events == [] and gateway.calls == []


@pytest.mark.parametrize(
    "text,entities,looked_up",
    [
        ("status HV-7K3M", [{"entity": "referentie", "value": "HV-7K3M"}], ["HV-7K3M"]),
        ("status hv-7k3m graag", [], ["HV-7K3M"]),  # in capitals, as the service knows it
        ("hoe staat mijn zaak ervoor", [], []),
        ("status HV-0000", [{"entity": "referentie", "value": "HV-0000"}], []),
    ],
)
async def test_only_a_valid_reference_is_looked_up(
    text: str, entities: List[Dict[str, Any]], looked_up: List[str]
) -> None:
    gateway = FakeGateway()
    await take_turn(gateway, tracker(text, "status_vraag", entities=entities))
    assert [call["reference"] for call in gateway.called("status")] == looked_up
    assert gateway.methods == ["status"] * len(looked_up)
