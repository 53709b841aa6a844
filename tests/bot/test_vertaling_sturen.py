"""The translations applied where replies are sent (bot/actions/messages.py `send`, issue 15 item 3):
in the conversation language, each response and knowledge text in its translation (bot/i18n/), with
its variables filled as Rasa fills the Dutch, button payloads unchanged; Dutch where a translation is
missing. Which language a message is in is checked with the conversation's own detector (lingua)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.messages import send
from bot.i18n.catalogue import Catalogue, catalogue, fill, source
from bot.intake import appointments
from bot.intake.knowledge import knowledge
from bot.intake.language import detect
from bot.intake.state import HUMAN_PAYLOAD, Reply, choice_payload
from tests.bot.fakes import FakeGateway
from tests.bot.helpers import CHANNEL, as_rasa_sends, take_turn, tracker


def translations(code: str) -> Catalogue:
    found = catalogue(code)
    assert found is not None
    return found


def sent(replies: List[Reply], language: str) -> List[Dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    send(dispatcher, replies, language)
    return dispatcher.messages


def test_dutch_goes_out_as_before_by_response_name() -> None:
    [message] = sent([Reply(response="utter_welkom")], "nl")
    assert message["response"] == "utter_welkom" and not message.get("text")


def test_a_response_in_english_with_its_variables_filled() -> None:
    [message] = sent(
        [Reply(response="utter_terugbelverzoek_ontvangen", variables={"referentie": "HV-7K3M"})], "en"
    )
    assert message["text"] == "Thank you. We will contact you. Your reference is HV-7K3M."
    assert message.get("response") is None


def test_an_appointment_confirmation_says_where_and_who_in_the_language_with_the_address_as_given() -> None:
    booked = {"reference": "AF-7K3M2P", "moment": "dinsdag 8 december, 14.00 uur", "mode": "stadskantoor",
              "location": "Stadskantoor, balie 3", "organisation_names": ["CJIB", "SVB"]}
    [english] = sent([appointments.confirmation(booked)], "en")
    assert "You come to Stadskantoor, balie 3." in english["text"]
    assert "the gemeente, CJIB, SVB" in english["text"] and "U komt" not in english["text"]
    assert "Tuesday 8 December" in english["text"]
    [dutch] = sent([appointments.confirmation(booked)], "nl")
    assert (dutch["response"], dutch["waar"], dutch["wie"]) == (
        "utter_afspraak_bevestigd", "U komt naar Stadskantoor, balie 3.", "de gemeente, CJIB, SVB"
    )
    [video] = sent([appointments.reminder({"referentie": "AF-1", "moment": "x", "soort": "video"})], "uk")
    assert "Ви отримаєте посилання на відеорозмову." in video["text"]


def test_a_structured_message_keeps_its_fields_and_gets_the_translated_text() -> None:
    variables = {"positie": 2, "wachttijd": 8, "referentie": "HV-7K3M"}
    [message] = sent([Reply(response="utter_in_wachtrij", variables=variables)], "pl")
    data = message["custom"]["data"]
    assert (data["type"], data["mode"], data["reference"], data["position"], data["wait_minutes"]) == (
        "mode",
        "queued",
        "HV-7K3M",
        "2",
        "8",
    )
    assert data["text"].startswith("Jest Pan/Pani w kolejce. Ma Pan/Pani numer 2.")


def test_the_casemanagers_words_stay_as_written_and_only_the_label_is_translated() -> None:
    variables = {"naam": "Sanne", "tekst": "Ik bel u morgen om 10 uur.", "bericht_id": "m-1"}
    [message] = sent([Reply(response="utter_bericht_van_medewerker", variables=variables)], "en")
    data = message["custom"]["data"]
    assert (data["text"], data["label"], data["id"]) == (
        "Ik bel u morgen om 10 uur.",
        "Sanne (staff member)",
        "m-1",
    )


def test_button_titles_translated_and_payloads_unchanged() -> None:
    [message] = sent([Reply(response="utter_vraag_toestemming")], "tr")
    dutch = source().responses["utter_vraag_toestemming"]
    # The domain's payloads as Rasa renders them ("{{" in the domain is "{"): the same as in Dutch.
    assert [b["payload"] for b in message["buttons"]] == [fill(p, {}) for p in dutch.payloads]
    assert message["buttons"][0]["payload"] == '/kies{"keuze": "toestemming|ja"}'
    assert [b["title"] for b in message["buttons"]] == [
        "Evet, olur",
        "Bir şey değiştir",
        "Hayır, istemiyorum",  # noqa: RUF001 (Turkish dotless i)
    ]
    person = ("Praat met medewerker", HUMAN_PAYLOAD)
    menu = ("Kies een onderwerp", choice_payload("menu"))
    [message] = sent([Reply(response="utter_niet_begrepen_medewerker", buttons=(person, menu))], "uk")
    assert message["buttons"] == [
        {"title": "Розмова з людиною", "payload": HUMAN_PAYLOAD},
        {"title": "Оберіть тему", "payload": choice_payload("menu")},
    ]


def test_a_variable_that_is_a_knowledge_text_is_translated_too() -> None:
    label = knowledge().topics["gemeente.bijstand"].label
    [message] = sent([Reply(response="utter_bevestig_onderwerp", variables={"onderwerp_label": label})], "en")
    assert (
        message["text"]
        == f"I think your question is about this: {translations('en').text(label)}. Is that right?"
    )
    assert translations("en").text(label) != label


def test_a_knowledge_text_in_the_citizens_language() -> None:
    today = next(s.vandaag for s in knowledge().signals.values() if s.vandaag)
    assert today is not None
    [message] = sent([Reply(text=today)], "ar")
    assert message["text"] == translations("ar").text(today)
    assert detect(message["text"]).language == "ar"


def test_without_a_translation_the_text_goes_out_in_dutch() -> None:
    new = "Een nieuwe vraag in het stroomschema, nog niet vertaald."
    assert new not in translations("en").texts
    [message] = sent([Reply(text=new)], "en")
    assert message["text"] == new


def test_a_response_whose_variable_has_no_value_goes_out_in_dutch_for_rasa_to_fill() -> None:
    [message] = sent([Reply(response="utter_terugbelverzoek_ontvangen")], "en")
    assert message["response"] == "utter_terugbelverzoek_ontvangen"


def test_joined_texts_and_numbered_steps_are_translated_line_by_line() -> None:
    found = Catalogue(
        "en", {}, {"Bel de gemeente.": "Call the gemeente.", "Kijk op de brief.": "Look at the letter."}
    )
    assert found.text("1. Bel de gemeente.\n2. Kijk op de brief.\n3. Nog niet vertaald.") == (
        "1. Call the gemeente.\n2. Look at the letter.\n3. Nog niet vertaald."
    )
    assert found.text("Bel de gemeente.\nKijk op de brief.") == "Call the gemeente.\nLook at the letter."
    assert (
        found.text("- Bel de gemeente.\n- Nog niet vertaald.") == "- Call the gemeente.\n- Nog niet vertaald."
    )


def test_the_signals_in_the_consent_summary_are_translated_line_by_line() -> None:
    labels = [s.label for s in list(knowledge().signals.values())[:2]]
    listed = "\n".join(f"- {label}" for label in labels)
    [message] = sent([Reply(response="utter_toestemming_signalen", variables={"signalen": listed})], "uk")
    expected = "\n".join(f"- {translations('uk').text(label)}" for label in labels)
    assert message["text"] == f"Що я помітив:\n{expected}"
    assert all(detect(line).language == "uk" for line in message["text"].splitlines())


@pytest.mark.parametrize(
    "name",
    [
        "utter_hulplijn_113",
        "utter_hulplijn_veilig_thuis",
        "utter_hulplijn_kind",
        "utter_hulplijn_algemeen",
        "utter_hulplijn_slaapplek",
    ],
)
@pytest.mark.parametrize("code", ["en", "pl", "tr", "ar", "uk"])
def test_crisis_lines_in_the_citizens_language(name: str, code: str) -> None:
    [message] = sent([Reply(response=name)], code)
    assert detect(message["text"]).language == code


# --- a conversation through the action -------------------------------------------------------------

OPENINGS = {
    "en": ("Hello, I lost my job last month and I have no money for the rent", "gemeente.bijstand"),
    "pl": ("Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz", "gemeente.bijstand"),
    "ar": ("مرحبا، فقدت عملي الشهر الماضي وليس لدي مال للإيجار", "gemeente.bijstand"),
}


@pytest.mark.parametrize("code", sorted(OPENINGS))
def test_a_conversation_in_another_language_is_answered_in_that_language(code: str) -> None:
    text, intent = OPENINGS[code]
    events = [{"event": "user", "text": text, "timestamp": 1, "input_channel": CHANNEL}]
    dispatcher, _ = asyncio.run(take_turn(FakeGateway(), tracker(text, intent, events=events)))
    texts = [m["text"] for m in dispatcher.messages if m.get("text")]
    assert texts and all(detect(t).language == code for t in texts), texts
    assert {m.get("lang") for m in dispatcher.messages} == {code}  # for the widget's lang and dir
    titles = [b["title"] for m in dispatcher.messages for b in m.get("buttons") or ()]
    assert titles and all(t in translations(code).texts.values() for t in titles), titles


def test_a_conversation_that_never_showed_a_language_goes_out_as_before() -> None:
    text = "hallo"
    events = [{"event": "user", "text": text, "timestamp": 1, "input_channel": CHANNEL}]
    dispatcher, _ = asyncio.run(take_turn(FakeGateway(), tracker(text, "begroeten", events=events)))
    assert dispatcher.messages and all("lang" not in m for m in dispatcher.messages)
    assert dispatcher.messages[0]["response"] == "utter_welkom"


def test_rasa_renders_translated_and_dutch_messages_with_the_language_for_the_channel() -> None:
    """Through Rasa's own handling of an action's messages (RemoteAction._utter_responses): the
    translation, its buttons and structured payload reach the channel as sent, the Dutch response is
    rendered from the domain, and both carry `lang` and the response name in the event's metadata."""
    replies = [
        Reply(response="utter_vraag_toestemming"),
        Reply(response="utter_wachtrij_positie", variables={"positie": 3}),
    ]
    dispatcher = CollectingDispatcher()
    send(dispatcher, replies, "ar")
    send(dispatcher, [Reply(response="utter_tot_ziens")], "nl")
    events = asyncio.run(as_rasa_sends(dispatcher.messages))
    question, position, goodbye = (e.message() for e in events)
    assert question["text"] == translations("ar").responses["utter_vraag_toestemming"].text
    assert [b["title"] for b in question["buttons"]] == ["نعم، موافق", "تعديل شيء", "لا، أفضل لا"]
    assert (question["lang"], question["utter_action"]) == ("ar", "utter_vraag_toestemming")
    assert position["custom"]["data"]["text"] == "رقمكم الآن 3 في قائمة الانتظار."
    assert position["lang"] == "ar"
    assert (goodbye["text"], goodbye["lang"], goodbye["utter_action"]) == (
        "Dank u wel. Tot ziens!",
        "nl",
        "utter_tot_ziens",
    )


