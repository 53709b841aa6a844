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


def _counter(analyzer: str, ngrams: Tuple[int, int], vocabulary: Any) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer=analyzer, ngram_range=ngrams, lowercase=True, vocabulary=vocabulary, dtype=np.float32
    )


def _weigher(idf: Vectors) -> Any:
    """Sublinear tf times the stored idf, each row L2-normalised: scikit-learn's own transformer."""
    from sklearn.feature_extraction.text import TfidfTransformer

    weigher = TfidfTransformer(sublinear_tf=True)
    weigher.idf_ = idf
    return weigher


@dataclass(frozen=True)
class Ngrams:
    """The vocabularies and idf weights of the two kinds of n-grams."""

    vocabularies: Tuple[List[str], List[str]]
    idf: Tuple[Vectors, Vectors]

    @cached_property
    def _readers(self) -> Tuple[Tuple[Any, Any], ...]:
        # Built once per process: a vocabulary of tens of thousands of n-grams is slow to index.
        return tuple(
            (_counter(analyzer, ngrams, {term: i for i, term in enumerate(vocabulary)}), _weigher(idf))
            for (analyzer, ngrams, _), vocabulary, idf in zip(
                (CHARS, WORDS), self.vocabularies, self.idf, strict=True
            )
        )

    def features(self, texts: Sequence[str]) -> Any:
        """One sparse row per text: character block, then word block (each L2-normalised)."""
        blocks = [weigher.transform(counter.transform(list(texts))) for counter, weigher in self._readers]
        return sparse.hstack(blocks, dtype=np.float32).tocsr()

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
    """Vocabularies and idf weights of the training texts (scikit-learn's TfidfVectorizer)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vocabularies: List[List[str]] = []
    idfs: List[Vectors] = []
    for analyzer, ngrams, min_df in (CHARS, WORDS):
        vectorizer = TfidfVectorizer(
            analyzer=analyzer, ngram_range=ngrams, lowercase=True, min_df=min_df, sublinear_tf=True
        ).fit(list(texts))
        vocabularies.append([str(term) for term in vectorizer.get_feature_names_out()])
        idfs.append(vectorizer.idf_.astype(np.float32))
    return Ngrams((vocabularies[0], vocabularies[1]), (idfs[0], idfs[1]))
