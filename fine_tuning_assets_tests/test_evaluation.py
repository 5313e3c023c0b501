from __future__ import annotations

import base64
import doctest
import json
import math

import numpy as np
import pytest

from fine_tuning_assets.core import metrics as evaluation
from fine_tuning_assets.core.metrics import (
    PNG_SIGNATURE,
    DecisionBands,
    band_report,
    band_report_markdown,
    clopper_pearson_bounds,
    compute_pair_metrics,
    expected_calibration_error,
    fit_best_threshold,
    learn_auto_merge_threshold,
    learn_keep_separate_threshold,
    metrics_markdown_table,
    png_markdown,
    precision_recall_plot_png,
)

# A tiny hand-checked example.
LABELS = [1, 1, 0, 1, 0, 0, 1, 0]
PROBS = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]


def test_module_doctests_pass():
    result = doctest.testmod(evaluation)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------------------------------- metrics


def test_compute_pair_metrics_hand_computed():
    # threshold 0.65 -> predicted merge for 0.9, 0.8, 0.7: tp=2, fp=1, fn=2, tn=3
    m = compute_pair_metrics(LABELS, PROBS, threshold=0.65)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(4 / 7)
    # squared errors: .01 .04 .49 .16 .16 .09 .64 .01 -> 1.6 / 8
    assert m["brier_score"] == pytest.approx(0.2)
    # positive beats negative in 4 + 4 + 3 + 1 = 12 of 16 pairs
    assert m["roc_auc"] == pytest.approx(0.75)
    # every probability sits alone in its bin: mean |y - p| = 3.0 / 8
    assert m["expected_calibration_error"] == pytest.approx(0.375)
    assert m["n"] == 8 and m["positives"] == 4 and m["threshold"] == 0.65
    assert 0.0 < m["average_precision"] <= 1.0


def test_compute_pair_metrics_threshold_is_inclusive():
    m = compute_pair_metrics(LABELS, PROBS, threshold=0.6)
    # 0.9, 0.8, 0.7, 0.6 predicted merge: tp=3, fp=1
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(0.75)


def test_compute_pair_metrics_is_json_serialisable_plain_python():
    m = compute_pair_metrics(LABELS, PROBS)
    json.dumps(m)
    for key, value in m.items():
        assert value is None or type(value) in (int, float), (key, type(value))
    assert type(m["n"]) is int and type(m["positives"]) is int


def test_compute_pair_metrics_one_class_is_none_safe():
    m = compute_pair_metrics([0, 0, 0], [0.1, 0.2, 0.9])
    assert m["roc_auc"] is None
    assert m["average_precision"] is None
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["accuracy"] == pytest.approx(2 / 3)
    all_pos = compute_pair_metrics([1, 1], [0.7, 0.9])
    assert all_pos["roc_auc"] is None
    assert all_pos["average_precision"] == pytest.approx(1.0)


def test_ece_zero_for_perfectly_calibrated_bins():
    labels = [1, 0, 0, 0] + [1, 1, 1, 0]
    probs = [0.25] * 4 + [0.75] * 4
    assert expected_calibration_error(labels, probs) == pytest.approx(0.0)
    assert compute_pair_metrics(labels, probs)["expected_calibration_error"] == pytest.approx(0.0)


def test_ece_bins_and_edge_values():
    # p == 1.0 belongs to the last bin; p == 0.0 to the first
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)
    # one bin [0.9, 1.0] with mean p 0.95 and mean label 0.5
    assert expected_calibration_error([1, 0], [0.9, 1.0]) == pytest.approx(0.45)


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        ([1, 0], [0.5], "same length"),
        ([], [], "empty"),
        ([1, 2], [0.5, 0.5], "0 or 1"),
        ([1, 0.5], [0.5, 0.5], "0 or 1"),
        (["yes", "no"], [0.5, 0.5], "0/1"),
        ([1, 0], [0.5, 1.5], r"\[0, 1\]"),
        ([1, 0], [-0.1, 0.5], r"\[0, 1\]"),
        ([1, 0], [float("nan"), 0.5], "finite"),
        ([1, 0], [float("inf"), 0.5], "finite"),
        ([[1, 0]], [[0.5, 0.5]], "1-D"),
    ],
)
def test_compute_pair_metrics_validates_inputs(labels, probs, message):
    with pytest.raises(ValueError, match=message):
        compute_pair_metrics(labels, probs)


