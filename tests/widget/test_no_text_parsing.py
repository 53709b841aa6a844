"""The widget never reads meaning out of the bot's Dutch texts: no regular expression in
widget/src/chat-widget.js may contain words (the parts of a web address aside: "http", "https",
"www"). A casemanager's
message and the queue notices are structured messages (bot/payloads.py); a text is just a text.

A small JavaScript lexer finds the regular expression literals: it skips comments, strings and
template literals, and tells a "/" that starts a regular expression from a division by the token
before it."""

from __future__ import annotations

import re
from typing import List

from tools.stack import ROOT

WIDGET = ROOT / "widget" / "src" / "chat-widget.js"
# After these (or at the start) a "/" starts a regular expression; after a name, a number or a
# closing bracket it is a division.
REGEX_BEFORE = set("(,=:[!&|?{};+-*%<>~^")
KEYWORDS_BEFORE = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw"}
ALLOWED_WORDS = {"https", "http", "www"}  # the patterns for links in display text


def regex_literals(source: str) -> List[str]:
    """The bodies of the regular expression literals in JavaScript `source`."""
    found: List[str] = []
    i, n = 0, len(source)
    previous = ""  # the last significant token (a character, or a word)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            i = source.index("*/", i + 2) + 2
        elif c in "'\"`":
            j = i + 1
            while source[j] != c:
                j += 2 if source[j] == "\\" else 1
            i, previous = j + 1, "string"
        elif c == "/" and (previous == "" or previous in REGEX_BEFORE or previous in KEYWORDS_BEFORE):
            j, in_class = i + 1, False
            while in_class or source[j] != "/":
                if source[j] == "\\":
                    j += 1
                elif source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                j += 1
            found.append(source[i + 1 : j])
            i = j + 1
            while i < n and source[i].isalpha():  # flags
                i += 1
            previous = "regex"
        elif c.isalnum() or c in "_$":
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            previous, i = source[i:j], j
        elif c.isspace():
            i += 1
        else:
            previous, i = c, i + 1
    return found


def test_the_lexer_finds_regular_expressions_and_skips_strings_and_division() -> None:
    sample = (
        "var a = /^U praat (nu)\\/ met/; // /niet/\n"
        "var b = 'x / y', c = 4 / 2 / 1, d = x.replace(/[/]+$/g, ''); /* /ook niet/ */\n"
        "if (!/medewerker/i.test(t)) return /staat/;"
    )
    assert regex_literals(sample) == ["^U praat (nu)\\/ met", "[/]+$", "medewerker", "staat"]


def test_no_regular_expression_reads_the_bots_words() -> None:
    source = WIDGET.read_text(encoding="utf-8")
    literals = regex_literals(source)
    assert literals, "the lexer found nothing: it no longer understands the file"
    with_words = [
        body for body in literals
        if set(re.findall(r"[A-Za-zÀ-ÿ]{3,}", body)) - ALLOWED_WORDS
    ]
    assert with_words == [], f"regular expressions over the bot's texts: {with_words}"
    assert "medewerker" not in " ".join(literals)
    assert "RegExp(" not in source, "no regular expressions built from strings either"
