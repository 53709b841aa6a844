"""The live inbox over HTTP and the WebSocket, on SQLite and PostgreSQL: unread counts, the time a
citizen waits for a reply, marking read (only by whoever handles the case), the fragments the
page loads again, and the events every open page reacts to (transfer, release, note, close),
with their audit entries."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import AuditEntry, Role
from tests.api.test_api import _next_event, create_case, login
from tests.conftest import BOT, add_user

Client = TestClient[Any, Any]


@asynccontextmanager
async def second_browser(client: Client) -> AsyncIterator[aiohttp.ClientSession]:
    """Another casemanager on the same service: a session with a cookie jar of its own."""
    async with aiohttp.ClientSession(
        base_url=str(client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        yield session


async def inbox(client: Client | aiohttp.ClientSession) -> dict[str, Any]:
    resp = await client.get("/werkbak.json")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


def unread_of(data: dict[str, Any]) -> dict[str, int]:
    return {c["reference"]: c["unread"] for c in data["chats"]}


async def say(client: Client, ref: str, sender: str, text: str) -> int:
    resp = await client.post(
        f"/api/cases/{ref}/messages", json={"sender_id": sender, "text": text}, headers=BOT
    )
    assert resp.status == 202
    return int((await resp.json())["message_id"])


async def mark_read(client: Client | aiohttp.ClientSession, token: str, ref: str, upto: Any) -> Any:
    return await client.post(
        f"/zaken/{ref}/gelezen",
        data={"bericht": str(upto)},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def test_unread_counts_and_waiting_for_a_reply(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    first = (await create_case(client, "burger-1"))["reference"]
    second = (await create_case(client, "burger-2", summary={"topic": "schulden", "urgent": True}))[
        "reference"
    ]
    before = await inbox(client)
    assert before == {"unread": 0, "chats": []}
    for ref in (first, second):
        assert (await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})).status == 200

    data = await inbox(client)
    # Urgent first; nothing unread (the intake transcript came before the claim).
    assert [c["reference"] for c in data["chats"]] == [second, first]
    assert data["unread"] == 0
    # Nobody answered yet: both citizens wait since they asked for a person.
    assert all(c["waiting_since"] for c in data["chats"])

    one = await say(client, first, "burger-1", "Ik heb nog een vraag.")
    two = await say(client, first, "burger-1", "Over de boete.")
    data = await inbox(client)
    assert unread_of(data) == {first: 2, second: 0} and data["unread"] == 2

    # Anna answers: the citizen of the first case no longer waits for her.
    resp = await client.post(f"/zaken/{first}/berichten", data={"csrf_token": token, "tekst": "Ik kijk mee."})
    assert resp.status == 200
    waiting = {c["reference"]: c["waiting_since"] for c in (await inbox(client))["chats"]}
    assert waiting[first] is None and waiting[second] is not None
    three = await say(client, first, "burger-1", "Dank u.")
    waiting = {c["reference"]: c["waiting_since"] for c in (await inbox(client))["chats"]}
    assert waiting[first] is not None

    # Marking read: up to a message, never back, never past the newest message.
    resp = await mark_read(client, token, first, one)
    assert resp.status == 200 and await resp.json() == {"status": "ok", "detail": "2 ongelezen"}
    assert (await mark_read(client, token, first, 2**31 - 1)).status == 200
    assert unread_of(await inbox(client))[first] == 0
    assert (await mark_read(client, token, first, two)).status == 200
    assert unread_of(await inbox(client))[first] == 0
    four = await say(client, first, "burger-1", "Nog één ding.")
    assert four > three and unread_of(await inbox(client))[first] == 1

    # A colleague reading along reads nothing on anna's behalf.
    async with second_browser(client) as bert:
        bert_token = await login(bert, "bert")
        resp = await mark_read(bert, bert_token, first, four)
        assert resp.status == 200 and await resp.json() == {"status": "ok", "detail": "0 ongelezen"}
        assert (await inbox(bert)) == {"unread": 0, "chats": []}
    assert unread_of(await inbox(client))[first] == 1

    # Bad input is a 400 with the error, never a 500; the CSRF token is required.
    for bad in ("abc", "0", "-1", str(2**31), "99999999999999999999"):
        resp = await mark_read(client, token, first, bad)
        assert resp.status == 400, bad
        assert (await resp.json())["error"] == "InvalidInput"
    forged = await client.post(
        f"/zaken/{first}/gelezen", data={"bericht": "1"}, headers={"Accept": "application/json"}
    )
    assert forged.status == 403


async def test_inbox_pages_and_fragments(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    await say(client, ref, "burger-1", "Hallo daar")

    page = await (await client.get(f"/werkbak?zaak={ref.lower()}")).text()
    assert "<h1>Werkbak</h1>" in page
    assert f'<h2 id="zaak-kop" tabindex="-1">Zaak {ref}</h2>' in page
    assert re.search(
        rf'href="/werkbak\?zaak={ref}" class="chat-link" data-reference="{ref}"\s+aria-current="true"', page
    )
    assert 'data-ongelezen="1"' in page and "Burger: Hallo daar" in page
    # The conversation comes first in the inbox; the reply box is there.
    assert page.index('id="gesprek-kop"') < page.index('id="samenvatting-kop"')
    assert 'id="tekst"' in page and 'aria-keyshortcuts="Alt+B"' in page

    unknown = await (await client.get("/werkbak?zaak=HV-ZZZZ")).text()
    assert "Zaak HV-ZZZZ bestaat niet" in unknown and "Geen gesprek geopend" in unknown

    lists = await client.get(f"/werkbak/lijsten?zaak={ref}", headers={"X-Background-Refresh": "1"})
    html = await lists.text()
    assert lists.status == 200 and "<html" not in html
    assert 'id="mijn-chats"' in html and 'id="wachtrij-kort"' in html and ref in html

    panel = await client.get(f"/zaken/{ref}/paneel?weergave=werkbak")
    html = await panel.text()
    assert panel.status == 200 and "<html" not in html and f"Zaak {ref}</h2>" in html
    assert panel.headers["Cache-Control"] == "no-store"
    own_page = await (await client.get(f"/zaken/{ref}/paneel")).text()
    assert f"Zaak {ref}</h1>" in own_page
    # The case page is that same fragment in the page around it; intake first there.
    case_page = await (await client.get(f"/zaken/{ref}")).text()
    assert case_page.index('id="samenvatting-kop"') < case_page.index('id="gesprek-kop"')
    assert (await client.get("/zaken/HV-ZZZZ/paneel")).status == 404
    # Error pages are workspace pages (title, landmarks, language); scripts still get plain text.
    missing = await client.get("/zaken/HV-ZZZZ", headers={"Accept": "text/html"})
    html = await missing.text()
    assert missing.status == 404 and missing.content_type == "text/html"
    assert "<title>Niet gevonden – Gemeente</title>" in html and "Zaak HV-ZZZZ bestaat niet" in html
    assert '<main id="inhoud"' in html and 'lang="nl"' in html
    nowhere = await client.get("/nergens", headers={"Accept": "text/html"})
    assert nowhere.status == 404 and "<title>Niet gevonden" in await nowhere.text()
    wrong_method = await client.put("/werkbak", headers={"Accept": "text/html"})
    assert wrong_method.status == 405 and "Allow" in wrong_method.headers
    script = await client.get("/zaken/HV-ZZZZ/paneel", headers={"Accept": "application/json"})
    assert script.status == 404 and script.content_type != "text/html"

    # claim-next answers a script with the reference (the inbox opens it itself).
    other = (await create_case(client, "burger-2"))["reference"]
    resp = await client.post(
        "/wachtrij/volgende", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert await resp.json() == {"status": "ok", "reference": other}
    resp = await client.post(
        "/wachtrij/volgende", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert resp.status == 400
    assert (await resp.json())["detail"] == "Er staan geen wachtende zaken in de wachtrij"


async def _events_until(ws: Any, wanted: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every event up to and including the first of type ``wanted``."""
    seen = []
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, msg
        event: dict[str, Any] = json.loads(msg.data)
        seen.append(event)
        if event["type"] == wanted:
            return seen


