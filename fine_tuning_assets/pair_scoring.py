"""Models that score a pair of statements with a probability that they should merge.

Example:
    >>> scorer = BaseCosineScorer(None)
    >>> p = scorer.predict_proba([("Coffee raises alertness.", "Caffeine makes people alert.")])
    >>> 0.0 <= float(p[0]) <= 1.0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from fine_tuning_assets.base_model import (
    BUNDLED_BASE_MODEL,
    cosine_similarities,
    load_sentence_transformer,
    resolve_base_model,
)
from fine_tuning_assets.calibration import PlattScaling

Pairs = Sequence[tuple[str, str]]


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
        # Embeddings by text: calibration, validation and test scoring share texts, embedded once.
        self._embeddings: dict[str, np.ndarray] = {}
        self.calibration = calibration

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
        clone.calibration = calibration
        return clone
