"""The crisis safety net: words of a crisis get the right help line at once, before any routine
question, and a person is offered; an ordinary money question never gets one.

The sentences here are written for this test (not taken from the evaluation set in eval/, which is
only scored by `make eval`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.intake.conversation import Conversation, ConversationState
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.routing import find_signals, route
from bot.intake.schema import schema
from tests.bot.helpers import domain
from tests.bot.test_conversation import LIVE, ON, event, msg, names


@pytest.fixture(scope="module")
def talk() -> Conversation:
    return Conversation(Intake(knowledge(), schema()))


CRISES = [
    ("ik zie het echt niet meer zitten met al die schulden", "utter_hulplijn_113"),
    ("soms wil ik er gewoon niet meer zijn", "utter_hulplijn_113"),
    ("mijn man slaat mij als hij gedronken heeft", "utter_hulplijn_veilig_thuis"),
    ("ik durf niet meer naar huis, mijn ex bedreigt me", "utter_hulplijn_veilig_thuis"),
    ("ik heb vannacht geen plek om te slapen", "utter_hulplijn_slaapplek"),
    ("we slapen al een week in de auto met de kinderen", "utter_hulplijn_slaapplek"),
    ("het kind van de buren wordt geslagen, ik hoor het elke avond", "utter_hulplijn_kind"),
    ("soms denk ik dat mijn kinderen beter af zijn zonder mij", "utter_hulplijn_113"),
    ("ik heb gisteren een hele strip pillen geslikt", "utter_hulplijn_113"),
    ("mijn vriend heeft me gisteravond weer geslagen", "utter_hulplijn_veilig_thuis"),
    ("ik ben met de kinderen gevlucht voor mijn man", "utter_hulplijn_veilig_thuis"),
    ("ik weet niet waar ik met mijn zoon moet slapen vannacht", "utter_hulplijn_slaapplek"),
    ("mijn baby is niet veilig bij haar vader", "utter_hulplijn_kind"),
]
ORDINARY = [
    "ik kan de huur niet betalen deze maand",
    "ik heb een boete van het cjib en weet niet hoe ik moet betalen",
    "mijn zorgtoeslag is gestopt en ik snap de brief niet",
    "er is geen plek meer op de school van mijn zoon",
    "ik kan het formulier niet meer vinden op de website",
    "mijn man is overleden en ik weet niet wat ik moet regelen",
    "ik ben weg bij mijn man en moet mijn toeslagen wijzigen",
    "ik ben helemaal klaar met die website van de belastingdienst",
    "de apotheek zegt dat mijn medicijnen niet meer vergoed worden",
]


@pytest.mark.parametrize("text,line", CRISES)
def test_a_crisis_gets_its_help_line_first_and_a_person_is_offered(
    talk: Conversation, text: str, line: str
) -> None:
    step = talk.handle(ConversationState(), msg(text, "gemeente.zorgen_inkomen"), ON)
    assert names(step)[0] == line
    assert names(step)[-1] == "utter_crisis_medewerker"
    assert step.effect is None
    assert step.state.intake.urgent and step.state.intake.crisis
    assert text in step.state.intake.verhaal  # the words stay for the casemanager's summary


@pytest.mark.parametrize("text", ORDINARY)
def test_an_ordinary_question_gets_no_help_line(talk: Conversation, text: str) -> None:
    step = talk.handle(ConversationState(), msg(text, "gemeente.zorgen_inkomen"), ON)
    assert not [n for n in names(step) if n and n.startswith(("utter_hulplijn", "utter_crisis"))]
    parse = {"text": text, "intent": {"name": "gemeente.zorgen_inkomen", "confidence": 0.9}}
    assert not route(parse, knowledge()).crisis


def test_no_place_to_sleep_also_gives_the_gemeentes_contact_route(talk: Conversation) -> None:
    step = talk.handle(ConversationState(), msg("ik heb vannacht geen plek om te slapen", "nlu_fallback"), ON)
    assert names(step)[:2] == ["utter_hulplijn_slaapplek", "utter_contact_telefoon"] or names(step)[:2] == [
        "utter_hulplijn_slaapplek", "utter_contact_website"]


def test_each_crisis_is_answered_once_then_the_conversation_goes_on(talk: Conversation) -> None:
    first = talk.handle(ConversationState(), msg("ik zie het niet meer zitten", "nlu_fallback"), ON)
    text = "ik zie het niet meer zitten, de boete van het cjib"
    again = talk.handle(first.state, msg(text, "cjib.openstaande_boetes"), ON)
    assert "utter_hulplijn_113" not in names(again)
    assert "utter_bevestig_onderwerp" in names(again)  # the intake takes the question now


def test_a_second_kind_of_crisis_gets_its_own_line(talk: Conversation) -> None:
    first = talk.handle(ConversationState(), msg("ik zie het niet meer zitten", "nlu_fallback"), ON)
    second = talk.handle(first.state, msg("en mijn vriend slaat mij", "nlu_fallback"), ON)
    assert names(second)[0] == "utter_hulplijn_veilig_thuis"


def test_during_a_live_chat_the_casemanager_reads_it(talk: Conversation) -> None:
    step = talk.handle(LIVE, msg("ik zie het niet meer zitten", "nlu_fallback"), ON)
    assert names(step) == [] and step.effect is not None  # forwarded to the casemanager


def test_a_casemanagers_words_are_no_crisis_of_the_citizen(talk: Conversation) -> None:
    state = replace(LIVE, handover_actief=True)
    words = "Ziet u het niet meer zitten?"
    step = talk.handle(state, event("medewerker_bericht", naam="Sanne", tekst=words), ON)
    assert names(step) == ["utter_bericht_van_medewerker"]


def test_every_help_line_is_a_domain_response_and_every_crisis_signal_is_urgent() -> None:
    kb = knowledge()
    lines = {s.hulplijn for s in kb.signals.values() if s.crisis}
    assert lines == {"utter_hulplijn_113", "utter_hulplijn_veilig_thuis", "utter_hulplijn_slaapplek",
                     "utter_hulplijn_kind", "utter_hulplijn_algemeen"}
    assert lines | {"utter_crisis_medewerker"} <= set(domain()["responses"])
    assert all(s.urgent for s in kb.signals.values() if s.crisis)


@pytest.mark.parametrize("line,numbers", [
    ("utter_hulplijn_113", ["113", "0800-0113", "112"]),
    ("utter_hulplijn_veilig_thuis", ["0800-2000", "112"]),
    ("utter_hulplijn_kind", ["0800-2000", "0800-0432", "112"]),
    ("utter_hulplijn_slaapplek", ["112"]),
    ("utter_hulplijn_algemeen", ["112", "0800-0113", "0800-2000"]),
])
def test_the_help_lines_name_the_right_numbers(line: str, numbers: list) -> None:
    text = domain()["responses"][line][0]["text"]
    assert all(number in text for number in numbers)


def test_the_signals_fire_on_the_words_and_not_on_a_normal_sentence() -> None:
    kb = knowledge()
    crisis = {s.id for s in kb.signals.values() if s.crisis}
    for text, _ in CRISES:
        assert crisis & set(find_signals(text, kb)), text
    for text in ORDINARY:
        assert not crisis & set(find_signals(text, kb)), text
