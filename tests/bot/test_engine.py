"""The intake engine on the real knowledge and stroomschema, with hand-made NLU parses."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.schema import URGENCY_NODE, schema
from bot.intake.state import (
    CONFIRMING,
    DONE,
    HUMAN_PAYLOAD,
    IN_TREE,
    OWN_WORDS,
    IntakeState,
    Reply,
    Turn,
    UserInput,
    choice_payload,
)


@pytest.fixture(scope="module")
def intake() -> Intake:
    return Intake(knowledge(), schema())


def said(
    text: str, intent: str, confidence: float = 0.9, ranking: Sequence[Tuple[str, float]] = ()
) -> UserInput:
    ranking = list(ranking) or [(intent, confidence)]
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
    }
    return UserInput(text=text, intent=intent, parse=parse)


def pressed(payload: str) -> UserInput:
    assert payload.startswith("/kies")
    choice = json.loads(payload[len("/kies") :])["keuze"]
    return UserInput(
        text=payload, intent="kies", parse={"text": payload, "intent": {"name": "kies"}}, choice=choice
    )


def responses(turn: Turn) -> List[Optional[str]]:
    return [r.response for r in turn.replies]


def button(turn: Turn, title: str) -> str:
    for reply in turn.replies:
        for t, payload in reply.buttons:
            if t == title:
                return payload
    raise AssertionError(f"geen knop '{title}' in {[b for r in turn.replies for b in r.buttons]}")


def last_buttons(turn: Turn) -> List[str]:
    return [t for t, _ in turn.replies[-1].buttons]


def test_a_story_is_confirmed_with_buttons_and_kept_in_the_citizens_words(intake: Intake) -> None:
    turn = intake.handle(
        IntakeState(), said("ik kan de boete van het cjib niet betalen", "cjib.betalingsregeling")
    )
    assert responses(turn) == ["utter_bevestig_onderwerp"]
    reply = turn.replies[0]
    assert reply.variables["onderwerp_label"] == knowledge().topics["cjib.betalingsregeling"].label
    assert [t for t, _ in reply.buttons] == ["Ja, dat klopt", "Iets anders", "Dit past niet"]
    assert turn.state.intake_fase == CONFIRMING
    assert turn.state.verhaal == ("ik kan de boete van het cjib niet betalen",)


def test_close_candidates_are_offered_as_a_choice(intake: Intake) -> None:
    ranking = [("toeslagen.terugvordering", 0.5), ("uwv.terugvordering", 0.4), ("begroeten", 0.1)]
    turn = intake.handle(
        IntakeState(), said("ik moet geld terugbetalen", "toeslagen.terugvordering", 0.5, ranking)
    )
    assert responses(turn) == ["utter_kies_uit_onderwerpen"]
    titles = last_buttons(turn)
    kb = knowledge()
    assert titles == [
        kb.topics["toeslagen.terugvordering"].knop, kb.topics["uwv.terugvordering"].knop, "Iets anders"
    ]


def test_money_themes_ask_the_urgency_question_first_then_continue_the_route(intake: Intake) -> None:
    first = intake.handle(IntakeState(), said("boete cjib", "cjib.openstaande_boetes"))
    urgency = intake.handle(first.state, pressed(button(first, "Ja, dat klopt")))
    assert urgency.state.intake_knoop == URGENCY_NODE
    route = intake.handle(urgency.state, pressed(button(urgency, "Nee")))
    assert route.state.intake_knoop == "cjib.start"
    assert route.state.urgent is False
    assert "Dit past niet" in last_buttons(route)


def test_an_urgent_story_skips_the_urgency_question(intake: Intake) -> None:
    # That it is urgent, and the step for today, the conversation says (test_conversation.py).
    first = intake.handle(
        IntakeState(),
        said("de deurwaarder komt morgen mijn huis ontruimen door de cjib boetes", "cjib.beslaglegging"),
    )
    assert first.state.urgent is True
    nxt = intake.handle(first.state, pressed(button(first, "Ja, dat klopt")))
    assert nxt.state.intake_knoop != URGENCY_NODE


def _walk(intake: Intake, state: IntakeState, turn: Turn, answers: Sequence[str]) -> Turn:
    for title in answers:
        turn = intake.handle(turn.state, pressed(button(turn, title)))
    return turn


def test_sven_a_simple_fines_question_uncovers_a_type_3_problem(intake: Intake) -> None:
    """Persona Sven (P-08): fines he cannot pay, 66+ without AOW -> CJIB and SVB, dependent."""
    turn = intake.handle(
        IntakeState(),
        said("ik heb een stapel boetes en durf het cjib niet te bellen", "cjib.openstaande_boetes"),
    )
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Nee, lukt niet", "Nee", "66+, geen AOW"])
    state = turn.state
    assert state.intake_fase == DONE
    assert set(state.organisaties) >= {"cjib", "svb"}
    assert state.vraagtype == 3
    assert "svb.aow_aio_aanvragen" in state.extra_onderwerpen
    assert "aow_niet_aangevraagd" in state.signalen
    kinds = responses(turn)
    assert kinds[:2] == ["utter_uitkomst", "utter_stappen"]
    assert "utter_advies_vraagtype_3" in kinds
    assert kinds[-1] == "utter_zelf_of_medewerker"
    assert button(turn, "Hulp medewerker") == HUMAN_PAYLOAD
    # Short first: the main organisation's contact route; the others on request ("Alle organisaties").
    contacts = [r for r in turn.replies if r.response in ("utter_contact_telefoon", "utter_contact_website")]
    assert [c.variables["naam"] for c in contacts] == [knowledge().organisations[state.organisaties[0]].naam]
    more = intake.handle(turn.state, pressed(button(turn, "Alle organisaties")))
    contacts += [r for r in more.replies if r.response in ("utter_contact_telefoon", "utter_contact_website")]
    assert [c.variables["naam"] for c in contacts] == [
        knowledge().organisations[o].naam for o in state.organisaties
    ]
    assert "Alle organisaties" not in last_buttons(more) and "Hulp medewerker" in last_buttons(more)
    assert "ik heb een stapel boetes" in (state.samenvatting or "")


def test_a_one_organisation_outcome_is_type_1_without_casemanager_advice(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("boete betalen", "cjib.openstaande_boetes"))
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Ja"])
    assert turn.state.vraagtype == 1
    assert turn.state.organisaties == ("cjib",)
    assert not any(r.response and r.response.startswith("utter_advies") for r in turn.replies)


def test_steps_are_numbered_in_order(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("boete betalen", "cjib.openstaande_boetes"))
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Ja"])
    steps = next(r for r in turn.replies if r.response == "utter_stappen").variables["stappen"]
    outcome = schema().nodes["cjib.uitkomst.betalen"].uitkomst
    more = intake.handle(turn.state, pressed(button(turn, "Meer stappen")))
    steps += "\n" + next(r for r in more.replies if r.response == "utter_meer_stappen").variables["stappen"]
    assert steps.splitlines() == [f"{i}. {s}" for i, s in enumerate(outcome.stappen, start=1)]
    assert "Meer stappen" not in last_buttons(more)


def test_dit_past_niet_asks_for_own_words_and_offers_a_person(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("boete", "cjib.openstaande_boetes"))
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Dit past niet"])
    assert responses(turn) == ["utter_past_niet"]
    assert turn.replies[0].buttons == (("Praat met medewerker", HUMAN_PAYLOAD),)
    assert turn.state.intake_fase == OWN_WORDS and turn.state.past_niet is True
    # the free text that follows is routed again and added to the story
    again = intake.handle(turn.state, said("het is eigenlijk een brief van de belasting", "brief.onbegrepen"))
    assert again.state.verhaal[-1] == "het is eigenlijk een brief van de belasting"
    assert again.state.intake_fase == CONFIRMING


def test_typed_number_label_and_yes_no_answer_an_open_question(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("boete", "cjib.openstaande_boetes"))
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee"])
    assert turn.state.intake_knoop == "cjib.start"
    by_number = intake.handle(turn.state, said("3", "nlu_fallback", 0.1))
    assert by_number.state.intake_knoop == "cjib.schulden"
    by_label = intake.handle(turn.state, said("alleen in delen", "cjib.betalingsregeling", 0.5))
    assert by_label.state.intake_knoop == "cjib.schulden"
    by_yes = intake.handle(by_label.state, said("jazeker", "bevestigen"))
    assert by_yes.state.intake_knoop == "cjib.aow.schulden"
    assert "gemeente" in by_yes.state.extra_organisaties


def test_an_unclear_answer_repeats_the_question_and_then_offers_a_person(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("boete", "cjib.openstaande_boetes"))
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee"])
    once = intake.handle(turn.state, said("tja weet ik veel", "nlu_fallback", 0.2))
    assert responses(once)[0] == "utter_kies_antwoord"
    assert once.state.intake_knoop == "cjib.start"
    twice = intake.handle(once.state, said("hmm", "nlu_fallback", 0.2))
    assert responses(twice)[-1] == "utter_aanbod_medewerker"


def test_not_understood_twice_offers_a_person(intake: Intake) -> None:
    once = intake.handle(IntakeState(), said("blablabla", "nlu_fallback", 0.1))
    assert responses(once) == ["utter_niet_begrepen"]
    twice = intake.handle(once.state, said("qwerty", "nlu_fallback", 0.1))
    assert responses(twice) == ["utter_niet_begrepen_medewerker"]
    assert ("Praat met medewerker", HUMAN_PAYLOAD) in twice.replies[0].buttons


def test_the_menu_reaches_every_topic_and_life_event(intake: Intake) -> None:
    menu = intake.handle(IntakeState(), pressed(choice_payload("menu")))
    assert responses(menu) == ["utter_kies_groep"]
    reached = set()
    for _title, payload in menu.replies[0].buttons:
        group = intake.handle(menu.state, pressed(payload))
        for _, item in group.replies[0].buttons:
            reached.add(json.loads(item[len("/kies") :])["keuze"])
    kb = knowledge()
    expected = {f"bevestig|{t}" for t in kb.topics} | {f"bevestig|leven.{e}" for e in kb.life_events}
    assert expected <= reached


def test_a_forged_or_stale_choice_falls_back_to_the_menu(intake: Intake) -> None:
    for choice in ("bevestig|bestaat.niet", "knoop|cjib.start|99", "knoop|geen.knoop|0", "onzin"):
        turn = intake.handle(IntakeState(), UserInput(text="", intent="kies", parse={}, choice=choice))
        assert responses(turn) == ["utter_kies_groep"], choice


def test_an_old_button_answers_its_own_question(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), pressed(choice_payload("knoop|cjib.start|0")))
    assert turn.state.intake_fase == DONE
    assert turn.state.onderwerp == "cjib.openstaande_boetes"


def test_state_round_trips_through_slots() -> None:
    state = IntakeState(kandidaten=("a",), urgent=True, vraagtype=3, misverstanden=1, verhaal=("x", "y"))
    slots: Dict[str, Any] = state.as_slots()
    assert slots["kandidaten"] == ["a"] and slots["vraagtype"] == 3
    slots["vraagtype"] = 3.0  # Rasa keeps float slots as floats
    assert IntakeState.from_slots(slots) == state


@pytest.mark.parametrize("event", sorted(knowledge().life_events))
def test_every_life_event_route_ends_in_a_checklist(intake: Intake, event: str) -> None:
    """Follow the first answer at every question: the route ends in that event's checklist."""
    turn = intake.handle(IntakeState(), pressed(choice_payload(f"bevestig|leven.{event}")))
    for _ in range(12):
        if turn.state.intake_fase == DONE:
            break
        assert turn.state.intake_fase == IN_TREE
        turn = intake.handle(turn.state, pressed(turn.replies[-1].buttons[0][1]))
    assert turn.state.intake_fase == DONE
    assert turn.state.levensgebeurtenis is not None
    assert any(r.response == "utter_stappen" for r in turn.replies)


