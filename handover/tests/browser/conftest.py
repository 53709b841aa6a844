"""Browser fixtures: the real service as a subprocess, and Debian's Chromium through Playwright.

Chromium is /usr/bin/chromium from Debian (``make -C handover browser`` installs it with
apt-get); ``playwright install`` is never used. axe-core comes from npm into handover/var.
A missing browser or axe-core fails the tests with an explanation; it never skips them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from handover.db import make_engine, make_sessionmaker
from handover.settings import HANDOVER_ROOT
from tests.conftest import RASA_TOKEN, SHARED_SECRET, FakeRasa, add_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = HANDOVER_ROOT / "var" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HANDOVER_ROOT / "var" / "artifacts"
SAVED: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SAVED:
        terminalreporter.section("browser screenshots")
        for path in SAVED:
            terminalreporter.write_line(str(path))


def save_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    SAVED.append(path)
    print(f"screenshot: {path}")
    return path


def require_browser_tools() -> None:
    """Fail (never skip) with the reason when Chromium or axe-core is not installed."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. `make -C handover browser` installs Debian's "
            "chromium with apt-get (see its output for the apt error); `playwright install` is not "
            "used because it downloads a browser build, which is not reachable here.",
            pytrace=False,
        )
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE_JS}). `make -C handover browser` installs it from npm.",
            pytrace=False,
        )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_browser_tools()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            await chromium.close()


# --- the service as a separate process ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    base_url: str
    database_url: str
    log_path: Path
    process: asyncio.subprocess.Process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


async def _wait_healthy(service: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if service.process.returncode is not None:
                raise AssertionError(
                    f"the service exited with {service.process.returncode}:\n{service.log()}"
                )
            try:
                async with http.get(service.base_url + "/healthz", timeout=aiohttp.ClientTimeout(1)) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the service did not become healthy within {timeout} s:\n{service.log()}")


@pytest.fixture
async def service(tmp_path: Path, sqlite_template: Path, fake_rasa: FakeRasa) -> AsyncIterator[Service]:
    """``python -m handover`` (the production entry point) on a free loopback port, with a
    migrated SQLite copy and the fake Rasa; casemanager ``anna`` (team inkomen_schulden)."""
    db_file = tmp_path / "handover.db"
    shutil.copy(sqlite_template, db_file)
    database_url = f"sqlite+aiosqlite:///{db_file}"
    engine = make_engine(database_url)
    try:
        await add_user(make_sessionmaker(engine), "anna", first_name="Anna", teams=["inkomen_schulden"])
    finally:
        await engine.dispose()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOVER_", "RASA_", "REDIS_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(HANDOVER_ROOT / "src"), str(HANDOVER_ROOT.parent)]),  # + privacy/
        "HANDOVER_DATABASE_URL": database_url,
        "HANDOVER_SHARED_SECRET": SHARED_SECRET,
        "HANDOVER_HOST": "127.0.0.1",
        "HANDOVER_PORT": str(port),
        "HANDOVER_OFFICE_HOURS": "mon-sun 00:00-24:00",
        "HANDOVER_CONTACTS_FILE": str(HANDOVER_ROOT / "contacts.yml"),
        "HANDOVER_OUTBOX_POLL_SECONDS": "0.2",
        "HANDOVER_DEMO_PASSWORD": "demo-wachtwoord",
        "HANDOVER_LOG_LEVEL": "WARNING",
        "RASA_URL": fake_rasa.url,
        "RASA_TOKEN": RASA_TOKEN,
    }
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handover", cwd=HANDOVER_ROOT, env=env, stdout=log_file, stderr=log_file
        )
    service = Service(f"http://127.0.0.1:{port}", database_url, log_path, process)
    try:
        await _wait_healthy(service)
        yield service
    finally:
        if process.returncode is None:
            process.terminate()  # SIGTERM: aiohttp shuts down gracefully
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
