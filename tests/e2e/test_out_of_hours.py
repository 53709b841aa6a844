"""Out of office hours through the real processes (Rasa, action server, handover service): before any
consent question the citizen reads that no one is there, when someone is back and what happens next;
"wanneer bellen jullie?" is answered; a foreign phone number is taken for the callback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from tests.e2e.conftest import SocketCitizen, handover_system

pytestmark = [pytest.mark.e2e, pytest.mark.model]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_now() -> str:
    """Office hours that are certainly closed now: one minute, three days from today."""
    day = DAYS[(dt.datetime.now().weekday() + 3) % 7]
    return f"{day} 03:00-03:01"


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    with handover_system(Path(tmp_path_factory.mktemp("closed")), closed_now()) as running:
        yield running


async def test_out_of_hours_is_said_before_consent_and_a_polish_number_is_taken(
    closed: Dict[str, Any],
) -> None:
    citizen = SocketCitizen(closed["stack"].url)
    await citizen.connect()
    try:
        await citizen.say("Ik heb een stapel boetes van het CJIB en ik kan ze niet betalen")
        await citizen.expect("Klopt dat?")
        await citizen.say("ik wil met een medewerker praten")
        await citizen.expect("Er is nu geen medewerker. Er is weer iemand op")
        await citizen.expect("Wat er nu gebeurt")
        consent = await citizen.expect("Mag de medewerker dit lezen?")  # consent comes after
        await citizen.say("wanneer bellen jullie?")
        await citizen.expect("Er is weer een medewerker op")
        await citizen.press(consent, "Ja, dat mag")
        await citizen.expect("Typ uw telefoonnummer of e-mailadres")
        await citizen.say("+48 512 345 678, na 10 uur")
        await citizen.expect("Uw kenmerk is HV-")
        await citizen.say("wanneer bellen jullie?")
        await citizen.expect("Wij bellen u terug binnen kantoortijden")
    finally:
        await citizen.sio.disconnect()
