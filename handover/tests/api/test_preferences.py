"""Each user's own settings, stored on the server with the user (SQLite and PostgreSQL): the
Enter choice and browser notifications with sound, all off by default; the pages carry them for
werkplek.js; the chat message event names the handler, whose page alone raises a notification."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key
from handover.models import User
from tests.api.test_api import _next_event, create_case, login
from tests.api.test_inbox import say, second_browser
from tests.conftest import add_user

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}


async def stored(client: Client, username: str) -> tuple[bool, bool, bool]:
    async with client.app[sessionmaker_key]() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user.enter_makes_newline, user.notifications, user.notification_sound


async def test_settings_are_off_by_default_and_stored_per_user(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "bert", first_name="Bert", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    page = await (await client.get("/werkbak")).text()
    assert 'data-enter="verstuurt" data-meldingen="uit" data-geluid="uit"' in page
    assert (
        'id="meldingen" name="meldingen" value="aan" aria-describedby="meldingen-uitleg">' in page
    )  # unchecked
    assert "geen naam en geen bericht" in page  # says what a notification shows

    resp = await client.post(
        "/instellingen",
        data={"csrf_token": token, "velden": "meldingen,geluid", "meldingen": "aan"},
        headers=JSON,
    )
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok",
        "detail": "Instelling opgeslagen.",
        "enter_nieuwe_regel": False,
        "meldingen": True,
        "geluid": False,
    }
    assert await stored(client, "anna") == (False, True, False)
    # Another setting alone leaves the others as they are.
    resp = await client.post(
        "/instellingen",
        data={"csrf_token": token, "velden": "enter_nieuwe_regel", "enter_nieuwe_regel": "aan"},
        headers=JSON,
    )
    assert (await resp.json())["meldingen"] is True
    assert await stored(client, "anna") == (True, True, False)
    page = await (await client.get("/werkbak")).text()
    assert 'data-enter="regel" data-meldingen="aan" data-geluid="uit"' in page
    assert 'id="meldingen" name="meldingen" value="aan" aria-describedby="meldingen-uitleg" checked>' in page
    # The case page too: the choice under the reply box and its hint, rendered by the server.
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    case = await (await client.get(f"/zaken/{ref}")).text()
    assert '<input type="checkbox" id="enter-nieuwe-regel" checked>' in case
    assert "Ctrl+Enter verstuurt. Enter begint een nieuwe regel." in case
    # Not bert's.
    assert await stored(client, "bert") == (False, False, False)
    async with second_browser(client) as bert:
        await login(bert, "bert")
        assert 'data-meldingen="uit"' in await (await bert.get("/werkbak")).text()


async def test_settings_form_without_javascript_and_wrong_input(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    form = {"csrf_token": token, "velden": "meldingen,geluid", "geluid": "aan", "terug": "/werkbak"}
    resp = await client.post("/instellingen", data=form, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/werkbak?melding=Instellingen")
    assert await stored(client, "anna") == (False, False, True)
    # Back only to a page of this site.
    for elsewhere in ("//voorbeeld.nl/x", "https://voorbeeld.nl/", "/\\voorbeeld.nl"):
        resp = await client.post("/instellingen", data=form | {"terug": elsewhere}, allow_redirects=False)
        assert resp.headers["Location"].startswith("/werkbak?"), elsewhere
    for bad in ({"velden": "thema", "thema": "aan"}, {"velden": ""}, {}):
        resp = await client.post("/instellingen", data={"csrf_token": token} | bad, headers=JSON)
        assert resp.status == 400 and (await resp.json())["error"] == "InvalidInput", bad
    assert await stored(client, "anna") == (False, False, True)


async def test_the_message_event_names_the_handler(client: Client) -> None:
    """werkplek.js raises a notification only on the page of whoever handles the case."""
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    async with client.app[sessionmaker_key]() as session:
        anna = await session.scalar(select(User).where(User.username == "anna"))
        assert anna is not None
    ws = await client.ws_connect("/ws")  # not subscribed to the case: it reaches her as the handler
    await say(client, ref, "burger-1", "Hallo?")
    event = await _next_event(ws, "message")
    assert (event["reference"], event["role"], event["handler_id"]) == (ref, "citizen", anna.id)
    assert "access" not in event
    await ws.close()
