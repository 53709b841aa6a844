"""The widget's own texts in six languages (issue 15, item 3): the table in chat-widget.js between
/* teksten:begin */ and /* teksten:eind */ (strict JSON). No browser: test_language.py shows the
widget using them. Dutch is the source: every other language has exactly its keys, the same
{naam}/{aantal} placeholders and as many sentences in a subtitle."""

from __future__ import annotations

import json
import re
from typing import Any, Dict

import pytest

from bot.intake.language import LANGUAGES
from tests.widget.helpers import WIDGET

SOURCE = (WIDGET / "src" / "chat-widget.js").read_text(encoding="utf-8")
BLOCK = re.compile(r"/\* teksten:begin \*/(.*?)/\* teksten:eind \*/", re.S)
PLACEHOLDER = re.compile(r"{(\w+)}")
SENTENCE_END = re.compile(r"[.?!؟]\s")


def texts() -> Dict[str, Dict[str, Any]]:
    found = BLOCK.search(SOURCE)
    assert found, "chat-widget.js: the block /* teksten:begin */ … /* teksten:eind */ is missing"
    table: Dict[str, Dict[str, Any]] = json.loads(found.group(1))
    return table


def placeholders(value: Any) -> list:
    parts = value if isinstance(value, list) else [value]
    return [sorted(PLACEHOLDER.findall(part)) for part in parts]


def test_the_widget_has_texts_in_the_bots_six_languages() -> None:
    assert list(texts()) == list(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_has_exactly_the_dutch_keys_with_the_same_placeholders(language: str) -> None:
    dutch, translated = texts()["nl"], texts()[language]
    assert sorted(set(dutch) - set(translated)) == [], f"{language}: ontbreekt"
    assert sorted(set(translated) - set(dutch)) == [], f"{language}: staat er te veel in"
    for key, value in dutch.items():
        other = translated[key]
        assert type(other) is type(value), f"{language}.{key}"
        assert placeholders(other) == placeholders(value), f"{language}.{key}: {{naam}}/{{aantal}}"
        parts = other if isinstance(other, list) else [other]
        assert all(part.strip() for part in parts), f"{language}.{key} is leeg"
        sentences = [s for part in parts for s in SENTENCE_END.split(part)]
        assert all(len(s.split()) < 20 for s in sentences), f"{language}.{key}: zin te lang"


def test_every_key_the_widget_uses_is_in_the_table_and_every_key_is_used() -> None:
    used = set(re.findall(r"words\('(\w+)'", SOURCE)) | set(re.findall(r"setConnection\('(\w+)'\)", SOURCE))
    assert used == set(texts()["nl"])
