"""Debts for the gemeente's schuldhulp (bot/knowledge/schuldeisers.yml, labelling rule 2 of
eval/README.md; 000:34-40): a debt to a private creditor is schuldhulp's, and with two or more
creditors schuldhulp comes first, in every language; one government body, or rent and energy without
arrears, are not. The routing keeps a question the whole text is sure of, and a story's order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml

from bot.intake.knowledge import Knowledge, knowledge
from bot.intake.routing import Debt, debt_of, find_signals, route, several_owed_in_a_sentence
from tests.bot.test_understanding import parse

CASES: Dict[str, Dict[str, List[str]]] = yaml.safe_load(
    (Path(__file__).parent / "debt_cases.yml").read_text(encoding="utf-8"))
LANGUAGES = ["nl", "en", "pl", "tr", "ar", "uk"]
NO_DEBT = Debt(event=knowledge().life_events["schulden"], several=False, private=False, evicted=False)


def named(text: str, kb: Knowledge) -> Tuple[str, ...]:
    """The organisations the entity ruler names (lexicon.yml): the longest variant wins, as in
    bot/nlp/build.py ("gemeentelijke belastingen" is the gemeente, not the Belastingdienst)."""
    lowered, taken, found = text.lower(), [], []
    for variant, org in sorted(kb.org_variants.items(), key=lambda item: -len(item[0])):
        for m in re.finditer(r"(?<!\w)" + re.escape(variant) + r"(?!\w)", lowered):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                taken.append((m.start(), m.end()))
                found.append(org)
    return tuple(dict.fromkeys(found))


def debts_of(text: str) -> Optional[Debt]:
    kb = knowledge()
    return debt_of(text, find_signals(text, kb), named(text, kb), kb)


def for_schuldhulp(debt: Optional[Debt]) -> bool:
    return debt is not None and (debt.private or debt.several)


def entities(text: str) -> List[Dict[str, Any]]:
    found = re.findall(r"(?i)\b(cjib|belastingdienst|cak|duo)\b", text)
    return [{"entity": "organisatie", "value": v} for v in found]


def test_the_case_file_has_every_language_and_group() -> None:
    assert sorted(CASES) == sorted(LANGUAGES)
    assert all(sorted(CASES[lang]) == ["geen", "meerdere", "prive"] for lang in LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_debt_to_a_private_creditor_is_for_schuldhulp(lang: str) -> None:
    missed = [t for t in CASES[lang]["prive"] if not for_schuldhulp(debts_of(t))]
    assert not missed


@pytest.mark.parametrize("lang", LANGUAGES)
def test_two_or_more_creditors_put_schuldhulp_first(lang: str) -> None:
    missed = [t for t in CASES[lang]["meerdere"] if not (debts_of(t) or NO_DEBT).several]
    assert not missed


@pytest.mark.parametrize("lang", LANGUAGES)
def test_one_government_body_or_no_arrears_is_no_debt_for_schuldhulp(lang: str) -> None:
    fired = [t for t in CASES[lang]["geen"] if for_schuldhulp(debts_of(t))]
    assert not fired


@pytest.mark.parametrize("text", [
    # found in review: a company, a place or a word that only looks like a debt
    "I applied to three companies", "wysłałem CV do kilku firm", "я працювала в різних компаніях",
    "Jak długo trwa wniosek?", "мій паспорт прострочений", "не можу повернутися додому",
    "в мене оплачено", "ik wil geld", "mijn loon is niet betaald",
    "hoe zet ik automatische incasso op voor de huur", "het is mijn schuld dat ik de brief kwijt ben",
    "I need essentials for the baby", "I called my landlord by phone, is the energietoeslag fine?",
    "zadzwoniłam telefonicznie do właściciela mieszkania",
])
def test_words_that_only_look_like_debts_are_none(text: str) -> None:
    assert not for_schuldhulp(debts_of(text))


def test_the_uwv_svb_and_toeslagen_are_creditors_only_when_they_want_money_back() -> None:
    paid = "het uwv betaalt niet en nu kan ik de huur niet betalen"
    back = "het uwv wil geld terug en ik kan de huur niet betalen"
    assert not (debts_of(paid) or NO_DEBT).several
    assert (debts_of(back) or NO_DEBT).several


def test_an_unsure_ranking_gets_schuldhulp_first_and_keeps_the_creditors_questions() -> None:
    text = "belastingdienst wil geld, cjib wil geld en de woningcorporatie ook. ik kan niemand meer betalen"
    ranked = parse(text, "belastingdienst.betalingsregeling", 0.35, entities=entities(text))
    routing = route(ranked, knowledge())
    assert routing.topic == "gemeente.schuldhulp"
    assert routing.candidates[:2] == ("gemeente.schuldhulp", "belastingdienst.betalingsregeling")
    assert set(routing.organisations) == {"gemeente", "belastingdienst", "cjib"}
    assert (routing.life_event, routing.question_type) == ("schulden", 3)
    # The stroomschema's question "bij meer dan één organisatie?" need not be asked again.
    assert "meerdere_schuldeisers" in routing.signals


def test_a_question_the_whole_text_is_sure_of_stays_first() -> None:
    text = "het CJIB heeft beslag gelegd op mijn loon, nu kan ik mijn huur niet betalen"
    routing = route(parse(text, "cjib.beslaglegging", 0.9, entities=entities(text)), knowledge())
    assert routing.topic == "cjib.beslaglegging"


def test_a_private_debt_takes_over_an_unsure_gemeente_topic_only() -> None:
    text = "I owe my landlord 3 months of rent and I cannot pay it"
    kb = knowledge()
    assert route(parse(text, "gemeente.huisvesting", 0.4), kb).topic == "gemeente.schuldhulp"
    assert route(parse(text, "gemeente.huisvesting", 0.8), kb).topic == "gemeente.huisvesting"
    # Another organisation's question is not taken over by one private debt.
    assert route(parse(text, "uwv.recht_ww", 0.4), kb).topic == "uwv.recht_ww"


def test_beside_a_crisis_the_stated_debts_stay_the_topic() -> None:
    text = "ik zie het niet meer zitten. schulden bij de zorgverzekering, het energiebedrijf en klarna"
    routing = route(parse(text, "gemeente.zorgen_inkomen", 0.3), knowledge())
    assert routing.crisis
    assert routing.topic == "gemeente.schuldhulp"


def test_a_story_keeps_the_order_its_citizen_gave_unless_it_says_there_are_several_creditors() -> None:
    parts = [{"name": "uwv.recht_ww", "confidence": 0.9}] * 5
    # Creditors counted over a long story may be costs, not debts ("de huur is meer dan ik verdien"):
    # they count only in a sentence that says there is a debt.
    costs = "Mijn WW is gestopt. De huur is al meer dan ik verdien. Ik heb een achterstand bij het " \
        "energiebedrijf. Ook moet ik DUO betalen. En de auto is kapot. Wat nu?"
    assert route(parse(costs, "uwv.recht_ww", 0.4, parts=parts), knowledge()).topic == "uwv.recht_ww"
    for said in [
        "Mijn WW is gestopt. Ik heb schulden bij meerdere instanties. Ook moet ik DUO betalen. "
        "En de auto is kapot. Wat nu?",
        "Mijn WW is gestopt. Ik heb een achterstand bij de verhuurder en het energiebedrijf. "
        "Ook moet ik DUO betalen. En de auto is kapot. Wat nu?",
    ]:
        routing = route(parse(said, "uwv.recht_ww", 0.4, parts=parts), knowledge())
        assert routing.topic == "gemeente.schuldhulp"
    # The whole text sure of another question keeps it.
    arrears = "Mijn WW is gestopt. Ik heb een achterstand bij de verhuurder en het energiebedrijf. " \
        "Ook moet ik DUO betalen. En de auto is kapot. Wat nu?"
    sure = route(parse(arrears, "uwv.recht_ww", 0.8, parts=parts), knowledge())
    assert (sure.topic, sure.life_event) == ("uwv.recht_ww", "schulden")


def test_the_stroomschema_takes_several_creditors_from_a_story_in_any_language() -> None:
    """"Bij hoeveel instanties heeft u schulden?" is not asked again when the story named two
    creditors, also in Polish (`herken_signalen` in bot/stroomschema/levensgebeurtenissen.yml)."""
    from bot.intake.engine import Intake
    from bot.intake.schema import schema
    from bot.intake.state import IntakeState
    from tests.bot.test_engine import button, pressed, said

    intake = Intake(knowledge(), schema())
    text = "Mam zaległy czynsz i dług w Klarna, nie mogę zapłacić. Co robić?"
    turn = intake.handle(IntakeState(), said(text, "leven.schulden"))
    assert "meerdere_schuldeisers" in turn.state.signalen
    # One topic to confirm, not "Schulden" twice (the debts life event and the topic that handles it).
    titles = [title for r in turn.replies for title, _ in r.buttons]
    assert titles[0] == "Ja, dat klopt" and titles.count("Schulden") <= 1
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    # Nothing urgent (the life event's own question, or the general one before the topic's).
    titles = [title for r in turn.replies for title, _ in r.buttons]
    calm = "Nee, niet dringend" if "Nee, niet dringend" in titles else "Nee"
    turn = intake.handle(turn.state, pressed(button(turn, calm)))
    said_back = " ".join(r.text for r in turn.replies if r.text)
    told = r"U schreef dat u (schulden heeft bij|geld moet betalen aan) meer dan één organisatie"
    assert re.search(told, said_back)
    assert "Bij hoeveel instanties" not in said_back and "Moet u geld betalen aan meer" not in said_back


def test_every_signal_that_answers_a_question_exists() -> None:
    from bot.intake.schema import schema

    named_signals = {s for node in schema().nodes.values() for o in node.opties for s in o.herken_signalen}
    assert named_signals and named_signals <= set(knowledge().signals)


def test_an_eviction_over_arrears_puts_schuldhulp_first_and_keeps_the_question_for_a_home() -> None:
    """Rule 2: an eviction because of arrears is schuldhulp's, plus huisvesting when the citizen
    asks for a place to live, however sure the ranking is of the home."""
    text = "we moeten over 2 weken het huis uit vanwege de huurachterstand. waar kunnen we wonen?"
    routing = route(parse(text, "gemeente.huisvesting", 0.9), knowledge())
    assert routing.topic == "gemeente.schuldhulp"
    assert "gemeente.huisvesting" in routing.candidates


def test_debts_without_any_topic_are_for_schuldhulp() -> None:
    routing = route(parse("mam długi i nie wiem co robić", "begroeten", 0.9), knowledge())
    assert (routing.topic, routing.life_event) == ("gemeente.schuldhulp", "schulden")


def test_one_government_creditor_keeps_its_own_question() -> None:
    text = "ik heb een schuld bij DUO en kan niet betalen"
    ranked = parse(text, "duo.studieschuld", 0.4, entities=entities(text))
    assert route(ranked, knowledge()).topic == "duo.studieschuld"


@pytest.mark.parametrize("text, several", [
    ("Ik heb een achterstand van 1.200 euro bij de verhuurder en bij Eneco.", True),
    ("Ik heb schulden bij bol.com en de verhuurder. Wat nu?", True),
    ("Ik heb een betalingsachterstand bij:\n- de verhuurder\n- Eneco\n- CZ", True),
    # the rent as a cost, the debt elsewhere; in Arabic with its own question mark
    ("Mijn WW is gestopt. De huur is al meer dan ik verdien. Ik heb een achterstand bij Eneco.", False),
    ("انقطع راتبي؟ الايجار اكثر من دخلي؟ عندي دين عند شركة الكهرباء؟ ماذا افعل", False),
    # a story typed without full stops is one sentence (docs/nlu-tuning.md, v24)
    ("hoi ik heb een achterstand bij de woningcorporatie en bij vattenfall ook en ik weet echt niet meer "
     "hoe ik dat allemaal moet betalen want mijn uren zijn minder geworden", True),
])
def test_a_storys_creditors_count_per_sentence_that_names_the_debt(text: str, several: bool) -> None:
    assert several_owed_in_a_sentence(text, [], knowledge()) is several


def test_a_named_government_creditor_counts_in_its_own_sentence() -> None:
    text = "Het gaat slecht. Ik heb schulden bij de Belastingdienst en het CJIB."
    found = [{"entity": "organisatie", "value": m.group(0), "start": m.start(), "end": m.end()}
             for m in re.finditer(r"Belastingdienst|CJIB", text)]
    assert several_owed_in_a_sentence(text, found, knowledge())
    assert not several_owed_in_a_sentence(text, [], knowledge())  # without the entity ruler's offsets
