"""What a language's file still lacks, as YAML to fill in: `python -m bot.i18n.missing pl`.

For a municipality or translator after a Dutch text changed or was added (a new topic, a new node):
the lines printed go into bot/i18n/<taal>.yml, with the translation in place of the Dutch.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List

import yaml

from bot.i18n.catalogue import catalogue, source
from bot.intake.language import DUTCH, LANGUAGES


def whatsapp_missing(language: str) -> Dict[str, Dict[str, str]]:
    """The WhatsApp channel's own texts (bot/channels/whatsapp/teksten.yml) without a current
    translation in the `whatsapp:` part."""
    # Imported here: the channel package brings Rasa along, which the rest of this tool does not need.
    from bot.channels.whatsapp.texts import TEXTS, load_translations

    found = load_translations(language)
    return {
        key: {"nl": dutch, "tekst": dutch}
        for key, dutch in TEXTS.items()
        if key not in found or found[key].dutch != dutch
    }


def missing(language: str) -> str:
    """The responses and texts without a (current) translation, as YAML with the Dutch filled in."""
    found = catalogue(language)
    if found is None:
        raise ValueError(f"Geen vertaaltaal: {language!r}. Kies uit {', '.join(LANGUAGES[1:])}.")
    src = source()
    responses: Dict[str, Dict[str, Any]] = {}
    for name, dutch in src.responses.items():
        translated = found.responses.get(name)
        if translated is None or translated.dutch != dutch.words.text:
            entry: Dict[str, Any] = {"nl": dutch.words.text, "tekst": dutch.words.text}
            if dutch.words.titles:
                entry["knoppen"] = list(dutch.words.titles)
            if dutch.words.label is not None:
                entry["label"] = dutch.words.label
            responses[name] = entry
    texts = [{"nl": t, language: t} for t in sorted(src.texts) if t not in found.texts]
    whatsapp = whatsapp_missing(language)
    parts: List[str] = []
    if responses:
        parts.append(yaml.safe_dump({"responses": responses}, allow_unicode=True, sort_keys=False, width=110))
    if whatsapp:
        parts.append(yaml.safe_dump({"whatsapp": whatsapp}, allow_unicode=True, sort_keys=False, width=110))
    if texts:
        parts.append(yaml.safe_dump({"teksten": texts}, allow_unicode=True, sort_keys=False, width=110))
    return "".join(parts)


def main(argv: List[str]) -> int:
    if len(argv) != 1 or argv[0] == DUTCH:
        print(f"Gebruik: python -m bot.i18n.missing <{'|'.join(LANGUAGES[1:])}>", file=sys.stderr)
        return 2
    try:
        text = missing(argv[0])
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(text or f"Alles is vertaald voor {argv[0]}.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
