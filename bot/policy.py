"""One route for every message: after each citizen message (or handover event) `action_turn` runs,
after any action the bot listens.

The dialogue itself is not Rasa's: bot/intake/conversation.py decides from the conversation state
what a message is (an answer, consent, a request for a person, erasure, a message for the
casemanager). So Rasa needs no rules per intent, and adding a topic needs no rule at all.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData, confidence_scores_for
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

TURN_ACTION = "action_turn"


def next_action(tracker: DialogueStateTracker) -> str:
    """`action_turn` when a message waits for an answer, otherwise `action_listen`."""
    last = next(
        (e for e in reversed(tracker.events) if isinstance(e, (UserUttered, ActionExecuted))), None
    )
    return TURN_ACTION if isinstance(last, UserUttered) else ACTION_LISTEN_NAME


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=False
)
class TurnPolicy(Policy):
    """Predicts `action_turn` after a user message and `action_listen` after any action."""

    @staticmethod
    def supported_data() -> SupportedData:
        # Rasa warns about rule data without a rule-supporting policy; our one rule is only there to
        # make Rasa train its dialogue part at all (bot/data/rules/turn.yml).
        return SupportedData.ML_AND_RULE_DATA

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 6}

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource  # nothing to learn

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        return self._prediction(confidence_scores_for(next_action(tracker), 1.0, domain))