def test_a_polish_intake_through_the_tree_to_the_advice_is_polish_at_every_turn() -> None:
    """Topic, confirmation, the stroomschema's questions and the advice: every text of every turn in
    Polish (lingua), every button title a Polish translation. The first option is chosen each time."""
    import json

    from tests.bot.helpers import Chat

    opening = "Dzień dobry, straciłem pracę w magazynie i nie mam pieniędzy na czynsz"
    events = [{"event": "user", "text": opening, "timestamp": 1, "input_channel": CHANNEL}]
    chat = Chat(FakeGateway())
    asyncio.run(chat.send(tracker(opening, "gemeente.bijstand", events=events)))
    said: List[str] = []
    for _ in range(6):
        texts = [m["text"] for m in chat.messages if m.get("text")]
        said += texts
        assert texts and all(detect(t).language == "pl" for t in texts if len(t.split()) >= 4), texts
        buttons = [b for m in chat.messages for b in m.get("buttons") or ()]
        assert all(
            b["title"] in translations("pl").texts.values() for b in buttons if "keuze" in b["payload"]
        )
        choices = [b["payload"] for b in buttons if b["payload"].startswith("/kies")]
        if not choices:
            break
        choice = json.loads(choices[0].removeprefix("/kies"))["keuze"]
        latest = tracker(choices[0], "kies", entities=[{"entity": "keuze", "value": choice}], events=events)
        asyncio.run(chat.send(latest))
    assert any("Co można zrobić" in t for t in said), said  # the advice was reached


