"""A citizen whose case was closed while the bot still forwarded their messages (real processes).

The handover service refuses a message for a closed case (409). The bot then says so once and
takes over again: the next message gets the bot's own answer, not another attempt to reach the
closed case. The service here is a stand-in that answers 409, so the test needs nothing but Rasa
and the action server.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from aiohttp import web

from tests.e2e.conftest import MODEL, Citizen
from tools.stack import Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.model]

REFERENCE = "HV-7K3M"
CLOSED = "Het gesprek met de medewerker is al afgesloten."  # utter_gesprek_al_afgesloten
WELCOME = "Welkom! Ik ben de digitale hulp van de gemeente."  # utter_welkom, the answer to "hallo"


class ClosedCaseService:
    """A handover service whose every case is closed: POST /api/cases/{ref}/messages answers 409.

    Runs its own event loop in a thread, because the test talks to Rasa with blocking calls while
    the action server calls this service."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: List[Dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _message(self, request: web.Request) -> web.Response:
        self.received.append({"reference": request.match_info["reference"], **await request.json()})
        return web.json_response({"error": "case closed"}, status=409)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/cases/{reference}/messages", self._message)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    if not MODEL.exists():
        pytest.fail("Geen getraind model: draai `make train` (make test doet dat vanzelf).")
    service = ClosedCaseService(free_port())
    service.start()
    stack = Stack(model=MODEL, workdir=Path(tmp_path_factory.mktemp("closed-case")), extra_env={
        "HANDOVER_URL": f"http://127.0.0.1:{service.port}",
        "HANDOVER_SHARED_SECRET": secrets.token_urlsafe(16),
        "HANDOVER_TIMEOUT": "3",
    })
    try:
        stack.start()
        yield {"stack": stack, "service": service}
    finally:
        stack.stop()
        service.stop()


def add_events(stack: Stack, sender: str, events: List[Dict[str, Any]]) -> None:
    """Append events to a conversation through Rasa's HTTP API (as the handover service does)."""
    request = urllib.request.Request(
        f"{stack.url}/conversations/{sender}/tracker/events?token={stack.token}",
        data=json.dumps(events).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_after_a_closed_case_the_bot_answers_again(system: Dict[str, Any]) -> None:
    stack: Stack = system["stack"]
    service: ClosedCaseService = system["service"]
    citizen = Citizen(stack, sender=f"afgesloten-{secrets.token_hex(4)}")
    citizen.say("hallo")  # the conversation exists, as when the citizen chatted before the handover
    # The tracker as action_turn leaves it when the case is in the queue: both slots set, then
    # Rasa waits for the citizen. The action_listen matters: undoing a message (Rasa's fallback)
    # goes back to the last action before it, so without it the undo would also drop these slots.
    add_events(stack, citizen.sender, [
        {"event": "slot", "name": "handover_actief", "value": True},
        {"event": "slot", "name": "handover_referentie", "value": REFERENCE},
        {"event": "action", "name": "action_listen"},
    ])

    citizen.say("Heeft u al nieuws over mijn boete?")
    # Forwarded once and refused; no earlier message of the citizen goes after it (Rasa's fallback
    # used to undo this turn and run the forwarding again on the message before it).
    assert [(m["reference"], m["text"]) for m in service.received] == [
        (REFERENCE, "Heeft u al nieuws over mijn boete?")]
    assert len(citizen.texts()) == 1 and CLOSED in citizen.texts()[0], citizen.texts()
    # a structured notice (bot/payloads.py): the widget leaves the live chat on it
    assert [p["mode"] for p in citizen.payloads()] == ["closed"], citizen.last
    assert citizen.slots()["handover_actief"] is False

    citizen.say("hallo")
    assert any(WELCOME in text for text in citizen.texts()), citizen.texts()
    assert len(service.received) == 1, "the bot does not forward to the closed case again"
    assert citizen.slots()["handover_actief"] is False
