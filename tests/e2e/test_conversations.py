"""Whole conversations through the REST channel with the real Rasa server, action server and model.

The personas come from shared/domain/eisen-uit-bronnen.md section 1d; each test checks where the
intake ends: organisations, question type and life event, as the casemanager would receive them.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import pytest

from bot.intake.knowledge import knowledge
from tests.e2e.conftest import Citizen

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def confirm_topic(citizen: Citizen, acceptable: Iterable[str], menu_group: str, menu_item: str) -> str:
    """Get the intake onto one of the acceptable topics: confirm, pick it, or find it in the menu."""
    acceptable = list(acceptable)
    slots = citizen.slots()
    offered = slots.get("kandidaten") or []
    kb = knowledge()
    if offered and offered[0] in acceptable and citizen.press_any("Ja, dat klopt"):
        return offered[0]
    for key in acceptable:
        if key in offered and citizen.press_any(kb.topic_or_event_button(key)):
            return key
    # Not recognised: the citizen browses the menu, as the bot offers.
    assert citizen.press_any("Kies een onderwerp", "Iets anders"), citizen.texts()
    citizen.press(menu_group)
    citizen.press(menu_item)
    return "menu"


def answer(citizen: Citizen, labels: Sequence[str]) -> None:
    for label in labels:
        citizen.press(label)


def finish_with_first_answers(citizen: Citizen, limit: int = 10) -> None:
    """Answer the remaining questions with the first option until the outcome."""
    for _ in range(limit):
        if citizen.slots().get("intake_fase") == "uitkomst":
            return
        first = citizen.buttons()[0]["title"]
        citizen.press(first)
    raise AssertionError("de intake kwam niet bij een uitkomst")


def test_cjib_letter_leads_into_the_cjib_route(citizen: Citizen) -> None:
    replies = citizen.say("Ik heb een brief van het CJIB en ik kan de boete niet betalen")
    text = " ".join(citizen.texts())
    assert "Klopt dat?" in text and "boete" in text.lower()
    assert [b["title"] for b in citizen.buttons()] == ["Ja, dat klopt", "Iets anders", "Dit past niet"]
    assert replies and all(r["recipient_id"] == citizen.sender for r in replies)
    citizen.press("Ja, dat klopt")
    assert "Moet er heel snel iets gebeuren?" in " ".join(citizen.texts())
    citizen.press("Nee")
    # The story already said it (issue 12): not asked again, but said, with a way to correct it.
    text = " ".join(citizen.texts())
    assert "Kunt u de boete betalen?" not in text and "U schreef dat u de boete niet kunt betalen." in text
    assert citizen.slots()["intake_knoop"] == "cjib.schulden"
    citizen.press("Klopt niet")
    assert "Kunt u de boete betalen?" in " ".join(citizen.texts())
    assert citizen.slots()["intake_knoop"] == "cjib.start"


def test_sven_fines_hide_an_aow_question_type_3(citizen: Citizen) -> None:
    citizen.say(
        "Ik heb een hele stapel boetes van het CJIB. Ik durf ze niet te bellen. Mijn spaargeld is op."
    )
    confirm_topic(citizen, ["cjib.openstaande_boetes", "cjib.betalingsregeling"], "Boetes en belasting",
                  knowledge().topics["cjib.openstaande_boetes"].knop)
    if not citizen.slots().get("urgent"):
        answer(citizen, ["Nee"])  # the urgency check, asked only when the story did not already say so
    answer(citizen, ["Nee, lukt niet", "Nee", "66+, geen AOW"])
    slots = citizen.slots()
    assert slots["intake_fase"] == "uitkomst"
    assert {"cjib", "svb"} <= set(slots["organisaties"])
    assert slots["vraagtype"] == 3
    text = " ".join(citizen.texts())
    assert "Dit kunt u doen:" in text and "SVB" in text
    assert {"Zelf doen", "Hulp medewerker"} <= {b["title"] for b in citizen.buttons()}


def test_annie_husband_to_care_home_is_a_type_3_life_event(citizen: Citizen) -> None:
    citizen.say(
        "Mijn man Joost heeft alzheimer en gaat naar een verpleeghuis. Hij deed altijd alle papieren. "
        "Al die papieren komen nu op mij af."
    )
    confirm_topic(citizen, ["leven.opname_partner"], "Er is iets gebeurd",
                  knowledge().life_events["opname_partner"].knop)
    answer(citizen, ["Voor altijd", "Nee, door dementie"])
    finish_with_first_answers(citizen)
    slots = citizen.slots()
    assert slots["levensgebeurtenis"] == "opname_partner"
    assert {"svb", "cak"} <= set(slots["organisaties"])
    assert slots["vraagtype"] == 3


def test_bram_father_died_gets_a_checklist(citizen: Citizen) -> None:
    citizen.say("Mijn vader is plotseling overleden. Ik studeer en zorg nu voor mijn zusje en oma.")
    confirm_topic(citizen, ["leven.overlijden_naaste"], "Er is iets gebeurd",
                  knowledge().life_events["overlijden_naaste"].knop)
    # "Mijn vader … is overleden": the story answers "Wie is er overleden?" (issue 12)
    assert "Wie is er overleden?" not in " ".join(citizen.texts())
    finish_with_first_answers(citizen)
    slots = citizen.slots()
    assert slots["levensgebeurtenis"] == "overlijden_naaste"
    assert len(slots["organisaties"]) >= 2 and slots["vraagtype"] >= 2


def test_hajar_illness_involves_uwv(citizen: Citizen) -> None:
    citizen.say("Ik heb leukemie. Ik moet stoppen met mijn werk en mijn studie. Ons huis moet ook anders.")
    confirm_topic(citizen, ["leven.ziekte", "uwv.ziekte_arbeidsongeschikt"], "Werk en uitkering",
                  knowledge().life_events["ziekte"].knop)
    finish_with_first_answers(citizen)
    slots = citizen.slots()
    assert "uwv" in slots["organisaties"]


def test_gerard_moved_with_too_little_money(citizen: Citizen) -> None:
    citizen.say(
        "Wij hebben te weinig geld. We zijn verhuisd naar een goedkoper huis in een andere stad. "
        "Moeten we de toeslagen aanpassen?"
    )
    confirm_topic(citizen, ["leven.verhuizen", "toeslagen.aanvragen_wijzigen", "gemeente.kwijtschelding"],
                  "Er is iets gebeurd", knowledge().life_events["verhuizen"].knop)
    finish_with_first_answers(citizen)
    slots = citizen.slots()
    assert {"gemeente", "toeslagen"} & set(slots["organisaties"])


def test_alina_finds_her_topic_even_when_the_bot_is_unsure(citizen: Citizen) -> None:
    citizen.say("ik ben statushouder en zwanger. ik wil bij mijn moeder wonen. zij heeft bijstand. mag dat?")
    confirm_topic(citizen, ["gemeente.bijstand", "leven.inburgering", "leven.verhuizen"], "Geld en schulden",
                  knowledge().topics["gemeente.bijstand"].knop)
    finish_with_first_answers(citizen)
    slots = citizen.slots()
    assert slots["intake_fase"] == "uitkomst" and slots["organisaties"]
    assert "statushouder" in " ".join(slots["verhaal"])


def test_dit_past_niet_then_a_person(citizen: Citizen) -> None:
    citizen.say("ik heb een boete van het cjib")
    confirm_topic(citizen, ["cjib.openstaande_boetes", "cjib.betalingsregeling"], "Boetes en belasting",
                  knowledge().topics["cjib.openstaande_boetes"].knop)
    citizen.say("dit past niet bij mij")
    assert "eigen woorden" in " ".join(citizen.texts())
    citizen.press("Praat met medewerker")
    assert "medewerker" in " ".join(citizen.texts()).lower()


def test_status_question_without_the_handover_service_is_honest(citizen: Citizen) -> None:
    citizen.say("wat is de status van mijn vraag HV-7K3M")
    assert "status nu niet opzoeken" in " ".join(citizen.texts())
    citizen.say("hoe staat het met mijn zaak")
    assert "kenmerk" in " ".join(citizen.texts())


def test_greeting_gets_the_open_question(citizen: Citizen) -> None:
    citizen.say("hallo")
    assert "eigen woorden" in " ".join(citizen.texts())


def test_a_crisis_gets_the_help_line_before_anything_else(citizen: Citizen) -> None:
    citizen.say("ik kan het niet meer aan en ik zie het niet meer zitten")
    texts = citizen.texts()
    assert "113" in texts[0] and "0800-0113" in texts[0]
    assert "Praat met medewerker" in [b["title"] for b in citizen.buttons()]
    assert "Welkom" not in " ".join(texts)
    assert citizen.slots()["urgent"] is True


def test_content_is_never_answered_with_the_welcome(citizen: Citizen) -> None:
    citizen.say("hallo")
    assert "Welkom" in " ".join(citizen.texts())
    citizen.say("de deurwaarder komt morgen")
    text = " ".join(citizen.texts())
    assert "Welkom" not in text and "dringend" in text
