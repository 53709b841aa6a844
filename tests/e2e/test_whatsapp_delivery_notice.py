"""The WhatsApp channel and the real handover service (its own process and database): a
casemanager's message that Meta reports as `failed` 131047 is held, the template goes out, and the
casemanager sees in the case that the message has not arrived yet (issue 13, item 5); when that
template fails for good too, the case says the citizen was not reached and must be called back.

No Rasa and no model: the channel runs in this process with a fake Graph API (tests/channels), the
handover service as `python -m handover` on SQLite, the casemanager uses the workspace's forms."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List

import aiohttp
import pytest
from sanic import Sanic

from bot.channels.whatsapp import WhatsAppInput
from tests.channels.helpers import (
    WA_ID,
    FakeGraph,
    Server,
    envelope,
    graph_error,
    make_config,
    status,
    template_button,
)
from tests.e2e.conftest import HANDOVER, HANDOVER_PY, PASSWORD, SECRET
from tests.e2e.test_handover_e2e import Casemanager
from tools.stack import ROOT, free_port, wait_for

pytestmark = [pytest.mark.e2e]

STAFF_TEXT = "Ik bel het CJIB nu voor u."


@pytest.fixture(scope="module", autouse=True)
def sanic_test_mode() -> Iterator[None]:
    """Two Sanic apps start in this module; Sanic rewrites its protocol methods at every start
    ("touchup") and only in test mode keeps the originals to rewrite again (tests/channels too)."""
    before = Sanic.test_mode
    Sanic.test_mode = True
    yield
    Sanic.test_mode = before


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """The handover service alone (no Rasa: its calls to Rasa fail and wait in its outbox)."""
    if not HANDOVER_PY.exists():
        pytest.fail("handover/.venv ontbreekt: draai `make -C handover setup` (make test doet dat vanzelf)")
    work = Path(tmp_path_factory.mktemp("wa-notice"))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HANDOVER / "src"), str(ROOT)]),
        "HANDOVER_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'handover.db'}",
        "HANDOVER_SHARED_SECRET": SECRET,
        "HANDOVER_PORT": str(port),
        "HANDOVER_HOST": "127.0.0.1",
        "HANDOVER_DEMO_PASSWORD": PASSWORD,
        "HANDOVER_OFFICE_HOURS": "mon-sun 00:00-24:00",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_TOKEN": "unused",
    }
    subprocess.run(
        [str(HANDOVER_PY), "-m", "alembic", "upgrade", "head"],
        cwd=HANDOVER,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (work / "handover.log").open("wb")
    process = subprocess.Popen(
        [str(HANDOVER_PY), "-m", "handover"],
        cwd=HANDOVER,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 60, process, work / "handover.log")
        yield {"url": f"http://127.0.0.1:{port}", "db": work / "handover.db"}
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph().start()
    yield fake
    await fake.stop()


def system_messages(db: Path, reference: str) -> List[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT m.text FROM messages m JOIN cases c ON c.id = m.case_id "
            "WHERE c.reference = ? AND m.role = 'system' ORDER BY m.id",
            (reference,),
        ).fetchall()
    return [str(r[0]) for r in rows]


async def claimed_case_with_staff_message(service_url: str, sender: str, citizen_text: str) -> str:
    """A WhatsApp citizen's case, claimed by a casemanager who wrote STAFF_TEXT; its reference."""
    bot = {"Authorization": f"Bearer {SECRET}"}
    case = {
        "channel": "whatsapp",
        "sender_id": sender,
        "kind": "chat",
        "transcript": [{"role": "citizen", "text": citizen_text, "timestamp": 1767603660}],
        "summary": {"topic": "schulden", "organisations": ["cjib"], "question_type": 1, "urgent": False},
        "consent": True,
        "contact": {},
    }
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{service_url}/api/cases", json=case, headers=bot) as resp:
            assert resp.status == 201, await resp.text()
            reference = str((await resp.json())["reference"])
        casemanager = Casemanager(service_url, http)
        await casemanager.login()
        await casemanager.act(reference, "claim")
        await casemanager.act(reference, "berichten", tekst=STAFF_TEXT)
    return reference


async def test_failed_131047_on_a_casemanager_message_is_shown_in_the_case(
    service: Dict[str, Any], graph: FakeGraph, tmp_path: Path
) -> None:
    citizen_text = "Ik kan de boete van het CJIB niet betalen"
    reference = await claimed_case_with_staff_message(service["url"], WA_ID, citizen_text)

    # What Rasa does with the handover service's trigger_intent: the channel's output outside a turn.
    config = make_config(
        graph, str(tmp_path / "whatsapp.db"), handover_url=service["url"], handover_secret=SECRET
    )
    server = await Server(WhatsAppInput(config)).start()
    graph.callbacks_to(server)
    try:
        await server.channel.state.record_inbound(server.channel.ids.key(WA_ID), time.time() - 3600)
        output = server.channel.get_output_channel()
        staff = {"type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)", "text": STAFF_TEXT}
        await output.send_custom_json(WA_ID, {"data": staff})
        await server.settled()
        key = graph.keys[0]
        failed = status("failed", 131047)
        failed["biz_opaque_callback_data"] = key
        code, _ = await server.post(envelope(statuses=[failed]))  # settles: the notice was taken
        assert code == 200
        assert graph.types() == ["text", "template"]

        [notice] = system_messages(service["db"], reference)
        assert notice.startswith("Het bericht van Sanne van ")
        assert "nog niet aangekomen" in notice and "langer dan 24 uur" in notice
        assert STAFF_TEXT not in notice
        assert hashlib.sha256(STAFF_TEXT.encode()).hexdigest() not in notice

        await server.send(template_button("Bericht lezen", "Bericht lezen"))
        assert graph.delivered_texts()[-1] == f"Sanne (medewerker): {STAFF_TEXT}"
        delivered = status("delivered")
        delivered["biz_opaque_callback_data"] = graph.keys[-1]
        code, _ = await server.post(envelope(statuses=[delivered]))
        assert code == 200
        assert system_messages(service["db"], reference)[1].endswith(
            "is nu toch aangekomen bij de inwoner (via WhatsApp)."
        )
    finally:
        await server.stop()


async def test_a_template_that_fails_for_good_asks_the_casemanager_to_call_back(
    service: Dict[str, Any], graph: FakeGraph, tmp_path: Path
) -> None:
    sender = "31687654321"  # has not written for more than 24 hours: only the template may go
    reference = await claimed_case_with_staff_message(service["url"], sender, "Ik heb een brief van het CJIB")

    config = make_config(
        graph, str(tmp_path / "whatsapp.db"), handover_url=service["url"], handover_secret=SECRET
    )
    server = await Server(WhatsAppInput(config)).start()
    graph.callbacks_to(server)
    try:
        graph.fail_with(graph_error(132001), to=sender)  # Meta: the template does not exist
        output = server.channel.get_output_channel()
        staff = {"type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)", "text": STAFF_TEXT}
        await output.send_custom_json(sender, {"data": staff})
        await server.settled()  # includes the notices: the service took them
        assert graph.types() == ["template"] and graph.delivered == []

        held, unreachable = system_messages(service["db"], reference)
        assert "nog niet aangekomen" in held
        assert unreachable.startswith("De inwoner is niet bereikt via WhatsApp. Het bericht van Sanne van ")
        assert "(foutcode 132001)" in unreachable and "Bel de inwoner terug" in unreachable
        assert STAFF_TEXT not in unreachable
    finally:
        await server.stop()
