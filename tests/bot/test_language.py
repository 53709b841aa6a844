"""The conversation language (bot/intake/language.py, issue 15 item 1): detection per message with
lingua, and the sticky rule: short or mixed messages never change the language, an explicit request
does, a new language only after a clearly detected longer message."""

from __future__ import annotations

from typing import List

import pytest

from bot.intake.language import (
    DEFAULT,
    DETECTED,
    MIN_WORDS,
    REQUESTED,
    ConversationLanguage,
    conversation_language,
    detect,
    evidence,
    requested_language,
    update,
)

NL, EN, PL, TR, AR, UK = (ConversationLanguage(c, DETECTED) for c in ("nl", "en", "pl", "tr", "ar", "uk"))

# Real-looking first messages, clearly in one language (Dutch administration words mixed in).
CLEAR = [
    ("hello i work here 4 month, my contract stop, what i do for money?", "en"),
    ("Hi, I'm an expat and my 30% ruling thing is fine but I got a blue letter from belastingdienst", "en"),
    ("i am student from india and duo says i have to pay back my studiefinanciering, is that right?", "en"),
    ("My husband left and I have no income now, can I get bijstand from the gemeente?", "en"),
    ("Dzień dobry, dostałem brief od gemeente i nic nie rozumiem", "pl"),
    ("pracuję przez agencję i skończyła się umowa, co z WW i gdzie mam to złożyć", "pl"),
    ("witam mam pytanie o zorgtoeslag bo przyszło pismo że muszę oddać pieniądze", "pl"),
    ("Merhaba, bijstand başvurusu nasıl yapılır acaba, eşim çalışmıyor", "tr"),
    ("kirayı ödeyemiyorum ev sahibi evden çıkarmakla tehdit ediyor ne yapmalıyım", "tr"),
    ("DigiD kodum gelmedi, mektup hala yok, vergi beyannamesi için lazım", "tr"),
    ("مرحبا عندي رسالة من gemeente ولا أفهم ماذا يريدون مني", "ar"),
    ("أريد أن أحضر زوجتي وأطفالي إلى هولندا كيف أقدم طلب لم شمل", "ar"),
    ("Доброго дня, я з України, як отримати DigiD для податків?", "uk"),
    ("мені прийшов лист від belastingdienst про toeslagen, треба повернути гроші", "uk"),
    ("Goedemiddag, ik heb een vraag over mijn huurtoeslag voor dit jaar", "nl"),
    ("ik woon hier 3 jaar, mijn nederlands is niet zo goed maar ik probeer", "nl"),
]


@pytest.mark.parametrize(("text", "language"), CLEAR)
def test_a_clear_message_is_detected_with_confidence(text: str, language: str) -> None:
    detection = detect(text)
    assert detection.language == language
    assert detection.clear, detection
    assert detection.words >= MIN_WORDS


@pytest.mark.parametrize(("text", "language"), CLEAR)
def test_a_clear_first_message_sets_the_conversation_language(text: str, language: str) -> None:
    after = update(ConversationLanguage(), text)
    assert after.code == language
    assert after.source == DETECTED  # also Dutch: from now on it takes two messages to change it


# Messages that must never change the language, whatever it is.
SHORT_OR_MIXED = [
    "ok", "OK!", "oke", "ja", "nee", "yes", "tak", "evet", "نعم", "так", "DigiD?", "digid", "toeslagen",
    "bijstand", "gemeente??", "brief", "UWV", "123", "06-12345678", "HV-7K3M", "status HV-7K3M",
    "hallo", "hello", "hi", "merhaba", "cześć", "привіт", "thanks", "dank u", "dziękuję", "teşekkürler",
    "shukran", "شكرا", "дякую", "help", "pomocy", "yardım", "1", "2", "👍", "?", "can i get bijstand",
    "mam problem z toeslagen", "moje DigiD nie działa", "my DigiD not work", "ik heb brief van gemeente",
    "zorgtoeslag terugbetalen??", "www.toeslagen.nl", "info@gemeente.nl",
    "the letter says „u moet het bedrag binnen 6 weken terugbetalen aan de Belastingdienst”",
]


@pytest.mark.parametrize("text", SHORT_OR_MIXED)
@pytest.mark.parametrize("current", [NL, EN, PL, TR, AR, UK], ids=lambda c: c.code)
def test_short_or_mixed_messages_never_flip_the_language(text: str, current: ConversationLanguage) -> None:
    assert update(current, text) == current


