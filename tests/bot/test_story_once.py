"""Issue 12 on the engine and the conversation as plain functions: the story is told once, free text
works at every question, the summary stays faithful, urgency and office hours come first, the tone is
warm. Real knowledge and stroomschema, hand-made NLU parses (what the model makes of the words is
tested through the real servers in tests/e2e/test_conversation_suite.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import List, Tuple

import pytest

from bot.intake.conversation import Context, Conversation, ConversationState, Message
from bot.intake.effects import Availability, CheckAvailability
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.schema import URGENCY_NODE, schema
from bot.intake.state import DONE, HANDOVER_STEP, IN_TREE, IntakeState, Reply, Turn, choice_payload
from tests.bot.helpers import NOW, domain
from tests.bot.test_engine import button, last_buttons, pressed, responses, said

ON = Context(now=NOW, handover_configured=True)


@pytest.fixture(scope="module")
def intake() -> Intake:
    return Intake(knowledge(), schema())


@pytest.fixture(scope="module")
def talk(intake: Intake) -> Conversation:
    return Conversation(intake)


def texts(turn: Turn) -> List[str]:
    """The lines the citizen reads (what the bot took from the story is one bubble of several lines)."""
    return [line for r in turn.replies if r.text for line in r.text.split("\n")]


def cjib_letter(intake: Intake) -> Turn:
    """ "Ik heb een brief van het CJIB en ik kan de boete niet betalen", confirmed, urgency: no."""
    turn = intake.handle(
        IntakeState(),
        said("Ik heb een brief van het CJIB en ik kan de boete niet betalen", "cjib.openstaande_boetes"),
    )
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    assert turn.state.intake_knoop == URGENCY_NODE
    return intake.handle(turn.state, pressed(button(turn, "Nee")))


# --- 1. story once --------------------------------------------------------------------------------


def test_what_the_story_says_is_not_asked_again_and_the_bot_says_what_it_took(intake: Intake) -> None:
    turn = cjib_letter(intake)
    assert "Kunt u de boete betalen?" not in texts(turn)
    assert "U schreef dat u de boete niet kunt betalen." in texts(turn)
    assert turn.state.intake_knoop == "cjib.schulden"  # the next question is asked
    assert "Klopt niet" in last_buttons(turn)
    assert any("(uit het verhaal)" in a for a in turn.state.antwoorden)


def test_klopt_niet_goes_back_and_the_citizen_answers_it_themselves(intake: Intake) -> None:
    turn = cjib_letter(intake)
    back = intake.handle(turn.state, pressed(button(turn, "Klopt niet")))
    assert responses(back)[0] == "utter_verhaal_herstel"
    assert "Kunt u de boete betalen?" in texts(back)
    assert back.state.intake_knoop == "cjib.start" and "cjib.start" in back.state.zelf_beantwoorden
    assert not any("uit het verhaal" in a for a in back.state.antwoorden)
    # typed as well: "nee dat klopt niet"
    typed = intake.handle(turn.state, said("nee dat klopt niet", "ontkennen"))
    assert typed.state.intake_knoop == "cjib.start"


def test_annie_is_not_asked_who_died_nor_whether_her_partner_did_the_papers(intake: Intake) -> None:
    text = "mijn man deed dit altijd maar hij is in maart overleden"
    turn = intake.handle(IntakeState(), said(text, "leven.overlijden_naaste"))
    # condolence first, before any question
    assert texts(turn)[0].startswith("Gecondoleerd")
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    assert "Wie is er overleden?" not in texts(turn)
    assert "Regelde uw partner de papieren en het geld?" not in texts(turn)
    assert "U schreef dat uw partner is overleden." in texts(turn)
    assert turn.state.intake_knoop == "leven.overlijden.kinderen"
    assert "geen_overzicht" in turn.state.signalen


def test_an_urgent_signal_in_the_story_answers_the_urgency_question_of_a_route(intake: Intake) -> None:
    turn = intake.handle(
        IntakeState(), said("ik heb schulden en de deurwaarder komt morgen", "leven.schulden")
    )
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    assert "Is er nu iets dringends?" not in texts(turn)
    assert turn.state.uit_verhaal == ("leven.schulden.start",)


def test_two_options_in_the_story_is_no_answer(intake: Intake) -> None:
    text = "ik kan de boete niet betalen, kan ik een betalingsregeling krijgen"
    turn = intake.handle(IntakeState(), said(text, "cjib.betalingsregeling"))
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    turn = intake.handle(turn.state, pressed(button(turn, "Nee")))
    assert turn.state.intake_knoop == "cjib.start" and "Kunt u de boete betalen?" in texts(turn)


# --- 2. free text at every question ---------------------------------------------------------------


def at_cjib_start(intake: Intake) -> Turn:
    turn = intake.handle(IntakeState(), said("ik heb een boete van het cjib", "cjib.openstaande_boetes"))
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    turn = intake.handle(turn.state, pressed(button(turn, "Nee")))
    assert turn.state.intake_knoop == "cjib.start"
    return turn


def test_no_and_more_keeps_the_words_and_answers_the_next_question_too(intake: Intake) -> None:
    text = "nee ik kan het echt niet betalen, ik heb ook andere schulden"
    turn = intake.handle(at_cjib_start(intake).state, said(text, "ontkennen"))
    assert turn.state.antwoorden[1].endswith(f"Nee, lukt niet (“{text}”)")
    assert text in turn.state.verhaal
    # the debts answer "Heeft u ook andere schulden?"
    assert "U schreef dat u ook andere schulden heeft." in texts(turn)
    assert "gemeente.schuldhulp" in turn.state.extra_onderwerpen


def test_i_think_so_but_no_money_is_read_as_cannot_pay(intake: Intake) -> None:
    turn = intake.handle(
        at_cjib_start(intake).state, said("ik denk het wel, maar ik heb het geld gewoon niet", "bevestigen")
    )
    assert turn.state.antwoorden[1].startswith("Kunt u de boete betalen? → Nee, lukt niet")
    assert "utter_kies_antwoord" not in responses(turn)


@pytest.mark.parametrize("text", ["wat moet ik nu doen", "wat bedoelt u?", "ik snap het niet"])
def test_a_question_about_the_question_explains_it(intake: Intake, text: str) -> None:
    start = at_cjib_start(intake)
    turn = intake.handle(start.state, said(text, "nlu_fallback", 0.3))
    assert "utter_uitleg_vraag" in responses(turn) and "utter_niet_begrepen" not in responses(turn)
    assert texts(turn)[-1] == "Kunt u de boete betalen?" and "Nee, lukt niet" in last_buttons(turn)
    assert turn.state.intake_knoop == "cjib.start" and turn.state.misverstanden == 0


def test_yes_with_more_words_confirms_the_topic(intake: Intake) -> None:
    first = intake.handle(IntakeState(), said("ik heb schulden", "leven.schulden"))
    turn = intake.handle(first.state, said("ja, meerdere schulden", "leven.schulden"))
    assert "utter_bevestig_onderwerp" not in responses(turn)
    assert turn.state.intake_fase == IN_TREE or turn.state.intake_fase == DONE


def test_after_doesnt_fit_the_topic_is_kept_and_offered_next_to_a_new_one(intake: Intake) -> None:
    turn = intake.handle(IntakeState(), said("mijn zorgtoeslag is gestopt", "toeslagen.aanvragen_wijzigen"))
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    while "Dit past niet" not in last_buttons(turn):
        turn = intake.handle(turn.state, pressed(turn.replies[-1].buttons[0][1]))
    turn = intake.handle(turn.state, pressed(button(turn, "Dit past niet")))
    other = intake.handle(turn.state, said("ik moet een eigen bijdrage betalen", "cak.eigen_bijdrage"))
    assert other.state.onderwerp == "toeslagen.aanvragen_wijzigen"
    assert (
        other.state.kandidaten[0] == "toeslagen.aanvragen_wijzigen"
        and "cak.eigen_bijdrage" in other.state.kandidaten
    )
    same = intake.handle(
        turn.state, said("het gaat over mijn zorgtoeslag van vorig jaar", "toeslagen.aanvragen_wijzigen")
    )
    assert responses(same) == ["utter_eigen_woorden_genoteerd"]
    assert same.state.onderwerp == "toeslagen.aanvragen_wijzigen"


def outcome(intake: Intake) -> Turn:
    turn = at_cjib_start(intake)
    turn = intake.handle(turn.state, pressed(button(turn, "Ja")))
    assert turn.state.intake_fase == DONE
    return turn


def test_help_from_the_gemeente_at_the_final_choice_asks_for_a_person(intake: Intake) -> None:
    turn = intake.handle(
        outcome(intake).state, said("ik wil graag hulp van de gemeente", "gemeente.schuldhulp", 0.5)
    )
    assert turn.followup == HANDOVER_STEP


def test_words_at_the_final_choice_never_lose_the_buttons(intake: Intake) -> None:
    turn = intake.handle(outcome(intake).state, said("tja", "nlu_fallback", 0.2))
    assert {"Zelf doen", "Hulp medewerker"} <= set(last_buttons(turn))


# --- 3. a faithful summary ------------------------------------------------------------------------


def test_the_summary_quotes_each_message_and_names_every_problem(intake: Intake) -> None:
    turn = cjib_letter(intake)
    turn = intake.handle(turn.state, said("ja, bij de zorgverzekering en de huur", "bevestigen"))
    while turn.state.intake_fase != DONE:
        turn = intake.handle(turn.state, pressed(turn.replies[-1].buttons[0][1]))
    summary = turn.state.samenvatting or ""
    assert (
        "“Ik heb een brief van het CJIB en ik kan de boete niet betalen” “ja, bij de zorgverzekering"
        in summary
    )


# --- 4. urgency, 5. out of hours, 6. tone (the conversation) --------------------------------------


def test_urgency_is_said_at_once_with_the_step_for_today(talk: Conversation) -> None:
    message = Message(
        user=said("huur 3 maanden achter en ze gaan me eruit zetten help", "gemeente.huisvesting")
    )
    step = talk.handle(ConversationState(), message, ON)
    assert step.replies[0].response == "utter_urgent_gezien"
    assert "verhuurder" in str(step.replies[1].text)  # ontruiming: vandaag in signalen.yml
    assert step.state.intake.urgent and "ontruiming" in step.state.intake.dringend_gemeld
    again = talk.handle(step.state, message, ON)
    assert "utter_urgent_gezien" not in [r.response for r in again.replies]  # once


def test_out_of_hours_is_said_before_any_consent_question(talk: Conversation) -> None:
    state = ConversationState(intake=replace(outcome_state(talk), urgent=True))
    step = talk.handle(state, Message(user=said("ik wil een medewerker", "medewerker")), ON)
    assert step.effect == CheckAvailability()
    closed = Availability(
        live=False, next_open="2026-12-07T09:00:00+01:00", hours="maandag tot en met vrijdag"
    )
    after = talk.after(step.state, step.effect, closed)
    names = [r.response for r in after.replies]
    assert names[:3] == ["utter_medewerker_nu_niet", "utter_kantoortijden", "utter_terugbellen_wat_nu"]
    assert after.replies[0].variables["wanneer"] == "maandag 7 december om 9.00 uur"
    assert "utter_hulplijn_algemeen" in names  # urgent: the lines that are always open
    assert names.index("utter_terugbellen_wat_nu") < names.index("utter_vraag_toestemming")
    when = talk.handle(after.state, Message(user=said("wanneer bellen jullie?", "nlu_fallback", 0.2)), ON)
    assert [r.response for r in when.replies] == ["utter_wanneer_weer_open"]
    meanwhile = talk.handle(
        after.state, Message(user=said("wat moet ik nu doen tot die tijd", "afscheid")), ON
    )
    assert meanwhile.replies[0].response == "utter_tussentijds"
    assert "utter_tot_ziens" not in [r.response for r in meanwhile.replies]


def outcome_state(talk: Conversation) -> IntakeState:
    return outcome(talk.intake).state


def test_zelf_doen_ends_warmly(intake: Intake) -> None:
    done = outcome(intake)
    turn = intake.handle(done.state, pressed(button(done, "Zelf doen")))
    assert responses(turn) == ["utter_zelf_doen"]
    text = domain()["responses"]["utter_zelf_doen"][0]["text"]
    assert "niet alleen" in text and "medewerker" in text


# --- 7. short answers: every outcome fits a phone screen ------------------------------------------

MAX_TURN_CHARS = 900  # the same caps as tests/e2e/test_conversation_suite.py
MAX_TURN_BUBBLES = 6


def rendered(reply: Reply) -> str:
    """What the citizen reads of one reply: the response's first text with its variables filled."""
    if reply.text:
        return reply.text
    template = str(domain()["responses"][reply.response][0]["text"])
    return template.format_map({k: str(v) for k, v in reply.variables.items()})