def test_compute_pair_metrics_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        compute_pair_metrics(LABELS, PROBS, threshold=1.5)


def test_booleans_and_numpy_inputs_are_accepted():
    m = compute_pair_metrics(np.array([True, False]), np.array([0.9, 0.1], dtype=np.float32))
    assert m["accuracy"] == 1.0


# ---------------------------------------------------------------------------------------------- bands


def test_decision_bands_default_boundaries():
    bands = DecisionBands()
    assert bands.band_of(0.95) == "review_high_priority"  # exactly the threshold is not auto-merged
    assert bands.band_of(math.nextafter(0.95, 1.0)) == "auto_merge"
    assert bands.band_of(1.0) == "auto_merge"
    assert bands.band_of(0.85) == "review_high_priority"
    assert bands.band_of(math.nextafter(0.85, 0.0)) == "needs_review"
    assert bands.band_of(0.0) == "needs_review"
    assert bands.band_names() == ("auto_merge", "review_high_priority", "needs_review")


def test_decision_bands_keep_separate():
    bands = DecisionBands(keep_separate=0.2)
    assert bands.band_of(0.2) == "needs_review"
    assert bands.band_of(0.19) == "keep_separate"
    assert bands.band_names() == ("auto_merge", "review_high_priority", "needs_review", "keep_separate")


def test_decision_bands_band_of_rejects_invalid_probability():
    with pytest.raises(ValueError, match="probability"):
        DecisionBands().band_of(float("nan"))
    with pytest.raises(ValueError, match="probability"):
        DecisionBands().band_of(1.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"auto_merge": 0.8}, "review <= auto_merge"),
        ({"auto_merge": 1.1}, r"auto_merge must be a finite number in \[0, 1\]"),
        ({"review": -0.1}, r"review must be a finite number in \[0, 1\]"),
        ({"auto_merge": float("nan")}, "auto_merge"),
        ({"keep_separate": 0.85}, "keep_separate < review"),
        ({"keep_separate": 0.9}, "keep_separate < review"),
        ({"keep_separate": -0.1}, "keep_separate"),
        ({"review": "high"}, "must be a number"),
    ],
)
def test_decision_bands_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecisionBands(**kwargs)


def test_decision_bands_allows_equal_review_and_auto_merge():
    bands = DecisionBands(auto_merge=0.9, review=0.9, keep_separate=0.0)
    assert bands.band_of(0.9) == "review_high_priority"
    assert bands.band_of(0.0) == "needs_review"  # nothing is below keep_separate=0


# ------------------------------------------------------------------------------------------ learn threshold


def _auto_merge_stats(labels, probs, t):
    labels, probs = np.asarray(labels), np.asarray(probs)
    merged = probs > t
    return int(merged.sum()), (labels[merged].mean() if merged.any() else None)


def test_learn_auto_merge_threshold_reaches_target_with_max_coverage():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 400)
    labels = (rng.uniform(0, 1, 400) < probs**3).astype(int)
    t = learn_auto_merge_threshold(labels, probs, target_precision=0.9)
    assert t is not None and t in set(probs.tolist())
    count, precision = _auto_merge_stats(labels, probs, t)
    assert count >= 1 and precision >= 0.9
    # same numbers through the bands used in production
    auto_row = band_report(labels, probs, DecisionBands(auto_merge=t, review=min(0.85, t)))[0]
    assert auto_row["band"] == "auto_merge" and auto_row["count"] == count
    assert auto_row["precision"] >= 0.9
    # no observed probability below t qualifies (t gives the largest coverage)
    for other in probs[probs < t]:
        c, prec = _auto_merge_stats(labels, probs, other)
        assert c == 0 or prec < 0.9


