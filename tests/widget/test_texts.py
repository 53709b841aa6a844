"""The widget tells the bot's status notices and casemanager messages apart by their structure (the
custom payloads of bot/domain/medewerker.yml, bot/payloads.py), never by their text. These tests
keep that in step with bot/domain/*.yml: every response is made as Rasa's socket.io channel sends it
and classified in the browser by the widget's own code (GemeenteChat.kindOf); only the handover
messages may count as status or person, and no text ever does."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
from rasa.core.nlg.interpolator import interpolate

from tests.widget.helpers import WidgetServer
from tools.stack import ROOT

pytestmark = [pytest.mark.e2e]

# response -> (kind, mode it implies); every other response must be an ordinary bot message.
EXPECTED: Dict[str, Tuple[str, Optional[str]]] = {
    "utter_in_wachtrij": ("status", "queue"),
    "utter_al_in_gesprek": ("status", "handover"),
    "utter_wachtrij_positie": ("status", "queue"),
    "utter_medewerker_gekoppeld": ("status", "staff"),
    "utter_bericht_van_medewerker": ("staff", None),
    "utter_doorsturen_mislukt": ("status", "handover"),
    "utter_terug_naar_bot": ("status", "bot"),
    "utter_gesprek_al_afgesloten": ("status", "bot"),
    "utter_bot_weer_hier": ("status", "bot"),
}
# The erasure sign has no text and is handled before classifying (tests/widget/test_widget_e2e.py).
NOT_A_MESSAGE = {"utter_widget_vergeten"}


class Samples(Dict[str, str]):
    """Values for the responses' {variables}; "voorbeeld" for any other."""

    def __missing__(self, key: str) -> str:
        return "voorbeeld"


SAMPLES = Samples(naam="Sanne", tekst="Ik bel het CJIB nu voor u.", positie="2", wachttijd="5",
                  referentie="HV-7K3M", afspraken="Het CJIB wacht 3 maanden.")


def responses() -> List[Tuple[str, Dict[str, Any]]]:
    """(name, what the widget receives) for every response variation, as Rasa's socket.io channel
    sends it: a text in parts split at blank lines ({"text": part}), a custom payload as what is
    under "data" (Rasa emits it as emit("bot_uttered", **custom))."""
    found: List[Tuple[str, Dict[str, Any]]] = []
    for file in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        domain = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        for name, variations in (domain.get("responses") or {}).items():
            if name in NOT_A_MESSAGE:
                continue
            for variation in variations:
                filled = interpolate(copy.deepcopy(variation), SAMPLES)  # as Rasa fills a response
                if filled.get("text"):
                    found += [(name, {"text": part}) for part in filled["text"].strip().split("\n\n")]
                if filled.get("custom"):
                    found.append((name, filled["custom"]["data"]))
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


def test_every_handover_message_is_still_in_the_domain() -> None:
    names = {name for name, _ in responses()}
    assert set(EXPECTED) <= names, f"ontbreekt in bot/domain: {sorted(set(EXPECTED) - names)}"


def test_the_widget_classifies_every_bot_message(page: Any) -> None:
    wrong = []
    for name, data in responses():
        kind = page.evaluate("(d) => GemeenteChat.kindOf(d)", data)
        expected_kind, expected_mode = EXPECTED.get(name, ("bot", None)) if "type" in data else ("bot", None)
        if kind is None or kind["from"] != expected_kind or kind.get("mode") != expected_mode:
            wrong.append((name, data, kind))
        elif kind["text"] != data["text"]:
            wrong.append((name, data, kind))
    assert not wrong, wrong


def test_every_handover_message_is_structured() -> None:
    texts = [name for name, data in responses() if name in EXPECTED and "type" not in data]
    assert texts == [], f"handover messages sent as text (a client would have to parse them): {texts}"


def test_names_are_read_from_the_payloads_never_from_a_text(page: Any) -> None:
    staff = page.evaluate("GemeenteChat.kindOf({type: 'staff_message', name: 'Sanne',"
                          " label: 'Sanne (medewerker)', text: 'Ik bel het CJIB nu voor u.'})")
    assert staff == {"from": "staff", "name": "Sanne", "text": "Ik bel het CJIB nu voor u."}
    joined = page.evaluate("GemeenteChat.kindOf({type: 'mode', mode: 'staff', name: 'Anne-Marie',"
                           " text: 'U praat nu met Anne-Marie. Fijn dat u er bent.'})")
    assert (joined["mode"], joined["staffName"]) == ("staff", "Anne-Marie")
    for text in ("Sanne (medewerker): Ik bel het CJIB nu voor u.", "U praat nu met Anne-Marie.",
                 "De medewerker heeft het gesprek afgesloten.", "Ik ben (medewerker) niet"):
        kind = page.evaluate("(t) => GemeenteChat.kindOf({text: t})", text)
        assert kind == {"from": "bot", "text": text}, kind
