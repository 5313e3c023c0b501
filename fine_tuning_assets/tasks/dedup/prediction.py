"""Decide pairs of insights with the active dedup model: a band and a probability per pair.

:class:`MergePredictor` loads the active model once and scores batches of pairs (the CLI's
``predict-merge --file``; an HTTP API can keep one loaded); :func:`predict_merge` decides one pair.

When no model is active, or the active model's files cannot be loaded, the decisions fall back to the base
model's cosine similarity and say so in :attr:`MergePrediction.fallback_reason`; a fallback never
auto-merges, it only ranks pairs for review.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> from fine_tuning_assets.core.registry import ModelRegistry
    >>> predictor = MergePredictor.load(registry=ModelRegistry(open_database("sqlite://")))
    >>> predictor.model, predictor.fallback_reason
    ('base all-MiniLM-L6-v2 cosine', 'no dedup model is active')
    >>> [p.band for p in predictor.predict([("Coffee raises alertness.", "Caffeine makes people alert."),
    ...                                     ("Coffee raises alertness.", "Statins lower LDL.")])]
    ['needs_review', 'needs_review']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fine_tuning_assets.core.base_model import ModelLoadError
from fine_tuning_assets.core.calibration import PlattScaling
from fine_tuning_assets.core.metrics import DecisionBands
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup import TASK
from fine_tuning_assets.tasks.dedup.model import load_version_model, serving_bands
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer, Pairs, PairScorer

#: Pairs scored per call of the model (each distinct text in a batch is embedded once).
DEFAULT_BATCH_SIZE = 256


@dataclass(frozen=True)
class MergePrediction:
    band: str
    probability: float
    model: str
    model_version_id: int | None
    bands: DecisionBands
    fallback_reason: str | None = None


class MergePredictor:
    """The model that decides pairs now: the active dedup version, or the base model when none can serve
    (``fallback_reason`` says why). Load it once with :meth:`load`; :meth:`predict` scores any number of
    pairs in batches."""

    def __init__(
        self,
        scorer: PairScorer,
        *,
        model: str,
        model_version_id: int | None,
        bands: DecisionBands,
        fallback_reason: str | None,
    ) -> None:
        self.scorer, self.model, self.model_version_id = scorer, model, model_version_id
        self.bands, self.fallback_reason = bands, fallback_reason

    @classmethod
    def load(cls, *, registry: ModelRegistry, base_model: str | None = None) -> MergePredictor:
        """The active version's model, or the base-model fallback (never auto-merging) when no version is
        active or its files cannot be loaded; ValueError when the active version was never evaluated."""
        active = registry.active(TASK)
        if active is None:
            fallback_reason = f"no {TASK} model is active"
        else:
            try:
                model = load_version_model(active, name=active.label)
            except ModelLoadError as error:
                fallback_reason = f"the active model {active.label} could not be loaded: {error}"
            else:
                bands = serving_bands(active)
                if bands is None:
                    raise ValueError(
                        f"the active model {active.label} has no decision bands: it was never evaluated"
                    )
                name = f"{model.name} · {model.selected_recipe}"
                return cls(
                    model.scorer(model.selected_recipe, name=name),
                    model=name,
                    model_version_id=active.id,
                    bands=bands,
                    fallback_reason=None,
                )
        calibration = None
        if active is not None and "base" in active.evaluation.get("models", {}):
            calibration = PlattScaling.from_dict(active.evaluation["models"]["base"]["calibration"])
        base = BaseCosineScorer(base_model, calibration=calibration)
        # The fallback never auto-merges: a human reviews whatever the base model proposes.
        bands = DecisionBands(auto_merge=1.0, review=DecisionBands().review)
        return cls(base, model=base.name, model_version_id=None, bands=bands, fallback_reason=fallback_reason)

    def predict(
        self,
        pairs: Pairs,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> list[MergePrediction]:
        """A prediction per pair, in order. ``progress`` is called with the number of pairs each batch
        scored. Every pair needs two non-empty statements (ValueError naming the first bad pair otherwise)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        for index, (text_a, text_b) in enumerate(pairs):
            if not text_a.strip() or not text_b.strip():
                raise ValueError(f"pair {index + 1}: both statements must be non-empty")
        probabilities = np.zeros(len(pairs), dtype=np.float64)
        for start in range(0, len(pairs), batch_size):
            batch = list(pairs[start : start + batch_size])
            probabilities[start : start + len(batch)] = self.scorer.predict_proba(batch)
            if progress is not None:
                progress(len(batch))
        return [
            MergePrediction(
                band=self.bands.band_of(float(p)),
                probability=float(p),
                model=self.model,
                model_version_id=self.model_version_id,
                bands=self.bands,
                fallback_reason=self.fallback_reason,
            )
            for p in probabilities
        ]


def predict_merge(
    text_a: str, text_b: str, *, registry: ModelRegistry, base_model: str | None = None
) -> MergePrediction:
    """The active model's decision on one pair, or the base model's, saying why, when none can serve."""
    if not text_a.strip() or not text_b.strip():
        raise ValueError("both statements must be non-empty")
    predictor = MergePredictor.load(registry=registry, base_model=base_model)
    return predictor.predict([(text_a, text_b)])[0]
