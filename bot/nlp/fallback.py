"""Rasa component: DIET over the n-gram features, only for a message the meaning heads did not read.

The meaning heads (bot/nlp/heads.py) classify every message that has a sentence vector, and their
ranking replaced DIET's anyway. DIET stays as the fallback for a process without the embedding model
(or a model trained without it): placed after the heads in config.yml, it runs only for messages
that have no intent yet, so it costs nothing when the heads work (a TensorFlow call per message).
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class FallbackDIETClassifier(DIETClassifier):
    """DIETClassifier, consulted only when no classifier before it set an intent."""

    def process(self, messages: List[Message]) -> List[Message]:
        unread = [m for m in messages if not (m.get(INTENT) or {}).get(INTENT_NAME_KEY)]
        if unread:
            super().process(unread)
        return messages
