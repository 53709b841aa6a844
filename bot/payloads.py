"""The structured messages of the live chat with a casemanager, and their plain-text form.

What the handover service relays to the citizen (a casemanager's message, the queue, the return to
the bot) is never a text that a client has to recognise: the responses in bot/domain/medewerker.yml
are custom payloads, so a citizen cannot make their own words look like a casemanager's message.

    {"data": {"type": "staff_message", "name": "Sanne", "label": "Sanne (medewerker)", "text": "…"}}
    {"data": {"type": "mode", "mode": "queued" | "staff" | "handover" | "closed" | "bot",
              "text": "<the Dutch sentence>", "name"?, "reference"?, "position"?, "wait_minutes"?}}

Everything sits under "data" because Rasa's socket.io channel emits a custom payload as
emit("bot_uttered", **custom): the website widget receives what is under "data". Every channel gets
the same payload; channels without bubbles (WhatsApp, the casemanager's transcript) show
`plain_text()`. Docs: docs/widget.md, docs/whatsapp.md.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

STAFF_MESSAGE = "staff_message"
# The conversation language of a bot message (nl, en, pl, tr, ar, uk), in the bot event's metadata
# (bot/actions/messages.py); the website channel adds it to what it emits, for the widget's lang/dir.
LANG = "lang"
MODE = "mode"
MODES = frozenset({"queued", "staff", "handover", "closed", "bot"})


def structured(custom: Any) -> Optional[Mapping[str, Any]]:
    """The live-chat message in a custom payload, or None for any other custom payload."""
    data = custom.get("data") if isinstance(custom, Mapping) else None
    if isinstance(data, Mapping) and data.get("type") in (STAFF_MESSAGE, MODE):
        return data
    return None


def plain_text(custom: Any) -> Optional[str]:
    """How a channel without bubbles shows the message: "Sanne (medewerker): …" for a casemanager's
    message (as WhatsApp citizens have always seen it), the Dutch sentence for a mode change."""
    data = structured(custom)
    if data is None:
        return None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    if data["type"] == STAFF_MESSAGE:
        label = data.get("label") or data.get("name")
        return f"{label}: {text}" if isinstance(label, str) and label.strip() else text
    return text
