"""Real conversations through Rasa, the action server and Rasa's event broker reach the handover
service's insight dashboard, which a teamleider reads in Chromium; the broker keeps no text and
the service stores no sender id."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.e2e.conftest import HANDOVER, HANDOVER_PY, Citizen, handover_system
from tests.widget.helpers import CHROMIUM, CHROMIUM_ARGS, ensure_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.model]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
QUEUE = "intake_events"  # the queue of endpoints.yml
CONVERSATIONS = 6  # enough for figures above the suppression threshold (5)
LEAD_PASSWORD = "teamleider-wachtwoord-e2e"
ADD_LEAD = """
import asyncio, os
from handover.auth import create_user
from handover.db import make_engine, make_sessionmaker
from handover.models import Role

async def main() -> None:
    engine = make_engine(os.environ["HANDOVER_DATABASE_URL"])
    async with make_sessionmaker(engine)() as session, session.begin():
        await create_user(session, username="lead", password=os.environ["LEAD_PASSWORD"],
                          display_name="Lea Teamleider", first_name="Lea", role=Role.TEAMLEIDER, teams=[])
    await engine.dispose()

asyncio.run(main())
"""


def _broker_left(url: str) -> int:
    """Events in the broker that still hold a sender id or a message."""
    if url.startswith("amqp"):
        return _queue("count")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        found = db.execute("SELECT count(*) FROM events WHERE data IS NOT NULL OR sender_id IS NOT NULL")
        return int(found.fetchone()[0])


def _cells(figures: Dict[str, Any], group: str) -> Dict[str, Any]:
    return {c["sleutel"]: c["aantal"] for c in figures["groepen"][group]["cellen"]}


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


def _queue(action: str) -> int:
    """Purge Rasa's queue (left over from an earlier run) or count what waits in it."""
    import aio_pika

    async def run() -> int:
        connection = await aio_pika.connect_robust(AMQP_URL)
        try:
            queue = await (await connection.channel()).declare_queue(QUEUE, durable=True)
            if action == "purge":
                await queue.purge()
            return int((await queue.declare()).message_count or 0)
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.mark.parametrize("broker", ["sql", "rabbitmq"])
def test_the_dashboard_shows_what_real_conversations_did(tmp_path: Path, broker: str) -> None:
    ensure_chromium()
    from playwright.sync_api import expect, sync_playwright

    service_env = {"HANDOVER_INSIGHT_POLL_SECONDS": "0.5", "HANDOVER_INSIGHT_IDLE_MINUTES": "0"}
    stack_env = {}
    if broker == "rabbitmq":
        if not _rabbitmq_up():
            pytest.skip("RabbitMQ is not reachable at 127.0.0.1:5672")
        _queue("purge")
        stack_env["EVENT_BROKER_URL"] = AMQP_URL
    with handover_system(tmp_path, "mon-sun 00:00-24:00", service_env, stack_env) as system:
        stack = system["stack"]
        senders: List[str] = []
        topics = set()
        for i in range(CONVERSATIONS):
            citizen = Citizen(stack, f"inzicht-{i}-{uuid.uuid4().hex[:8]}")
            senders.append(citizen.sender)
            citizen.say("Ik ben mijn DigiD kwijt en kan niet meer inloggen")
            citizen.press_any("Ja, dat klopt")
            topics.add(citizen.slots().get("onderwerp"))
        assert len(topics) == 1 and None not in topics, topics  # the same topic each time
        topic = topics.pop()

        subprocess.run(
            [str(HANDOVER_PY), "-c", ADD_LEAD],
            cwd=HANDOVER,
            env={**system["service_env"], "LEAD_PASSWORD": LEAD_PASSWORD},
            check=True,
            capture_output=True,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(base_url=system["service_url"], locale="nl-NL")
                context.set_default_timeout(30_000)
                page = context.new_page()
                page.goto("/inzicht")
                page.fill("#username", "lead")
                page.fill("#password", LEAD_PASSWORD)
                page.press("#password", "Enter")
                expect(page.get_by_role("heading", level=1)).to_have_text("Inzicht")
                # The service reads the broker every half second: wait until it has all of them.
                deadline = time.monotonic() + 60
                while True:
                    figures = json.loads(page.request.get("/api/inzicht").text())
                    if _cells(figures, "kanaal").get("rest") == CONVERSATIONS or time.monotonic() > deadline:
                        break
                    page.wait_for_timeout(250)
                assert _cells(figures, "kanaal") == {"rest": CONVERSATIONS}, figures["groepen"]["kanaal"]
                assert _cells(figures, "onderwerp")[topic] == CONVERSATIONS
                page.reload()
                channel = page.locator('section[data-groep="kanaal"] tr[data-sleutel="rest"] td.aantal')
                expect(channel).to_have_text(str(CONVERSATIONS))
                row = page.locator(f'section[data-groep="onderwerp"] tr[data-sleutel="{topic}"] td.aantal')
                expect(row).to_have_text(str(CONVERSATIONS))
                expect(page.locator('img[src^="/inzicht/grafiek/onderwerp.svg"]')).to_be_visible()
            finally:
                browser.close()

        # The broker keeps no sender id or message once read; the service stored none.
        deadline = time.monotonic() + 30
        while True:  # the last turn's events go in the round after they were written
            left = _broker_left(stack.env()["EVENT_BROKER_URL"])
            if left == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert left == 0
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("handover.db*"))
        assert not any(sender.encode() in stored for sender in senders)
        assert b"inloggen" not in stored
