"""Evaluate the active model, the base model and any model versions on an external labelled file.

The file is read like a labelled-pairs import (same columns and positive-label rule) but nothing is stored:
each pair is scored by every model and the report gives, per model, average precision, accuracy,
precision, recall, F1, Brier score and expected calibration error, the coverage and precision of the
auto-merge band and the coverage and share of true duplicates of the keep-separate band at the thresholds the
model serves with, and the share of pairs those two bands decide without a human. The base model is scored exactly as the fallback
serves it: cosine similarity, Platt-calibrated on the active model's training decisions when one is active
(plain cosine otherwise), and it never auto-merges.

Example (slow: it loads models):
    >>> report = evaluate_labelled_pairs(pairs, labels, registry=registry, version_ids=[3])  # doctest: +SKIP
    >>> [m["role"] for m in report["models"]]  # doctest: +SKIP
    ['active', 'base', 'version 3']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL
from fine_tuning_assets.core.calibration import PlattScaling
from fine_tuning_assets.core.metrics import (
    AUTO_MERGE,
    KEEP_SEPARATE,
    DecisionBands,
    band_report,
    compute_pair_metrics,
)
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion
from fine_tuning_assets.tasks.dedup import TASK
from fine_tuning_assets.tasks.dedup.model import load_version_model, serving_bands
from fine_tuning_assets.tasks.dedup.records import DecisionBatch
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer

#: The review threshold of the fallback's bands (it never auto-merges).
FALLBACK_BANDS = DecisionBands(auto_merge=1.0)


def labelled_pairs(batch: DecisionBatch) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The (text_a, text_b) pairs and 0/1 labels of a batch parsed from labelled pairs (two members per
    cluster; approved = merge)."""
    statements = {i.id: i.statement for i in batch.insights}
    pairs, labels = [], []
    for cluster in batch.clusters:
        if len(cluster.members) != 2:
            raise ValueError(
                f"cluster {cluster.id} has {len(cluster.members)} members; labelled pairs have 2"
            )
        a, b = cluster.members
        pairs.append((statements[a.insight_id], statements[b.insight_id]))
        labels.append(1 if cluster.status == "approved" else 0)
    return pairs, np.asarray(labels, dtype=int)


def _model_entry(
    role: str,
    name: str,
    *,
    labels: np.ndarray,
    probabilities: np.ndarray,
    threshold: float,
    bands: DecisionBands | None,
    version: ModelVersion | None = None,
    recipe: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    metrics = compute_pair_metrics(labels, probabilities, threshold=threshold)
    rows = band_report(labels, probabilities, bands) if bands is not None else None
    auto = next(r for r in rows if r["band"] == AUTO_MERGE) if rows else None
    keep = next((r for r in rows if r["band"] == KEEP_SEPARATE), None) if rows else None
    metrics["auto_merge_coverage"] = auto["coverage"] if auto else None
    metrics["auto_merge_precision"] = auto["precision"] if auto else None
    metrics["keep_separate_coverage"] = keep["coverage"] if keep else (0.0 if rows else None)
    metrics["keep_separate_duplicate_share"] = keep["precision"] if keep else None
    metrics["decided_without_human"] = (
        metrics["auto_merge_coverage"] + metrics["keep_separate_coverage"] if rows else None
    )
    return {
        "role": role,
        "name": name,
        "model_version_id": version.id if version else None,
        "model_state": version.state if version else None,
        "recipe": recipe,
        "threshold": threshold,
        "bands": None
        if bands is None
        else {"auto_merge": bands.auto_merge, "review": bands.review, "keep_separate": bands.keep_separate},
        "band_report": rows,
        "metrics": metrics,
        "note": note,
        "probabilities": [round(float(p), 6) for p in probabilities],
    }


def evaluate_labelled_pairs(
    pairs: Sequence[tuple[str, str]],
    labels: Sequence[int],
    *,
    registry: ModelRegistry,
    version_ids: Sequence[int] = (),
    base_model: str | None = None,
) -> dict[str, Any]:
    """Score the pairs with the active model (if any), the base model and each version in ``version_ids``."""
    y = np.asarray(labels, dtype=int)
    if not len(pairs) or len(pairs) != y.size:
        raise ValueError(f"need labelled pairs to evaluate on, got {len(pairs)} pairs and {y.size} labels")
    if set(y.tolist()) != {0, 1}:
        raise ValueError("the file must hold both merge and keep-separate pairs to evaluate on")
    versions = [registry.get(int(v)) for v in version_ids]
    active = registry.active(TASK)
    base_name = (active.base_model if active else None) or base_model or BUNDLED_BASE_MODEL
    base = BaseCosineScorer(None if base_name == BUNDLED_BASE_MODEL else base_name)
    models: list[dict[str, Any]] = []
    to_score: list[tuple[str, ModelVersion]] = []
    if active is not None:
        to_score.append(("active", active))
    to_score += [(f"version {v.id}", v) for v in versions if active is None or v.id != active.id]
    for role, version in to_score:
        # A model that cannot load is an error here: the user asked for exactly this comparison.
        model = load_version_model(version, name=version.label, base=base)
        bands = serving_bands(version)
        models.append(
            _model_entry(
                role,
                f"{version.label} · {model.selected_recipe}",
                labels=y,
                probabilities=model.predict_proba(pairs),
                threshold=0.5,
                bands=bands,
                version=version,
                recipe=model.selected_recipe,
                note=None if bands else f"{version.label} was never evaluated, so it has no decision bands",
            )
        )
    # Exactly as predict-merge falls back: calibrated with the active version's base calibration when one
    # is active, plain cosine otherwise; never auto-merging.
    base_eval = active.evaluation.get("models", {}).get("base") if active else None
    if base_eval:
        calibrated = base.calibrated_copy(PlattScaling.from_dict(base_eval["calibration"]))
        probabilities = calibrated.predict_proba(pairs)
        if "threshold" in base_eval:
            threshold = float(base_eval["threshold"])
            base_note = f"Platt-calibrated on the decisions of {active.label}; never auto-merges"
        else:
            threshold = 0.5
            base_note = (
                f"Platt-calibrated on the decisions of {active.label}, whose evaluation predates stored "
                "thresholds: accuracy and F1 at 0.5; never auto-merges"
            )
    else:
        base_note = (
            "uncalibrated cosine, as served when no model is active (threshold 0.5); never auto-merges"
        )
        probabilities, threshold = base.predict_proba(pairs), 0.5
    models.insert(
        1 if active is not None else 0,
        _model_entry(
            "base",
            base.name,
            labels=y,
            probabilities=probabilities,
            threshold=threshold,
            bands=FALLBACK_BANDS,
            note=base_note,
        ),
    )
    return {
        "evaluated_at": datetime.now(UTC).isoformat(),
        "pairs": int(y.size),
        "merge_pairs": int(y.sum()),
        "active_version_id": active.id if active else None,
        "models": models,
        "labels": y.tolist(),
    }
