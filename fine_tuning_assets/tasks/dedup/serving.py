"""Serving the dedup model: pairs scored by the cached active model, and every prediction logged.

:func:`serve_pairs` is what ``POST /api/dedup/predict`` and ``fta predict-merge`` call: identical pairs come
from the loaded model's prediction cache, the rest are scored together, and each prediction is written to the
prediction log with its model version, band and latency, keyed by the two statements so that a reviewer's
later decision on the same pair (recorded or imported) becomes its outcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine

from fine_tuning_assets.core.metrics import AUTO_MERGE, KEEP_SEPARATE
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.serving.model_cache import Loaded
from fine_tuning_assets.serving.prediction_log import LoggedPrediction, item_key, log_predictions
from fine_tuning_assets.tasks.dedup import TASK
from fine_tuning_assets.tasks.dedup.examples import MERGE, SEPARATE
from fine_tuning_assets.tasks.dedup.prediction import MergePrediction, MergePredictor

#: The bands in which a pair is decided without a human: what the override rate is measured on.
AUTOMATIC_BANDS = frozenset({AUTO_MERGE, KEEP_SEPARATE})
#: The label a probability at or above this predicts.
MERGE_THRESHOLD = 0.5


def load_predictor(registry: ModelRegistry, *, base_model: str | None) -> MergePredictor:
    """What the model cache loads for dedup: the active version's model, or the base-model fallback."""
    return MergePredictor.load(registry=registry, base_model=base_model)


def pair_label(probability: float) -> str:
    """``"merge"`` at or above :data:`MERGE_THRESHOLD`, else ``"separate"``."""
    return MERGE if probability >= MERGE_THRESHOLD else SEPARATE


@dataclass(frozen=True)
class ServedPair:
    """One pair's answer: the label, band and probability, which model gave it, and its log entry."""

    label: str
    band: str
    probability: float
    automatic: bool
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    cached: bool
    prediction_id: int | None


def serve_pairs(
    loaded: Loaded,
    pairs: Sequence[tuple[str, str]],
    *,
    engine: Engine | None,
    insight_ids: Sequence[tuple[str | None, str | None]] | None = None,
) -> list[ServedPair]:
    """Score ``pairs`` with the loaded predictor (identical pairs from its cache, the rest in one batch) and,
    with an ``engine``, log every prediction. ``insight_ids``, when the caller knows them, go in the log
    beside the texts. ValueError for an empty statement (nothing is logged then)."""
    predictor: MergePredictor = loaded.predictor
    started = time.perf_counter()
    keys = [(a, b) for a, b in pairs]
    misses: list[int] = []

    def score(positions: list[int]) -> list[MergePrediction]:
        misses.extend(positions)
        return predictor.predict([keys[i] for i in positions])

    predictions: list[MergePrediction] = loaded.cached(keys, score)
    latency_ms = (time.perf_counter() - started) * 1000 / max(len(keys), 1)
    computed = set(misses)
    served = [
        ServedPair(
            label=pair_label(p.probability),
            band=p.band,
            probability=p.probability,
            automatic=p.band in AUTOMATIC_BANDS,
            model=p.model,
            model_version_id=p.model_version_id,
            fallback_reason=p.fallback_reason,
            latency_ms=latency_ms,
            cached=i not in computed,
            prediction_id=None,
        )
        for i, p in enumerate(predictions)
    ]
    if engine is None:
        return served
    return log_served_pairs(engine, served, keys, insight_ids=insight_ids)


def log_served_pairs(
    engine: Engine,
    served: Sequence[ServedPair],
    pairs: Sequence[tuple[str, str]],
    *,
    insight_ids: Sequence[tuple[str | None, str | None]] | None = None,
    latency_ms: float | None = None,
) -> list[ServedPair]:
    """Write served pair predictions to the prediction log (``latency_ms`` overrides the scoring latency, for
    a caller that did more than score); the same predictions with their log ids."""
    ids = insight_ids or [(None, None)] * len(pairs)
    logged = log_predictions(
        engine,
        [
            LoggedPrediction(
                task=TASK,
                model_version_id=s.model_version_id,
                model=s.model,
                item_key=item_key(a, b),
                inputs={"insight_a_id": ia, "insight_b_id": ib, "text_a": a[:500], "text_b": b[:500]},
                prediction=s.label,
                probability=s.probability,
                band=s.band,
                automatic=s.automatic,
                latency_ms=s.latency_ms if latency_ms is None else latency_ms,
                fallback=s.fallback_reason is not None,
            )
            for s, (a, b), (ia, ib) in zip(served, pairs, ids, strict=True)
        ],
    )
    return [replace(s, prediction_id=pid) for s, pid in zip(served, logged, strict=True)]