@pytest.mark.parametrize("text", SHORT_OR_MIXED)
def test_short_or_mixed_messages_keep_dutch_at_the_start(text: str) -> None:
    assert update(ConversationLanguage(), text) == ConversationLanguage()


# A line of a Dutch letter, pasted without quotes, inside a message in the conversation's language.
MIXED = [
    (PL, "w liście jest napisane: u heeft geen recht op zorgtoeslag meer vanaf 1 januari"),
    (EN, "the letter says u moet het bedrag binnen 6 weken terugbetalen aan de Belastingdienst"),
    (TR, "mektupta diyor ki u heeft geen recht meer op huurtoeslag, ne demek"),
    (UK, "в листі написано u moet zich melden bij het werkplein op maandag, що це означає"),
    (AR, "في الرسالة مكتوب wij hebben besloten uw uitkering te stoppen ماذا أفعل"),
    (EN, "they wrote: wij kunnen uw aanvraag niet in behandeling nemen. what does that mean"),
    (PL, "napisali że uw aanvraag is afgewezen omdat u te laat bent, co mam zrobić"),
    (EN, "ik spreek een beetje Nederlands but english is better for me"),
    (PL, "mam pytanie, ik woon hier 2 jaar en ik werk bij een uitzendbureau"),
]


@pytest.mark.parametrize(("current", "text"), MIXED)
def test_a_dutch_line_inside_a_message_does_not_take_the_conversation_to_dutch(
    current: ConversationLanguage, text: str
) -> None:
    assert detect(text).language == "nl"  # lingua alone would say Dutch
    assert update(current, text) == current


def test_whole_dutch_messages_still_switch_a_detected_language() -> None:
    assert update(PL, "Ik wil graag verder in het Nederlands, dat gaat inmiddels beter") == \
        ConversationLanguage("nl", REQUESTED)
    assert conversation_language(["Mijn buurvrouw helpt mij nu met schrijven, zij spreekt goed Nederlands",
                                  "Zij leest ook mee met de brieven van de gemeente"], PL) == NL


def test_loanwords_numbers_links_and_quotes_are_no_evidence() -> None:
    assert evidence("DigiD toeslagen bijstand gemeente brief UWV 2026 HV-7K3M www.digid.nl") == ()
    assert evidence("mam problem z huurtoeslag") == ("mam", "problem", "z")
    assert evidence('my letter says "u heeft geen recht meer" why') == ("my", "letter", "says", "why")


REQUESTS = [
    ("English please", "en"), ("english pls", "en"), ("English?", "en"), ("in het Engels?", "en"),
    ("sorry i not speak dutch. english please?", "en"), ("can you speak english", "en"),
    ("I cannot speak Dutch well, can we do this in English", "en"), ("I don't speak Dutch", "en"),
    ("po polsku", "pl"), ("Po polsku proszę", "pl"), ("czy mogę pisać po polsku?", "pl"), ("Polski", "pl"),
    ("nie mówię po niderlandzku", "pl"),
    ("türkçe lütfen", "tr"), ("Türkçe konuşabilir miyiz?", "tr"), ("turkce", "tr"),
    ("Hollandaca bilmiyorum", "tr"),
    ("بالعربية", "ar"), ("ممكن بالعربي", "ar"), ("عربي", "ar"), ("لا أتكلم الهولندية", "ar"),
    ("українською", "uk"), ("Можна українською?", "uk"), ("Я не розмовляю нідерландською", "uk"),
    ("in het Nederlands graag", "nl"), ("Nederlands alstublieft", "nl"), ("dutch please", "nl"),
    ("Nederlands", "nl"),
    # two languages named: the one the message is written in, else the first
    ("Можна українською або англійською, будь ласка?", "uk"),
    ("po polsku albo po angielsku proszę", "pl"), ("my dutch is bad, english or polish please", "en"),
]


@pytest.mark.parametrize(("text", "language"), REQUESTS)
def test_an_explicit_request_is_recognised(text: str, language: str) -> None:
    assert requested_language(text) == language


@pytest.mark.parametrize(("text", "language"), REQUESTS)
@pytest.mark.parametrize("current", [ConversationLanguage(), NL, EN, PL, TR, AR, UK,
                                     ConversationLanguage("ar", REQUESTED)], ids=repr)
def test_an_explicit_request_switches_from_any_language(
    text: str, language: str, current: ConversationLanguage
) -> None:
    assert update(current, text) == ConversationLanguage(language, REQUESTED)


