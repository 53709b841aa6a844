"""The conversation as the casemanager reads it, built from the tracker's events."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping

from bot.intake.language import ConversationLanguage, conversation_language
from bot.payloads import plain_text

CHOICE_PREFIX = "/"


def typed_texts(events: Iterable[Mapping[str, Any]]) -> List[str]:
    """What the citizen typed in the current session, oldest first: no buttons (their titles are the
    bot's Dutch), no events of the handover service."""
    texts: List[str] = []
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            texts = []
        elif kind == "user":
            metadata = event.get("metadata")
            if isinstance(metadata, Mapping) and metadata.get("is_external") is True:
                continue
            text = str(event.get("text") or "").strip()
            if text and not text.startswith(CHOICE_PREFIX):
                texts.append(text)
    return texts


def language_of(events: Iterable[Mapping[str, Any]]) -> ConversationLanguage:
    """The conversation language after everything the citizen typed in this session
    (bot/intake/language.py); no slot holds it, so nothing but the messages decides it."""
    return conversation_language(typed_texts(events))


def transcript(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Citizen and bot messages in order; a pressed button shows as its title, not its payload."""
    lines: List[Dict[str, Any]] = []
    titles: Dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "bot" and event.get("text"):
            buttons = (event.get("data") or {}).get("buttons") or []
            titles = {b.get("payload", ""): b.get("title", "") for b in buttons}
            lines.append({"role": "bot", "text": event["text"], "timestamp": event.get("timestamp")})
        elif kind == "bot":
            # An earlier live chat: the casemanager's messages and queue notices as plain text.
            shown = plain_text((event.get("data") or {}).get("custom"))
            if shown:
                lines.append({"role": "bot", "text": shown, "timestamp": event.get("timestamp")})
        elif kind == "user":
            metadata = event.get("metadata")
            if isinstance(metadata, Mapping) and metadata.get("is_external") is True:
                continue  # the handover service's event (trigger_intent), not the citizen's words
            text = str(event.get("text") or "")
            if text.startswith(CHOICE_PREFIX):
                if text not in titles:
                    continue  # an intent sent by a program (not typed, not a button of this conversation)
                text = f"[knop] {titles[text]}"
            if text.strip():
                lines.append({"role": "citizen", "text": text, "timestamp": event.get("timestamp")})
    return lines

