"""Issue 14, item 10: a closed case (redacted) keeps ordinary words and the staff's names in what
staff wrote, and still hides the citizen's name everywhere (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from handover.keys import sessionmaker_key
from tests.api.test_api import create_case, login
from tests.conftest import BOT, add_user

Client = TestClient[Any, Any]


async def test_closed_case_keeps_ordinary_words_and_staff_names(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    ref = (await create_case(client, "burger-1"))["reference"]
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    said = {"sender_id": "burger-1", "text": "Mijn naam is Kees Bakker, ik wil graag hulp."}
    assert (await client.post(f"/api/cases/{ref}/messages", json=said, headers=BOT)).status == 202
    await client.post(
        f"/zaken/{ref}/berichten", data={"csrf_token": token, "tekst": "Goedemorgen, u spreekt met Anna."}
    )
    note = "Burger terugbellen; Kees wil eerst met Anna overleggen."
    await client.post(f"/zaken/{ref}/notities", data={"csrf_token": token, "notitie": note})
    closed = await client.post(
        f"/zaken/{ref}/afronden", data={"csrf_token": token, "uitkomst": "Anna belt Kees maandag terug."}
    )
    assert closed.status == 200

    view = await (await client.get(f"/zaken/{ref}", headers={"Accept": "application/json"})).json()
    assert view["full_text"] is False
    texts = [m["text"] for m in view["messages"]]
    assert "Mijn naam is [NAAM], ik wil graag hulp." in texts
    assert "Goedemorgen, u spreekt met Anna." in texts
    assert [n["text"] for n in view["notes"]] == ["Burger terugbellen; [NAAM] wil eerst met Anna overleggen."]
    assert view["outcome"] == "Anna belt [NAAM] maandag terug."
