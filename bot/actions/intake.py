"""The stroomschema intake: one action runs the tree (bot/intake/engine.py) for every citizen turn."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.medewerker import offer_person, request_callback
from bot.actions.messages import intake, send, slot_changes, state_of, user_input
from bot.intake.engine import CALLBACK_STEP, HANDOVER_STEP


class ActionIntake(Action):
    """Advance the intake by one turn: confirm a topic, ask the next question, or give the outcome."""

    def name(self) -> str:
        return "action_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Run the engine on the latest message and store its new state in slots."""
        before = state_of(tracker)
        # The clock is read here, not in the engine, so the engine stays pure (it dates a consent).
        turn = intake().handle(before, user_input(tracker), now=datetime.now(timezone.utc))
        send(dispatcher, turn.replies)
        events = slot_changes(before, turn.state)
        if turn.followup == HANDOVER_STEP:
            events += await offer_person(dispatcher, tracker, turn.state)
        elif turn.followup == CALLBACK_STEP:
            events += await request_callback(dispatcher, tracker, turn.state)
        return events
