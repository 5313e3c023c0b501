from __future__ import annotations

import numpy as np

from fine_tuning_assets.dedup_evaluation import EvaluationConfig, learn_bands, model_report, promotion_gate

RNG = np.random.default_rng(3)
LABELS = np.array([1, 0] * 100)


def separable(noise: float) -> np.ndarray:
    """Probabilities that rank merges above non-merges, blurred by ``noise``."""
    return np.clip(np.where(LABELS == 1, 0.75, 0.25) + RNG.normal(0, noise, len(LABELS)), 0, 1)


def gate(candidate: np.ndarray, reference: np.ndarray, **config) -> dict:
    settings = EvaluationConfig(**config)
    kwargs = {
        "validation": (LABELS, candidate),
        "test": (LABELS, candidate),
        "threshold": 0.5,
        "config": settings,
    }
    reports = (
        model_report("candidate", **kwargs),
        model_report(
            "reference", **{**kwargs, "validation": (LABELS, reference), "test": (LABELS, reference)}
        ),
    )
    return promotion_gate(
        *reports,
        reference_role="base",
        labels=LABELS,
        candidate_probabilities=candidate,
        reference_probabilities=reference,
        config=settings,
    )


def test_a_clearly_better_candidate_passes():
    result = gate(separable(0.1), RNG.uniform(0, 1, len(LABELS)), target_precision=0.9)
    assert result["passed"] and result["improvement_lower_bound"] > 0.3
    assert result["reference"] == "base" and "95% confidence over 200 test pairs" in result["reasons"][0]


def test_a_worse_candidate_is_refused():
    result = gate(RNG.uniform(0, 1, len(LABELS)), separable(0.1))
    assert not result["passed"] and result["improvement"] < 0


def test_a_candidate_that_only_looks_better_on_a_noisy_test_split_is_refused():
    reference = separable(0.45)
    candidate = np.clip(reference + RNG.normal(0, 0.05, len(LABELS)), 0, 1)
    result = gate(candidate, reference, min_improvement=0.0)
    assert abs(result["improvement"]) < 0.05
    assert result["improvement_lower_bound"] < 0 and not result["passed"]


def test_an_auto_merge_band_below_the_target_precision_is_refused():
    settings = EvaluationConfig(target_precision=0.99, min_auto_merged=1)
    candidate = separable(0.1)
    candidate[np.flatnonzero(LABELS == 0)[:5]] = 0.99  # five keep-separate pairs the model is sure about
    reference = RNG.uniform(0, 1, len(LABELS))
    # Bands learned on clean validation scores; on test the five confident mistakes land in auto-merge.
    report = model_report(
        "candidate",
        validation=(LABELS, separable(0.01)),
        test=(LABELS, candidate),
        threshold=0.5,
        config=settings,
    )
    base = model_report(
        "base", validation=(LABELS, reference), test=(LABELS, reference), threshold=0.5, config=settings
    )
    result = promotion_gate(
        report,
        base,
        reference_role="base",
        labels=LABELS,
        candidate_probabilities=candidate,
        reference_probabilities=reference,
        config=settings,
    )
    assert result["improvement_lower_bound"] > 0.2, "it beats the base model on average precision..."
    assert report["metrics"]["auto_merge_precision"] < 0.99
    assert not result["passed"] and "auto-merge precision" in result["reasons"][1]


def test_auto_merge_is_switched_off_when_no_threshold_reaches_the_target():
    noisy = separable(0.6)
    bands = learn_bands(LABELS, noisy, config=EvaluationConfig(target_precision=0.99, min_auto_merged=10))
    assert bands.auto_merge == 1.0 and bands.review <= 1.0
    report = model_report(
        "m", validation=(LABELS, noisy), test=(LABELS, noisy), threshold=0.5, config=EvaluationConfig()
    )
    assert report["auto_merge_enabled"] is False and report["metrics"]["auto_merge_coverage"] == 0.0


def test_a_learned_threshold_below_the_review_threshold_pulls_the_review_band_down():
    clean = separable(0.01)
    bands = learn_bands(LABELS, clean, config=EvaluationConfig(target_precision=0.99, min_auto_merged=10))
    assert bands.auto_merge < 0.85 and bands.review == bands.auto_merge