def ways_to_outcomes() -> List[Tuple[str, str, int]]:
    """(question, outcome, option index) for every outcome node: one way to reach it."""
    ways = {}
    for node in schema().nodes.values():
        for i, option in enumerate(node.opties):
            target = schema().nodes.get(option.naar)
            if target is not None and target.uitkomst is not None and target.id not in ways:
                ways[target.id] = (node.id, target.id, i)
    return sorted(ways.values())


def test_every_outcome_is_reached_and_fits_a_phone_screen(intake: Intake) -> None:
    outcomes = {n.id for n in schema().nodes.values() if n.uitkomst is not None}
    ways = ways_to_outcomes()
    assert {outcome for _, outcome, _ in ways} == outcomes
    too_long = []
    for question, outcome, index in ways:
        at = IntakeState(intake_fase=IN_TREE, intake_knoop=question, urgent=True)
        turn = intake.handle(at, pressed(choice_payload(f"knoop|{question}|{index}")))
        assert turn.state.uitkomst_knoop == outcome
        texts_ = [rendered(r) for r in turn.replies]
        if len(texts_) > MAX_TURN_BUBBLES or len("\n".join(texts_)) > MAX_TURN_CHARS:
            too_long.append(f"{outcome}: {len(texts_)} berichten, {len(chr(10).join(texts_))} tekens")
    assert too_long == []


