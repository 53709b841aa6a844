"""The teamleider's overview (issue 14, item 8), SQLite and PostgreSQL: per team who handles which
case now, how long each citizen waits (for a reply, or in the queue), with warning thresholds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from handover.keys import sessionmaker_key
from handover.models import Case, Message, Role, utcnow
from handover.services.overview import level
from tests.api.test_api import create_case, login
from tests.api.test_inbox import second_browser
from tests.conftest import BOT, add_user

Client = TestClient[Any, Any]


def test_thresholds() -> None:
    now = utcnow()
    assert level(None, now, 5, 15) == ""
    assert level(now - dt.timedelta(minutes=4, seconds=59), now, 5, 15) == ""
    assert level(now - dt.timedelta(minutes=5), now, 5, 15) == "let-op"
    assert level(now - dt.timedelta(minutes=15), now, 5, 15) == "te-lang"


def row(page: str, ref: str) -> str:
    return page.split(f'<tr data-reference="{ref}">', 1)[1].split("</tr>", 1)[0]


async def test_who_handles_what_and_waiting_times(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    token = await login(client, "anna")
    assert (await client.get("/overzicht")).status == 403  # teamleiders only
    handled = (await create_case(client, "burger-1"))["reference"]
    answered = (await create_case(client, "burger-2"))["reference"]
    waiting = (await create_case(client, "burger-3", summary={"topic": "gemeente.wmo"}))["reference"]
    for ref in (handled, answered):
        await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    said = {"sender_id": "burger-1", "text": "Hallo?"}
    assert (await client.post(f"/api/cases/{handled}/messages", json=said, headers=BOT)).status == 202
    await client.post(f"/zaken/{answered}/berichten", data={"csrf_token": token, "tekst": "Ik help u."})
    async with sm() as session, session.begin():
        # The case came 8 minutes ago, its messages 7; the queue case waits 40 minutes.
        case_id = await session.scalar(
            Case.__table__.select().with_only_columns(Case.id).where(Case.reference == handled)
        )
        seven = utcnow() - dt.timedelta(minutes=7)
        await session.execute(
            update(Case).where(Case.id == case_id).values(created_at=seven - dt.timedelta(minutes=1))
        )
        await session.execute(update(Message).where(Message.case_id == case_id).values(created_at=seven))
        forty = utcnow() - dt.timedelta(minutes=40)
        await session.execute(update(Case).where(Case.reference == waiting).values(created_at=forty))

    async with second_browser(client) as tl:
        await login(tl, "tineke")
        page = await (await tl.get("/overzicht")).text()
    assert page.index('id="team-inkomen_schulden"') < page.index('id="team-zorg"')
    mine = row(page, handled)
    # Anna has not written yet: the citizen waits since asking for a person (8 minutes ago).
    assert "<td>Anna Tester</td>" in mine and ">8 min</span>" in mine and "– let op" in mine
    assert 'class="wacht let-op"' in mine
    # Anna answered last: that citizen does not wait for a reply.
    assert "<td>Nee</td>" in row(page, answered).split("<td>Anna Tester</td>", 1)[1]
    queued = row(page, waiting)
    assert (
        "Hulp thuis of uw huis aanpassen" in queued and ">40 min</span>" in queued and "– te lang" in queued
    )
