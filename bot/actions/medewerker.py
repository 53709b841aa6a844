"""The citizen wants a person: point to the municipality's own contact route."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.messages import intake, send
from bot.intake.engine import Reply


class ActionMedewerker(Action):
    """Tell the citizen how to reach a person at the municipality."""

    def name(self) -> str:
        return "action_medewerker"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Utter the intro that fits the request, then the municipality's contact route."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        intro = "utter_verwijder_gegevens" if intent == "verwijder_gegevens" else "utter_medewerker_contact"
        send(dispatcher, [Reply(response=intro), intake().contact("gemeente")])
        return []
