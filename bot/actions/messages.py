"""Glue between Rasa's tracker and dispatcher and the conversation's plain objects."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.intake.state import CHOICE_INTENT, Reply, UserInput


def send(dispatcher: CollectingDispatcher, replies: Sequence[Reply]) -> None:
    """Utter the replies: domain responses by name, knowledge texts as text; buttons on either."""
    for reply in replies:
        buttons: List[Dict[str, str]] = [{"title": t, "payload": p} for t, p in reply.buttons]
        if reply.response:
            dispatcher.utter_message(
                response=reply.response, buttons=buttons or None, **dict(reply.variables)
            )
        else:
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)


def user_input(tracker: Tracker) -> UserInput:
    """The latest citizen message as the engine sees it."""
    message: Mapping[str, Any] = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name") or ""
    choice = next(
        (str(e.get("value")) for e in message.get("entities") or () if e.get("entity") == "keuze"), None
    )
    return UserInput(
        text=str(message.get("text") or ""),
        intent=intent,
        parse=message,
        choice=choice if intent == CHOICE_INTENT else None,
    )
