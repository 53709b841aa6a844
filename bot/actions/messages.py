"""Shared glue between the intake engine's plain objects and Rasa's dispatcher and events."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Mapping, Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.intake.engine import CHOICE_INTENT, Intake, IntakeState, Reply, UserInput
from bot.intake.knowledge import knowledge
from bot.intake.schema import schema


@lru_cache(maxsize=1)
def intake() -> Intake:
    """The intake of this installation, built on first use (the action server imports every module)."""
    return Intake(knowledge(), schema())


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


def state_of(tracker: Tracker) -> IntakeState:
    """The intake state stored in the tracker's slots."""
    return IntakeState.from_slots(tracker.current_slot_values())


def slot_changes(before: IntakeState, after: IntakeState) -> List[EventType]:
    """SlotSet events for the slots that changed, in a stable order."""
    old, new = before.as_slots(), after.as_slots()
    return [SlotSet(name, value) for name, value in new.items() if old[name] != value]
