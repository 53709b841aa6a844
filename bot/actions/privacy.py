""" "Verwijder mijn gegevens" in the chat: explain what goes, ask for confirmation, then erase.

Erased on "ja": what the handover service keeps of this conversation (cases, messages), the
citizen's messages still waiting in the outbox, and the conversation itself in Rasa's tracker
store. The last one cannot be done from here (Rasa writes the tracker back after this action), so
the action sets the slot `gegevens_wissen` and bot/tracker_store.py deletes the conversation
instead of saving it. When the handover service cannot be reached the chat is still erased, and
the citizen hears honestly that the gemeente part did not happen and how to ask for it. The
website widget forgets its own copy in the browser after the last message (utter_widget_vergeten).

The confirmation question is a small loop (ActiveLoop): Rasa's RulePolicy gives an active loop
priority over every rule, so the answer reaches this action also while a casemanager has the
chat or the citizen is correcting the summary. Anything that is not an answer is rejected and
handled by the rules as usual; the question is then dropped, so a later "ja" meant for another
question never erases anything.
"""

from __future__ import annotations

import logging
import re
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection
from rasa_sdk.types import DomainDict

from bot.actions.clients.handover import HandoverClient, HandoverUnavailable
from bot.actions.clients.outbox import handover_outbox
from bot.actions.medewerker import DEFAULT_CHANNEL
from bot.actions.messages import intake, send
from bot.actions.overdracht import from_service
from bot.intake.engine import CHOICE_INTENT
from bot.settings import BotSettings

logger = logging.getLogger(__name__)

ACTION_NAME = "action_verwijder_gegevens"
REQUEST_INTENT = "verwijder_gegevens"
ERASE_SLOT = "gegevens_wissen"  # read by bot/tracker_store.py
FORGET_RESPONSE = "utter_widget_vergeten"  # socket.io only: the widget clears its localStorage
# Button choices of utter_verwijderen_uitleg (payload /kies{"keuze": ...})
CHOICE_YES = "verwijderen|ja"
CHOICE_NO = "verwijderen|nee"
# Typed answers: the first word decides, as NLU may read "ja, verwijder alles" as a new request.
YES_WORDS = frozenset({"ja", "jazeker", "jawel", "yes"})
NO_WORDS = frozenset({"nee", "neen", "no"})


def answer_of(tracker: Tracker) -> Optional[bool]:
    """True for yes, False for no, None when the latest message is no answer to our question."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    if intent == CHOICE_INTENT:
        choice = next(
            (e.get("value") for e in message.get("entities") or () if e.get("entity") == "keuze"), None
        )
        return {CHOICE_YES: True, CHOICE_NO: False}.get(str(choice))
    words = re.findall(r"\w+", str(message.get("text") or "").lower())
    if words and words[0] in YES_WORDS:
        return True
    if words and words[0] in NO_WORDS:
        return False
    return {"bevestigen": True, "ontkennen": False}.get(str(intent))


def explain(dispatcher: CollectingDispatcher) -> None:
    """What is erased, the question, and where the gemeente tells how long it keeps data (if it does)."""
    dispatcher.utter_message(response="utter_verwijderen_uitleg")
    send(dispatcher, intake().privacy_note())


async def erase_at_gemeente(tracker: Tracker) -> bool:
    """Erase what the handover service and the outbox keep; False when that did not happen."""
    settings = BotSettings.from_env()
    if not settings.handover_url:
        return False
    try:
        # Waiting messages first: the outbox must not deliver them to the case after it is gone.
        await handover_outbox(settings).outbox.forget(tracker.sender_id)
        channel = tracker.get_latest_input_channel() or DEFAULT_CHANNEL
        await HandoverClient(settings).erase(channel, tracker.sender_id)
    except HandoverUnavailable:
        return False
    except Exception as e:  # e.g. the outbox database: never claim an erasure that did not happen
        logger.error("erasure at the handover service failed: %s", type(e).__name__)
        return False
    return True


class ActionVerwijderGegevens(Action):
    """Ask, and on confirmation erase everything of this conversation."""

    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """The request asks; the answer erases or cancels; anything else goes back to the rules."""
        if tracker.latest_action_name != "action_listen":
            # Predicted again after another action handled the message we rejected. A message of
            # the handover service does not end our question; anything the citizen said does.
            return [] if from_service(tracker) else [ActiveLoop(None), FollowupAction("action_listen")]
        if tracker.active_loop.get("name") != ACTION_NAME:
            # The request itself (its rule): explain what goes and ask.
            explain(dispatcher)
            return [ActiveLoop(ACTION_NAME)]
        answer = None if from_service(tracker) else answer_of(tracker)
        if answer is None:
            if (tracker.latest_message.get("intent") or {}).get("name") == REQUEST_INTENT:
                explain(dispatcher)
                return []
            raise ActionExecutionRejection(ACTION_NAME, "not an answer to the erasure question")
        # After an answer no rule follows this action: listen, not the fallback.
        done: List[EventType] = [ActiveLoop(None), FollowupAction("action_listen")]
        if not answer:
            dispatcher.utter_message(response="utter_verwijderen_geannuleerd")
            return done
        if await erase_at_gemeente(tracker):
            dispatcher.utter_message(response="utter_gegevens_verwijderd")
        else:
            dispatcher.utter_message(response="utter_gegevens_deels_verwijderd")
            send(dispatcher, [intake().contact("gemeente")])
            reference = tracker.get_slot("handover_referentie")
            if reference:
                dispatcher.utter_message(response="utter_verwijderen_kenmerk", referentie=reference)
        # Last, after everything the citizen should read: the widget then forgets its browser copy.
        dispatcher.utter_message(response=FORGET_RESPONSE)
        return [*done, SlotSet(ERASE_SLOT, True)]
