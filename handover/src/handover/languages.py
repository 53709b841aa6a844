"""The conversation languages the bot serves, as it sends them (ISO 639-1, `language` in a new case):
their Dutch name for casemanagers and the ISO 639-2/B code Open Klant wants. There is no machine
translation: a casemanager who does not read the language calls in an interpreter."""

from __future__ import annotations

from typing import NamedTuple


class Language(NamedTuple):
    dutch_name: str
    iso639_2: str


DUTCH = "nl"
LANGUAGES: dict[str, Language] = {
    "nl": Language("Nederlands", "nld"),
    "en": Language("Engels", "eng"),
    "pl": Language("Pools", "pol"),
    "tr": Language("Turks", "tur"),
    "ar": Language("Arabisch", "ara"),
    "uk": Language("Oekraïens", "ukr"),
}


def dutch_name(code: str | None) -> str:
    """"Pools" for "pl"; Dutch when the bot did not say (an older bot)."""
    return LANGUAGES.get(code or DUTCH, LANGUAGES[DUTCH]).dutch_name


def iso639_2(code: str | None) -> str:
    return LANGUAGES.get(code or DUTCH, LANGUAGES[DUTCH]).iso639_2
