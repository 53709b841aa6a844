"""The citizen's satisfaction after closing (issue 14, item 9, the handover side), SQLite and
PostgreSQL: the bot posts the answer, only for a closed case of that conversation; the case and
the teamleider's overview show it, the words without personal data."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from handover.keys import sessionmaker_key
from handover.models import Role
from tests.api.test_api import create_case, login
from tests.api.test_inbox import second_browser
from tests.conftest import BOT, add_user

Client = TestClient[Any, Any]


async def answer(client: Client, ref: str, body: Any) -> Any:
    return await client.post(f"/api/cases/{ref}/tevredenheid", json=body, headers=BOT)


async def test_satisfaction_per_case_and_per_team(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    token = await login(client, "anna")
    first = (await create_case(client, "burger-1"))["reference"]
    second = (await create_case(client, "burger-2"))["reference"]
    # Not before closing.
    early = await answer(client, first, {"sender_id": "burger-1", "score": 5})
    assert early.status == 409 and (await early.json())["error"] == "conflict"
    for ref in (first, second):
        await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
        await client.post(f"/zaken/{ref}/afronden", data={"csrf_token": token, "uitkomst": "Klaar"})

    for bad in (
        {"sender_id": "burger-1", "score": 6},
        {"sender_id": "burger-1", "score": 0},
        {"sender_id": "burger-1", "score": "5"},
        {"sender_id": "burger-1", "score": True},
        {"sender_id": "burger-1"},
        {"sender_id": "burger-1", "score": 4, "text": "x" * 1001},
    ):
        resp = await answer(client, first, bad)
        assert resp.status == 400, bad
    wrong = await answer(client, first, {"sender_id": "burger-2", "score": 1})
    assert wrong.status == 403
    assert (await answer(client, "HV-ZZZZ", {"sender_id": "burger-1", "score": 1})).status == 404
    assert (
        await client.post(f"/api/cases/{first}/tevredenheid", json={"sender_id": "burger-1", "score": 1})
    ).status == 401

    said = {"sender_id": "burger-1", "score": 4, "text": "Fijn geholpen door Anna, ik ben Kees Bakker."}
    resp = await answer(client, first, said)
    assert resp.status == 202 and await resp.json() == {"status": "recorded", "reference": first, "score": 4}
    # A resend changes nothing; a second case of another citizen counts too.
    assert (await answer(client, first, said)).status == 202
    assert (await answer(client, second, {"sender_id": "burger-2", "score": 2})).status == 202

    page = await (await client.get(f"/zaken/{first}")).text()
    assert 'id="tevredenheid">Tevredenheid van de inwoner: 4 van 5 – "Fijn geholpen door' in page
    assert "Kees Bakker" not in page.split('id="tevredenheid"', 1)[1].split("</p>", 1)[0]
    async with second_browser(client) as tl:
        await login(tl, "tineke")
        overview = await (await tl.get("/overzicht")).text()
    row = overview.split('<tr data-team="inkomen_schulden">', 1)[1].split("</tr>", 1)[0]
    # Two answers (4 and 2): average 3,0; one 2 and one 4.
    assert row == (
        "<td>Inkomen en schulden</td><td>2</td><td>3,0</td><td>0</td><td>1</td><td>0</td><td>1</td><td>0</td>"
    )