def test_replies_only_name_responses_that_exist(intake: Intake) -> None:
    from tests.bot.helpers import domain_responses

    known = domain_responses()
    turn = intake.handle(IntakeState(), said("boete", "cjib.openstaande_boetes"))
    seen: List[Reply] = list(turn.replies)
    turn = _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Nee, lukt niet", "Ja", "66+, geen AOW"])
    seen += list(turn.replies)
    assert {r.response for r in seen if r.response} <= known


def test_topics_that_start_the_same_route_are_one_question(intake: Intake) -> None:
    ranking = [("cjib.betalingsregeling", 0.6), ("cjib.openstaande_boetes", 0.36)]
    turn = intake.handle(
        IntakeState(), said("brief cjib boete niet betalen", "cjib.betalingsregeling", 0.6, ranking)
    )
    assert responses(turn) == ["utter_bevestig_onderwerp"]
    assert turn.state.kandidaten == ("cjib.betalingsregeling",)


def test_a_life_event_in_the_words_is_offered_when_nlu_is_unsure(intake: Intake) -> None:
    ranking = [("nlu_fallback", 0.3), ("leven.verhuizen", 0.07)]
    turn = intake.handle(
        IntakeState(), said("de deurwaarder komt morgen beslag leggen", "nlu_fallback", 0.3, ranking)
    )
    # the life event is acknowledged first ("Goed dat u het vertelt"), then the topic that handles
    # it is checked: a debt and no other topic is schuldhulp's (bot/knowledge/schuldeisers.yml)
    assert responses(turn) == [None, "utter_bevestig_onderwerp"]
    assert turn.state.kandidaten == ("gemeente.schuldhulp",)
    assert turn.state.urgent is True


def test_an_eviction_over_a_debt_is_offered_as_schuldhulp(intake: Intake) -> None:
    """levensgebeurtenissen.yml `signalen_met_woorden`: the eviction and the debt's own words."""
    ranking = [("nlu_fallback", 0.3), ("leven.verhuizen", 0.07)]
    turn = intake.handle(
        IntakeState(), said("de deurwaarder komt ons huis ontruimen", "nlu_fallback", 0.3, ranking)
    )
    assert responses(turn) == [None, "utter_bevestig_onderwerp"]
    assert turn.state.kandidaten == ("gemeente.schuldhulp",)
    assert turn.state.urgent is True
