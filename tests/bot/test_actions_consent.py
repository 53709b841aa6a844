"""Consent through action_turn, with a fake handover gateway that records every call: nothing reaches
the service before consent, and the case carries exactly what was agreed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.events import SlotSet

from bot.actions.turn import conversation
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import NOW, Chat

CONSENT_QUESTION = [
    "utter_toestemming_inleiding",
    "utter_toestemming_eigen_woorden",
    "utter_toestemming_onderwerp",
    "utter_toestemming_met_organisaties",
    "utter_vraag_toestemming",
]


def uwv_and_svb(gateway: FakeGateway) -> Chat:
    """Intake state of a citizen who lost their job and has an AOW question (gemeente, UWV and SVB)."""
    return Chat(
        gateway,
        {
            "intake_fase": "uitkomst",
            "onderwerp": "uwv.recht_ww",
            "organisaties": ["gemeente", "uwv", "svb"],
            "vraagtype": 3.0,
            "verhaal": ["ik ben mijn baan kwijt en weet niet hoe het moet met de aow"],
            "samenvatting": "In eigen woorden: “baan kwijt” Organisaties: Gemeente, UWV, SVB. Vraagtype 3.",
        },
    )


async def test_nothing_reaches_the_service_until_consent_is_complete() -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    await talk.ask_person()
    assert talk.responses == ["utter_medewerker_nu_beschikbaar", *CONSENT_QUESTION]
    assert SlotSet("intake_fase", "toestemming") in talk.events

    await talk.press("toestemming|aanpassen")
    assert talk.responses == ["utter_vraag_aanpassing"] and talk.slots["intake_fase"] == "aanpassen"
    # Whatever NLU makes of it (here a greeting), the message is the correction. Empty: asked again,
    # and the bot still waits for the text.
    await talk.say("   ", "begroeten")
    assert talk.responses == ["utter_aanpassing_leeg"]
    assert talk.events == [] and talk.slots["intake_fase"] == "aanpassen"
    await talk.say("Ik heb ook nog een brief van de SVB gekregen", "begroeten")
    assert SlotSet("intake_fase", "toestemming") in talk.events
    assert talk.responses == [
        "utter_aanpassing_ontvangen",
        *CONSENT_QUESTION[:3],
        "utter_toestemming_aanvulling",
        *CONSENT_QUESTION[3:],
    ]
    assert talk.slots["intake_fase"] == "toestemming"

    await talk.press("toestemming|ja")
    assert talk.responses == ["utter_vraag_toestemming_organisaties"]  # all in one question…
    await talk.press("toestemming_orgs|zelf")  # …or one at a time, when the citizen wants that
    assert talk.responses == ["utter_toestemming_per_organisatie", "utter_vraag_toestemming_organisatie"]
    await talk.press("toestemming_org|xyz|ja")  # forged: ignored, the open question comes again
    assert talk.responses == ["utter_kies_ja_nee", "utter_vraag_toestemming_organisatie"]
    await talk.press("toestemming_org|uwv|ja")
    assert service.methods in ([], ["availability"]) and service.cases == []

    dispatcher = await talk.press("toestemming_org|svb|nee")
    assert [m for m in service.methods if m != "availability"] == ["open_case"]
    assert dispatcher.messages[0]["response"] == "utter_toestemming_organisaties_gekozen"
    assert dispatcher.messages[0]["organisaties"] == "UWV"
    assert dispatcher.messages[-1]["response"] == "utter_in_wachtrij"

    [case] = service.cases
    consent_at = datetime.fromisoformat(case.pop("consent_at"))
    assert consent_at.utcoffset() == timedelta(0)
    assert consent_at == NOW  # the action's clock dates the decision
    assert case == {
        "channel": "socketio",
        "sender_id": "burger-42",
        "kind": "chat",
        "transcript": [
            {"role": "citizen", "text": "ik kan mijn boete niet betalen", "timestamp": 1},
            {"role": "bot", "text": "Klopt dat?", "timestamp": 2},
        ],
        "summary": {
            "topic": "uwv.recht_ww",
            "organisations": ["gemeente", "uwv", "svb"],
            "question_type": 3,
            "urgent": False,
            "life_event": None,
            "summary_text": "In eigen woorden: “baan kwijt” Organisaties: Gemeente, UWV, SVB. Vraagtype 3. "
            "Aanvulling van inwoner: “Ik heb ook nog een brief van de SVB gekregen”",
            "self_service": None,
        },
        "consent": True,
        "consent_organisations": ["gemeente", "uwv"],  # a subset of the summary's organisations
        "consent_registration": False,  # not asked: this municipality has no Open Klant (OPENKLANT_URL)
        "language": "nl",
        "contact": {},
    }
    assert talk.slots["toestemming"] is True and talk.slots["toestemming_tijd"] == consent_at.isoformat()
    assert talk.slots["toestemming_organisaties"] == ["gemeente", "uwv"]
    assert talk.slots["handover_actief"] is True and talk.slots["handover_referentie"] == "HV-7K3M"


async def test_the_real_clock_dates_the_consent_in_utc() -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    talk.clock = lambda: datetime.now(timezone.utc)
    talk.slots["organisaties"] = ["gemeente"]
    await talk.ask_person()
    before = datetime.now(timezone.utc)
    await talk.press("toestemming|ja")
    [case] = service.cases
    consent_at = datetime.fromisoformat(case["consent_at"])
    assert consent_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= consent_at <= datetime.now(timezone.utc)


async def test_without_consent_nothing_is_sent_and_the_advice_stays_anonymous() -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    await talk.ask_person()
    await talk.press("toestemming|nee")
    assert talk.responses == ["utter_geen_toestemming"]
    assert talk.slots["toestemming"] is False and talk.slots["toestemming_tijd"]
    await talk.press("geen_toestemming|advies")
    assert talk.responses[0] == "utter_advies_zonder_medewerker"
    assert service.cases == [] and set(service.methods) <= {"availability"}
    # asking for a person again asks consent again; a "no" is not a licence to send
    await talk.ask_person()
    assert talk.responses == ["utter_medewerker_nu_beschikbaar", *CONSENT_QUESTION]
    assert service.cases == [] and set(service.methods) <= {"availability"}


async def test_a_callback_without_consent_carries_only_the_contact_details_and_ids() -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    await talk.ask_person()
    await talk.press("toestemming|nee")
    await talk.press("geen_toestemming|terugbellen")
    assert talk.responses == ["utter_terugbellen_zonder_gesprek"]
    assert service.cases == [] and set(service.methods) <= {"availability"}
    await talk.say("bel mij op 06 12345678 morgenochtend")
    assert talk.responses == ["utter_terugbelverzoek_ontvangen"]
    assert [m for m in service.methods if m != "availability"] == ["request_callback"]
    [case] = service.cases
    assert case == {
        "channel": "socketio",
        "sender_id": "burger-42",
        "kind": "callback",
        "transcript": [],
        "summary": {"topic": "uwv.recht_ww", "organisations": ["gemeente", "uwv", "svb"]},
        "consent": False,
        "consent_at": None,
        "consent_organisations": [],
        "consent_registration": False,
        "language": "nl",
        "contact": {"phone": "+31612345678", "moment": "bel mij op morgenochtend"},
    }


# --- registration in the municipality's customer-contact registry (Open Klant) ------------------


@pytest.fixture
def with_open_klant(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A municipality that registers contacts in Open Klant; the cached conversation is rebuilt."""
    monkeypatch.setenv("OPENKLANT_URL", "https://openklant.zuidstad.nl")
    conversation.cache_clear()
    yield
    conversation.cache_clear()  # built again, lazily, after monkeypatch restored the environment


