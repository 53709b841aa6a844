"""Search and history (issue 14, item 5) on SQLite and PostgreSQL: closed cases by reference, date,
topic and outcome label; the list holds no personal data; outcome labels are chosen at closing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from handover.keys import sessionmaker_key
from handover.models import Case, utcnow
from tests.api.test_api import create_case, login
from tests.conftest import add_user

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}


def found(page: str) -> list[str]:
    return re.findall(r'<tr data-reference="(HV-\w+)">', page)


async def close(client: Client, token: str, ref: str, label: str) -> Any:
    await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
    form = {"csrf_token": token, "uitkomst": "Besproken", "afspraken": "", "uitkomstlabel": label}
    return await client.post(f"/zaken/{ref}/afronden", data=form, headers=JSON)


async def test_search_closed_cases(client: Client) -> None:
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    token = await login(client, "anna")
    fine = (await create_case(client, "b1", summary={"topic": "cjib.betalingsregeling"}))["reference"]
    sent_on = (await create_case(client, "b2", summary={"topic": "gemeente.schuldhulp"}))["reference"]
    old = (await create_case(client, "b3", summary={"topic": "gemeente.schuldhulp"}))["reference"]
    still_open = (await create_case(client, "b4", summary={"topic": "gemeente.schuldhulp"}))["reference"]
    bad = await close(client, token, fine, "weet ik veel")
    assert bad.status == 400 and (await bad.json())["error"] == "InvalidInput"
    for ref, label in ((fine, "opgelost"), (sent_on, "doorverwezen"), (old, "")):
        assert (await close(client, token, ref, label)).status == 200
    async with client.app[sessionmaker_key]() as session, session.begin():
        await session.execute(
            update(Case).where(Case.reference == old).values(closed_at=utcnow() - dt.timedelta(days=3))
        )

    empty = await (await client.get("/zoeken")).text()
    assert "Vul een of meer velden in" in empty and 'id="resultaten"' not in empty
    assert found(await (await client.get(f"/zoeken?referentie={fine[3:].lower()}")).text()) == [fine]
    by_label = await (await client.get("/zoeken?uitkomst=doorverwezen")).text()
    assert found(by_label) == [sent_on] and "Doorverwezen naar een organisatie" in by_label
    by_topic = await (await client.get("/zoeken?onderwerp=gemeente.schuldhulp")).text()
    assert found(by_topic) == [sent_on, old]  # newest first; the open case is no history
    assert (
        still_open not in by_topic
        and "Hulp bij schulden" in by_topic
        and "<td>Inkomen en schulden</td>" in by_topic
    )
    local_today = dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()  # the service's timezone
    today = local_today.isoformat()
    recent = await (await client.get(f"/zoeken?van={today}&tot={today}")).text()
    assert sorted(found(recent)) == sorted([fine, sent_on])
    three_days = (local_today - dt.timedelta(days=3)).isoformat()
    assert found(await (await client.get(f"/zoeken?tot={three_days}")).text()) == [old]
    # The list holds no personal data; a wrong date says so.
    assert "Ik kan de boete niet betalen" not in by_topic and "Besproken" not in by_topic
    wrong = await (await client.get("/zoeken?van=gisteren")).text()
    assert "Geen geldige datum: gisteren (jjjj-mm-dd)" in wrong and 'id="resultaten"' not in wrong
    # The closed case shows its label.
    case = await (await client.get(f"/zaken/{fine}")).text()
    assert "Soort uitkomst: Opgelost" in case