NOT_REQUESTS = [
    "de brief is in het engels",  # about a letter, written in Dutch
    "mijn moeder spreekt geen Nederlands, kunt u haar bellen",  # a proxy writing in Dutch
    "I am Polish and I lost my job at the warehouse",
    "Ik heb een Turks paspoort en een verblijfsvergunning",
    "my diploma is in english, does DUO need a translation",
    "I speak Dutch a little bit but English is easier",  # no request, but clearly English
]


@pytest.mark.parametrize("text", NOT_REQUESTS)
def test_mentioning_a_language_is_not_a_request(text: str) -> None:
    assert requested_language(text) is None


def test_two_clear_messages_in_a_row_switch_a_detected_language() -> None:
    state = update(ConversationLanguage(), "hello i work here 4 month, my contract stop, what i do now?")
    assert state == EN  # at the start one clear message is enough
    state = update(state, "przepraszam, mój angielski jest słaby, wolę pisać po swojemu o tej umowie")
    assert (state.code, state.pending) == ("en", "pl")  # one: not yet
    state = update(state, "tak")  # short: changes nothing
    assert (state.code, state.pending) == ("en", "pl")
    state = update(state, "umowa skończyła się w piątek i agencja nie odpowiada na telefony")
    assert state == PL


def test_one_clear_message_in_the_conversations_language_clears_a_pending_switch() -> None:
    state = update(PL, "Geachte heer, mevrouw, u heeft geen recht meer op huurtoeslag vanaf januari")
    assert (state.code, state.pending) == ("pl", "nl")  # a pasted Dutch letter
    state = update(state, "co to znaczy, czy muszę oddać pieniądze za cały rok?")
    assert state == PL
    state = update(state, "Ik wil met een medewerker praten over mijn huurtoeslag")  # a learned sentence
    assert state.code == "pl"


def test_a_requested_language_stays_until_another_request() -> None:
    state = update(ConversationLanguage(), "English please")
    assert state == ConversationLanguage("en", REQUESTED)
    state = update(state, "Dzień dobry, dostałem brief od gemeente i nic nie rozumiem")
    assert state.code == "en"  # asked for, so a Polish message does not change it
    assert update(state, "po polsku") == ConversationLanguage("pl", REQUESTED)


def test_a_conversation_keeps_its_language_through_short_answers() -> None:
    messages: List[str] = [
        "Witam, straciłem pracę w magazynie i nie mam pieniędzy na czynsz",
        "tak", "2", "DigiD?", "ok", "HV-7K3M", "nee", "dziękuję",
    ]
    assert conversation_language(messages) == PL
    messages = ["Hallo", "ok", "I need help with my toeslagen because they stopped paying", "ja", "1"]
    assert conversation_language(messages) == EN


def test_a_greeting_at_the_start_is_no_evidence_so_the_first_real_message_decides() -> None:
    state = conversation_language(["hello", "ok"])
    assert state == ConversationLanguage()
    assert update(state, "Dzień dobry, dostałem brief od gemeente i nic nie rozumiem") == PL


def test_after_a_clear_dutch_message_one_english_message_does_not_switch() -> None:
    state = conversation_language(["Goedemiddag, ik heb een vraag over mijn huurtoeslag voor dit jaar",
                                   "My wife is typing now, she speaks better English than Dutch"])
    assert (state.code, state.pending) == ("nl", "en")
    assert update(state, "She wants to know if the rent benefit stops when I start working").code == "en"


def test_a_dutch_conversation_is_not_taken_over_by_english_words() -> None:
    messages = ["Goedemiddag, ik heb een vraag over mijn huurtoeslag voor dit jaar", "ok thanks", "sorry",
                "help", "I don't know", "hello?"]
    assert conversation_language(messages).code == "nl"


def test_the_state_survives_json_and_unknown_values_are_dutch() -> None:
    state = ConversationLanguage("uk", REQUESTED)
    assert ConversationLanguage.from_json(state.as_json()) == state
    pending = ConversationLanguage("pl", DETECTED, pending="nl")
    assert ConversationLanguage.from_json(pending.as_json()) == pending
    assert ConversationLanguage.from_json(None) == ConversationLanguage()
    assert ConversationLanguage.from_json({"code": "ru"}) == ConversationLanguage()
    unknown_source = {"code": "pl", "source": "?"}
    assert ConversationLanguage.from_json(unknown_source) == ConversationLanguage("pl", DEFAULT)
    assert state.dutch_name == "Oekraïens"
    assert ConversationLanguage("pl").dutch_name == "Pools"
