from __future__ import annotations

import numpy as np

from fine_tuning_assets.core.metrics import DecisionBands
from fine_tuning_assets.tasks.dedup.evaluation import (
    EvaluationConfig,
    check_bands,
    cross_validated_band_masks,
    learn_bands,
    model_report,
    promotion_gate,
)

RNG = np.random.default_rng(3)
LABELS = np.array([1, 0] * 100)


def separable(noise: float) -> np.ndarray:
    """Probabilities that rank merges above non-merges, blurred by ``noise``."""
    return np.clip(np.where(LABELS == 1, 0.75, 0.25) + RNG.normal(0, noise, len(LABELS)), 0, 1)


def report(name: str, probabilities: np.ndarray, settings: EvaluationConfig, validation=None) -> dict:
    """A model report with bands learned on ``validation`` (default: the test probabilities themselves)."""
    bands = learn_bands(LABELS, probabilities if validation is None else validation, config=settings)
    return model_report(name, bands=bands, test=(LABELS, probabilities), threshold=0.5)


def gate(candidate: np.ndarray, reference: np.ndarray, *, base: np.ndarray | None = None, **config) -> dict:
    settings = EvaluationConfig(**config)
    return promotion_gate(
        report("candidate", candidate, settings),
        report("reference", reference, settings),
        reference_role="base" if base is None else "active",
        labels=LABELS,
        candidate_probabilities=candidate,
        reference_probabilities=reference,
        base=report("base", reference if base is None else base, settings),
        config=settings,
    )


def test_a_clearly_better_candidate_passes():
    result = gate(separable(0.1), RNG.uniform(0, 1, len(LABELS)), target_precision=0.9)
    assert result["passed"] and result["improvement_lower_bound"] > 0.3
    assert result["reference"] == "base" and "95% confidence over 200 test pairs" in result["reasons"][0]


def test_a_worse_candidate_is_refused():
    result = gate(RNG.uniform(0, 1, len(LABELS)), separable(0.1))
    assert not result["passed"] and result["improvement"] < 0


def test_a_candidate_that_beats_the_active_model_but_is_worse_than_the_base_model_is_refused():
    active = RNG.uniform(0, 1, len(LABELS))  # an active model that went bad
    base = separable(0.1)
    candidate = separable(0.3)  # far better than the active model, worse than the base model
    result = gate(candidate, active, base=base, min_improvement=0.01, target_precision=0.5)
    assert result["improvement_lower_bound"] > 0.1, "it clearly beats the active model..."
    assert not result["passed"]
    assert any(
        r.startswith("average precision") and "vs base" in r and "< required +0.0000" in r
        for r in result["reasons"]
    )
    # Allowing a loss to the base model (as a user may, explicitly) lets it through.
    assert gate(
        candidate,
        active,
        base=base,
        min_improvement=0.01,
        target_precision=0.5,
        min_improvement_over_base=-1.0,
    )["passed"]


def test_a_candidate_that_only_looks_better_on_a_noisy_test_split_is_refused():
    reference = separable(0.45)
    candidate = np.clip(reference + RNG.normal(0, 0.05, len(LABELS)), 0, 1)
    result = gate(candidate, reference, min_improvement=0.0)
    assert abs(result["improvement"]) < 0.05
    assert result["improvement_lower_bound"] < 0 and not result["passed"]


def test_a_better_candidate_is_promoted_with_a_band_that_misses_its_target_switched_off():
    """The refusal of issue 8 cannot happen: "is the model better" decides promotion, "is the band safe"
    decides whether the band acts."""
    settings = EvaluationConfig(target_precision=0.99, min_auto_merged=1, band_confidence=0.5)
    candidate = separable(0.1)
    candidate[np.flatnonzero(LABELS == 0)[:5]] = 0.99  # five keep-separate pairs the model is sure about
    reference = RNG.uniform(0, 1, len(LABELS))
    # Bands learned on clean validation scores; on test the five confident mistakes land in auto-merge.
    candidate_report = report("candidate", candidate, settings, validation=separable(0.01))
    result = promotion_gate(
        candidate_report,
        report("base", reference, settings),
        reference_role="base",
        labels=LABELS,
        candidate_probabilities=candidate,
        reference_probabilities=reference,
        config=settings,
    )
    assert result["improvement_lower_bound"] > 0.1 and result["passed"], "the better model is promoted..."
    assert candidate_report["metrics"]["auto_merge_precision"] < 0.99
    checks = check_bands(candidate_report, config=settings)
    assert checks["switched_off"] == ["auto_merge"], "...with its unsafe auto-merge band switched off"
    assert checks["serving_bands"]["auto_merge"] == 1.0
    assert "SWITCHED OFF" in checks["reasons"][0]
    served = DecisionBands(**checks["serving_bands"])
    assert served.band_of(0.999) != "auto_merge"


