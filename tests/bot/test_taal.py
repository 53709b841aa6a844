"""Plain Dutch (B1) for every text the bot can say: domain responses, stroomschema and knowledge texts.

- Flesch-Douma (textstat, Dutch) at least 50 for every message text, and a mean of at least 65;
- no sentence longer than 20 words;
- the citizen is "u", never "je/jij/jouw";
- jargon (bot/knowledge/taal.yml) only with a plain explanation in the same message or node.
Button titles are choices, not sentences: a readability score of one word means nothing, so they are
checked for length (at most 20 characters) and jargon instead.
"""

from __future__ import annotations

import re
import statistics
from typing import Iterator, List, Tuple

import pytest
import textstat

from bot.intake.knowledge import knowledge
from bot.intake.schema import schema
from tests.bot.helpers import domain, variation_text

textstat.set_lang("nl")

MIN_SCORE = 50
MIN_MEAN = 65
MAX_SENTENCE_WORDS = 20
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jullie)\b", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{\w+\}")


def _fill(text: str) -> str:
    # Template variables are filled with short plain words so they do not distort the score.
    return PLACEHOLDER.sub("dit", text)


def message_texts() -> Iterator[Tuple[str, str]]:
    """(where, text) for every message text a citizen can read."""
    for name, variations in domain()["responses"].items():
        for i, variation in enumerate(variations):
            if variation_text(variation):
                yield f"domain:{name}[{i}]", _fill(variation_text(variation))
    for where, text in schema().texts():
        if ".opties[" not in where:
            yield f"stroomschema:{where}", text
    kb = knowledge()
    for org in kb.organisations.values():
        yield f"organisaties:{org.id}.wat", org.wat
    for signal in kb.signals.values():
        if signal.vandaag:
            yield f"signalen:{signal.id}.vandaag", signal.vandaag
    for event in kb.life_events.values():
        if event.erkenning:
            yield f"levensgebeurtenissen:{event.id}.erkenning", event.erkenning


# Issue 12, item 6: the bot first acknowledges what happened, in words that fit it.
REQUIRED_ACKNOWLEDGEMENTS = {
    "overlijden_naaste": "Gecondoleerd",
    "scheiding": "vervelend",
    "ziekte": "vervelend",
    "opname_partner": "zware tijd",
    "verlies_inkomen": "vervelend",
    "schulden": "Goed dat u het vertelt",
    "geboorte": "Gefeliciteerd",
}


@pytest.mark.parametrize("event,words", sorted(REQUIRED_ACKNOWLEDGEMENTS.items()))
def test_a_life_event_is_acknowledged_first_in_fitting_words(event: str, words: str) -> None:
    acknowledgement = knowledge().life_events[event].erkenning or ""
    assert words in acknowledgement


def test_every_urgent_signal_says_what_to_do_today() -> None:
    kb = knowledge()
    missing = [s.id for s in kb.signals.values() if s.urgent and not s.crisis and not s.vandaag]
    assert missing == []


def button_titles() -> Iterator[Tuple[str, str]]:
    """(where, title) for every button title."""
    for where, text in schema().texts():
        if ".opties[" in where:
            yield f"stroomschema:{where}", text
    kb = knowledge()
    for topic in kb.topics.values():
        yield f"onderwerpen:{topic.id}.knop", topic.knop
    for event in kb.life_events.values():
        yield f"levensgebeurtenissen:{event.id}.knop", event.knop
    for group in kb.menu:
        yield f"menu:{group.id}", group.knop
    for name, variations in domain()["responses"].items():
        for variation in variations:
            for b in variation.get("buttons") or ():
                yield f"domain:{name}.buttons", b["title"]


def sentences(text: str) -> List[str]:
    parts = re.split(r"(?<=[.!?:])\s+|\n+", text)
    return [p for p in parts if p.strip()]


MESSAGES = list(message_texts())


def test_there_is_enough_text_to_judge() -> None:
    assert len(MESSAGES) > 300


@pytest.mark.parametrize("where,text", MESSAGES, ids=[w for w, _ in MESSAGES])
def test_every_message_reads_easily(where: str, text: str) -> None:
    score = textstat.flesch_reading_ease(text)
    assert score >= MIN_SCORE, f"Flesch-Douma {score:.0f} < {MIN_SCORE}: {text}"


def test_the_mean_readability_is_high() -> None:
    scores = [textstat.flesch_reading_ease(t) for _, t in MESSAGES]
    assert statistics.mean(scores) >= MIN_MEAN


def test_no_sentence_is_longer_than_20_words() -> None:
    long = [
        f"{where}: {s}"
        for where, text in MESSAGES
        for s in sentences(text)
        if len(s.split()) > MAX_SENTENCE_WORDS
    ]
    assert long == []


def test_the_citizen_is_addressed_as_u() -> None:
    informal = [f"{w}: {t}" for w, t in MESSAGES + list(button_titles()) if INFORMAL.search(t)]
    assert informal == []


def test_button_titles_are_short() -> None:
    assert [f"{w}: {t}" for w, t in button_titles() if len(t) > 20] == []


def _units() -> Iterator[Tuple[str, str]]:
    """Texts that belong together: a domain response, or a whole stroomschema node."""
    for name, variations in domain()["responses"].items():
        for variation in variations:
            yield f"domain:{name}", variation_text(variation)
    for node in schema().nodes.values():
        parts = [node.vraag or "", node.uitleg or "", *(o.label for o in node.opties)]
        if node.uitkomst:
            parts += [node.uitkomst.samenvatting, *node.uitkomst.stappen]
        yield f"stroomschema:{node.id}", " ".join(parts)
    for org in knowledge().organisations.values():
        yield f"organisaties:{org.id}", org.wat


def test_jargon_comes_with_a_plain_explanation() -> None:
    jargon = knowledge().jargon
    assert len(jargon) >= 10
    unexplained = []
    for where, text in _units():
        lowered = text.lower()
        for term, explanations in jargon.items():
            if term.lower() in lowered and not any(e.lower() in lowered for e in explanations):
                unexplained.append(f"{where}: '{term}'")
    assert unexplained == []


def test_the_readability_check_itself_rejects_officialese() -> None:
    officialese = (
        "Naar aanleiding van uw verzoek tot herziening van de inkomensafhankelijke bijdrage delen wij u mede "
        "dat de beschikking conform de geldende beleidsregels ongewijzigd gehandhaafd blijft."
    )
    assert textstat.flesch_reading_ease(officialese) < MIN_SCORE