async def test_registration_is_a_question_of_its_own_after_consent(with_open_klant: None) -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    await talk.ask_person()
    await talk.press("toestemming|ja")
    await talk.press("toestemming_orgs|alle")
    assert talk.responses == ["utter_toestemming_organisaties_gekozen", "utter_vraag_toestemming_register"]
    assert service.cases == []  # nothing is sent before this answer too
    await talk.press("toestemming_register|misschien")  # forged: the open question comes again
    assert talk.responses == ["utter_kies_ja_nee", "utter_vraag_toestemming_register"]
    dispatcher = await talk.press("toestemming_register|ja")
    assert dispatcher.messages[0]["response"] == "utter_toestemming_register_ja"
    [case] = service.cases
    assert case["consent"] is True and case["consent_registration"] is True
    assert talk.slots["toestemming_register"] is True


async def test_no_to_registration_still_hands_over_without_it(with_open_klant: None) -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    talk.slots["organisaties"] = ["gemeente"]
    await talk.ask_person()
    await talk.press("toestemming|ja")
    assert talk.responses == ["utter_vraag_toestemming_register"]
    dispatcher = await talk.say("nee liever niet", "ontkennen")
    assert dispatcher.messages[0]["response"] == "utter_toestemming_register_nee"
    [case] = service.cases
    assert case["consent"] is True and case["consent_registration"] is False


async def test_without_consent_registration_is_not_asked(with_open_klant: None) -> None:
    service = FakeGateway()
    talk = uwv_and_svb(service)
    await talk.ask_person()
    await talk.press("toestemming|nee")
    assert talk.responses == ["utter_geen_toestemming"]
    await talk.press("geen_toestemming|terugbellen")
    await talk.say("bel mij op 06 12345678 morgenochtend")
    [case] = service.cases
    assert case["consent"] is False and case["consent_registration"] is False
