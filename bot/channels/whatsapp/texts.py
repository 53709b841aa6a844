"""The channel's own words (teksten.yml next to this module, Dutch) and their translations (the
`whatsapp:` part of bot/i18n/<taal>.yml, next to the bot's other translations): read once, at import.

The files are part of the package, not something a deployment changes, so a missing or incomplete
Dutch file, or a translation that cannot be read, is a programming error and fails at once (at
import) instead of at the first photo. A text a language lacks is sent in Dutch;
tests/channels/test_whatsapp_texts.py fails on it (and on a key too many, or a button over 20
characters)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping, NamedTuple, Optional

import yaml

from bot.intake.language import DUTCH, LANGUAGES

TEXTS_FILE = Path(__file__).with_name("teksten.yml")
I18N_DIR = Path(__file__).resolve().parents[2] / "i18n"
SECTION = "whatsapp"  # the part of bot/i18n/<taal>.yml with these texts

REQUIRED = (
    "niet_leesbaar",
    "alleen_bijschrift",
    "lang_bericht",
    "aangepast_bericht",
    "geen_bericht_klaar",
    "knop_medewerker",
)
BUTTONS = ("knop_medewerker",)  # reply-button titles: WhatsApp allows at most 20 characters
MAX_BUTTON_TITLE = 20


class Translation(NamedTuple):
    dutch: str  # the Dutch text it translates (`nl`), to see it is still current
    text: str


def _plain(value: object) -> str:
    return " ".join(str(value).split())


def load(path: Path = TEXTS_FILE) -> Dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [key for key in REQUIRED if not isinstance(data.get(key), str) or not data[key].strip()]
    if missing:
        raise ValueError(f"{path.name}: missing texts {missing}")
    return {key: _plain(value) for key, value in data.items()}


def load_translations(language: str, directory: Path = I18N_DIR) -> Dict[str, Translation]:
    """The `whatsapp:` part of a language's file; empty when the file or the part is absent."""
    path = directory / f"{language}.yml"
    if not path.exists():
        return {}
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(SECTION) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: '{SECTION}' is a list of texts by name")
    found: Dict[str, Translation] = {}
    for key, value in raw.items():
        if not isinstance(value, dict) or not isinstance(value.get("nl"), str) or not isinstance(
            value.get("tekst"), str
        ):
            raise ValueError(f"{path.name}: {SECTION}.{key} needs 'nl' and 'tekst'")
        found[str(key)] = Translation(_plain(value["nl"]), _plain(value["tekst"]))
    return found


TEXTS = load()
TRANSLATIONS: Dict[str, Dict[str, Translation]] = {
    language: load_translations(language) for language in LANGUAGES if language != DUTCH
}


def texts(language: Optional[str]) -> Mapping[str, str]:
    """The channel's words in the conversation language (Dutch where a translation is missing)."""
    translated = TRANSLATIONS.get(language or DUTCH)
    if not translated:
        return TEXTS
    return {key: translated[key].text if key in translated else dutch for key, dutch in TEXTS.items()}
