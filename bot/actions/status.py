"""The citizen asks how their case stands, by its reference (HV-7K3M)."""

from __future__ import annotations

import re
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import CaseNotFound, HandoverClient, HandoverUnavailable
from bot.settings import BotSettings

STATUS_RESPONSES = {
    "wachtend": "utter_status_wachtend",
    "in_behandeling": "utter_status_in_behandeling",
    "afgerond": "utter_status_afgerond",
}
REFERENCE = re.compile(r"\bHV-[A-HJ-KM-NP-Z2-9]{4}\b", re.IGNORECASE)


def reference_in(tracker: Tracker) -> Optional[str]:
    """The reference the citizen typed, normalised to capitals."""
    for entity in tracker.latest_message.get("entities") or ():
        if entity.get("entity") == "referentie" and REFERENCE.fullmatch(str(entity.get("value", ""))):
            return str(entity["value"]).upper()
    found = REFERENCE.search(tracker.latest_message.get("text") or "")
    return found.group(0).upper() if found else None


class ActionStatus(Action):
    """Look up the status of a case: waiting, being handled or done, nothing personal."""

    def name(self) -> str:
        return "action_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Ask for the reference when it is missing; otherwise report what can be known."""
        reference = reference_in(tracker)
        if reference is None:
            dispatcher.utter_message(response="utter_status_zonder_referentie")
            return []
        settings = BotSettings.from_env()
        if not settings.handover_url:
            dispatcher.utter_message(response="utter_status_niet_beschikbaar")
            return []
        try:
            status = await HandoverClient(settings).status(reference)
        except CaseNotFound:
            dispatcher.utter_message(response="utter_status_onbekend", referentie=reference)
            return []
        except HandoverUnavailable:
            dispatcher.utter_message(response="utter_status_niet_beschikbaar")
            return []
        state = status.get("status")
        if state not in STATUS_RESPONSES:
            dispatcher.utter_message(response="utter_status_niet_beschikbaar")
            return []
        dispatcher.utter_message(
            response=STATUS_RESPONSES[state], referentie=reference, positie=status.get("queue_position") or 1
        )
        return []
