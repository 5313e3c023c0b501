"""Models that score a pair of statements with a probability that they should merge.

Example:
    >>> scorer = BaseCosineScorer(None)
    >>> p = scorer.predict_proba([("Coffee raises alertness.", "Caffeine makes people alert.")])
    >>> 0.0 <= float(p[0]) <= 1.0
    True
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Protocol

import numpy as np
from cachetools import LRUCache

from fine_tuning_assets.core.base_model import (
    BUNDLED_BASE_MODEL,
    cosine_similarities,
    load_sentence_transformer,
    resolve_base_model,
)
from fine_tuning_assets.core.calibration import PlattScaling

Pairs = Sequence[tuple[str, str]]

#: Texts whose sentence / token embeddings a scorer keeps (token embeddings are ~40 KB a text).
EMBEDDING_CACHE_SIZE, TOKEN_EMBEDDING_CACHE_SIZE = 200_000, 20_000


class PairScorer(Protocol):
    name: str

    def predict_proba(self, pairs: Pairs) -> np.ndarray: ...


class BaseCosineScorer:
    """The base bi-encoder's cosine similarity, mapped to a probability by Platt scaling when fitted.

    Without a calibration the "probability" is the cosine clipped to [0, 1]: a similarity, not a calibrated
    probability.
    """

    def __init__(self, base_model: str | None, *, calibration: PlattScaling | None = None) -> None:
        self.base_model = base_model or BUNDLED_BASE_MODEL
        self.name = f"base {self.base_model} cosine"
        self.model = load_sentence_transformer(resolve_base_model(base_model))
        # Embeddings by text: calibration, validation and test scoring share texts, embedded once. Bounded, so
        # that a serving process scoring new texts for days keeps a steady size.
        self._embeddings: MutableMapping[str, np.ndarray] = LRUCache(maxsize=EMBEDDING_CACHE_SIZE)
        self._token_embeddings: MutableMapping[str, np.ndarray] = LRUCache(maxsize=TOKEN_EMBEDDING_CACHE_SIZE)
        self.calibration = calibration

    def token_f1(self, pairs: Pairs, *, batch_size: int = 64) -> np.ndarray:
        """BERTScore F1 (Zhang et al., 2020) of each pair with the base model's token embeddings: every token
        is matched to its most similar token of the other statement (cosine), precision and recall are the
        mean best-match similarities of each side, F1 their harmonic mean. No idf weighting, no baseline
        rescaling; [CLS] and [SEP] are left out. Each distinct text is embedded once (the same pass fills the
        cosine's embeddings: call this before :meth:`similarities` to embed once for both)."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        # This call's texts, read once: the bounded cache may evict while it is being filled.
        tokens = {t: self._token_embeddings[t] for t in texts if t in self._token_embeddings}
        missing = [t for t in texts if t not in tokens]
        if missing:
            # One pass gives both the token embeddings and the sentence embedding (kept for the cosine).
            outputs = self.model.encode(
                missing,
                batch_size=batch_size,
                output_value=None,
                convert_to_numpy=False,
                show_progress_bar=False,
            )
            for text, output in zip(missing, outputs, strict=True):
                sentence = output["sentence_embedding"].float().numpy()
                self._embeddings.setdefault(text, sentence / max(float(np.linalg.norm(sentence)), 1e-12))
                matrix = output["token_embeddings"][output["attention_mask"].bool()].float().numpy()
                matrix = matrix[1:-1] if len(matrix) > 2 else matrix
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                tokens[text] = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
                self._token_embeddings[text] = tokens[text]
        scores = np.empty(len(pairs), dtype=np.float64)
        for index, (a, b) in enumerate(pairs):
            similarity = tokens[a] @ tokens[b].T
            recall, precision = float(similarity.max(axis=1).mean()), float(similarity.max(axis=0).mean())
            scores[index] = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return scores

    def similarities(self, pairs: Pairs) -> np.ndarray:
        return cosine_similarities(
            self.model, [a for a, _ in pairs], [b for _, b in pairs], cache=self._embeddings
        )

    def predict_proba(self, pairs: Pairs) -> np.ndarray:
        cosine = self.similarities(pairs)
        if self.calibration is None:
            return np.clip(cosine, 0.0, 1.0)
        return self.calibration.predict_proba(cosine).astype(np.float32)

    def calibrated_copy(self, calibration: PlattScaling) -> BaseCosineScorer:
        """The same loaded model with a calibration (no second load)."""
        clone = object.__new__(BaseCosineScorer)
        clone.base_model, clone.name, clone.model = self.base_model, self.name, self.model
        clone._embeddings = self._embeddings
        clone._token_embeddings = self._token_embeddings
        clone.calibration = calibration
        return clone