def test_learn_auto_merge_threshold_ties_at_threshold_are_not_merged():
    # the negative sits at 0.9: t=0.9 leaves it out (strictly greater), t=0.8 would take it in
    labels = [1, 1, 0, 1]
    probs = [0.99, 0.95, 0.9, 0.8]
    assert learn_auto_merge_threshold(labels, probs, target_precision=1.0) == 0.9
    labels = [1, 0, 1, 0]
    probs = [0.97, 0.97, 0.96, 0.5]
    # the tie at 0.97 can't be split: a threshold is either below both or above neither
    assert learn_auto_merge_threshold(labels, probs, target_precision=1.0) is None


def test_learn_auto_merge_threshold_none_when_unattainable():
    assert learn_auto_merge_threshold([0, 1, 1, 1], [0.99, 0.9, 0.8, 0.7], target_precision=0.99) is None
    assert learn_auto_merge_threshold([0, 0], [0.9, 0.1]) is None
    assert learn_auto_merge_threshold([1], [0.9]) is None  # the only candidate merges nothing


def test_learn_auto_merge_threshold_respects_min_auto_merged():
    labels = [1, 0, 1, 1, 1, 0]
    probs = [0.99, 0.98, 0.97, 0.96, 0.95, 0.5]
    assert learn_auto_merge_threshold(labels, probs, target_precision=1.0) == 0.98
    assert learn_auto_merge_threshold(labels, probs, target_precision=1.0, min_auto_merged=2) is None
    # p > 0.5 merges 5 pairs, 4 of them right (0.8); no higher threshold reaches 0.85
    assert learn_auto_merge_threshold(labels, probs, target_precision=0.85) == 0.98
    assert learn_auto_merge_threshold(labels, probs, target_precision=0.75, min_auto_merged=5) == 0.5
    assert learn_auto_merge_threshold(labels, probs, target_precision=0.75, min_auto_merged=6) is None


def test_learn_auto_merge_threshold_matches_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 40))
        probs = np.round(rng.uniform(0, 1, n), 2)  # rounding creates ties
        labels = (rng.uniform(0, 1, n) < probs).astype(int)
        target = float(rng.choice([0.5, 0.8, 1.0]))
        k = int(rng.integers(1, 4))
        expected = None
        for t in sorted(set(probs.tolist())):
            count, precision = _auto_merge_stats(labels, probs, t)
            if count >= k and precision >= target:
                expected = t
                break
        assert (
            learn_auto_merge_threshold(labels, probs, target_precision=target, min_auto_merged=k) == expected
        )


def test_learn_keep_separate_threshold_matches_brute_force_with_and_without_a_confidence_bound():
    rng = np.random.default_rng(2)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        probs = np.round(rng.uniform(0, 1, n), 2)
        labels = (rng.uniform(0, 1, n) < probs).astype(int)
        rate = float(rng.choice([0.0, 0.1, 0.3]))
        k = int(rng.integers(1, 4))
        confidence = [None, 0.8][int(rng.integers(0, 2))]
        expected = None
        for t in sorted(set(probs.tolist())):
            kept = probs < t
            count, duplicates = int(kept.sum()), int(labels[kept].sum())
            if count < k:
                continue
            share = (
                duplicates / count
                if confidence is None
                else float(clopper_pearson_bounds(duplicates, count, confidence=confidence)[1][0])
            )
            if share <= rate:
                expected = t
        got = learn_keep_separate_threshold(
            labels, probs, max_duplicate_rate=rate, min_kept_separate=k, confidence=confidence
        )
        assert got == expected


def test_clopper_pearson_bounds_are_exact_binomial_bounds():
    from scipy.stats import binom

    lower, upper = clopper_pearson_bounds([3, 10], [20, 10], confidence=0.9)
    # At the lower bound, seeing >= 3 successes has probability 1 - confidence (one-sided).
    assert binom.sf(2, 20, lower[0]) == pytest.approx(0.1, abs=1e-9)
    assert binom.cdf(3, 20, upper[0]) == pytest.approx(0.1, abs=1e-9)
    assert upper[1] == 1.0 and lower[1] == pytest.approx(0.1 ** (1 / 10))
    with pytest.raises(ValueError):
        clopper_pearson_bounds(5, 4, confidence=0.9)


