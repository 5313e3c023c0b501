"""Serving a classification task: score texts with the loaded predictor (identical texts from the loaded
model's cache), log each text's primary-field prediction, and say per field whether it is applied without a
human (its probability is above the field's confidence threshold).

The prediction log keys an item by its text (:func:`~fine_tuning_assets.serving.prediction_log.item_key`),
so a correction later recorded for the same text is joined as the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from fine_tuning_assets.serving.model_cache import Loaded
from fine_tuning_assets.serving.prediction_log import LoggedPrediction, item_key, log_predictions

AUTOMATIC, NEEDS_REVIEW = "automatic", "needs_review"


@dataclass(frozen=True)
class ServedClassification:
    """One text's answer: per field the prediction, which model gave it, and its log entry."""

    fields: dict[str, Any]
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    cached: bool
    prediction_id: int | None


def serve_texts(
    loaded: Loaded,
    texts: Sequence[str],
    tags: Sequence[Sequence[str]],
    *,
    task: Any,
    engine: Engine | None,
) -> list[ServedClassification]:
    """Predict every field of ``texts`` and, with an ``engine``, log the primary field's prediction."""
    predictor = loaded.predictor
    started = time.perf_counter()
    keys = [(text, tuple(tag)) for text, tag in zip(texts, tags, strict=True)]
    misses: list[int] = []

    def compute(positions: list[int]) -> list[Any]:
        misses.extend(positions)
        return predictor.predict([texts[i] for i in positions], [tags[i] for i in positions])

    predictions = loaded.cached(keys, compute)
    latency_ms = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
    primary = task.primary.name
    logged: list[int | None] = [None] * len(texts)
    if engine is not None:
        rows = [i for i, p in enumerate(predictions) if primary in p]
        ids = log_predictions(
            engine,
            [
                LoggedPrediction(
                    task=task.name,
                    model_version_id=predictor.model_version_id,
                    model=predictor.model,
                    item_key=item_key(texts[i]),
                    inputs={"text": texts[i][:500], "tags": list(tags[i])},
                    prediction=predictions[i][primary].label,
                    probability=predictions[i][primary].probability,
                    band=AUTOMATIC if predictions[i][primary].automatic else NEEDS_REVIEW,
                    automatic=predictions[i][primary].automatic,
                    latency_ms=latency_ms,
                    fallback=predictor.fallback_reason is not None,
                )
                for i in rows
            ],
        )
        for i, logged_id in zip(rows, ids, strict=True):
            logged[i] = logged_id
    missed = set(misses)
    return [
        ServedClassification(
            fields={
                name: {
                    "label": p.label,
                    "probability": p.probability,
                    "band": AUTOMATIC if p.automatic else NEEDS_REVIEW,
                    "threshold": p.threshold,
                    "probabilities": p.probabilities,
                }
                for name, p in prediction.items()
            },
            model=predictor.model,
            model_version_id=predictor.model_version_id,
            fallback_reason=predictor.fallback_reason,
            latency_ms=latency_ms,
            cached=i not in missed,
            prediction_id=logged[i],
        )
        for i, prediction in enumerate(predictions)
    ]
