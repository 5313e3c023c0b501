"""Lexical features of a pair of statements, for the stacked recipe.

Near-duplicates that a reviewer keeps apart often differ in one number or one word that an embedding
barely notices ("LDL by 30%" vs "LDL by 50%"); these features make such differences visible to the
stacker next to the embedding similarities:

* ``tfidf_cosine`` -- cosine of the TF-IDF vectors, fitted on training texts: character 3-5-grams within
  words (``analyzer="char_wb"``, what the recipe search fits: robust to unseen words and inflections when
  a team has few decisions) or word unigrams and bigrams (``"word"``, models saved before),
* ``token_jaccard`` -- shared word tokens over all word tokens,
* ``length_ratio`` -- shorter over longer length in tokens,
* ``numbers_differ`` -- 1.0 when the numbers in the two statements differ, else 0.0.

Example:
    >>> tfidf = TfidfCosine.fit(["Statins lower LDL by 30%.", "Coffee raises alertness."])
    >>> features = lexical_features([("Statins lower LDL by 30%.", "Statins lower LDL by 50%.")], tfidf=tfidf)
    >>> features["numbers_differ"].tolist(), round(float(features["token_jaccard"][0]), 3)
    ([1.0], 0.667)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEXICAL_FEATURES: tuple[str, ...] = ("tfidf_cosine", "token_jaccard", "length_ratio", "numbers_differ")

_TOKEN = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _TOKEN.findall(text.lower())


def _numbers(text: str) -> frozenset[str]:
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(text))


#: TF-IDF analyzers: word unigrams and bigrams, or character 3-5-grams inside word boundaries.
ANALYZERS: tuple[str, ...] = ("word", "char_wb")


def _make_vectorizer(analyzer: str, **options: Any):  # -> TfidfVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer

    if analyzer == "char_wb":
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, **options)
    return TfidfVectorizer(
        tokenizer=tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2), **options
    )


@dataclass(frozen=True)
class TfidfCosine:
    """TF-IDF cosine similarity with a vocabulary and idf weights fitted on a corpus, saved as JSON."""

    vocabulary: Mapping[str, int]
    idf: tuple[float, ...]
    analyzer: str = "word"

    def __post_init__(self) -> None:
        if self.analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {', '.join(ANALYZERS)}, got {self.analyzer!r}")

    @classmethod
    def fit(cls, texts: Sequence[str], *, max_features: int = 50_000, analyzer: str = "word") -> TfidfCosine:
        if not texts:
            raise ValueError("TF-IDF needs at least one text to fit on")
        if analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {', '.join(ANALYZERS)}, got {analyzer!r}")
        vectorizer = _make_vectorizer(analyzer, max_features=max_features).fit(texts)
        vocabulary = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
        return cls(vocabulary=vocabulary, idf=tuple(float(v) for v in vectorizer.idf_), analyzer=analyzer)

    def _vectorizer(self):  # -> TfidfVectorizer
        vectorizer = _make_vectorizer(self.analyzer, vocabulary=self.vocabulary)
        vectorizer.idf_ = np.asarray(self.idf, dtype=np.float64)
        return vectorizer

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        vectorizer = self._vectorizer()
        a = vectorizer.transform([p[0] for p in pairs])
        b = vectorizer.transform([p[1] for p in pairs])
        # Rows are L2-normalised, so the row-wise dot product is the cosine (0 for out-of-vocabulary text).
        return np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).reshape(-1)

    def to_dict(self) -> dict[str, Any]:
        return {"vocabulary": dict(self.vocabulary), "idf": list(self.idf), "analyzer": self.analyzer}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TfidfCosine:
        vocabulary, idf = data.get("vocabulary"), data.get("idf")
        if not isinstance(vocabulary, Mapping) or not isinstance(idf, list) or len(vocabulary) != len(idf):
            raise ValueError("a saved TF-IDF needs a vocabulary and one idf weight per term")
        return cls(
            vocabulary={str(k): int(v) for k, v in vocabulary.items()},
            idf=tuple(float(v) for v in idf),
            analyzer=str(data.get("analyzer", "word")),  # models saved before the option used words
        )


def lexical_features(pairs: Sequence[tuple[str, str]], *, tfidf: TfidfCosine) -> dict[str, np.ndarray]:
    """Each of :data:`LEXICAL_FEATURES` for every pair, as float arrays."""
    jaccard, length_ratio, numbers_differ = [], [], []
    for text_a, text_b in pairs:
        a, b = tokens(text_a), tokens(text_b)
        set_a, set_b = set(a), set(b)
        union = set_a | set_b
        jaccard.append(len(set_a & set_b) / len(union) if union else 1.0)
        longer = max(len(a), len(b))
        length_ratio.append(min(len(a), len(b)) / longer if longer else 1.0)
        numbers_differ.append(float(_numbers(text_a) != _numbers(text_b)))
    return {
        "tfidf_cosine": tfidf.similarities(pairs),
        "token_jaccard": np.asarray(jaccard, dtype=np.float64),
        "length_ratio": np.asarray(length_ratio, dtype=np.float64),
        "numbers_differ": np.asarray(numbers_differ, dtype=np.float64),
    }
