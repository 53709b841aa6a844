"""End to end with real processes: Rasa, the action server and the handover service.

The citizen talks over socket.io (as the website widget does); the casemanager uses the
workspace's HTTP forms. Citizen asks for a person -> consent -> the case appears in the queue ->
claim -> messages both ways -> close -> the bot answers again.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List

import aiohttp
import pytest

from tests.e2e.conftest import PASSWORD, SocketCitizen, handover_system

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    with handover_system(Path(tmp_path_factory.mktemp("handover-e2e")), "mon-sun 00:00-24:00") as running:
        yield running


class Casemanager:
    """The workspace's side: login with CSRF, then form posts as the pages do."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.http, self.csrf = url, session, ""

    async def login(self) -> None:
        page = await (await self.http.get(f"{self.url}/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = await self.http.post(
            f"{self.url}/login", data={"username": "demo", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status == 200 and "/wachtrij" in str(response.url)
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)  # type: ignore[union-attr]

    async def queue_page(self) -> str:
        return await (await self.http.get(f"{self.url}/wachtrij")).text()

    async def case_page(self, reference: str) -> str:
        return await (await self.http.get(f"{self.url}/zaken/{reference}")).text()

    async def act(self, reference: str, action: str, **fields: str) -> None:
        response = await self.http.post(
            f"{self.url}/zaken/{reference}/{action}",
            data={"csrf_token": self.csrf, **fields},
            headers={"Accept": "application/json"},
        )
        assert response.status == 200, await response.text()


@pytest.fixture
async def casemanager(system: Dict[str, Any]) -> AsyncIterator[Casemanager]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        cm = Casemanager(system["service_url"], http)
        await cm.login()
        yield cm


async def test_citizen_to_casemanager_and_back_to_the_bot(
    system: Dict[str, Any], casemanager: Casemanager
) -> None:
    citizen = SocketCitizen(system["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen")
        await citizen.expect("Klopt dat?")
        waiting = set(re.findall(r"HV-[A-Z0-9]{4}", await casemanager.queue_page()))
        await citizen.say("ik wil met een medewerker praten")
        await citizen.expect("Wat u vertelde: “Ik heb een stapel boetes")  # what is shared, before consent
        consent = await citizen.expect("Mag de medewerker dit lezen?")
        # The citizen corrects the summary. This correction sounds like a greeting to NLU; it still reaches
        # the intake (bot/intake/conversation.py). Nothing is sent before "Ja, dat mag".
        await citizen.press(consent, "Iets aanpassen")
        await citizen.expect("Typ wat er anders moet")
        await citizen.say("Hallo, het gaat ook om mijn zoon")
        await citizen.expect("Uw aanvulling: “Hallo, het gaat ook om mijn zoon”")
        consent = await citizen.expect("Mag de medewerker dit lezen?")
        # nothing sent yet
        assert set(re.findall(r"HV-[A-Z0-9]{4}", await casemanager.queue_page())) == waiting
        await citizen.press(consent, "Ja, dat mag")
        queued = await citizen.expect("U staat in de wachtrij")
        reference = re.search(r"HV-[A-Z0-9]{4}", queued["text"]).group(0)  # type: ignore[union-attr]
        assert (queued.get("mode"), queued.get("reference")) == ("queued", reference)

        queue = await casemanager.queue_page()
        assert reference in queue
        case = await casemanager.case_page(reference)
        assert "stapel boetes" in case  # the transcript: the citizen tells the story once
        assert "Aanvulling van inwoner: “Hallo, het gaat ook om mijn zoon”" in case

        await casemanager.act(reference, "claim")
        joined = await citizen.expect("U praat nu met Sanne")
        assert (joined.get("type"), joined.get("mode"), joined.get("name")) == ("mode", "staff", "Sanne")

        await casemanager.act(reference, "berichten", tekst="Ik bel het CJIB nu voor u.")
        message = await citizen.expect("Ik bel het CJIB nu voor u.")
        assert (message.get("type"), message.get("name")) == ("staff_message", "Sanne")  # from Sanne

        await citizen.say("Dank u, ik wacht even")
        for _ in range(40):  # the bot stays silent; the message reaches the case page
            if "ik wacht even" in await casemanager.case_page(reference):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("het bericht van de burger kwam niet aan bij de casemanager")
        assert citizen.inbox.empty()

        await casemanager.act(
            reference,
            "afronden",
            uitkomst="Regeling getroffen",
            afspraken="Het CJIB wacht 3 maanden met innen.",
        )
        await citizen.expect("De medewerker heeft het gesprek afgesloten")
        await citizen.expect("Het CJIB wacht 3 maanden met innen.")
        await citizen.expect("U praat nu weer met de digitale hulp")

        # The satisfaction question after closing (issue 14, item 9): a score, then words.
        question = await citizen.expect("Hoe tevreden bent u")
        await citizen.press(question, "4")
        await citizen.expect("Wilt u nog iets zeggen")
        await citizen.say("Fijn dat iemand meedacht.")
        await citizen.expect("Dank u wel voor uw antwoord")
        for _ in range(120):
            if "Tevredenheid van de inwoner: 4 van 5" in await casemanager.case_page(reference):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("het antwoord op de tevredenheidsvraag kwam niet aan bij de zaak")

        await citizen.say("ik ben mijn digid kwijt")
        await citizen.expect("Klopt dat?")
    finally:
        await citizen.sio.disconnect()


async def test_status_lookup_by_reference_tells_nothing_personal(system: Dict[str, Any]) -> None:
    citizen = SocketCitizen(system["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("wat is de status van HV-ZZZZ")
        await citizen.expect("Ik kan geen vraag vinden met kenmerk HV-ZZZZ")
    finally:
        await citizen.sio.disconnect()


async def test_erasure_in_the_chat_removes_the_case_and_the_conversation(
    system: Dict[str, Any], casemanager: Casemanager
) -> None:
    """ "Verwijder mijn gegevens" while a casemanager has the chat: the bot itself asks (the request
    is not forwarded), and on "ja" the case leaves the handover database and the conversation
    leaves Rasa's tracker store (bot/intake/conversation.py, bot/tracker_store.py)."""
    citizen = SocketCitizen(system["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen")
        await citizen.expect("Klopt dat?")
        await citizen.say("ik wil met een medewerker praten")
        await citizen.press(await citizen.expect("Mag de medewerker dit lezen?"), "Ja, dat mag")
        queued = await citizen.expect("U staat in de wachtrij")
        reference = re.search(r"HV-[A-Z0-9]{4}", queued["text"]).group(0)  # type: ignore[union-attr]
        await casemanager.act(reference, "claim")
        await citizen.expect("U praat nu met Sanne")

        await citizen.say("verwijder mijn gegevens")
        question = await citizen.expect("Weet u het zeker?")
        await citizen.press(question, "Ja, verwijder alles")
        await citizen.expect("Uw gegevens zijn verwijderd")

        assert (await casemanager.http.get(f"{casemanager.url}/zaken/{reference}")).status == 404
        assert reference not in await casemanager.queue_page()
        tracker_db = system["stack"].env()["TRACKER_DB_URL"].removeprefix("sqlite:///")

        def stored() -> int:
            with sqlite3.connect(tracker_db) as db:
                query = "SELECT count(*) FROM events WHERE sender_id = ?"
                (rows,) = db.execute(query, (citizen.session_id,)).fetchone()
            return int(rows)

        # The bot says "verwijderd" during its turn; Rasa saves (erases) the tracker right after the
        # turn, so on a busy machine the citizen can read it a moment before the rows are gone.
        for _ in range(300):
            if stored() == 0:
                break
            await asyncio.sleep(0.1)
        assert stored() == 0
        # ... and it stays erased: a message the citizen sends next starts a new, empty conversation.
        await citizen.say("hallo")
        await citizen.expect("Welkom")
        with sqlite3.connect(tracker_db) as db:
            texts = [r[0] for r in db.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (citizen.session_id,)
            )]
        assert not any("CJIB" in t or "verwijder mijn gegevens" in t for t in texts), texts
    finally:
        await citizen.sio.disconnect()


async def test_a_message_the_widget_sends_again_reaches_the_casemanager_once(
    system: Dict[str, Any], casemanager: Casemanager
) -> None:
    """chat-widget.js sends an unacknowledged message again after a reconnect, with the same
    metadata.message_id: through the real Rasa server (its socket.io channel reads `metadata`) and
    action server the service stores it once (bot/handover_gateway/outbox.py, message_key)."""
    citizen = SocketCitizen(system["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen")
        await citizen.expect("Klopt dat?")
        await citizen.say("ik wil met een medewerker praten")
        await citizen.press(await citizen.expect("Mag de medewerker dit lezen?"), "Ja, dat mag")
        queued = await citizen.expect("U staat in de wachtrij")
        reference = re.search(r"HV-[A-Z0-9]{4}", queued["text"]).group(0)  # type: ignore[union-attr]
        await casemanager.act(reference, "claim")
        await citizen.expect("U praat nu met Sanne")
        again = {"message": "Is er al nieuws over mijn boete?", "session_id": citizen.session_id,
                 "metadata": {"message_id": "7f3c2a9e5b1d4c6a8e0f2b4d6a8c0e1f"}}
        for _ in range(2):  # the second is the resend after a reconnect; each waits for the server's ack
            await citizen.sio.call("user_uttered", again, timeout=60)
        await citizen.say("En nog een vraag.")

        async def citizen_texts() -> List[str]:
            response = await casemanager.http.get(
                f"{casemanager.url}/zaken/{reference}", headers={"Accept": "application/json"}
            )
            return [m["text"] for m in (await response.json())["messages"] if m["role"] == "citizen"]

        for _ in range(300):  # the last message, sent after both, arrives after them (in order)
            if "En nog een vraag." in await citizen_texts():
                break
            await asyncio.sleep(0.1)
        texts = await citizen_texts()
        assert texts.count("Is er al nieuws over mijn boete?") == 1, texts
        assert texts[-1] == "En nog een vraag."
    finally:
        await citizen.sio.disconnect()