def test_a_confidence_bound_makes_the_auto_merge_threshold_more_conservative():
    labels = [1] * 40 + [0] + [1] * 10 + [0] * 50
    probs = [0.99 - i / 1000 for i in range(51)] + [0.1] * 50
    point = learn_auto_merge_threshold(labels, probs, target_precision=0.93)
    bounded = learn_auto_merge_threshold(labels, probs, target_precision=0.93, confidence=0.9)
    assert (point, bounded) == (0.1, 0.95)  # 50 of 51 right: 0.98 observed, about 0.925 at the 90% bound


@pytest.mark.parametrize(
    "kwargs",
    [{"target_precision": 0.0}, {"target_precision": 1.5}, {"min_auto_merged": 0}, {"min_auto_merged": 1.5}],
)
def test_learn_auto_merge_threshold_validates_options(kwargs):
    with pytest.raises(ValueError):
        learn_auto_merge_threshold(LABELS, PROBS, **kwargs)


# ---------------------------------------------------------------------------------------------- band report


def test_band_report_counts_coverage_and_precision():
    labels = [1, 1, 0, 1, 0, 0, 1, 0]
    probs = [0.99, 0.96, 0.95, 0.9, 0.85, 0.5, 0.2, 0.1]
    rows = band_report(labels, probs, DecisionBands())
    assert [r["band"] for r in rows] == ["auto_merge", "review_high_priority", "needs_review"]
    by_band = {r["band"]: r for r in rows}
    assert by_band["auto_merge"]["count"] == 2 and by_band["auto_merge"]["precision"] == 1.0
    assert by_band["review_high_priority"]["count"] == 3  # 0.95, 0.9, 0.85
    assert by_band["review_high_priority"]["precision"] == pytest.approx(1 / 3)
    assert by_band["needs_review"]["count"] == 3
    assert by_band["needs_review"]["positives"] == 1
    assert by_band["needs_review"]["precision"] == pytest.approx(1 / 3)
    assert sum(r["coverage"] for r in rows) == pytest.approx(1.0)
    assert (by_band["auto_merge"]["lower"], by_band["auto_merge"]["upper"]) == (0.95, 1.0)
    assert (by_band["review_high_priority"]["lower"], by_band["review_high_priority"]["upper"]) == (
        0.85,
        0.95,
    )
    assert (by_band["needs_review"]["lower"], by_band["needs_review"]["upper"]) == (0.0, 0.85)
    json.dumps(rows)


def test_band_report_with_keep_separate_and_empty_band():
    labels = [1, 0, 0, 1]
    probs = [0.9, 0.5, 0.1, 0.05]
    bands = DecisionBands(keep_separate=0.2)
    rows = band_report(labels, probs, bands)
    assert [r["band"] for r in rows] == list(bands.band_names())
    by_band = {r["band"]: r for r in rows}
    assert by_band["auto_merge"]["count"] == 0 and by_band["auto_merge"]["precision"] is None
    assert by_band["keep_separate"]["count"] == 2 and by_band["keep_separate"]["precision"] == 0.5
    assert (by_band["needs_review"]["lower"], by_band["keep_separate"]["upper"]) == (0.2, 0.2)
    assert sum(r["coverage"] for r in rows) == pytest.approx(1.0)


def test_band_report_agrees_with_band_of():
    rng = np.random.default_rng(2)
    probs = np.round(rng.uniform(0, 1, 300), 2)
    labels = rng.integers(0, 2, 300)
    bands = DecisionBands(auto_merge=0.9, review=0.7, keep_separate=0.3)
    counts = {r["band"]: r["count"] for r in band_report(labels, probs, bands)}
    expected = {name: 0 for name in bands.band_names()}
    for p in probs:
        expected[bands.band_of(float(p))] += 1
    assert counts == expected


