"""Helpers for the chat widget tests: setup of npm packages and Chromium, the widget's static
server as a process, keyboard navigation, axe-core and Rasa's trigger_intent."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tools.stack import ROOT, Stack, free_port, wait_for

WIDGET = ROOT / "widget"
AXE = WIDGET / "node_modules" / "axe-core" / "axe.min.js"
SOCKET_IO = WIDGET / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
MODEL = ROOT / "models" / "current.tar.gz"
ARTIFACTS = ROOT / "var" / "artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STATE_KEY = "gemeente-chat:gesprek"
HOSTILE_RASA_URL = 'http://bot.voorbeeld.nl:5005/"><script>'
FAKE_WELCOME = "Welkom bij de proefbot."


def ensure_node_modules() -> None:
    """`npm ci --prefix widget` unless node_modules already matches package-lock.json."""
    marker = WIDGET / "node_modules" / ".package-lock.json"
    lock = WIDGET / "package-lock.json"
    fresh = marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime
    if fresh and AXE.exists() and SOCKET_IO.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm ontbreekt: installeer Node.js 20 (met npm).")
    subprocess.run([npm, "ci", "--prefix", str(WIDGET), "--no-audit", "--no-fund"], check=True)


def ensure_chromium() -> None:
    """Debian's Chromium, installed with apt-get when missing."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} ontbreekt: draai `sudo apt-get install -y chromium`.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]
    subprocess.run([*apt, "update"], check=True, env=env)
    subprocess.run([*apt, "install", "-y", "chromium"], check=True, env=env)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} ontbreekt nog na apt-get install chromium")


