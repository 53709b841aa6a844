"""Rasa component: the message's meaning as a multilingual-e5-small sentence vector.

Registered as a message featurizer (config.yml: `bot.nlp.featurizer.SentenceEmbeddingFeaturizer`,
alias `e5`). The sentence feature is the e5 vector of the whole text; the sequence feature is that
vector repeated per token (Rasa's dense featurizers must give both). Each message is embedded once;
the classifier heads (bot/nlp/heads.py) read the vector from the message instead of embedding again.
Without the embedding model the featurizer adds nothing and says so once in the log.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp import embeddings


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the e5 sentence vector of the text to every message that has one."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config()}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to configure beyond the alias."""

    @staticmethod
    def required_packages() -> List[Text]:
        # Optional on purpose: without it the pipeline still runs (embeddings.available()).
        return []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(execution_context.node_name, config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def _featurize(self, messages: List[Message]) -> None:
        with_text = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if not with_text:
            return
        vectors = embeddings.embed([m.get(TEXT) for m in with_text])
        if vectors is None:
            return
        for message, vector in zip(with_text, vectors, strict=True):
            tokens = message.get(TOKENS_NAMES[TEXT]) or [None]
            sentence = vector.reshape(1, -1)
            sequence = np.repeat(sentence, len(tokens), axis=0)
            self.add_features_to_message(
                sequence=sequence, sentence=sentence, attribute=TEXT, message=message
            )
