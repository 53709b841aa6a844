"""The widget tells the bot's status notices and casemanager messages apart by their text. These
tests keep that in step with bot/domain/*.yml: every response is classified in the browser by the
widget's own code (GemeenteChat.kindOf), and only the handover texts may count as status or person."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml

from tests.widget.helpers import WidgetServer
from tools.stack import ROOT

pytestmark = [pytest.mark.e2e]

# response -> (kind, mode it implies); every other response must be an ordinary bot message.
EXPECTED: Dict[str, Tuple[str, Optional[str]]] = {
    "utter_in_wachtrij": ("status", "queue"),
    "utter_al_in_gesprek": ("status", "keep"),
    "utter_wachtrij_positie": ("status", "queue"),
    "utter_medewerker_gekoppeld": ("status", "staff"),
    "utter_bericht_van_medewerker": ("staff", None),
    "utter_doorsturen_mislukt": ("status", "keep"),
    "utter_terug_naar_bot": ("status", "bot"),
    "utter_gesprek_al_afgesloten": ("status", "bot"),
    "utter_bot_weer_hier": ("status", "bot"),
}
SAMPLES = {"naam": "Sanne", "tekst": "Ik bel het CJIB nu voor u.", "positie": "2", "wachttijd": "5",
           "referentie": "HV-7K3M", "afspraken": "Het CJIB wacht 3 maanden."}


def responses() -> List[Tuple[str, str]]:
    """(name, first part as the socket.io channel sends it) for every response variation."""
    found = []
    for file in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        domain = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        for name, variations in (domain.get("responses") or {}).items():
            for variation in variations:
                text = re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), "voorbeeld"),
                              variation.get("text", ""))
                found.append((name, text.strip().split("\n\n")[0]))
    return found


@pytest.fixture(scope="module")
def page(static_server: WidgetServer, browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        opened = context.new_page()
        opened.goto(static_server.url)
        opened.wait_for_function("window.GemeenteChat && document.querySelector('.gcw-launcher')")
        yield opened
    finally:
        context.close()


def test_every_handover_text_is_still_in_the_domain() -> None:
    names = {name for name, _ in responses()}
    assert set(EXPECTED) <= names, f"ontbreekt in bot/domain: {sorted(set(EXPECTED) - names)}"


def test_the_widget_classifies_every_bot_text(page: Any) -> None:
    wrong = []
    for name, text in responses():
        kind = page.evaluate("(t) => GemeenteChat.kindOf(t)", text)
        expected_kind, expected_mode = EXPECTED.get(name, ("bot", None))
        if kind["from"] != expected_kind or kind.get("mode") != expected_mode:
            wrong.append((name, text, kind))
    assert not wrong, wrong


def test_names_are_read_from_the_texts(page: Any) -> None:
    staff = page.evaluate("GemeenteChat.kindOf('Sanne (medewerker): Ik bel het CJIB nu voor u.')")
    assert staff == {"from": "staff", "name": "Sanne", "text": "Ik bel het CJIB nu voor u."}
    joined = page.evaluate("GemeenteChat.kindOf('U praat nu met Anne-Marie. Fijn dat u er bent.')")
    assert (joined["mode"], joined["staffName"]) == ("staff", "Anne-Marie")
    citizen_like = page.evaluate("GemeenteChat.kindOf('Ik ben (medewerker) niet')")
    assert citizen_like["from"] == "bot"
