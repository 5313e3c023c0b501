"""Compare the candidate (each of its recipes), the active and the base model on the same held-out human
decisions.

Decision bands are learned on the validation split (the auto-merge threshold that reaches the target
precision there; none, so nothing auto-merges, when no threshold does) and reported on the test split; the
candidate's on its out-of-fold validation probabilities, the active model keeps the bands it serves with.
The base model is MiniLM cosine similarity, Platt-calibrated and thresholded (best F1) on the
human-labelled train and validation pairs. The promotion gate compares the candidate with the active model,
or with the base model when none is active, and never passes a candidate worse than the base model.

Example (slow: it scores with real models):
    >>> report = evaluate_dedup_models(training_set, candidate=PairModel.load(path, recipes=recipes),  # doctest: +SKIP
    ...                                active=None, active_bands=None, base=BaseCosineScorer(None),
    ...                                config=EvaluationConfig())
    >>> report["gate"]["passed"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fine_tuning_assets.calibration import PlattScaling
from fine_tuning_assets.evaluation import (
    AUTO_MERGE,
    DecisionBands,
    band_report,
    bootstrap_average_precision_difference,
    compute_pair_metrics,
    fit_best_threshold,
    learn_auto_merge_threshold,
)
from fine_tuning_assets.pair_examples import PairExample
from fine_tuning_assets.pair_model import PairModel
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
        min_improvement_over_base: how much the candidate's average precision must beat the base model's
            on the test split, whatever the reference (0.0: a candidate worse than the base never passes).
    """

    target_precision: float = 0.99
    min_improvement: float = 0.01
    improvement_confidence: float = 0.95
    bootstrap_resamples: int = 1000
    review_threshold: float = 0.85
    min_auto_merged: int = 10
    min_improvement_over_base: float = 0.0


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
    bands: DecisionBands,
    test: tuple[np.ndarray, np.ndarray],
    threshold: float,
) -> dict[str, Any]:
    """Metrics and band coverage/precision of one model on the test split, with the given bands."""
    labels, probabilities = test
    metrics = compute_pair_metrics(labels, probabilities, threshold=threshold)
    rows = band_report(labels, probabilities, bands)
    auto = next(row for row in rows if row["band"] == AUTO_MERGE)
    metrics["auto_merge_coverage"] = auto["coverage"]
    metrics["auto_merge_precision"] = auto["precision"]
    return {
        "name": name,
        "threshold": threshold,
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
    base: dict[str, Any] | None = None,
    config: EvaluationConfig,
) -> dict[str, Any]:
    """Pass when, on the test split, the candidate beats the reference's average precision by
    ``min_improvement`` even at the lower bound of a paired bootstrap (so a small or noisy test split cannot
    promote a model that only looks better), is not worse than the base model (``base``, by
    ``min_improvement_over_base``), and its auto-merge band holds the target precision (an empty band
    auto-merges nothing)."""
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
    not_worse = True
    if base is not None:
        base_ap = base["metrics"][PRIMARY_METRIC] or 0.0
        not_worse = candidate_ap - base_ap >= config.min_improvement_over_base
        reasons.append(
            f"average precision {candidate_ap:.4f} vs base {base_ap:.4f} ({candidate_ap - base_ap:+.4f}, "
            f"{'≥' if not_worse else '<'} required {config.min_improvement_over_base:+.4f})"
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
        "passed": bool(beats and not_worse and safe),
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
    candidate: PairModel,
    active: PairScorer | None,
    active_bands: DecisionBands | None,
    base: BaseCosineScorer,
    config: EvaluationConfig,
    seen_by_active: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The evaluation report (JSON-serialisable): per-model metrics and bands on the test split for the
    candidate's chosen recipe, each of its other recipes, the active model and the base model; the gate;
    and the test labels and probabilities (for plots).

    The candidate's bands are learned on its out-of-fold validation probabilities (see
    :mod:`fine_tuning_assets.recipe_search`); the active model keeps the bands it serves with
    (``active_bands``). ``seen_by_active`` holds the insights the active model trained or was tuned on; test
    pairs touching them are left out for every model, so the comparison is on decisions none of them has
    seen.
    """
    validation = training_set.split("validation")
    all_test = training_set.split("test")
    test = [e for e in all_test if not (set(e.key) & seen_by_active)]
    if {e.label for e in test} != {0, 1}:
        raise ValueError(
            f"after leaving out {len(all_test) - len(test)} of {len(all_test)} test pairs the active model "
            "has seen, the test split no longer holds both merges and keep-separate decisions"
        )
    test_labels = _labels(test)
    test_pairs = _pairs(test)
    calibrated_base, base_threshold = fit_base_calibration(base, [*training_set.split("train"), *validation])
    oof_labels, oof = candidate.validation_out_of_fold()

    models: dict[str, dict[str, Any]] = {}
    probabilities: dict[str, list[float]] = {}

    def add(role: str, name: str, bands: DecisionBands, test_p: np.ndarray, threshold: float) -> None:
        models[role] = model_report(name, bands=bands, test=(test_labels, test_p), threshold=threshold)
        probabilities[role] = [round(float(p), 6) for p in test_p]

    selected = candidate.selected_recipe
    recipe_p = candidate.predict_all(test_pairs, candidate.recipes)
    for recipe in (selected, *(r for r in candidate.recipes if r != selected)):
        role = "candidate" if recipe == selected else f"recipe {recipe}"
        name = f"{candidate.name} · {recipe}{' (chosen)' if recipe == selected else ''}"
        add(role, name, learn_bands(oof_labels, oof[recipe], config=config), recipe_p[recipe], 0.5)
        models[role]["recipe"] = recipe
        models[role]["validation_average_precision"] = candidate.spec["recipes"][recipe][
            "validation_average_precision"
        ]
    if active is not None:
        bands = active_bands or DecisionBands(auto_merge=1.0, review=config.review_threshold)
        add("active", active.name, bands, active.predict_proba(test_pairs), 0.5)
    base_bands = learn_bands(
        _labels(validation), calibrated_base.predict_proba(_pairs(validation)), config=config
    )
    add("base", calibrated_base.name, base_bands, calibrated_base.predict_proba(test_pairs), base_threshold)
    models["base"]["calibration"] = calibrated_base.calibration.to_dict()
    reference_role = "active" if "active" in models else "base"
    gate = promotion_gate(
        models["candidate"],
        models[reference_role],
        reference_role=reference_role,
        labels=test_labels,
        candidate_probabilities=probabilities["candidate"],
        reference_probabilities=probabilities[reference_role],
        base=models["base"],
        config=config,
    )
    return {
        "dataset_version": training_set.version,
        "selected_recipe": selected,
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
