"""A citizen who writes Polish reaches a casemanager, who reads the conversation language in the
summary ("Taal: Pools"), with real processes: Rasa, the action server and the handover service
(issue 15, items 1 and 4). The bot answers in Polish (bot/i18n/); the casemanager reads Dutch labels
and the citizen's own words as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator

import aiohttp
import pytest

from bot.i18n.catalogue import load_catalogue
from tests.e2e.conftest import SocketCitizen, handover_system
from tests.e2e.test_handover_e2e import Casemanager

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    with handover_system(Path(tmp_path_factory.mktemp("language-e2e")), "mon-sun 00:00-24:00") as running:
        yield running


@pytest.fixture
async def casemanager(system: Dict[str, Any]) -> AsyncIterator[Casemanager]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        cm = Casemanager(system["service_url"], http)
        await cm.login()
        yield cm


async def test_the_casemanager_reads_that_the_citizen_writes_polish(
    system: Dict[str, Any], casemanager: Casemanager
) -> None:
    citizen = SocketCitizen(system["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("Dzień dobry, mam trzy mandaty z CJIB i nie mam pieniędzy, żeby je zapłacić")
        await citizen.say("Proszę o rozmowę z pracownikiem, nie z komputerem")
        # The bot asks and answers in Polish (bot/i18n/pl.yml), the buttons' payloads are the same.
        polish = load_catalogue("pl").responses["utter_vraag_toestemming"]
        assert polish.text and polish.titles
        consent = await citizen.expect(polish.text.split("?")[0])
        await citizen.press(consent, polish.titles[0])
        queued = await citizen.expect("HV-")
        reference = re.search(r"HV-[A-Z0-9]{4}", queued["text"]).group(0)  # type: ignore[union-attr]
        case = await casemanager.case_page(reference)
        assert "Taal: Pools." in case
        assert "mam trzy mandaty z CJIB" in case  # the citizen's own words, as written
    finally:
        await citizen.sio.disconnect()
