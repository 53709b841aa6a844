"""Helpers for the chat widget tests: setup of npm packages and Chromium, the widget's static
server as a process, keyboard navigation, axe-core and Rasa's trigger_intent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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
