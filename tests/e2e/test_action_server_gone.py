"""A casemanager's message while the action server is gone: Rasa (bot/server.py with
bot/action_retry.py) answers the handover service's trigger_intent with an error, so its outbox
sends the message again, instead of 200 without the message (Rasa's own behaviour: "the actions
events are lost"), which the service took as delivered."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Tuple
from urllib.parse import quote

import pytest

from bot.payloads import plain_text
from tools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.model]

STAFF_TEXT = "Ik heb uw brief ontvangen."


def staff_message(stack: Stack, sender: str) -> Tuple[int, Dict[str, Any]]:
    """The handover service's call for a casemanager's message (rasa_delivery.py)."""
    entities = {"tekst": STAFF_TEXT, "naam": "Sanne", "bericht_id": "7"}
    body = {"name": "medewerker_bericht", "entities": entities}
    request = urllib.request.Request(
        f"{stack.url}/conversations/{quote(sender)}/trigger_intent?token={stack.token}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


def test_a_casemanagers_message_while_the_action_server_is_gone_is_refused_not_lost(stack: Stack) -> None:
    sender = "test-action-server-gone"
    stack.kill("actions")
    try:
        status, _ = staff_message(stack, sender)
        assert status == 500  # not delivered: the service's outbox tries again
    finally:
        stack.start_actions()
    status, answer = staff_message(stack, sender)  # the outbox's next attempt
    assert status == 200
    texts = [m.get("text") or plain_text(m.get("custom")) or "" for m in answer["messages"]]
    assert any(STAFF_TEXT in text for text in texts), texts