def test_a_keep_separate_band_that_holds_on_test_is_kept_and_counted_as_decided():
    settings = EvaluationConfig(max_duplicate_rate=0.05, band_confidence=0.5, min_kept_separate=5)
    clean = separable(0.05)
    candidate_report = report("candidate", clean, settings)
    checks = check_bands(candidate_report, config=settings)
    assert candidate_report["keep_separate_enabled"] and "keep_separate" not in checks["switched_off"]
    metrics = candidate_report["metrics"]
    assert metrics["keep_separate_coverage"] > 0.3 and metrics["keep_separate_duplicate_share"] <= 0.05
    assert (
        metrics["decided_without_human"] == metrics["auto_merge_coverage"] + metrics["keep_separate_coverage"]
    )


def test_a_keep_separate_band_that_misses_on_test_is_switched_off():
    settings = EvaluationConfig(max_duplicate_rate=0.01, band_confidence=0.5, min_kept_separate=5)
    candidate = separable(0.05)
    candidate[np.flatnonzero(LABELS == 1)[:10]] = 0.0  # ten merges the model is sure to keep apart
    candidate_report = report("candidate", candidate, settings, validation=separable(0.05))
    checks = check_bands(candidate_report, config=settings)
    assert "keep_separate" in checks["switched_off"] and checks["serving_bands"]["keep_separate"] is None


def test_conservative_bands_need_more_evidence_than_point_estimates():
    labels = np.array([0] * 400 + [1] * 50)
    probabilities = np.concatenate([np.linspace(0.0, 0.3, 400), np.linspace(0.7, 1.0, 50)])
    point = learn_bands(
        labels, probabilities, config=EvaluationConfig(band_confidence=0.5, target_precision=0.95)
    )
    strict = learn_bands(
        labels, probabilities, config=EvaluationConfig(band_confidence=0.95, target_precision=0.95)
    )
    assert point.keep_separate is not None and point.auto_merge < 1.0
    # 50 merges without an error prove only ~0.94 precision at 95%: the strict auto-merge band stays off.
    assert strict.auto_merge == 1.0 and strict.keep_separate is not None


def test_cross_validated_bands_learn_each_folds_thresholds_on_the_other_folds():
    settings = EvaluationConfig(max_duplicate_rate=0.05, band_confidence=0.5, min_kept_separate=5)
    folds = (np.arange(LABELS.size) // 2) % 4  # both classes in every fold
    masks = cross_validated_band_masks(LABELS, separable(0.05), folds, config=settings)
    assert sum(mask.astype(int) for mask in masks.values()).tolist() == [1] * LABELS.size
    assert masks["keep_separate"].sum() > 0 and LABELS[masks["keep_separate"]].mean() <= 0.05


def test_auto_merge_is_switched_off_when_no_threshold_reaches_the_target():
    noisy = separable(0.6)
    bands = learn_bands(LABELS, noisy, config=EvaluationConfig(target_precision=0.99, min_auto_merged=10))
    assert bands.auto_merge == 1.0 and bands.review <= 1.0
    noisy_report = report("m", noisy, EvaluationConfig())
    assert (
        noisy_report["auto_merge_enabled"] is False and noisy_report["metrics"]["auto_merge_coverage"] == 0.0
    )


def test_a_learned_threshold_below_the_review_threshold_pulls_the_review_band_down():
    clean = separable(0.01)
    config = EvaluationConfig(target_precision=0.99, min_auto_merged=10, band_confidence=0.5)
    bands = learn_bands(LABELS, clean, config=config)
    assert bands.auto_merge < 0.85 and bands.review == bands.auto_merge
    assert bands.keep_separate is not None and bands.keep_separate < bands.review
