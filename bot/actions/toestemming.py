"""The citizen's correction of the summary before consent (bot/intake/consent.py).

While the bot waits for that text (slot `tekst_verwacht`), the rules in bot/data/rules/toestemming.yml
send every message here instead of to `action_intake`, whatever NLU made of it. Rasa only predicts
"wait for the citizen" after an action whose rule shows how the action left the slot; so this action
always reports `tekst_verwacht`, and `action_intake` (in rules without that slot) never has to.
"""

from __future__ import annotations

from typing import Any, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.intake import ActionIntake
from bot.intake.engine import CORRECTING, TEXT_EXPECTED_SLOT


def _slot(event: Any, name: str) -> bool:
    return isinstance(event, dict) and event.get("event") == "slot" and event.get("name") == name


class ActionAanvulling(ActionIntake):
    """The intake turn for a correction of the summary, ending with the state of `tekst_verwacht`."""

    def name(self) -> str:
        return "action_aanvulling"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Run the intake; then say whether the bot still waits for the correction."""
        events = await super().run(dispatcher, tracker, domain)
        phase = next(
            (e["value"] for e in reversed(events) if _slot(e, "intake_fase")), tracker.get_slot("intake_fase")
        )
        kept = [e for e in events if not _slot(e, TEXT_EXPECTED_SLOT)]
        return [*kept, SlotSet(TEXT_EXPECTED_SLOT, phase == CORRECTING)]