def test_a_moment_in_a_sentence_is_in_the_citizens_language() -> None:
    from bot.intake.schedule import when_in_words

    moment = when_in_words("2026-12-07T09:00:00+01:00")
    [message] = sent([Reply(response="utter_medewerker_nu_niet", variables={"wanneer": moment})], "en")
    assert (
        message["text"] == "There is no staff member right now. Someone is back on Monday 7 December at 9.00."
    )
    [message] = sent([Reply(response="utter_medewerker_nu_niet", variables={"wanneer": moment})], "ar")
    assert "الاثنين 7 ديسمبر" in message["text"] and "maandag" not in message["text"]


def test_slot_buttons_show_the_day_and_month_in_the_citizens_language() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    slot = appointments.Slot(
        id=7, starts_at=datetime(2026, 12, 8, 10, 0, tzinfo=zone), mode="stadskantoor",
        moment="dinsdag 8 december, 10.00 uur",
    )
    reply = appointments.offer([slot], zone)
    assert reply.buttons[0][0] == "di 8 dec 10.00"  # Dutch, as the engine writes it
    titles = {code: [b["title"] for b in sent([reply], code)[0]["buttons"]] for code in ("pl", "ar", "tr")}
    assert titles["pl"][0] == "wt. 8 gru 10.00"
    assert titles["ar"][0] == "ثلاثاء 8/12 10.00"
    assert titles["tr"][0] == "8 Ara Sal 10.00"
    # the payload stays the slot's: only the words change
    assert sent([reply], "pl")[0]["buttons"][0]["payload"] == reply.buttons[0][1]
