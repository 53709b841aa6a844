"""Real processes for end-to-end tests: the action server and the Rasa server with the trained model."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from bot.payloads import plain_text, structured
from tools.stack import ROOT, Stack

MODEL = ROOT / "models" / "current.tar.gz"


class Citizen:
    """Talks to the bot through the REST channel, like a widget would, and can press buttons."""

    def __init__(self, stack: Stack, sender: str) -> None:
        self.stack = stack
        self.sender = sender
        self.last: List[Dict[str, Any]] = []

    def say(self, message: str) -> List[Dict[str, Any]]:
        body = json.dumps({"sender": self.sender, "message": message}).encode()
        request = urllib.request.Request(
            f"{self.stack.url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self.last = json.loads(response.read())
        return self.last

    def texts(self) -> List[str]:
        """What the citizen reads of each reply: its text, or the plain text of a live-chat message
        (a custom payload, bot/payloads.py)."""
        return [m.get("text") or plain_text(m.get("custom")) or "" for m in self.last]

    def payloads(self) -> List[Dict[str, Any]]:
        """The live-chat messages among the replies (what the widget receives under "data")."""
        return [dict(found) for m in self.last if (found := structured(m.get("custom")))]

    def buttons(self) -> List[Dict[str, str]]:
        return [b for m in self.last for b in m.get("buttons") or ()]

    def press(self, title: str) -> List[Dict[str, Any]]:
        for b in self.buttons():
            if b["title"] == title:
                return self.say(b["payload"])
        raise AssertionError(f"geen knop '{title}'; wel: {[b['title'] for b in self.buttons()]}")

    def press_any(self, *titles: str) -> Optional[str]:
        """Press the first of `titles` that is on screen; returns it (None when none is)."""
        available = {b["title"] for b in self.buttons()}
        for title in titles:
            if title in available:
                self.press(title)
                return title
        return None

    def slots(self) -> Dict[str, Any]:
        url = f"{self.stack.url}/conversations/{self.sender}/tracker?token={self.stack.token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())["slots"]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("Geen getraind model: draai `make train` (make test doet dat vanzelf).")
    running = Stack(model=MODEL, workdir=Path(tmp_path_factory.mktemp("stack"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def citizen(stack: Stack, request: pytest.FixtureRequest) -> Citizen:
    return Citizen(stack, sender=f"test-{request.node.name}"[:60])
