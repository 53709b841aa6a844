"""`action_turn`: the only custom action. Every message comes here (bot/policy.py).

It reads the conversation state from the slots, lets the conversation decide
(bot/intake/conversation.py), carries out the effect it asks for through the handover gateway,
gives the result back, and turns the outcome into messages and slot events. No decisions here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from typing_extensions import assert_never

from bot.actions.case_payload import case_payload, channel_of
from bot.actions.messages import send, user_input
from bot.handover_gateway import HandoverGateway, gateway_for
from bot.intake.conversation import Context, Conversation, ConversationState, Message, Step
from bot.intake.effects import (
    BookSlot,
    CancelAppointment,
    ChangeAppointment,
    CheckAvailability,
    Effect,
    EraseConversation,
    FindSlots,
    ForwardToCasemanager,
    LookUpStatus,
    OpenCase,
    RequestCallback,
    Result,
    SendSatisfaction,
)
from bot.intake.engine import Intake
from bot.intake.knowledge import knowledge
from bot.intake.language import DEFAULT, DUTCH
from bot.intake.schema import schema
from bot.intake.transcript import language_of
from bot.settings import BotSettings

ACTION_NAME = "action_turn"
# Rasa marks what comes in through trigger_intent (the handover service, with Rasa's token) with
# this metadata (rasa.shared.core.constants.IS_EXTERNAL); clients may not set it (bot/input_guard.py).
IS_EXTERNAL = "is_external"


@lru_cache(maxsize=1)
def conversation() -> Conversation:
    """The conversation of this installation, built on first use (never at import)."""
    return Conversation(Intake(knowledge(), schema(), BotSettings.from_env().ask_registration))


def message_of(tracker: Tracker) -> Message:
    """The latest message as the conversation sees it."""
    latest: Mapping[str, Any] = tracker.latest_message or {}
    entities: Dict[str, str] = {}
    for entity in latest.get("entities") or ():
        name = str(entity.get("entity") or "")
        if name and name not in entities:
            entities[name] = str(entity.get("value") or "")
    metadata = latest.get("metadata")
    from_service = isinstance(metadata, dict) and metadata.get(IS_EXTERNAL) is True
    return Message(user=user_input(tracker), entities=entities, from_service=from_service)


def message_id_of(tracker: Tracker) -> str:
    """The channel's own id of the latest message: the widget's metadata.message_id, or Meta's
    message id on WhatsApp; "" when there is none. The same message handled twice has the same id."""
    metadata = (tracker.latest_message or {}).get("metadata")
    if not isinstance(metadata, dict):
        return ""
    found = metadata.get("message_id")
    whatsapp = metadata.get("whatsapp")
    if found is None and isinstance(whatsapp, dict):
        found = whatsapp.get("message_id")
    return found if isinstance(found, str) else ""


def conversation_language(current: Optional[str], code: str) -> Optional[str]:
    """The slot `taal`: the language code, except in a conversation that was Dutch all along (the
    default, never set: most conversations add no event for it)."""
    return None if current is None and code == DUTCH else code


def slot_events(before: ConversationState, after: ConversationState) -> List[EventType]:
    """SlotSet events for the slots that changed, in a stable order."""
    old, new = before.as_slots(), after.as_slots()
    return [SlotSet(name, value) for name, value in new.items() if old.get(name) != value]


class ActionTurn(Action):
    """Carries out what the conversation decides for one message."""

    def __init__(
        self,
        gateway: Optional[HandoverGateway] = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._gateway = gateway
        self.clock = clock

    @property
    def gateway(self) -> HandoverGateway:
        if self._gateway is None:  # settings read once, at the first message
            self._gateway = gateway_for()
        return self._gateway

    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        before = ConversationState.from_slots(tracker.current_slot_values())
        context = Context(
            now=self.clock(),
            handover_configured=self.gateway.configured,
            language=language_of(tracker.events),
        )
        step = conversation().handle(before, message_of(tracker), context)
        replies = list(step.replies)
        while step.effect is not None:
            result = await self.carry_out(step.effect, step, tracker)
            step = conversation().after(step.state, step.effect, result)
            replies += step.replies
        # The language goes with the messages once the citizen's messages showed one (also Dutch
        # asked for); a conversation that never left the default stays exactly as before.
        shown = context.language.source != DEFAULT
        send(dispatcher, replies, context.language.code if shown else None)
        # After every step, also a reset of all slots (terug_naar_bot): the language stays.
        after = replace(step.state, taal=conversation_language(before.taal, context.language.code))
        return slot_events(before, after)

    async def carry_out(self, effect: Effect, step: Step, tracker: Tracker) -> Result:
        """One effect through the gateway."""
        intake = step.state.intake
        if isinstance(effect, OpenCase):
            return await self.gateway.open_case(case_payload(tracker, intake, "chat"))
        if isinstance(effect, RequestCallback):
            case = case_payload(tracker, intake, "callback", effect.contact)
            return await self.gateway.request_callback(case)
        if isinstance(effect, ForwardToCasemanager):
            return await self.gateway.forward(
                effect.reference, tracker.sender_id, effect.text, message_id_of(tracker)
            )
        if isinstance(effect, LookUpStatus):
            return await self.gateway.status(effect.reference)
        if isinstance(effect, EraseConversation):
            return await self.gateway.erase(channel_of(tracker), tracker.sender_id)
        if isinstance(effect, CheckAvailability):
            return await self.gateway.availability()
        if isinstance(effect, FindSlots):
            return await self.gateway.free_slots(effect.organisation)
        if isinstance(effect, BookSlot):
            return await self.gateway.book(
                channel_of(tracker), tracker.sender_id, effect.slot_id, effect.organisations
            )
        if isinstance(effect, ChangeAppointment):
            return await self.gateway.change(
                channel_of(tracker), tracker.sender_id, effect.reference, effect.slot_id
            )
        if isinstance(effect, CancelAppointment):
            return await self.gateway.cancel(channel_of(tracker), tracker.sender_id, effect.reference)
        if isinstance(effect, SendSatisfaction):
            return await self.gateway.satisfaction(
                effect.reference, tracker.sender_id, effect.score, effect.words
            )
        assert_never(effect)  # mypy: a new effect needs its branch here