class WidgetServer:
    """widget/serve.py as a separate process, as `make run` starts it."""

    def __init__(self, rasa_url: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = workdir / "widget-serve.log"
        env = {**os.environ, "WIDGET_PORT": str(self.port), "RASA_PUBLIC_URL": rasa_url, "WIDGET_QUIET": "1"}
        self.process = subprocess.Popen(
            [sys.executable, str(WIDGET / "serve.py")], cwd=ROOT, env=env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{self.port}/", 20, self.process, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def trigger_intent(stack: Stack, session_id: str, name: str, entities: Dict[str, str]) -> None:
    """What the handover service does: inject an intent into the conversation, answered over socket.io."""
    body = json.dumps({"name": name, "entities": entities}).encode()
    request = urllib.request.Request(
        f"{stack.url}/conversations/{session_id}/trigger_intent?output_channel=socketio&token={stack.token}",
        data=body, headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.read()


# ------------------------------------------------------------------ in the browser

def session_id(page: Any) -> str:
    """The conversation id the widget keeps in localStorage."""
    return page.evaluate(f"JSON.parse(localStorage.getItem('{STATE_KEY}')).sessionId")


def focused(page: Any) -> Dict[str, str]:
    """What has the keyboard focus: element id, classes and text."""
    return page.evaluate(
        "() => { const e = document.activeElement; return {id: e.id || '', cls: e.className || '',"
        " text: (e.innerText || '').trim(), tag: e.tagName}; }"
    )


def tab_to(page: Any, predicate: Any, backwards: bool = False, limit: int = 40) -> Dict[str, str]:
    """Press Tab (or Shift+Tab) until `predicate(focused)` holds; fail after `limit` presses."""
    seen: List[str] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        now = focused(page)
        if predicate(now):
            return now
        seen.append(now["text"] or now["id"] or now["tag"])
    raise AssertionError(f"niet bereikbaar met het toetsenbord; focus ging langs: {seen}")


def axe_violations(page: Any) -> List[Dict[str, Any]]:
    """axe-core on the whole page (all rules axe runs by default, best practices included)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' | ' + n.failureSummary),
            }));
        }"""
    )


def screenshot(page: Any, name: str) -> Path:
    """Save var/artifacts/widget-<name>.png (gitignored) and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"widget-{name}.png"
    page.screenshot(path=str(path))
    return path


class FakeRasa:
    """Rasa's socket.io channel as the widget sees it (session_request / session_confirm,
    user_uttered, bot_uttered; session_persistence), with a bot whose messages the test chooses.

    For what the widget must do with a given message, whatever a trained model would say. By
    default the bot repeats the citizen's words ("Uw aanvulling: “…”", as bot/domain/toestemming.yml
    does), split at blank lines as Rasa's SocketIOOutput.send_text_message splits a text."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.heard: List[str] = []
        self.acknowledged: List[str] = []  # the `mid`s the widget acknowledged (bot_uttered_ack)
        self.message_ids: List[str] = []  # metadata.message_id of every user_uttered, in order
        self.stall_next = False  # the next user_uttered is never answered nor acknowledged
        self.joins: Dict[str, int] = {}  # how often each conversation (re)joined its room
        self.answers: Dict[str, List[Dict[str, Any]]] = {"/begroeten": [{"text": FAKE_WELCOME}]}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: Any = None
        self.sio: Any = None

    async def _start(self) -> None:
        import socketio
        from aiohttp import web

        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = web.Application()
        self.sio.attach(app, socketio_path="socket.io")

        async def session_request(sid: str, data: Any) -> None:
            session = data.get("session_id") if isinstance(data, dict) else None
            if session:
                self.sio.enter_room(sid, session)
                self.joins[session] = self.joins.get(session, 0) + 1
                await self.sio.emit("session_confirm", session, room=sid)

        async def user_uttered(sid: str, data: Any) -> None:
            text, session = str(data.get("message") or ""), data.get("session_id")
            self.heard.append(text)
            self.message_ids.append(str((data.get("metadata") or {}).get("message_id") or ""))
            if self.stall_next:  # a server that dies mid-turn: no answer, no acknowledgement
                self.stall_next = False
                await asyncio.Event().wait()
            answers = self.answers.get(text)
            if answers is None:
                answers = [{"text": part} for part in f"Uw aanvulling: “{text}”".strip().split("\n\n")]
            for payload in answers:
                await self.sio.emit("bot_uttered", payload, room=session)

        async def acknowledge(sid: str, data: Any) -> None:
            if isinstance(data, dict) and isinstance(data.get("mid"), str):
                self.acknowledged.append(data["mid"])

        self.sio.on("session_request", session_request)
        self.sio.on("bot_uttered_ack", acknowledge)
        self.sio.on("user_uttered", user_uttered)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        # a short shutdown: restart() is a crash, open sockets are cut rather than waited for
        await web.TCPSite(self.runner, "127.0.0.1", self.port, shutdown_timeout=0.2).start()

    def start(self) -> "FakeRasa":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        return self

    def send(self, session_id: str, *payloads: Dict[str, Any]) -> None:
        """The bot sends these messages to the conversation (as Rasa emits bot_uttered)."""
        async def emit() -> None:
            for payload in payloads:
                await self.sio.emit("bot_uttered", payload, room=session_id)

        asyncio.run_coroutine_threadsafe(emit(), self.loop).result(timeout=10)

    def wait_joined(self, session_id: str, times: int, timeout: float = 30) -> None:
        """Wait until the conversation has joined its room `times` times: a message sent before
        a reloaded page has rejoined reaches nobody (Rasa keeps it in the pending store; this
        stand-in does not)."""
        deadline = time.monotonic() + timeout
        while self.joins.get(session_id, 0) < times:
            assert time.monotonic() < deadline, f"{session_id} joined {self.joins.get(session_id, 0)} times"
            time.sleep(0.05)

    def restart(self) -> None:
        """Go away and come back on the same port, as a server that crashed and was restarted:
        every socket is cut without a goodbye, and the widget reconnects by itself."""

        async def again() -> None:
            # A stalled handler is left hanging, not cancelled: python-socketio acknowledges a
            # cancelled handler, a killed server acknowledges nothing.
            await self.runner.cleanup()
            await self._start()

        asyncio.run_coroutine_threadsafe(again(), self.loop).result(timeout=20)

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
