"""Real processes for end-to-end tests: the action server and the Rasa server with the trained model."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import socketio

from bot.payloads import plain_text, structured
from tools.stack import ROOT, Stack, free_port, wait_for

MODEL = ROOT / "models" / "current.tar.gz"
HANDOVER = ROOT / "handover"
HANDOVER_PY = HANDOVER / ".venv" / "bin" / "python"
PASSWORD = secrets.token_urlsafe(12)
SECRET = secrets.token_urlsafe(16)


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


@contextmanager
def handover_system(
    work: Path,
    office_hours: str,
    service_env: Optional[Dict[str, str]] = None,
    stack_env: Optional[Dict[str, str]] = None,
) -> Iterator[Dict[str, Any]]:
    """Rasa, the action server and the handover service (SQLite), with these office hours (and
    `service_env` for the service, `stack_env` for Rasa and the action server)."""
    if not HANDOVER_PY.exists():
        pytest.fail("handover/.venv ontbreekt: draai `make -C handover setup` (make test doet dat vanzelf)")
    port = free_port()
    stack = Stack(
        model=MODEL,
        workdir=work / "rasa",
        extra_env={
            "HANDOVER_URL": f"http://127.0.0.1:{port}",
            "HANDOVER_SHARED_SECRET": SECRET,
            **(stack_env or {}),
        },
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HANDOVER / "src"), str(ROOT)]),  # + privacy/ at the repo root
        "HANDOVER_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'handover.db'}",
        "HANDOVER_SHARED_SECRET": SECRET,
        "HANDOVER_PORT": str(port),
        "HANDOVER_HOST": "127.0.0.1",
        "HANDOVER_DEMO_PASSWORD": PASSWORD,
        "HANDOVER_OFFICE_HOURS": office_hours,
        "HANDOVER_OUTBOX_POLL_SECONDS": "0.5",
        "RASA_URL": stack.url,
        "RASA_TOKEN": stack.token,
        # Rasa's event broker file: the service counts its events for /inzicht.
        "HANDOVER_EVENTS_URL": stack.env()["EVENT_BROKER_URL"],
        **(service_env or {}),
    }
    subprocess.run(
        [str(HANDOVER_PY), "-m", "alembic", "upgrade", "head"],
        cwd=HANDOVER,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (work / "handover.log").open("wb")
    service = subprocess.Popen(
        [str(HANDOVER_PY), "-m", "handover"],
        cwd=HANDOVER,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 60, service, work / "handover.log")
        stack.start()
        yield {"stack": stack, "service_url": f"http://127.0.0.1:{port}", "service_env": env}
    finally:
        stack.stop()
        service.terminate()
        service.wait(timeout=15)


class SocketCitizen:
    """The website widget's side: socket.io with a persistent session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_id = f"burger-{secrets.token_hex(4)}"
        self.sio = socketio.AsyncClient()
        self.inbox: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.sio.on("bot_uttered", self.inbox.put)

    async def connect(self) -> None:
        await self.sio.connect(self.url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": self.session_id})

    async def say(self, text: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def expect(self, fragment: str, timeout: float = 30) -> Dict[str, Any]:
        """Wait for a bot message that contains `fragment`; earlier messages are passed over. A
        live-chat message (bot/payloads.py) arrives as its payload: {"type": …, "text": …}."""
        seen: List[str] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(self.inbox.get(), max(remaining, 0.01))
            except asyncio.TimeoutError:
                raise AssertionError(f"geen bericht met {fragment!r}; wel: {seen}") from None
            seen.append(message.get("text", ""))
            if fragment in (message.get("text") or ""):
                return message

    async def press(self, message: Dict[str, Any], title: str) -> None:
        payload = next(
            b["payload"]
            for b in message.get("quick_replies") or message.get("buttons") or []
            if b["title"] == title
        )
        await self.say(payload)
