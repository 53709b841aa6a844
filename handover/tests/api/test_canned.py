"""Standard texts (issue 14, item 4) on SQLite and PostgreSQL: five to start from, in the reply
box of a case in progress; only a teamleider adds, changes and deletes them."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from handover.keys import sessionmaker_key, settings_key
from handover.models import CannedResponse, Role
from tests.api.test_api import create_case, login
from tests.api.test_inbox import second_browser
from tests.conftest import add_user

Client = TestClient[Any, Any]


def titles(page: str) -> list[str]:
    return re.findall(r'<h2 class="klein">([^<]+)</h2>', page)


async def test_teamleider_manages_and_casemanager_inserts(client: Client) -> None:
    sm = client.app[sessionmaker_key]
    await add_user(sm, "anna", first_name="Anna", teams=["inkomen_schulden"])
    await add_user(sm, "tineke", first_name="Tineke", role=Role.TEAMLEIDER)
    token = await login(client, "anna")
    page = await (await client.get("/standaardteksten")).text()
    # The migration brings five to start from (the PostgreSQL fixture empties every table between
    # tests, so there only on the SQLite copy of the migrated database).
    seeded = client.app[settings_key].database_url.startswith("sqlite")
    if seeded:
        assert titles(page) == ["Afsluiten", "Afspraken", "Begroeten", "Even geduld", "Zelf bellen"]
    else:
        assert "Er zijn nog geen standaardteksten." in page
    assert "Nieuwe standaardtekst" not in page and "Een teamleider beheert de teksten." in page
    for path in ("/standaardteksten", "/standaardteksten/1/wijzigen", "/standaardteksten/1/verwijderen"):
        denied = await client.post(path, data={"csrf_token": token, "titel": "x", "tekst": "y"})
        assert denied.status == 403, path

    async with second_browser(client) as tl:
        tl_token = await login(tl, "tineke")
        added = await tl.post(
            "/standaardteksten",
            data={"csrf_token": tl_token, "titel": "  Betaalregeling  ", "tekst": "U kunt in delen betalen."},
        )
        assert added.status == 200 and "Standaardtekst toegevoegd." in await added.text()
        page = await (await tl.get("/standaardteksten")).text()
        assert "Betaalregeling" in titles(page) and "Nieuwe standaardtekst" in page
        # In the reply box of a case in progress: each text, to insert and edit.
        ref = (await create_case(client, "burger-1"))["reference"]
        await client.post(f"/zaken/{ref}/claim", data={"csrf_token": token})
        case = await (await client.get(f"/zaken/{ref}")).text()
        assert '<label for="standaardtekst">Standaardtekst invoegen</label>' in case
        assert 'data-tekst="U kunt in delen betalen.">Betaalregeling</option>' in case
        if seeded:
            assert 'Klopt dat zo voor u?">Afspraken</option>' in case
        async with sm() as session:
            canned_id = await session.scalar(
                select(CannedResponse.id).where(CannedResponse.title == "Betaalregeling")
            )
        assert canned_id is not None and f'action="/standaardteksten/{canned_id}/wijzigen"' in page
        changed = await tl.post(
            f"/standaardteksten/{canned_id}/wijzigen",
            data={
                "csrf_token": tl_token,
                "titel": "Betalen in delen",
                "tekst": "U kunt de boete in delen betalen.",
            },
        )
        assert "Standaardtekst gewijzigd." in await changed.text()
        empty = await tl.post("/standaardteksten", data={"csrf_token": tl_token, "titel": "", "tekst": "x"})
        assert "Vul een titel en een tekst in" in await empty.text()
        gone = await tl.post(f"/standaardteksten/{canned_id}/verwijderen", data={"csrf_token": tl_token})
        assert "Standaardtekst verwijderd." in await gone.text()
        again = await tl.post(f"/standaardteksten/{canned_id}/verwijderen", data={"csrf_token": tl_token})
        assert again.status == 404
        assert (
            await tl.post("/standaardteksten/abc/verwijderen", data={"csrf_token": tl_token})
        ).status == 404
    page = await (await client.get("/standaardteksten")).text()
    assert "Betalen in delen" not in page and len(titles(page)) == (5 if seeded else 0)