def test_a_crisis_only_the_detector_reads_gives_the_line_and_still_answers_the_question(
    talk: Conversation,
) -> None:
    text = "Wij hebben te weinig geld. We zijn verhuisd naar een goedkoper huis in een andere stad."
    user = said(text, "gemeente.zorgen_inkomen")
    user = replace(user, parse={**user.parse, "detectors": {"crisis": 0.56}})
    step = talk.handle(ConversationState(), Message(user=user), ON)
    names = [r.response for r in step.replies]
    assert names[0] == "utter_hulplijn_algemeen"
    assert "utter_bevestig_onderwerp" in names and "utter_crisis_medewerker" not in names
    assert step.state.intake.crisis == ("crisis_algemeen",) and step.state.intake.urgent
    # In words ("ik wil er niet meer zijn"), the crisis is all the bot talks about.
    words = said("ik wil er niet meer zijn", "afscheid")
    step = talk.handle(ConversationState(), Message(user=words), ON)
    assert [r.response for r in step.replies][-1] == "utter_crisis_medewerker"


def test_not_urgent_in_the_story_answers_the_urgency_question(intake: Intake) -> None:
    turn = intake.handle(
        IntakeState(),
        said("ik heb een boete van het cjib, het is niet dringend hoor", "cjib.openstaande_boetes"),
    )
    turn = intake.handle(turn.state, pressed(button(turn, "Ja, dat klopt")))
    assert "U schreef dat het niet dringend is." in texts(turn)
    assert turn.state.intake_knoop == "cjib.start" and not turn.state.urgent
    # "dringend" alone is not "niet dringend"
    urgent = intake.handle(
        IntakeState(), said("het is dringend, een boete van het cjib", "cjib.openstaande_boetes")
    )
    urgent = intake.handle(urgent.state, pressed(button(urgent, "Ja, dat klopt")))
    assert "U schreef dat het niet dringend is." not in texts(urgent)


@pytest.mark.parametrize(
    "text,person",
    [
        ("ik wil graag hulp van de gemeente", True),
        ("kunt u mij helpen", True),
        ("ik heb geen hulp nodig, ik doe het zelf", False),
        ("hulp is niet nodig", False),
    ],
)
def test_after_the_advice_help_words_ask_for_a_person_and_their_negation_does_not(
    intake: Intake, text: str, person: bool
) -> None:
    turn = intake.handle(outcome(intake).state, said(text, "nlu_fallback", 0.2))
    assert (turn.followup == HANDOVER_STEP) is person