def test_band_report_markdown():
    text = band_report_markdown(band_report([1, 0], [0.99, 0.5], DecisionBands()))
    assert "| auto_merge | (0.950, 1.000] | 1 | 0.500 | 1 | 1.000 |" in text
    assert "| review_high_priority | [0.850, 0.950] | 0 | 0.000 | 0 | \u2013 |" in text
    assert "| needs_review | [0.000, 0.850) |" in text


# ---------------------------------------------------------------------------------------------- fit threshold


def test_fit_best_threshold_separates_separable_data():
    labels = [0, 0, 0, 1, 1, 1]
    scores = [-0.2, 0.1, 0.4, 0.6, 0.7, 0.95]  # raw cosine similarities may be negative
    for metric in ("f1", "accuracy"):
        t = fit_best_threshold(labels, scores, metric=metric)
        assert 0.4 < t <= 0.6
        predicted = [int(s >= t) for s in scores]
        assert predicted == labels
    assert fit_best_threshold(labels, scores) == pytest.approx(0.5)


def test_fit_best_threshold_maximises_metric():
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 1, 200)
    labels = (scores + rng.normal(0, 1, 200) > 0.5).astype(int)
    for metric in ("f1", "accuracy"):
        t = fit_best_threshold(labels, scores, metric=metric)

        def value(threshold, metric=metric):
            m = compute_pair_metrics(labels, (scores >= threshold).astype(float), threshold=0.5)
            return m[metric]

        best_brute = max(value(s) for s in np.append(scores, np.inf))
        assert value(t) == pytest.approx(best_brute)


def test_fit_best_threshold_can_predict_nothing_for_accuracy():
    # a lone positive at the bottom: predicting "keep separate" for everything is most accurate
    t = fit_best_threshold([1, 0, 0, 0], [0.1, 0.5, 0.6, 0.7], metric="accuracy")
    assert t > 0.7


def test_fit_best_threshold_validation():
    with pytest.raises(ValueError, match="both"):
        fit_best_threshold([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="metric"):
        fit_best_threshold([0, 1], [0.2, 0.3], metric="auc")
    with pytest.raises(ValueError, match="finite"):
        fit_best_threshold([0, 1], [0.2, float("nan")])


# ------------------------------------------------------------------------------------------ plots, markdown


def test_precision_recall_plot_png_and_markdown():
    import matplotlib

    backend_before = matplotlib.get_backend()
    png = precision_recall_plot_png(
        {"base": (LABELS, PROBS), "fine-tuned": (LABELS, [0.95, 0.9, 0.2, 0.85, 0.1, 0.3, 0.7, 0.05])},
        title="Held-out pairs",
    )
    assert isinstance(png, bytes) and png.startswith(PNG_SIGNATURE)
    assert matplotlib.get_backend() == backend_before
    markdown = png_markdown(png, alt="PR [curves]")
    prefix = "![PR (curves)](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix) : -1]) == png


def test_precision_recall_plot_handles_model_without_positives():
    png = precision_recall_plot_png({"empty": ([0, 0], [0.1, 0.2])}, title="t")
    assert png.startswith(PNG_SIGNATURE)


def test_plot_and_png_markdown_errors():
    with pytest.raises(ValueError, match="at least one"):
        precision_recall_plot_png({}, title="t")
    with pytest.raises(ValueError, match="PNG"):
        png_markdown(b"GIF89a", alt="x")


def test_metrics_markdown_table_formats_numbers():
    rows = {
        "base": {"f1": 0.81234, "roc_auc": None, "n": 120},
        "fine|tuned": {"f1": 0.9, "roc_auc": 0.95678, "n": 120},
    }
    text = metrics_markdown_table(rows, columns=["f1", "roc_auc", "n", "brier_score"])
    lines = text.splitlines()
    assert lines[0] == "| model | f1 | roc_auc | n | brier_score |"
    assert lines[1] == "|---|---:|---:|---:|---:|"
    assert lines[2] == "| base | 0.812 | \u2013 | 120 | \u2013 |"
    assert lines[3] == "| fine\\|tuned | 0.900 | 0.957 | 120 | \u2013 |"
    assert len(lines) == 4
