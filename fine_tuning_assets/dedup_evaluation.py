"""Compare the candidate, the active and the base model on the same held-out human decisions.

Each model's decision bands are learned on the validation split (the auto-merge threshold that reaches the
target precision there; none, so nothing auto-merges, when no threshold does) and reported on the test
split. The base model is MiniLM cosine similarity, Platt-calibrated and thresholded (best F1) on the
human-labelled train and validation pairs. The promotion gate compares the candidate with the active model,
or with the base model when none is active.

Example (slow: it scores with real models):
    >>> report = evaluate_dedup_models(training_set, candidate=scorer, active=None,  # doctest: +SKIP
    ...                                base=BaseCosineScorer(None), config=EvaluationConfig())
    >>> report["gate"]["passed"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fine_tuning_assets.evaluation import (
    AUTO_MERGE,
    DecisionBands,
    PlattScaling,
    band_report,
    bootstrap_average_precision_difference,
    compute_pair_metrics,
    fit_best_threshold,
    learn_auto_merge_threshold,
)
from fine_tuning_assets.pair_examples import PairExample
from fine_tuning_assets.pair_scoring import BaseCosineScorer, PairScorer
from fine_tuning_assets.training_set import TrainingSet

PRIMARY_METRIC = "average_precision"
METRIC_COLUMNS: tuple[str, ...] = (
    "average_precision",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "brier_score",
    "expected_calibration_error",
    "auto_merge_coverage",
    "auto_merge_precision",
)


@dataclass(frozen=True)
class EvaluationConfig:
    """How models are compared and gated.

    Attributes:
        target_precision: auto-merge precision the learned threshold must reach, and the gate requires (0.99).
        min_improvement: how much the candidate's average precision must beat the reference's by, at the
            lower confidence bound of a paired bootstrap on the test split (0.01).
        improvement_confidence: one-sided confidence of that bound (0.95).
        bootstrap_resamples: resamples of the test split for the bound (1000).
        review_threshold: probability from which a pair is a high-priority review (0.85).
        min_auto_merged: validation pairs a learned auto-merge threshold must cover to be trusted (10).
    """

    target_precision: float = 0.99
    min_improvement: float = 0.01
    improvement_confidence: float = 0.95
    bootstrap_resamples: int = 1000
    review_threshold: float = 0.85
    min_auto_merged: int = 10


def _pairs(examples: Sequence[PairExample]) -> list[tuple[str, str]]:
    return [(e.text_a, e.text_b) for e in examples]


def _labels(examples: Sequence[PairExample]) -> np.ndarray:
    return np.array([e.label for e in examples], dtype=int)


def learn_bands(labels: np.ndarray, probabilities: np.ndarray, *, config: EvaluationConfig) -> DecisionBands:
    """Bands whose auto-merge threshold reaches the target precision on these (validation) decisions.

    When no threshold reaches it, auto-merge is switched off (threshold 1.0): every pair goes to a human.
    """
    learned = learn_auto_merge_threshold(
        labels,
        probabilities,
        target_precision=config.target_precision,
        min_auto_merged=config.min_auto_merged,
    )
    auto_merge = 1.0 if learned is None else float(learned)
    return DecisionBands(auto_merge=auto_merge, review=min(config.review_threshold, auto_merge))


def model_report(
    name: str,
    *,
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    threshold: float,
    config: EvaluationConfig,
) -> dict[str, Any]:
    bands = learn_bands(*validation, config=config)
    labels, probabilities = test
    metrics = compute_pair_metrics(labels, probabilities, threshold=threshold)
    rows = band_report(labels, probabilities, bands)
    auto = next(row for row in rows if row["band"] == AUTO_MERGE)
    metrics["auto_merge_coverage"] = auto["coverage"]
    metrics["auto_merge_precision"] = auto["precision"]
    return {
        "name": name,
        "metrics": metrics,
        "bands": asdict(bands),
        "band_report": rows,
        "auto_merge_enabled": bands.auto_merge < 1.0,
    }


def fit_base_calibration(
    base: BaseCosineScorer, examples: Sequence[PairExample]
) -> tuple[BaseCosineScorer, float]:
    """Platt-calibrate the base cosine on human-labelled pairs; returns the calibrated scorer and the
    probability threshold equivalent to the best-F1 cosine threshold."""
    fit = [e for e in examples if e.origin != "low_similarity_sample"]
    labels = _labels(fit)
    cosine = base.similarities(_pairs(fit))
    calibration = PlattScaling.fit(cosine, labels)
    cosine_threshold = fit_best_threshold(labels, cosine, metric="f1")
    threshold = float(calibration.predict_proba([cosine_threshold])[0])
    return base.calibrated_copy(calibration), threshold


def promotion_gate(
    candidate: dict[str, Any],
    reference: dict[str, Any],
    *,
    reference_role: str,
    labels: Sequence[int],
    candidate_probabilities: Sequence[float],
    reference_probabilities: Sequence[float],
    config: EvaluationConfig,
) -> dict[str, Any]:
    """Pass when, on the test split, the candidate beats the reference's average precision by
    ``min_improvement`` even at the lower bound of a paired bootstrap (so a small or noisy test split cannot
    promote a model that only looks better), and its auto-merge band holds the target precision (an empty
    band auto-merges nothing)."""
    reasons: list[str] = []
    bootstrap = bootstrap_average_precision_difference(
        labels,
        candidate_probabilities,
        reference_probabilities,
        resamples=config.bootstrap_resamples,
        confidence=config.improvement_confidence,
    )
    candidate_ap = candidate["metrics"][PRIMARY_METRIC] or 0.0
    reference_ap = reference["metrics"][PRIMARY_METRIC] or 0.0
    beats = bootstrap["lower"] >= config.min_improvement
    reasons.append(
        f"average precision {candidate_ap:.4f} vs {reference_role} {reference_ap:.4f}: "
        f"{bootstrap['difference']:+.4f}, at least {bootstrap['lower']:+.4f} with "
        f"{config.improvement_confidence:.0%} confidence over {len(labels)} test pairs "
        f"({'≥' if beats else '<'} required {config.min_improvement:+.4f})"
    )
    auto_precision = candidate["metrics"]["auto_merge_precision"]
    auto_count = next(r["count"] for r in candidate["band_report"] if r["band"] == AUTO_MERGE)
    if auto_precision is None:
        safe = True
        reasons.append("auto-merge band is empty on the test split: every pair would go to a reviewer")
    else:
        safe = auto_precision >= config.target_precision
        reasons.append(
            f"auto-merge precision {auto_precision:.4f} on {auto_count} test pairs "
            f"({'≥' if safe else '<'} target {config.target_precision})"
        )
    return {
        "passed": bool(beats and safe),
        "reference": reference_role,
        "primary_metric": PRIMARY_METRIC,
        "improvement": round(bootstrap["difference"], 6),
        "improvement_lower_bound": round(bootstrap["lower"], 6),
        "bootstrap": bootstrap,
        "reasons": reasons,
    }


def evaluate_dedup_models(
    training_set: TrainingSet,
    *,
    candidate: PairScorer,
    active: PairScorer | None,
    base: BaseCosineScorer,
    config: EvaluationConfig,
    seen_by_active: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The evaluation report (JSON-serialisable): per-model metrics and bands on the test split, the gate,
    and the test labels and probabilities (for plots).

    ``seen_by_active`` holds the insights the active model trained or was tuned on; test pairs touching them
    are left out for every model, so the comparison is on decisions none of them has seen.
    """
    validation = training_set.split("validation")
    all_test = training_set.split("test")
    test = [e for e in all_test if not (set(e.key) & seen_by_active)]
    if {e.label for e in test} != {0, 1}:
        raise ValueError(
            f"after leaving out {len(all_test) - len(test)} of {len(all_test)} test pairs the active model "
            "has seen, the test split no longer holds both merges and keep-separate decisions"
        )
    val_labels, test_labels = _labels(validation), _labels(test)
    calibrated_base, base_threshold = fit_base_calibration(base, [*training_set.split("train"), *validation])

    models: dict[str, dict[str, Any]] = {}
    probabilities: dict[str, list[float]] = {}
    for role, scorer, threshold in (
        ("candidate", candidate, 0.5),
        ("active", active, 0.5),
        ("base", calibrated_base, base_threshold),
    ):
        if scorer is None:
            continue
        val_p = scorer.predict_proba(_pairs(validation))
        test_p = scorer.predict_proba(_pairs(test))
        models[role] = model_report(
            scorer.name,
            validation=(val_labels, val_p),
            test=(test_labels, test_p),
            threshold=threshold,
            config=config,
        )
        probabilities[role] = [round(float(p), 6) for p in test_p]
    models["base"]["calibration"] = calibrated_base.calibration.to_dict()
    reference_role = "active" if "active" in models else "base"
    gate = promotion_gate(
        models["candidate"],
        models[reference_role],
        reference_role=reference_role,
        labels=test_labels,
        candidate_probabilities=probabilities["candidate"],
        reference_probabilities=probabilities[reference_role],
        config=config,
    )
    return {
        "dataset_version": training_set.version,
        "test_pairs": len(test),
        "test_pairs_seen_by_active_left_out": len(all_test) - len(test),
        "test_merge_pairs": int(test_labels.sum()),
        "validation_pairs": len(validation),
        "config": asdict(config),
        "models": models,
        "gate": gate,
        "test_labels": test_labels.tolist(),
        "test_probabilities": probabilities,
    }