async def test_the_handler_gets_messages_of_all_their_chats_others_do_not(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    anna_ws = await client.ws_connect("/ws")  # the inbox of another page: no case subscribed
    async with second_browser(client) as bert:
        await login(bert, "bert")
        bert_ws = await bert.ws_connect("/ws")
        message_id = await say(client, ref, "burger-1", "Mijn naam is Kees Bakker.")
        event = await _next_event(anna_ws, "message")
        assert event["id"] == message_id and event["text"] == "Mijn naam is Kees Bakker."
        assert "access" not in event
        # Bert has no page of this case open: he gets no message at all, only the next case.
        await create_case(client, "burger-2")
        assert [e["type"] for e in await _events_until(bert_ws, "case_new")] == ["case_new"]
        await bert_ws.close()
    await anna_ws.close()


async def test_transfer_release_note_and_close_are_signalled_and_audited(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    anna = await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    bert = await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    tineke = await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    ws = await client.ws_connect("/ws")
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})

    resp = await client.post(
        f"/zaken/{ref}/notities", data={"csrf_token": token, "notitie": "Eerst CJIB bellen"}
    )
    assert resp.status == 200
    note = await _next_event(ws, "case_updated")
    assert note == {
        "type": "case_updated",
        "reference": ref,
        "team": "inkomen_schulden",
        "change": "notitie",
        "by_id": anna.id,
    }

    reason = {"csrf_token": token, "medewerker": "bert", "reden": "Bert kent deze vraag."}
    await client.post(f"/zaken/{ref}/overdragen", data=reason)
    moved = await _next_event(ws, "case_transferred")
    assert "reden" not in json.dumps(moved) and "Bert kent" not in json.dumps(moved)  # no text in events
    assert (moved["by_id"], moved["from_id"], moved["actor_id"]) == (bert.id, anna.id, anna.id)

    async with second_browser(client) as tl:
        tl_token = await login(tl, "tineke")
        resp = await tl.post(f"/zaken/{ref}/vrijgeven", data={"csrf_token": tl_token})
        assert resp.status == 200
        back = await _next_event(ws, "case_returned")
        assert (back["by_id"], back["from_id"]) == (tineke.id, bert.id)
        await tl.post(f"/zaken/{ref}/claim", data={"csrf_token": tl_token})
        await tl.post(
            f"/zaken/{ref}/overdragen",
            data={"csrf_token": tl_token, "team": "zorg", "reden": "Vraag over de Wmo."},
        )
        to_team = await _next_event(ws, "case_new")
        assert (to_team["team"], to_team["from_id"], to_team["actor_id"]) == ("zorg", tineke.id, tineke.id)
        await tl.post(f"/zaken/{ref}/claim", data={"csrf_token": tl_token})
        await tl.post(f"/zaken/{ref}/afronden", data={"csrf_token": tl_token, "uitkomst": "Klaar"})
        closed = await _next_event(ws, "case_closed")
        assert (closed["by_id"], closed["from_id"]) == (tineke.id, tineke.id)
    await ws.close()

    view = await (await client.get(f"/zaken/{ref}", headers={"Accept": "application/json"})).json()
    # The reasons are notes of whoever transferred (the case is closed now: the redacted copy).
    assert [(n["author"], n["text"]) for n in view["notes"]] == [
        ("Anna Tester", "Eerst CJIB bellen"),
        ("Anna Tester", "Reden van overdracht aan Bert Tester: Bert kent deze vraag."),
        ("Tineke Tester", "Reden van overdracht aan team Zorg en ondersteuning: Vraag over de Wmo."),
    ]
    async with sm() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.reference == ref).order_by(AuditEntry.id)
            )
        )
    trail = [(e.actor, e.action.value, e.detail) for e in entries if e.action.value != "viewed"]
    assert ("anna", "transferred", "overgedragen aan bert") in trail
    assert ("tineke", "released", "vrijgegeven (zaak van een collega)") in trail
    assert ("tineke", "transferred", "overgedragen aan team zorg") in trail
    # A transfer is no longer logged as a claim.
    assert not [t for t in trail if t[1] == "claimed" and "overgedragen" in (t[2] or "")]


async def test_a_mention_in_a_note_signals_that_colleague(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    anna = await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    bert = await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    ws = await client.ws_connect("/ws")
    note = "@bert kijk even mee (en @niemand; mail jan@example.nl; @anna zelf telt niet)"
    resp = await client.post(f"/zaken/{ref}/notities", data={"csrf_token": token, "notitie": note})
    assert resp.status == 200
    events = await _events_until(ws, "case_mention")
    # Then a note without a mention: nothing more was signalled (not @niemand, not the author).
    await client.post(f"/zaken/{ref}/notities", data={"csrf_token": token, "notitie": "Klaar."})
    events += await _events_until(ws, "case_updated")
    mentions = [e for e in events if e["type"] == "case_mention"]
    assert mentions == [
        {
            "type": "case_mention",
            "reference": ref,
            "team": "inkomen_schulden",
            "user_id": bert.id,
            "by_id": anna.id,
        }
    ]
    await ws.close()
