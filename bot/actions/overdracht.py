"""While a casemanager has the conversation: forward the citizen's messages, and show the
casemanager's messages, queue updates and the return to the bot (sent by the handover service
through Rasa's trigger_intent).

The responses these actions utter are structured payloads (bot/domain/medewerker.yml,
bot/payloads.py): a client shows a casemanager's message or changes its mode only on those, never
on a text, so nothing a citizen types can pass for a casemanager."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import CaseClosed, CaseNotFound
from bot.actions.clients.outbox import Sent, handover_outbox
from bot.settings import BotSettings

# Rasa marks what comes in through trigger_intent (POST /conversations/{id}/trigger_intent, which
# needs Rasa's token; the handover service uses it) with this metadata
# (rasa.shared.core.constants.IS_EXTERNAL). The text of such an event is not looked at.
IS_EXTERNAL = "is_external"


def from_service(tracker: Tracker, intent: Optional[str] = None) -> bool:
    """Whether the latest event came in through trigger_intent, and (when given) is `intent`.

    Before anything is shown as the casemanager's, both must hold. The metadata alone is no proof:
    a web client can add it to its own message. The intent is: a citizen cannot produce it (NLU has
    no examples of the service's intents, and the channel guard, bot/channels/guard.py, passes a
    typed "/medewerker_bericht{...}" on as plain text). Without `intent` (e.g. "is this the
    citizen's answer?") a forged flag only keeps the citizen's own message from counting."""
    message = tracker.latest_message or {}
    metadata = message.get("metadata")
    if not (isinstance(metadata, dict) and metadata.get(IS_EXTERNAL) is True):
        return False
    return intent is None or (message.get("intent") or {}).get("name") == intent


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
        if not from_service(tracker, "medewerker_gekoppeld"):
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
        if not from_service(tracker, "medewerker_bericht"):
            return []
        text = entity(tracker, "tekst")
        if text:
            naam = entity(tracker, "naam") or "Medewerker"
            # A structured message (bot/domain/medewerker.yml), so no client takes text for it.
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
        if not from_service(tracker, "wachtrij_update"):
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
        if not from_service(tracker, "terug_naar_bot"):
            return []
        reference = entity(tracker, "referentie") or tracker.get_slot("handover_referentie") or ""
        agreed = entity(tracker, "afspraken")
        dispatcher.utter_message(response="utter_terug_naar_bot", referentie=reference)
        if agreed:
            dispatcher.utter_message(response="utter_afspraken", afspraken=agreed)
        dispatcher.utter_message(response="utter_bot_weer_hier")
        return [AllSlotsReset()]
