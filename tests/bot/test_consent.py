"""Consent before handover (bot/intake/consent.py) on the real knowledge, stroomschema and domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Tuple

import pytest

from bot.intake.consent import MAX_CORRECTION, casemanager_summary, utc_iso
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge, load_knowledge
from bot.intake.schema import schema
from bot.intake.state import (
    ASKING_CONSENT,
    ASKING_CONTACT,
    ASKING_ORGANISATION,
    ASKING_ORGANISATIONS,
    CALLBACK_STEP,
    CONFIRMING,
    CORRECTING,
    DONE,
    HANDOVER_STEP,
    NO_CONSENT,
    IntakeState,
    Reply,
    Turn,
    UserInput,
    choice_payload,
)
from tests.bot.helpers import ROOT, domain
from tests.bot.test_engine import _walk, pressed, responses, said

NOW = datetime(2025, 3, 4, 10, 30, tzinfo=timezone.utc)
STORY = "ik heb een stapel boetes en durf het cjib niet te bellen"


@pytest.fixture(scope="module")
def intake() -> Intake:
    return Intake(knowledge(), schema())


def variables(turn: Turn, response: str) -> Dict[str, Any]:
    return dict(next(r for r in turn.replies if r.response == response).variables)


def text_of(turn: Turn) -> str:
    """Everything the citizen reads in this turn, as far as it comes from variables."""
    return " ".join(str(v) for r in turn.replies for v in r.variables.values())


def choose(choice: str) -> UserInput:
    return pressed(choice_payload(choice))


def asking(organisations: Tuple[str, ...], **fields: Any) -> IntakeState:
    return IntakeState(
        intake_fase=ASKING_CONSENT, verhaal=("ik heb hulp nodig",), organisaties=organisations, **fields
    )


def correcting() -> IntakeState:
    return replace(asking(("cjib",)), intake_fase=CORRECTING)


@pytest.fixture(scope="module")
def sven(intake: Intake) -> Turn:
    """Persona Sven (P-08): fines he cannot pay, 66+ without AOW -> CJIB and SVB (and the gemeente)."""
    turn = intake.handle(IntakeState(), said(STORY, "cjib.openstaande_boetes"))
    return _walk(intake, turn.state, turn, ["Ja, dat klopt", "Nee", "Nee, lukt niet", "Nee", "66+, geen AOW"])


# --- what is shared, and with whom ---------------------------------------------------------------


def test_the_citizen_reads_the_summary_in_their_own_terms_and_who_gets_it(intake: Intake, sven: Turn) -> None:
    kb = knowledge()
    ask = intake.ask_consent(sven.state)
    assert ask.state.intake_fase == ASKING_CONSENT
    assert responses(ask) == [
        "utter_toestemming_inleiding",
        "utter_toestemming_eigen_woorden",
        "utter_toestemming_uitkomst",
        "utter_toestemming_signalen",
        "utter_toestemming_met_organisaties",
        "utter_vraag_toestemming",
    ]
    assert variables(ask, "utter_toestemming_inleiding")["gemeente"] == kb.organisations["gemeente"].naam
    assert variables(ask, "utter_toestemming_eigen_woorden")["verhaal"] == STORY
    outcome = schema().nodes[sven.state.uitkomst_knoop].uitkomst
    assert variables(ask, "utter_toestemming_uitkomst")["uitkomst"] == outcome.samenvatting
    assert (
        kb.signals["aow_niet_aangevraagd"].label in variables(ask, "utter_toestemming_signalen")["signalen"]
    )
    # with whom: every organisation by name, except the gemeente (named in the introduction)
    others = variables(ask, "utter_toestemming_met_organisaties")["organisaties"]
    for org in sven.state.organisaties:
        assert (kb.organisations[org].naam in others) == (org != "gemeente")
    # not the casemanager's jargon
    assert "Vraagtype" not in text_of(ask) and "Vraagtype" in (sven.state.samenvatting or "")


def test_one_organisation_is_named_and_covered_by_the_one_question(intake: Intake) -> None:
    ask = intake.ask_consent(asking(("cjib",)))
    assert "utter_toestemming_met_organisatie" in responses(ask)
    assert variables(ask, "utter_toestemming_met_organisatie")["organisaties"] == "CJIB"
    yes = intake.handle(ask.state, choose("toestemming|ja"), now=NOW)
    assert yes.followup == HANDOVER_STEP
    assert yes.state.toestemming is True and yes.state.intake_fase == DONE
    assert yes.state.toestemming_organisaties == ("cjib",)
    assert yes.state.toestemming_tijd == "2025-03-04T10:30:00+00:00"


def test_before_an_outcome_the_story_and_topic_are_shown_and_only_the_gemeente_is_named(
    intake: Intake,
) -> None:
    first = intake.handle(IntakeState(), said("boete cjib", "cjib.openstaande_boetes"))
    confirmed = intake.handle(first.state, choose("bevestig|cjib.openstaande_boetes"))
    ask = intake.ask_consent(confirmed.state)
    assert responses(ask) == [
        "utter_toestemming_inleiding",
        "utter_toestemming_eigen_woorden",
        "utter_toestemming_onderwerp",
        "utter_vraag_toestemming",
    ]
    label = knowledge().topics["cjib.openstaande_boetes"].label
    assert variables(ask, "utter_toestemming_onderwerp")["onderwerp_label"] == label
    yes = intake.handle(ask.state, said("ja", "bevestigen"), now=NOW)
    assert yes.followup == HANDOVER_STEP and yes.state.toestemming_organisaties == ()


def test_with_a_privacy_page_the_citizen_reads_where_storage_is_explained(
    monkeypatch: pytest.MonkeyPatch, sven: Turn
) -> None:
    # Sources L-11: tell the citizen what is stored, how long and who sees it. The gemeente's page
    # (GEMEENTE_PRIVACY_URL) is linked with the summary, before the question, also after a correction.
    page = "https://www.zuidstad.nl/privacy"
    monkeypatch.setenv("GEMEENTE_PRIVACY_URL", page)
    own = Intake(load_knowledge(), schema())
    ask = own.ask_consent(sven.state)
    assert responses(ask)[-2:] == ["utter_privacy_bewaren", "utter_vraag_toestemming"]
    assert variables(ask, "utter_privacy_bewaren") == {"privacy_url": page}
    correcting = own.handle(ask.state, choose("toestemming|aanpassen"), now=NOW)
    again = own.handle(correcting.state, said("Ik heb ook een schuld", "nlu_fallback"))
    assert responses(again)[-2:] == ["utter_privacy_bewaren", "utter_vraag_toestemming"]


def test_without_a_privacy_page_no_sentence_and_no_dead_link(
    monkeypatch: pytest.MonkeyPatch, sven: Turn
) -> None:
    monkeypatch.delenv("GEMEENTE_PRIVACY_URL", raising=False)
    ask = Intake(load_knowledge(), schema()).ask_consent(sven.state)
    assert "utter_privacy_bewaren" not in responses(ask)
    assert responses(ask)[-1] == "utter_vraag_toestemming"


def test_the_privacy_sentence_names_the_page() -> None:
    (variation,) = domain()["responses"]["utter_privacy_bewaren"]
    assert "{privacy_url}" in variation["text"] and "niet langer dan nodig" in variation["text"]


# --- correcting the summary ----------------------------------------------------------------------


def test_the_citizen_corrects_the_summary_and_sees_it_again_with_the_same_choices(
    intake: Intake, sven: Turn
) -> None:
    ask = intake.ask_consent(sven.state)
    correcting = intake.handle(ask.state, choose("toestemming|aanpassen"), now=NOW)
    assert responses(correcting) == ["utter_vraag_aanpassing"]
    assert variables(correcting, "utter_vraag_aanpassing")["max_tekens"] == MAX_CORRECTION
    assert correcting.state.intake_fase == CORRECTING

    # whatever NLU made of it (here: a greeting), the text is the correction
    fixed = intake.handle(
        correcting.state, said("  Hallo, ik heb ook   een schuld bij de Belastingdienst ", "begroeten")
    )
    assert fixed.state.aanvulling == "Hallo, ik heb ook een schuld bij de Belastingdienst"
    assert fixed.state.intake_fase == ASKING_CONSENT
    assert responses(fixed)[0] == "utter_aanpassing_ontvangen"
    assert responses(fixed)[-1] == "utter_vraag_toestemming"
    assert variables(fixed, "utter_toestemming_aanvulling")["aanvulling"] == fixed.state.aanvulling
    assert fixed.state.toestemming is None and fixed.followup is None  # nothing decided yet
    # the casemanager reads it as the citizen's own addition
    summary = casemanager_summary(fixed.state) or ""
    assert summary.startswith(sven.state.samenvatting or "-")
    assert summary.endswith("Aanvulling van inwoner: “Hallo, ik heb ook een schuld bij de Belastingdienst”")

    # a second correction replaces the first, and says so when asked
    again = intake.handle(fixed.state, choose("toestemming|aanpassen"))
    assert responses(again) == ["utter_vraag_aanpassing_opnieuw"]
    second = intake.handle(again.state, said("Het gaat om twee boetes", "cjib.openstaande_boetes", 0.95))
    assert second.state.aanvulling == "Het gaat om twee boetes"
    assert "Hallo, ik heb ook" not in (casemanager_summary(second.state) or "")


@pytest.mark.parametrize("typed", ["", "   ", '/kies{"keuze": "menu"}'])
def test_an_empty_correction_asks_again(intake: Intake, typed: str) -> None:
    state = correcting()
    turn = intake.handle(state, UserInput(text=typed, intent="nlu_fallback", parse={"text": typed}))
    assert responses(turn) == ["utter_aanpassing_leeg"]
    assert turn.state == state


def test_a_long_correction_is_cut_and_the_citizen_is_told(intake: Intake) -> None:
    state = correcting()
    turn = intake.handle(state, said("woord " * 200, "nlu_fallback", 0.2))
    assert len(turn.state.aanvulling or "") <= MAX_CORRECTION
    assert (turn.state.aanvulling or "").endswith("woord…")
    assert responses(turn)[:2] == ["utter_aanpassing_ontvangen", "utter_aanpassing_ingekort"]


def test_a_consent_button_while_correcting_decides(intake: Intake) -> None:
    state = correcting()
    turn = intake.handle(state, choose("toestemming|ja"), now=NOW)
    assert turn.followup == HANDOVER_STEP and turn.state.aanvulling is None


# --- consent per organisation --------------------------------------------------------------------


def test_all_organisations_are_asked_in_one_question(intake: Intake) -> None:
    yes = intake.handle(asking(("gemeente", "uwv", "svb")), choose("toestemming|ja"), now=NOW)
    assert yes.followup is None and yes.state.toestemming is None  # not done yet
    assert yes.state.intake_fase == ASKING_ORGANISATIONS
    assert responses(yes) == ["utter_vraag_toestemming_organisaties"]
    assert variables(yes, "utter_vraag_toestemming_organisaties") == {
        "organisaties": "UWV, SVB",
        "voorbeeld": "SVB",
    }
    everyone = intake.handle(yes.state, choose("toestemming_orgs|alle"), now=NOW)
    assert everyone.followup == HANDOVER_STEP and everyone.state.toestemming is True
    assert everyone.state.toestemming_organisaties == ("gemeente", "uwv", "svb")
    nobody = intake.handle(yes.state, choose("toestemming_orgs|geen"), now=NOW)
    assert nobody.state.toestemming_organisaties == ("gemeente",)
    assert nobody.state.geweigerde_organisaties == ("uwv", "svb")
    assert responses(nobody) == ["utter_toestemming_geen_organisaties"]


@pytest.mark.parametrize(
    "text,agreed",
    [
        ("niet met de svb", ("gemeente", "uwv")),
        ("alleen het uwv", ("gemeente", "uwv")),
        ("behalve de SVB", ("gemeente", "uwv")),
        ("met uwv en svb", ("gemeente", "uwv", "svb")),
        ("ja hoor", ("gemeente", "uwv", "svb")),
        ("nee", ("gemeente",)),
    ],
)
def test_the_one_question_understands_typed_exceptions(intake: Intake, text: str, agreed: tuple) -> None:
    yes = intake.handle(asking(("gemeente", "uwv", "svb")), choose("toestemming|ja"), now=NOW)
    turn = intake.handle(yes.state, said(text, "nlu_fallback", 0.2), now=NOW)
    assert turn.state.toestemming is True and turn.state.toestemming_organisaties == agreed


def test_each_organisation_other_than_the_gemeente_can_be_asked_one_at_a_time(intake: Intake) -> None:
    state = asking(("gemeente", "uwv", "svb"))
    together = intake.handle(state, choose("toestemming|ja"), now=NOW)
    yes = intake.handle(together.state, choose("toestemming_orgs|zelf"), now=NOW)
    assert yes.followup is None and yes.state.toestemming is None  # not done yet
    assert yes.state.intake_fase == ASKING_ORGANISATION
    assert responses(yes) == ["utter_toestemming_per_organisatie", "utter_vraag_toestemming_organisatie"]
    assert variables(yes, "utter_vraag_toestemming_organisatie") == {
        "organisatie": "UWV",
        "organisatie_id": "uwv",
    }
    assert yes.state.toestemming_organisaties == ("gemeente",)

    uwv = intake.handle(yes.state, choose("toestemming_org|uwv|ja"), now=NOW)
    assert responses(uwv) == ["utter_vraag_toestemming_organisatie"]
    assert variables(uwv, "utter_vraag_toestemming_organisatie")["organisatie_id"] == "svb"

    later = NOW + timedelta(minutes=2)
    svb = intake.handle(uwv.state, said("nee", "ontkennen"), now=later)  # typed works too
    assert svb.followup == HANDOVER_STEP
    assert svb.state.toestemming is True and svb.state.intake_fase == DONE
    assert svb.state.toestemming_organisaties == ("gemeente", "uwv")
    assert svb.state.geweigerde_organisaties == ("svb",)
    assert svb.state.toestemming_tijd == utc_iso(later)
    assert responses(svb) == ["utter_toestemming_organisaties_gekozen"]
    assert variables(svb, "utter_toestemming_organisaties_gekozen")["organisaties"] == "UWV"


def test_several_organisations_without_the_gemeente_are_all_asked(intake: Intake) -> None:
    turn = intake.handle(asking(("cjib", "svb")), said("ja hoor", "nlu_fallback", 0.2), now=NOW)
    turn = intake.handle(turn.state, choose("toestemming_orgs|zelf"), now=NOW)
    assert variables(turn, "utter_vraag_toestemming_organisatie")["organisatie_id"] == "cjib"
    assert turn.state.toestemming_organisaties == ()
    turn = intake.handle(turn.state, choose("toestemming_org|cjib|nee"), now=NOW)
    turn = intake.handle(turn.state, choose("toestemming_org|svb|nee"), now=NOW)
    assert turn.state.toestemming is True and turn.state.toestemming_organisaties == ()
    assert responses(turn) == ["utter_toestemming_geen_organisaties"]


@pytest.mark.parametrize(
    "choice",
    [
        "toestemming_org|xyz|ja",  # forged: not an organisation of the summary
        "toestemming_org|belastingdienst|ja",  # a real organisation, but not in this summary
        "toestemming_org|svb|ja",  # in the summary, but not the open question
        "toestemming_org|uwv|misschien",
        "toestemming_org|uwv",
        "toestemming|ja",  # the first question's button again must not start over
    ],
)
def test_a_stale_or_forged_organisation_button_adds_nothing(intake: Intake, choice: str) -> None:
    together = intake.handle(asking(("gemeente", "uwv", "svb")), choose("toestemming|ja"), now=NOW)
    asked = intake.handle(together.state, choose("toestemming_orgs|zelf"), now=NOW)
    turn = intake.handle(asked.state, choose(choice), now=NOW)
    assert turn.state == asked.state
    assert responses(turn) == ["utter_kies_ja_nee", "utter_vraag_toestemming_organisatie"]
    assert variables(turn, "utter_vraag_toestemming_organisatie")["organisatie_id"] == "uwv"


def test_an_old_button_of_an_answered_organisation_does_not_answer_the_next(intake: Intake) -> None:
    together = intake.handle(asking(("gemeente", "uwv", "svb")), choose("toestemming|ja"), now=NOW)
    asked = intake.handle(together.state, choose("toestemming_orgs|zelf"), now=NOW)
    uwv = intake.handle(asked.state, choose("toestemming_org|uwv|nee"), now=NOW)
    double_click = intake.handle(uwv.state, choose("toestemming_org|uwv|ja"), now=NOW)
    assert double_click.state == uwv.state
    assert "uwv" not in double_click.state.toestemming_organisaties


# --- typed answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,intent,expected",
    [
        ("ja", "bevestigen", True),
        ("Ja, dat mag", "nlu_fallback", True),
        ("oké", "begroeten", True),
        ("nee", "ontkennen", False),
        ("nee hoor", "bevestigen", False),
        ("liever niet", "ontkennen", False),
    ],
)
def test_typed_yes_and_no_answer_the_consent_question(
    intake: Intake, text: str, intent: str, expected: bool
) -> None:
    turn = intake.handle(asking(("cjib",)), said(text, intent, 0.5), now=NOW)
    assert turn.state.toestemming is expected
    assert turn.state.intake_fase == (DONE if expected else NO_CONSENT)


@pytest.mark.parametrize("phase", [ASKING_CONSENT, CORRECTING, ASKING_ORGANISATION])
def test_other_buttons_leave_the_consent_step(intake: Intake, phase: str) -> None:
    state = replace(asking(("gemeente", "uwv", "svb")), intake_fase=phase)
    assert responses(intake.handle(state, choose("past_niet"), now=NOW)) == ["utter_past_niet"]
    assert responses(intake.handle(state, choose("menu"), now=NOW)) == ["utter_kies_groep"]


def test_an_unclear_answer_asks_again_and_a_clear_new_topic_leaves_consent(intake: Intake) -> None:
    state = asking(("cjib",))
    unclear = intake.handle(state, said("tja", "nlu_fallback", 0.2), now=NOW)
    assert responses(unclear) == ["utter_kies_ja_nee", "utter_vraag_toestemming"]
    assert unclear.state == state
    new_topic = intake.handle(state, said("ik ben mijn digid kwijt", "digid.hulp", 0.95), now=NOW)
    assert new_topic.state.intake_fase == CONFIRMING and new_topic.followup is None
    assert new_topic.state.toestemming is None


# --- without consent -------------------------------------------------------------------------------


def test_no_consent_offers_advice_or_a_callback_and_records_the_decision(intake: Intake, sven: Turn) -> None:
    ask = intake.ask_consent(sven.state)
    no = intake.handle(ask.state, choose("toestemming|nee"), now=NOW)
    assert no.followup is None
    assert responses(no) == ["utter_geen_toestemming"]
    assert no.state.intake_fase == NO_CONSENT
    assert (no.state.toestemming, no.state.toestemming_tijd) == (False, utc_iso(NOW))
    assert no.state.toestemming_organisaties == ()

    advice = intake.handle(no.state, choose("geen_toestemming|advies"), now=NOW)
    assert advice.followup is None and advice.state.intake_fase == DONE
    kinds = responses(advice)
    assert kinds[:2] == ["utter_advies_zonder_medewerker", "utter_stappen"] and kinds[-1] == "utter_zelf_doen"
    contacts = [
        r.variables["naam"]
        for r in advice.replies
        if r.response in ("utter_contact_telefoon", "utter_contact_website")
    ]
    assert contacts == [knowledge().organisations[o].naam for o in sven.state.organisaties]

    callback = intake.handle(no.state, choose("geen_toestemming|terugbellen"), now=NOW)
    assert responses(callback) == ["utter_terugbellen_zonder_gesprek"]
    assert callback.state.intake_fase == ASKING_CONTACT and callback.state.toestemming is False
    details = intake.handle(callback.state, said("06 12345678 morgen", "nlu_fallback", 0.2), now=NOW)
    assert details.followup == CALLBACK_STEP and details.state.toestemming is False


def test_advice_without_an_outcome_gives_the_gemeente_route(intake: Intake) -> None:
    no = intake.handle(asking(()), choose("toestemming|nee"), now=NOW)
    advice = intake.handle(no.state, choose("geen_toestemming|advies"), now=NOW)
    assert [
        r.variables.get("naam")
        for r in advice.replies
        if r.response and r.response.startswith("utter_contact")
    ] == [knowledge().organisations["gemeente"].naam]


def test_the_citizen_may_change_their_mind_after_saying_no(intake: Intake) -> None:
    no = intake.handle(asking(("cjib",)), choose("toestemming|nee"), now=NOW)
    yes = intake.handle(no.state, choose("toestemming|ja"), now=NOW)
    assert yes.followup == HANDOVER_STEP and yes.state.toestemming is True


def test_consent_choices_outside_the_consent_phases_are_stale(intake: Intake) -> None:
    for choice in ("toestemming|ja", "geen_toestemming|terugbellen", "toestemming_org|uwv|ja"):
        turn = intake.handle(IntakeState(intake_fase=DONE, organisaties=("uwv",)), choose(choice), now=NOW)
        assert responses(turn) == ["utter_kies_groep"], choice
        assert turn.followup is None and turn.state.toestemming is None


# --- state, time, domain, rules ----------------------------------------------------------------------


def test_consent_state_round_trips_through_slots() -> None:
    state = IntakeState(
        toestemming=True,
        toestemming_tijd=utc_iso(NOW),
        toestemming_organisaties=("gemeente", "uwv"),
        geweigerde_organisaties=("svb",),
        aanvulling="x",
        uitkomst_knoop="cjib.uitkomst.betalen",
    )
    slots = state.as_slots()
    assert slots["toestemming_organisaties"] == ["gemeente", "uwv"]
    assert IntakeState.from_slots(slots) == state
    assert set(slots) <= set(domain()["slots"])


def test_consent_time_is_iso_8601_utc() -> None:
    amsterdam = timezone(timedelta(hours=1))
    assert utc_iso(datetime(2025, 3, 4, 11, 30, 5, 999, tzinfo=amsterdam)) == "2025-03-04T10:30:05+00:00"
    assert utc_iso(datetime(2025, 3, 4, 10, 30)) == "2025-03-04T10:30:00+00:00"
    assert utc_iso(None) is None


async def test_the_domain_buttons_send_the_choices_the_consent_step_understands(intake: Intake) -> None:
    """Render the responses as Rasa does (variables are filled in buttons too) and press every button."""
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    rasa_domain = Domain.load(str(ROOT / "bot" / "domain"))
    nlg = TemplatedNaturalLanguageGenerator(rasa_domain.responses)
    tracker = DialogueStateTracker.from_events("burger", [], slots=rasa_domain.slots)

    async def buttons(reply: Reply) -> Dict[str, str]:
        message = await nlg.generate(reply.response or "", tracker, "socketio", **dict(reply.variables))
        return {b["title"]: b["payload"] for b in message["buttons"]}

    def press(payload: str) -> UserInput:
        assert payload.startswith('/kies{"keuze": "'), payload
        return pressed(payload)

    ask = intake.ask_consent(asking(("gemeente", "uwv", "svb")))
    main = await buttons(ask.replies[-1])
    assert list(main) == ["Ja, dat mag", "Iets aanpassen", "Nee, liever niet"]
    assert intake.handle(ask.state, press(main["Iets aanpassen"])).state.intake_fase == CORRECTING
    together = intake.handle(ask.state, press(main["Ja, dat mag"]), now=NOW)
    all_at_once = await buttons(together.replies[-1])
    assert list(all_at_once) == ["Ja, met allemaal", "Nee, met geen", "Ik kies per stuk"]
    assert intake.handle(together.state, press(all_at_once["Ja, met allemaal"]), now=NOW).state.toestemming
    asked = intake.handle(together.state, press(all_at_once["Ik kies per stuk"]), now=NOW)
    per_org = await buttons(asked.replies[-1])
    assert list(per_org) == ["Ja, dat mag", "Nee"]
    answered = intake.handle(asked.state, press(per_org["Ja, dat mag"]), now=NOW)
    assert answered.state.toestemming_organisaties == ("gemeente", "uwv")

    no = intake.handle(ask.state, press(main["Nee, liever niet"]), now=NOW)
    without = await buttons(no.replies[-1])
    assert list(without) == ["Alleen advies", "Bel mij terug"]
    assert intake.handle(no.state, press(without["Bel mij terug"])).state.intake_fase == ASKING_CONTACT
    assert intake.handle(no.state, press(without["Alleen advies"])).state.intake_fase == DONE
