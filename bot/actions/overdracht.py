"""While a casemanager has the conversation: forward the citizen's messages, and show the
casemanager's messages, queue updates and the return to the bot (sent by the handover service
through Rasa's trigger_intent)."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import CaseClosed, CaseNotFound
from bot.actions.clients.outbox import Sent, handover_outbox
from bot.settings import BotSettings

# Rasa gives events from trigger_intent this text. A citizen who types "/medewerker_bericht{...}"
# gets the same intent but not this text, so a forged casemanager message is ignored.
EXTERNAL_PREFIX = "EXTERNAL: "


def from_service(tracker: Tracker) -> bool:
    """Whether the latest event came from the handover service (trigger_intent), not from the citizen."""
    return str(tracker.latest_message.get("text") or "").startswith(EXTERNAL_PREFIX)


def entity(tracker: Tracker, name: str) -> str:
    """The value of an entity in the latest message ("" when absent)."""
    return next((str(e.get("value") or "") for e in tracker.latest_message.get("entities") or ()
                 if e.get("entity") == name), "")


def stop_forwarding() -> List[EventType]:
    """End the handover state and wait for the citizen's next message.

    The forwarding rule (bot/data/rules/overdracht.yml) needs `handover_actief: true`, so once this
    action sets it to false no rule predicts what comes next; Rasa's fallback would then undo the
    message and the slot, and forward the citizen's previous message to the closed case again.
    The explicit follow-up skips the policies for this one step."""
    return [SlotSet("handover_actief", False), FollowupAction("action_listen")]


class ActionDoorsturen(Action):
    """Pass the citizen's message to the casemanager; the bot itself stays silent."""

    def name(self) -> str:
        return "action_doorsturen"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Forward the text through the outbox; tell the citizen only when it is late or cannot arrive."""
        reference = tracker.get_slot("handover_referentie")
        settings = BotSettings.from_env()
        if not reference or not settings.handover_url:
            return stop_forwarding()
        text = tracker.latest_message.get("text") or ""
        sent = await handover_outbox(settings).send_message(reference, tracker.sender_id, text)
        if sent.status is Sent.REFUSED and isinstance(sent.error, (CaseClosed, CaseNotFound)):
            dispatcher.utter_message(response="utter_gesprek_al_afgesloten")
            return stop_forwarding()
        if sent.status is Sent.REFUSED:
            dispatcher.utter_message(response="utter_doorsturen_mislukt")
        elif sent.status is Sent.QUEUED and sent.already_waiting == 0:
            # Once per outage: the later messages wait behind this one and need no second notice.
            dispatcher.utter_message(response="utter_bericht_komt_later")
        return []


class ActionMedewerkerGekoppeld(Action):
    """A casemanager took the case."""

    def name(self) -> str:
        return "action_medewerker_gekoppeld"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Introduce the casemanager by first name."""
        if not from_service(tracker):
            return []
        dispatcher.utter_message(
            response="utter_medewerker_gekoppeld", naam=entity(tracker, "naam") or "Een medewerker"
        )
        return []


class ActionMedewerkerBericht(Action):
    """A message from the casemanager, shown as coming from that person."""

    def name(self) -> str:
        return "action_medewerker_bericht"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Utter the casemanager's text, labelled with their first name."""
        if not from_service(tracker):
            return []
        text = entity(tracker, "tekst")
        if text:
            naam = entity(tracker, "naam") or "Medewerker"
            # Plain text only: Rasa's socket.io output turns a custom payload into emit() arguments.
            dispatcher.utter_message(response="utter_bericht_van_medewerker", naam=naam, tekst=text)
        return []


class ActionWachtrijUpdate(Action):
    """The citizen's place in the queue changed."""

    def name(self) -> str:
        return "action_wachtrij_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Tell the new position."""
        if not from_service(tracker):
            return []
        position = entity(tracker, "positie")
        if position.isdigit() and tracker.get_slot("handover_actief"):
            dispatcher.utter_message(response="utter_wachtrij_positie", positie=int(position))
        return []


class ActionTerugNaarBot(Action):
    """The casemanager closed the case: the bot takes over again, with a clean intake."""

    def name(self) -> str:
        return "action_terug_naar_bot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Closing message with the reference and the agreed next steps; then reset the intake."""
        if not from_service(tracker):
            return []
        reference = entity(tracker, "referentie") or tracker.get_slot("handover_referentie") or ""
        agreed = entity(tracker, "afspraken")
        dispatcher.utter_message(response="utter_terug_naar_bot", referentie=reference)
        if agreed:
            dispatcher.utter_message(response="utter_afspraken", afspraken=agreed)
        dispatcher.utter_message(response="utter_bot_weer_hier")
        return [AllSlotsReset()]
