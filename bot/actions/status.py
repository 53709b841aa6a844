"""The citizen asks how their case stands, by its reference (HV-7K3M)."""

from __future__ import annotations

import re
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

REFERENCE = re.compile(r"\bHV-[A-HJ-KM-NP-Z2-9]{4}\b", re.IGNORECASE)


def reference_in(tracker: Tracker) -> Optional[str]:
    """The reference the citizen typed, normalised to capitals."""
    for entity in tracker.latest_message.get("entities") or ():
        if entity.get("entity") == "referentie" and REFERENCE.fullmatch(str(entity.get("value", ""))):
            return str(entity["value"]).upper()
    found = REFERENCE.search(tracker.latest_message.get("text") or "")
    return found.group(0).upper() if found else None


class ActionStatus(Action):
    """Look up the status of a case; without the handover service the bot says so honestly."""

    def name(self) -> str:
        return "action_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Ask for the reference when it is missing; otherwise report what can be known."""
        if reference_in(tracker) is None:
            dispatcher.utter_message(response="utter_status_zonder_referentie")
            return []
        dispatcher.utter_message(response="utter_status_niet_beschikbaar")
        return []
