"""Turns the bot's messages into WhatsApp Cloud API message bodies. Pure functions, no I/O.

The Cloud API rejects a whole message (HTTP 400) when one field is too long, so every limit
below is enforced here rather than hoped for. Limits from Meta's Messages API reference:
text body 4096; reply buttons: at most 3, title 20, id 256, body 1024; list: at most 10 rows,
row title 24, row description 72, row id 200, button text 20.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

MAX_TEXT = 4096
# Meta documents 1024 for the body of a reply-button message; for lists some references say 4096,
# others 1024. We use 1024 for both: a longer text goes out as a separate message first.
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
ELLIPSIS = "…"

# Fixed words of the channel itself (B1, "u"-form). The list button opens the list of choices.
LIST_BUTTON_TEXT = "Bekijk de keuzes"
DEFAULT_BODY = "Maak een keuze."

_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True)
class Choice:
    """One button of a bot message: what the citizen sees and what comes back to Rasa."""

    title: str
    payload: str


def choices_from_buttons(buttons: Iterable[Dict[str, Any]]) -> List[Choice]:
    """Rasa buttons ({"title", "payload"}) as choices; a button without payload sends its title."""
    choices = []
    for number, button in enumerate(buttons, start=1):
        title = " ".join(str(button.get("title") or "").split()) or f"Keuze {number}"
        payload = str(button.get("payload") or title)
        choices.append(Choice(title=title, payload=payload))
    return choices


def unique_titles(choices: Sequence[Choice], limit: int) -> List[Choice]:
    """Titles as shown (cut to `limit`) made unique: Meta refuses a message with two equal button
    titles (131009), and two rows "Schulden" cannot be told apart. A repeat gets " (2)", " (3)"."""
    seen: Dict[str, int] = {}
    result = []
    for choice in choices:
        title = shorten(choice.title, limit)
        count = seen.get(title.casefold(), 0) + 1
        seen[title.casefold()] = count
        if count > 1:
            suffix = f" ({count})"
            title = shorten(choice.title, limit - len(suffix)) + suffix
            seen[title.casefold()] = 1
        result.append(Choice(title=title, payload=choice.payload))
    return result


def fits_reply_buttons(choices: Sequence[Choice]) -> bool:
    """Reply buttons only when every choice fits as it is; otherwise a list, so no title is cut."""
    return 0 < len(choices) <= MAX_BUTTONS and all(len(c.title) <= MAX_BUTTON_TITLE for c in choices)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis (a bare cut reads as a typo)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = text[: room + 1].rsplit(" ", 1)[0] if " " in text[: room + 1] else ""
    # A single long word, or a first word that uses almost nothing of the room: cut mid-word instead.
    if len(cut) < room // 2:
        cut = text[:room]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def split_text(text: str, limit: int) -> List[str]:
    """Split into parts of at most `limit` characters, preferably between paragraphs, then lines,
    then words, so a long answer is never cut in the middle of a sentence if avoidable."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", " "):
        pieces = text.split(separator)
        if len(pieces) > 1 and all(len(p) <= limit for p in pieces):
            return _pack(pieces, separator, limit)
    head, tail = text[:limit], text[limit:]
    return [head, *split_text(tail, limit)]


def _pack(pieces: Sequence[str], separator: str, limit: int) -> List[str]:
    """Join consecutive pieces as long as they fit."""
    parts: List[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{separator}{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def text_body(text: str) -> Dict[str, Any]:
    """A plain text message; a link gets a preview because images and files are sent as links."""
    return {"type": "text", "text": {"body": text, "preview_url": bool(_URL.search(text))}}


def template_body(name: str, language: str) -> Dict[str, Any]:
    """The approved template that may be sent outside the 24-hour window. It has no variables on
    purpose: it must not carry personal data, only say that a message is waiting."""
    return {"type": "template", "template": {"name": name, "language": {"code": language}}}


def button_body(body: str, choices: Sequence[Choice], ids: Sequence[str]) -> Dict[str, Any]:
    """An interactive reply-button message; `ids` are the (possibly shortened) payloads."""
    buttons = [
        {"type": "reply", "reply": {"id": reply_id, "title": choice.title}}
        for choice, reply_id in zip(choices, ids, strict=True)
    ]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


def list_row(choice: Choice, row_id: str) -> Dict[str, Any]:
    """A list row; a cut title keeps the full wording in the description."""
    row = {"id": row_id, "title": shorten(choice.title, MAX_ROW_TITLE)}
    if row["title"] != choice.title:
        row["description"] = shorten(choice.title, MAX_ROW_DESCRIPTION)
    return row


def list_body(body: str, choices: Sequence[Choice], ids: Sequence[str]) -> Dict[str, Any]:
    """An interactive list message with one section (a section title is only needed for several)."""
    rows = [list_row(choice, row_id) for choice, row_id in zip(choices, ids, strict=True)]
    titles = unique_titles([Choice(title=r["title"], payload="") for r in rows], MAX_ROW_TITLE)
    for row, unique in zip(rows, titles, strict=True):
        row["title"] = unique.title
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_TEXT, "sections": [{"rows": rows}]},
        },
    }


def numbered_lines(choices: Sequence[Choice], first_number: int) -> str:
    """Choices that do not fit in a list, as numbered lines the citizen can read and type."""
    return "\n".join(f"{number}. {c.title}" for number, c in enumerate(choices, start=first_number))


@dataclass(frozen=True)
class ChoicePlan:
    """How a text with buttons goes out: leading text messages, then one interactive message."""

    lead_texts: List[str]
    body: str
    choices: List[Choice]
    as_buttons: bool

    @property
    def id_limit(self) -> int:
        return MAX_BUTTON_ID if self.as_buttons else MAX_ROW_ID


def plan_choices(text: Optional[str], choices: Sequence[Choice]) -> ChoicePlan:
    """Decide between reply buttons and a list, move overflow rows into the text as numbered lines,
    and move text that does not fit in the interactive body into separate messages before it."""
    as_buttons = fits_reply_buttons(choices)
    shown = list(choices) if as_buttons else list(choices[:MAX_ROWS])
    if as_buttons:
        shown = unique_titles(shown, MAX_BUTTON_TITLE)
    full_text = (text or "").strip()
    overflow = [] if as_buttons else list(choices[MAX_ROWS:])
    if overflow:
        full_text = f"{full_text}\n\n{numbered_lines(overflow, MAX_ROWS + 1)}".strip()
    parts = split_text(full_text, MAX_INTERACTIVE_BODY) or [DEFAULT_BODY]
    lead = split_text("\n\n".join(parts[:-1]), MAX_TEXT)
    return ChoicePlan(lead_texts=lead, body=parts[-1], choices=shown, as_buttons=as_buttons)


def choice_body(plan: ChoicePlan, ids: Sequence[str]) -> Dict[str, Any]:
    """The interactive message of a plan, with the ids chosen for its choices."""
    if plan.as_buttons:
        return button_body(plan.body, plan.choices, ids)
    return list_body(plan.body, plan.choices, ids)
