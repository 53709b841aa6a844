"""Rasa component: what a message means, read from its e5 sentence vector (bot/nlp/featurizer.py).

Heads on the same vector, each a logistic regression (scikit-learn while training; at run time a
matrix product over weights stored as plain arrays, no pickles):

- the intent: which topic, life event or conversational act (NLU files), from the e5 vector and the
  text's word and character n-grams together (bot/nlp/ngrams.py: their logits added, weighted).
  Without the embedding model the n-grams alone decide.
- concerns: the same intent head over each sentence (long sentences in windows of words), so a story
  with three problems keeps all three: for every intent the best score of the whole text and its parts.
- detectors that do not compete with topics: urgent, crisis, wants a person, language is hard. Each
  is its own binary head, trained on bot/knowledge/detectors.yml (examples where they occur together
  with topics) plus the NLU examples, labelled by the regex signals (bot/knowledge/signalen.yml).

Routing (bot/intake/routing.py) reads `intent_ranking`, `concerns` and `detectors` from the parse.
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Text, Tuple

import numpy as np
import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intake import language
from bot.intake.knowledge import KNOWLEDGE_DIR, Knowledge, knowledge
from bot.intake.routing import WANTS_HUMAN_INTENT, find_signals
from bot.nlp import embeddings, ngrams
from bot.nlp.embeddings import Vectors
from bot.nlp.ngrams import Ngrams

logger = logging.getLogger(__name__)

DETECTORS_FILE = KNOWLEDGE_DIR / "detectors.yml"
RANKING_LENGTH = 10
WEIGHTS_FILE = "heads.npz"
NAMES_FILE = "heads.json"
# Parts of a long text: sentences; a sentence longer than this many words is read in windows.
WINDOW_WORDS = 12
WINDOW_STRIDE = 8
MIN_PART_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def detector_names() -> Tuple[str, ...]:
    """The detectors, as named in bot/knowledge/detectors.yml (the one list of them)."""
    return tuple(load_detector_examples(DETECTORS_FILE))


def load_detector_examples(path: Path) -> Dict[str, Dict[str, List[str]]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(name): {
            "positive": [str(t) for t in spec.get("positive") or ()],
            "negative": [str(t) for t in spec.get("negative") or ()],
        }
        for name, spec in (raw.get("detectors") or {}).items()
    }


# Dutch function words: the regex signals are Dutch, so only a Dutch example's "no signal" means "no".
_DUTCH = re.compile(r"\b(ik|de|het|een|mijn|niet|wat|van|voor|met|heb|kan|moet|is|en)\b", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)  # training asks twice per example: its weight and its detector labels
def is_dutch(text: str) -> bool:
    """Whether the Dutch signal words can judge an example: lingua's language where the example has
    words enough for it (bot/intake/language.py), else a Dutch function word. The function words alone
    took a fifth of the English examples for Dutch ("is"), and with them their urgent and crisis
    messages as "not urgent" (v26)."""
    found = language.detect(text)
    if found.words >= language.MIN_WORDS:
        return found.language == language.DUTCH
    return bool(_DUTCH.search(text))


def example_weights(texts: Sequence[str], other_language: float) -> Dict[str, float]:
    """The weight of each training text in the intent heads: 1 for Dutch, `other_language` else."""
    return {text: 1.0 if other_language == 1.0 or is_dutch(text) else other_language for text in set(texts)}


def weak_labels(text: str, intent: Optional[str], kb: Knowledge) -> Dict[str, Optional[bool]]:
    """What the regex signals (and the intent) say about an NLU example, per detector; None where
    they cannot say. The Dutch words cannot judge an example in another language; whether it asks
    for a person its intent says in every language (an example has one intent), so there the
    wanting-a-person detector learns from both sides, not only from the requests (v26)."""
    detectors = kb_detectors(kb)
    if not is_dutch(text):
        asks = intent == WANTS_HUMAN_INTENT
        return {name: asks if name == "wants_person" else None for name in detectors}
    # The Dutch words only: whether an example is Dutch is a guess (is_dutch), and the detectors
    # trained on the other languages' words lost an urgent message in another language (v21).
    found_by_words = (kb.signals[s] for s in find_signals(text, kb, other_languages=False))
    signals = [s for s in found_by_words if not s.words_only]
    found = {s.detector for s in signals if s.detector}
    if any(s.urgent for s in signals):
        found.add("urgent")
    if any(s.crisis for s in signals):
        found.add("crisis")
    if intent == WANTS_HUMAN_INTENT:
        found.add("wants_person")
    return {name: name in found for name in detectors}


def kb_detectors(kb: Knowledge) -> Tuple[str, ...]:
    return tuple(sorted({s.detector for s in kb.signals.values() if s.detector} | {"urgent", "crisis"}))


def sentences(text: str) -> List[str]:
    """The sentences of a text with at least MIN_PART_WORDS words."""
    found = [" ".join(s.split()) for s in _SENTENCE_END.split(text.strip())]
    return [s for s in found if len(s.split()) >= MIN_PART_WORDS]


def parts(text: str) -> List[str]:
    """The sentences of a text; long ones as overlapping windows of words. [] for a short text."""
    pieces: List[str] = []
    for sentence in sentences(text):
        words = sentence.split()
        if len(words) <= WINDOW_WORDS + WINDOW_STRIDE // 2:
            pieces.append(sentence)
            continue
        for start in range(0, len(words) - WINDOW_STRIDE // 2, WINDOW_STRIDE):
            pieces.append(" ".join(words[start : start + WINDOW_WORDS]))
    return pieces if len(pieces) > 1 else []


def _softmax(scores: Vectors) -> Vectors:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True))


def _sigmoid(scores: Vectors) -> Vectors:
    return np.asarray(1.0 / (1.0 + np.exp(-scores)))


def _fit(
    x: Vectors, y: Sequence[Any], c: float, weights: Any = "balanced",
    sample_weight: Optional[Sequence[float]] = None,
) -> Tuple[Vectors, Vectors]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight=weights)
    model.fit(x, list(y), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    return model.coef_.astype(np.float32), model.intercept_.astype(np.float32)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class MeaningClassifier(GraphComponent, IntentClassifier):
    """Intent, concerns and detectors from the sentence vector (see the module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "featurizer": "e5",  # alias of the SentenceEmbeddingFeaturizer in config.yml
            # Inverse regularisation of the intent head: 5-fold CV on the NLU examples, 10/30/100/300
            # → 0.913/0.927/0.931/0.930 (docs/nlu-tuning.md).
            "C": 100.0,
            # 10 (was 30) and urgent positives 5 times (others 3): with the examples in five more
            # languages and the hard negatives of December 2026, C 30 and 3 missed urgent deadlines
            # in other languages (docs/nlu-tuning.md, v13).
            "detector_C": 10.0,
            "positive_weights": {"urgent": 5.0},
            # The n-gram reader of the intent (bot/nlp/ngrams.py): its regularisation, and the weight
            # of its logits against e5's (docs/nlu-tuning.md, v14).
            "ngram_C": 30.0,
            "ngram_weight": 0.3,
            # The weight of one example in another language in the intent heads: fifteen per topic
            # per language weigh as much as the three of before (issue 15; docs/nlu-tuning.md, v26).
            "other_language_weight": 0.2,
            # The n-grams beside e5 in a detector too, where that measured better: the crisis head
            # at .2 fired far less on ordinary worries at the same recall; urgent lost recall
            # (docs/nlu-tuning.md, v15).
            "detector_ngram_weights": {"crisis": 0.2},
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        intents: Sequence[str] = (),
        weights: Optional[Mapping[str, Vectors]] = None,
        detectors: Sequence[str] = (),
        reader: Optional[Ngrams] = None,
    ) -> None:
        self.config = config
        self._storage = model_storage
        self._resource = resource
        self.intents = list(intents)
        self.detectors = list(detectors)
        self.weights = dict(weights or {})
        self.ngrams = reader
        self._columns: Optional[Tuple[Vectors, Vectors]] = None  # see _ngram_columns

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MeaningClassifier":
        return cls(config, model_storage, resource)

    # --- training ---------------------------------------------------------------------------------

    def _vector(self, message: Message) -> Optional[Vectors]:
        _, sentence = message.get_dense_features(TEXT, [self.config["featurizer"]])
        return None if sentence is None else np.asarray(sentence.features[0], dtype=np.float32)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if str(m.get(TEXT) or "").strip()]
        labels = [str(m.get("intent")) for m in examples]
        if len(set(labels)) < 2:
            return self._resource
        self.intents = sorted(set(labels))
        weights: Dict[str, Vectors] = {}
        texts = [str(m.get(TEXT)) for m in examples]
        share = example_weights(texts, float(self.config.get("other_language_weight", 1.0)))
        self.ngrams = ngrams.fit(texts)
        weights["ngram_w"], weights["ngram_b"] = _fit(
            self.ngrams.features(texts), labels, float(self.config["ngram_C"]),
            sample_weight=[share[t] for t in texts],
        )
        usable = [(m, v) for m, v in ((m, self._vector(m)) for m in examples) if v is not None]
        if sorted({str(m.get("intent")) for m, _ in usable}) != self.intents:
            # Without a vector for every intent's examples the two heads' classes would not line up.
            logger.warning("Geen zinsembeddings bij het trainen: alleen de n-grammen lezen de intentie.")
            self.weights = weights
            self._persist()
            return self._resource
        x = np.stack([v for _, v in usable])
        weights["intent_w"], weights["intent_b"] = _fit(
            x, [str(m.get("intent")) for m, _ in usable], float(self.config["C"]),
            sample_weight=[share[str(m.get(TEXT))] for m, _ in usable],
        )
        self._train_detectors(usable, weights)
        self.weights = weights
        self._persist()
        return self._resource

    def _train_detectors(self, usable: List[Tuple[Message, Vectors]], weights: Dict[str, Vectors]) -> None:
        kb = knowledge()
        self.detectors = list(kb_detectors(kb))
        extra = load_detector_examples(DETECTORS_FILE)
        labelled = [(m, v, weak_labels(m.get(TEXT), m.get("intent"), kb)) for m, v in usable]
        for name in self.detectors:
            known = [(m, v, w[name]) for m, v, w in labelled if w[name] is not None]
            xw = np.stack([v for _, v, _ in known])
            weak_texts = [str(m.get(TEXT)) for m, _, _ in known]
            own = extra.get(name, {"positive": [], "negative": []})
            texts = own["positive"] + own["negative"]
            vectors = embeddings.embed(texts) if texts else np.empty((0, xw.shape[1]), dtype=np.float32)
            if vectors is None:
                continue
            xd = np.concatenate([xw, vectors])
            yd = [bool(y) for _, _, y in known]
            yd += [True] * len(own["positive"]) + [False] * len(own["negative"])
            if len(set(yd)) < 2:
                continue
            # Positives count three times (urgent: see the config): fewer than negatives, and missing
            # one costs more; fully balanced weights fired on every sad sentence (docs/nlu-tuning.md).
            positive = float((self.config.get("positive_weights") or {}).get(name, 3.0))
            c, classes = float(self.config["detector_C"]), {True: positive, False: 1.0}
            w, b = _fit(xd, yd, c, classes)
            weights[f"detector_{name}_w"], weights[f"detector_{name}_b"] = w[0], b
            if self._detector_ngram_weight(name) > 0 and self.ngrams is not None:
                w, b = _fit(self.ngrams.features(weak_texts + texts), yd, c, classes)
                weights[f"detector_{name}_ngram_w"], weights[f"detector_{name}_ngram_b"] = w[0], b

    def _detector_ngram_weight(self, name: str) -> float:
        return float((self.config.get("detector_ngram_weights") or {}).get(name, 0.0))

    def _persist(self) -> None:
        arrays = {**self.weights, **(self.ngrams.arrays() if self.ngrams else {})}
        vocabularies = self.ngrams.names() if self.ngrams else {}
        names = {"intents": self.intents, "detectors": self.detectors, **vocabularies}
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, **arrays)
            (directory / NAMES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "MeaningClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                names = json.loads((directory / NAMES_FILE).read_text(encoding="utf-8"))
                with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as stored:
                    weights = {key: stored[key] for key in stored.files}
        except (ValueError, FileNotFoundError, OSError):
            # Trained on fewer than two intents: the component passes every message on unchanged.
            return cls(config, model_storage, resource)
        reader = Ngrams.restore(names, weights) if "ngram_w" in weights else None
        return cls(config, model_storage, resource, names["intents"], weights, names["detectors"], reader)

    # --- reading a message ------------------------------------------------------------------------

    def _intent_probabilities(
        self, texts: Sequence[str], vectors: Optional[Vectors], features: Any = None
    ) -> Vectors:
        """Softmax over the e5 head's logits and the n-gram head's, added with the configured weight
        (a weighted geometric mean of the two heads' probabilities); either alone when the other is
        missing."""
        logits: List[Vectors] = []
        shares: List[float] = []
        if vectors is not None and "intent_w" in self.weights:
            logits.append(vectors @ self.weights["intent_w"].T + self.weights["intent_b"])
            shares.append(1.0 - float(self.config["ngram_weight"]))
        if self.ngrams is not None and "ngram_w" in self.weights:
            features = self.ngrams.features(texts) if features is None else features
            logits.append(np.asarray(features @ self._ngram_columns()) + self.weights["ngram_b"])
            shares.append(float(self.config["ngram_weight"]) if len(logits) > 1 else 1.0)
        combined = shares[0] * logits[0]
        for share, z in zip(shares[1:], logits[1:], strict=True):
            combined = combined + share * z
        return _softmax(combined)

    def _ngram_columns(self) -> Vectors:
        """The n-gram head's weights with one column per intent, made contiguous once: scipy
        multiplies a sparse matrix by the transposed view some 300 times slower (it was 7 ms of each
        message's parse, a quarter of the Rasa process's busy time under 20 concurrent users)."""
        weights = self.weights["ngram_w"]
        if self._columns is None or self._columns[0] is not weights:
            self._columns = (weights, np.ascontiguousarray(weights.T))
        return self._columns[1]

    def _ngram_rows(self, texts: Sequence[str]) -> Callable[[Sequence[str]], Any]:
        """The n-gram features of `texts`, counted once (the intent reads the parts of a message, the
        detectors its sentences, which are often the same): a function that picks rows by text."""
        if self.ngrams is None:
            return lambda _: None
        unique = list(dict.fromkeys(texts))
        matrix = self.ngrams.features(unique)
        index = {t: i for i, t in enumerate(unique)}
        return lambda wanted: matrix[[index[t] for t in wanted]]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            vector = self._vector(message)
            if not self.intents or (vector is None and self.ngrams is None) or not message.get(TEXT):
                continue  # untrained, or nothing to read: the next classifier decides
            self._read(message, vector)
        return messages

    def _read(self, message: Message, vector: Optional[Vectors]) -> None:
        text = str(message.get(TEXT) or "")
        pieces = parts(text)
        texts = [text, *pieces]
        rows: Optional[Vectors] = None
        if vector is not None:
            piece_vectors = embeddings.embed(pieces)
            rows = vector.reshape(1, -1)
            if piece_vectors is not None and len(piece_vectors):
                rows = np.vstack([rows, piece_vectors])
        # The detectors read the whole text and each full sentence (a crisis in the middle of a long
        # story), not windows of words: a torn-off fragment sounds alarming more often than it is.
        whole_sentences = sentences(text) if vector is not None else []
        ngram_rows = self._ngram_rows([*texts, *whole_sentences])
        probabilities = self._intent_probabilities(texts, rows, ngram_rows(texts))
        whole = probabilities[0]
        order = np.argsort(-whole)[:RANKING_LENGTH]
        ranking = [{"name": self.intents[i], "confidence": float(whole[i])} for i in order]
        message.set("intent", ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)

        # Each part's best intent, in the order of the text: the routing takes the main concern of a
        # story from its first confident sentence (bot/intake/routing.py, `first_concern`).
        tops = probabilities[1:].argmax(axis=1)
        message.set(
            "parts",
            [
                {"name": self.intents[i], "confidence": round(float(row[i]), 4)}
                for i, row in zip(tops, probabilities[1:], strict=True)
            ],
            add_to_output=True,
        )
        best = probabilities.max(axis=0)
        concern_order = np.argsort(-best)[:RANKING_LENGTH]
        message.set(
            "concerns",
            [{"name": self.intents[i], "confidence": round(float(best[i]), 4)} for i in concern_order],
            add_to_output=True,
        )
        if vector is None:
            return  # the detectors read meaning only; without it the signal words decide alone
        sentence_vectors = embeddings.embed(whole_sentences) if len(whole_sentences) > 1 else None
        rows = vector.reshape(1, -1)
        if sentence_vectors is not None:
            rows = np.vstack([rows, sentence_vectors])
        row_texts = [text, *(whole_sentences if sentence_vectors is not None else [])]
        features = ngram_rows(row_texts)
        detected: Dict[str, float] = {}
        for name in self.detectors:
            w = self.weights.get(f"detector_{name}_w")
            if w is None:
                continue
            logits = rows @ w + self.weights[f"detector_{name}_b"]
            share = self._detector_ngram_weight(name)
            wn = self.weights.get(f"detector_{name}_ngram_w")
            if share > 0 and wn is not None and features is not None:
                ngram_logits = np.asarray(features @ wn).ravel() + self.weights[f"detector_{name}_ngram_b"]
                logits = (1.0 - share) * logits + share * ngram_logits
            detected[name] = round(float(_sigmoid(logits).max()), 4)
        message.set("detectors", detected, add_to_output=True)
