"""A turn whose action server died mid-call (bot/action_retry.py): tried again, or failed as a whole.

Rasa 3.6 swallows the error and answers the turn as done: a casemanager's message that trigger_intent
"delivered" never reached the citizen (seen in the soak when an action server was killed). These
tests run Rasa's own MessageProcessor._run_action and RemoteAction against an action server on
loopback that reads the call and closes the connection without an answer, as a killed process does.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Iterator, List

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import action_retry

STAFF_MESSAGE = "Bericht van Sanne: ik bel u morgen."
DOMAIN = Domain.from_dict({"intents": ["medewerker_bericht"], "actions": ["action_turn"]})


class ActionServer:
    """An action server on loopback whose calls go as scripted, one step per call (the last step
    repeats): "dies" reads the call and closes the connection without an answer (a killed process),
    "502" is HAProxy's answer for a server that died mid-call, "500" an action that failed, "ok"
    the turn's answer."""

    def __init__(self, script: List[str]) -> None:
        self.script = script
        self.calls = 0

    async def __aenter__(self) -> "ActionServer":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
        await reader.readexactly(int(length.group(1)) if length else 0)
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step == "dies":
            writer.close()
            return
        status, body = {
            "502": (b"502 Bad Gateway", b"{}"),
            "500": (b"500 Internal Server Error", b"{}"),
            "ok": (b"200 OK", json.dumps({"events": [], "responses": [{"text": STAFF_MESSAGE}]}).encode()),
        }[step]
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
def retrying(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(action_retry, "FIRST_DELAY", 0.01)
    action_retry.install()
    yield
    action_retry.uninstall()


async def run_turn(url: str, output: CollectingOutputChannel) -> bool:
    """Rasa's processor runs `action_turn` for a casemanager's message, as for trigger_intent."""
    processor = MessageProcessor.__new__(MessageProcessor)  # only its domain is used here
    processor.domain = DOMAIN
    staff_message = UserUttered(intent={"name": "medewerker_bericht", "confidence": 1.0})
    tracker = DialogueStateTracker.from_events(
        "burger-1", [ActionExecuted("action_listen"), staff_message], DOMAIN.slots
    )
    action = RemoteAction("action_turn", EndpointConfig(url))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    prediction = PolicyPrediction([1.0], "TurnPolicy")
    return bool(await processor._run_action(action, tracker, output, nlg, prediction))


@pytest.mark.parametrize("failure", ["dies", "502"])
async def test_a_call_whose_server_died_goes_again_and_the_message_reaches_the_citizen(
    retrying: None, failure: str
) -> None:
    output = CollectingOutputChannel()
    async with ActionServer([failure, "ok"]) as server:
        await run_turn(server.url, output)
    assert [m.get("text") for m in output.messages] == [STAFF_MESSAGE]
    assert server.calls == 2


async def test_when_no_server_answers_the_turn_fails_instead_of_being_done(retrying: None) -> None:
    output = CollectingOutputChannel()
    async with ActionServer(["dies"]) as server:
        with pytest.raises(action_retry.ActionServerUnavailable):
            await run_turn(server.url, output)
    assert server.calls == action_retry.ATTEMPTS
    assert output.messages == []


async def test_an_action_that_answers_with_an_error_keeps_rasas_handling(retrying: None) -> None:
    output = CollectingOutputChannel()
    async with ActionServer(["500", "ok"]) as server:
        assert await run_turn(server.url, output) is True  # Rasa logs it and goes on; not sent again
    assert server.calls == 1
    assert output.messages == []


def test_no_answer_is_told_apart_from_an_answer() -> None:
    import aiohttp
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import ClientResponseError

    def wrapped(cause: BaseException) -> RasaException:
        try:
            raise RasaException("Failed to execute custom action") from cause
        except RasaException as e:
            return e

    assert action_retry.no_answer(wrapped(aiohttp.ServerDisconnectedError()))
    assert action_retry.no_answer(wrapped(ClientResponseError(503, "Service Unavailable", "")))
    assert action_retry.no_answer(asyncio.TimeoutError())
    assert not action_retry.server_gone(asyncio.TimeoutError())  # may still be running: not again
    assert not action_retry.no_answer(wrapped(ClientResponseError(500, "Internal Server Error", "")))
    assert not action_retry.no_answer(ValueError("bad response"))
