"""The professional-lines directory (issue 14, item 7), SQLite and PostgreSQL: every organisation
of the bot's knowledge file, searchable, with links for websites and confirmed phone numbers."""

from __future__ import annotations

import re
from typing import Any

from handover.directory import Directory
from handover.keys import sessionmaker_key
from handover.settings import default_contacts_file
from tests.api.test_api import client_factory, login
from tests.conftest import add_user

__all__ = ["client_factory"]  # the fixture, used here too


def names(page: str) -> list[str]:
    return re.findall(r'<h2 id="org-[^"]+" class="org-naam">([^<]+)</h2>', page)


async def test_directory_lists_and_searches_every_organisation(client_factory: Any) -> None:
    client = await client_factory(contacts_file=default_contacts_file())
    await add_user(client.app[sessionmaker_key], "anna", first_name="Anna", teams=["inkomen_schulden"])
    await login(client, "anna")
    everything = Directory.load(default_contacts_file())
    page = await (await client.get("/lijnen")).text()
    assert names(page) == [o.name for o in everything.search()]
    assert len(names(page)) == len(everything.organisations) >= 8
    assert '<a href="tel:08000543">0800-0543</a>' in page
    found = await (await client.get("/lijnen?zoek=belasting")).text()
    assert "Belastingdienst" in names(found) and "CAK" not in names(found)
    # Words of a route count too, each word must match.
    voorrang = await (await client.get("/lijnen?zoek=voorrangslijn+professionals")).text()
    assert names(voorrang) == ["Belastingdienst"]
    none = await (await client.get("/lijnen?zoek=nasa")).text()
    assert names(none) == [] and "Geen organisatie gevonden" in none
