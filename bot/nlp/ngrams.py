"""The wording of a text as tf-idf weighted word and character n-grams: the second reader of the
intent head (bot/nlp/heads.py), beside the e5 sentence vector.

Why both: e5 carries meaning across languages and paraphrase; n-grams carry the exact Dutch words
the catalogue splits on ("betalingsregeling" against "openstaande boete", compounds, typos). On the
independent set a logistic regression on these n-grams alone named the right topic of more Dutch
openings than the e5 head (.835 against .784) and far fewer in other languages (.556 against .756);
their logits added (weighted) beat both everywhere (docs/nlu-tuning.md, v14). Without the embedding
model the n-grams alone decide, which replaced DIET as the fallback.

Stored as plain arrays and word lists (no pickles); scikit-learn's vectorizers do the counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from scipy import sparse

from bot.nlp.embeddings import Vectors

# (analyzer, n-gram range, minimum number of examples a feature must occur in)
CHARS = ("char_wb", (2, 5), 2)  # inside word boundaries: compounds and typos
WORDS = ("word", (1, 2), 2)


def _counter(analyzer: str, ngrams: Tuple[int, int], vocabulary: Any = None, min_df: int = 1) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer=analyzer, ngram_range=ngrams, lowercase=True, vocabulary=vocabulary, min_df=min_df,
        dtype=np.float32,
    )


def _weighted(counts: Any, idf: Vectors) -> Any:
    """Sublinear tf times idf, each row L2-normalised (as scikit-learn's TfidfTransformer does)."""
    counts = sparse.csr_matrix(counts, dtype=np.float32)
    counts.data = 1.0 + np.log(counts.data)
    weighted = counts @ sparse.diags(idf.astype(np.float32))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted)


@dataclass(frozen=True)
class Ngrams:
    """The vocabularies and idf weights of the two kinds of n-grams."""

    vocabularies: Tuple[List[str], List[str]]
    idf: Tuple[Vectors, Vectors]

    @cached_property
    def _counters(self) -> Tuple[Any, Any]:
        # Built once per process: a vocabulary of tens of thousands of n-grams is slow to index.
        return tuple(
            _counter(analyzer, ngrams, {term: i for i, term in enumerate(vocabulary)})
            for (analyzer, ngrams, _), vocabulary in zip((CHARS, WORDS), self.vocabularies, strict=True)
        )

    def features(self, texts: Sequence[str]) -> Any:
        """One sparse row per text: character block, then word block (each L2-normalised)."""
        blocks = [
            _weighted(counter.transform(list(texts)), idf)
            for counter, idf in zip(self._counters, self.idf, strict=True)
        ]
        return sparse.hstack(blocks).tocsr()

    def arrays(self) -> Dict[str, Vectors]:
        return {"ngram_idf_chars": self.idf[0], "ngram_idf_words": self.idf[1]}

    def names(self) -> Dict[str, List[str]]:
        return {"ngram_chars": self.vocabularies[0], "ngram_words": self.vocabularies[1]}

    @classmethod
    def restore(cls, names: Dict[str, Any], arrays: Dict[str, Vectors]) -> "Ngrams":
        return cls(
            (list(names["ngram_chars"]), list(names["ngram_words"])),
            (arrays["ngram_idf_chars"], arrays["ngram_idf_words"]),
        )


def fit(texts: Sequence[str]) -> Ngrams:
    """Vocabularies and idf weights of the training texts (smooth idf, as scikit-learn's)."""
    vocabularies: List[List[str]] = []
    idfs: List[Vectors] = []
    for analyzer, ngrams, min_df in (CHARS, WORDS):
        counter = _counter(analyzer, ngrams, min_df=min_df)
        counts = sparse.csr_matrix(counter.fit_transform(list(texts)))
        in_texts = np.bincount(counts.indices, minlength=counts.shape[1])
        idfs.append(np.log((1 + len(texts)) / (1 + in_texts)).astype(np.float32) + 1.0)
        vocabulary = counter.vocabulary_
        ordered = [""] * len(vocabulary)
        for term, i in vocabulary.items():
            ordered[i] = term
        vocabularies.append(ordered)
    return Ngrams((vocabularies[0], vocabularies[1]), (idfs[0], idfs[1]))
