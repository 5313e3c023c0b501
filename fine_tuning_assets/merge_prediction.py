"""Decide a pair of insights with the active dedup model: a band and a probability.

When no model is active, or the active model's files cannot be loaded, the decision falls back to the base
model's cosine similarity and says so in :attr:`MergePrediction.fallback_reason`; a fallback never
auto-merges, it only ranks pairs for review.

Example:
    >>> from fine_tuning_assets.database import open_database
    >>> from fine_tuning_assets.registry import ModelRegistry
    >>> p = predict_merge("Coffee raises alertness.", "Caffeine makes people alert.",
    ...                   registry=ModelRegistry(open_database("sqlite://")))
    >>> p.model, p.fallback_reason
    ('base all-MiniLM-L6-v2 cosine', 'no dedup model is active')
"""

from __future__ import annotations

from dataclasses import dataclass

from fine_tuning_assets.base_model import ModelLoadError
from fine_tuning_assets.calibration import PlattScaling
from fine_tuning_assets.dedup_lifecycle import TASK, load_version_model, serving_bands
from fine_tuning_assets.evaluation import DecisionBands
from fine_tuning_assets.pair_scoring import BaseCosineScorer
from fine_tuning_assets.registry import ModelRegistry


@dataclass(frozen=True)
class MergePrediction:
    band: str
    probability: float
    model: str
    model_version_id: int | None
    bands: DecisionBands
    fallback_reason: str | None = None


def predict_merge(
    text_a: str, text_b: str, *, registry: ModelRegistry, base_model: str | None = None
) -> MergePrediction:
    """The active model's decision on one pair, or the base model's, saying why, when none can serve."""
    if not text_a.strip() or not text_b.strip():
        raise ValueError("both statements must be non-empty")
    active = registry.active(TASK)
    fallback_reason = None
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
            probability = float(model.predict_proba([(text_a, text_b)])[0])
            name = f"{model.name} · {model.selected_recipe}"
            return MergePrediction(bands.band_of(probability), probability, name, active.id, bands)

    calibration = None
    if active is not None and "base" in active.evaluation.get("models", {}):
        calibration = PlattScaling.from_dict(active.evaluation["models"]["base"]["calibration"])
    base = BaseCosineScorer(base_model, calibration=calibration)
    probability = float(base.predict_proba([(text_a, text_b)])[0])
    # The fallback never auto-merges: a human reviews whatever the base model proposes.
    bands = DecisionBands(auto_merge=1.0, review=DecisionBands().review)
    band = bands.band_of(probability)
    return MergePrediction(band, probability, base.name, None, bands, fallback_reason)
