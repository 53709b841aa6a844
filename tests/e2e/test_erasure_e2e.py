""" "Verwijder mijn gegevens" through the real Rasa server and action server (REST channel): after the
confirmation the conversation is gone from the tracker store (the SQLite file), Rasa's API shows a
new, empty conversation, and the next message starts afresh. Without a handover service the bot
says honestly that the gemeente part could not be erased."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.e2e.conftest import Citizen
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]

ASKED = "Weet u het zeker?"
PARTLY_ERASED = "Ik heb dit gesprek uit de chat verwijderd."


def tracker_db(stack: Stack) -> Path:
    url = stack.env()["TRACKER_DB_URL"]
    assert url.startswith("sqlite:///"), url
    return Path(url[len("sqlite:///") :])


def stored_events(stack: Stack, sender: str) -> List[Dict[str, Any]]:
    with sqlite3.connect(tracker_db(stack)) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
    return [json.loads(data) for (data,) in rows]


def user_texts(events: List[Dict[str, Any]]) -> List[str]:
    return [e.get("text") or "" for e in events if e.get("event") == "user"]


def api(stack: Stack, path: str, body: Any = None) -> Dict[str, Any]:
    request = urllib.request.Request(
        f"{stack.url}{path}?token={stack.token}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def said(citizen: Citizen) -> str:
    return " ".join(citizen.texts())


def start_conversation(citizen: Citizen) -> None:
    citizen.say("Ik heb een brief van het CJIB en ik kan de boete niet betalen")
    assert citizen.last, "the bot answered"
    assert "CJIB" in " ".join(user_texts(stored_events(citizen.stack, citizen.sender)))


def test_confirmed_erasure_removes_the_conversation_from_the_tracker_store(citizen: Citizen) -> None:
    start_conversation(citizen)
    citizen.say("verwijder mijn gegevens")
    assert ASKED in said(citizen)
    assert [b["title"] for b in citizen.buttons()] == ["Ja, verwijder alles", "Nee, toch niet"]
    assert stored_events(citizen.stack, citizen.sender), "nothing is erased before the answer"

    citizen.press("Ja, verwijder alles")
    # the last message still reaches the citizen, honest that the gemeente part did not happen here
    assert PARTLY_ERASED in said(citizen)
    assert "Uw gegevens zijn verwijderd" not in said(citizen)
    # the website widget's sign to forget its browser copy is socket.io only: REST gets texts, no JSON
    assert citizen.last and all(m.get("text") and "custom" not in m for m in citizen.last), citizen.last

    assert stored_events(citizen.stack, citizen.sender) == []
    fresh = api(citizen.stack, f"/conversations/{citizen.sender}/tracker")
    assert user_texts(fresh["events"]) == []
    assert fresh["slots"].get("gegevens_wissen") is None

    # the next message is a new conversation, stored as usual
    citizen.say("hallo")
    assert user_texts(stored_events(citizen.stack, citizen.sender)) == ["hallo"]


def test_typed_yes_erases_too(citizen: Citizen) -> None:
    start_conversation(citizen)
    citizen.say("ik wil dat mijn gegevens verwijderd worden")
    assert ASKED in said(citizen)
    citizen.say("ja")
    assert PARTLY_ERASED in said(citizen)
    assert stored_events(citizen.stack, citizen.sender) == []


def test_no_keeps_everything_and_the_conversation_goes_on(citizen: Citizen) -> None:
    start_conversation(citizen)
    citizen.say("verwijder mijn gegevens")
    citizen.press("Nee, toch niet")
    assert "Ik verwijder niets" in said(citizen)
    texts = user_texts(stored_events(citizen.stack, citizen.sender))
    assert texts[0].startswith("Ik heb een brief van het CJIB") and "verwijder mijn gegevens" in texts


def test_another_question_drops_the_erasure_question(citizen: Citizen) -> None:
    start_conversation(citizen)
    citizen.say("verwijder mijn gegevens")
    citizen.say("Ik moet kinderbijslag aanvragen")
    assert PARTLY_ERASED not in said(citizen) and citizen.last, "the intake answered the new question"
    citizen.say("ja")  # meant for the intake's question, not for the erasure
    assert PARTLY_ERASED not in said(citizen)
    assert "ja" in user_texts(stored_events(citizen.stack, citizen.sender))


def test_erasure_is_not_forwarded_to_the_casemanager_during_a_handover(citizen: Citizen) -> None:
    start_conversation(citizen)
    # as if a casemanager has the chat (the handover service would have set these)
    api(
        citizen.stack,
        f"/conversations/{citizen.sender}/tracker/events",
        [
            {"event": "slot", "name": "handover_actief", "value": True},
            {"event": "slot", "name": "handover_referentie", "value": "HV-7K3M"},
        ],
    )
    citizen.say("verwijder mijn gegevens")
    assert ASKED in said(citizen)
    citizen.press("Ja, verwijder alles")
    assert PARTLY_ERASED in said(citizen)
    assert "HV-7K3M" in said(citizen)  # the reference to quote when asking the gemeente
    assert stored_events(citizen.stack, citizen.sender) == []
