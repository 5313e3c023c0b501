"""Evaluate pair models: metrics, decision bands, thresholds, calibration and report plots.

A pair model returns a calibrated probability ``p`` that two statements should merge. Decisions fall
into bands (see :class:`DecisionBands`):

* ``auto_merge`` -- ``p > auto_merge`` (strictly greater; default 0.95),
* ``review_high_priority`` -- ``review <= p <= auto_merge`` (default review threshold 0.85),
* ``needs_review`` -- ``p < review`` (and ``p >= keep_separate`` when that band is enabled),
* ``keep_separate`` -- ``p < keep_separate`` (optional; disabled by default).

Everything here is a pure function of plain sequences / numpy arrays (no Dagster, no
sentence-transformers), and metric dictionaries hold plain Python numbers so they are JSON-serialisable.

Example:
    >>> labels = [1, 1, 1, 0, 0, 0]
    >>> probabilities = [0.99, 0.97, 0.90, 0.96, 0.40, 0.10]
    >>> metrics = compute_pair_metrics(labels, probabilities, threshold=0.5)
    >>> metrics["accuracy"], metrics["precision"], metrics["recall"]
    (0.8333333333333334, 0.75, 1.0)
    >>> bands = DecisionBands()
    >>> bands.band_of(0.95), bands.band_of(0.951), bands.band_of(0.5)
    ('review_high_priority', 'auto_merge', 'needs_review')
    >>> learn_auto_merge_threshold(labels, probabilities, target_precision=0.99)
    0.96
    >>> rows = band_report(labels, probabilities, DecisionBands(auto_merge=0.96))
    >>> [(row["band"], row["count"]) for row in rows]
    [('auto_merge', 2), ('review_high_priority', 2), ('needs_review', 2)]
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

AUTO_MERGE = "auto_merge"
REVIEW_HIGH_PRIORITY = "review_high_priority"
NEEDS_REVIEW = "needs_review"
KEEP_SEPARATE = "keep_separate"

#: All band names, highest probabilities first.
BAND_NAMES: tuple[str, ...] = (AUTO_MERGE, REVIEW_HIGH_PRIORITY, NEEDS_REVIEW, KEEP_SEPARATE)

#: The 8-byte signature every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Shown in markdown tables for a missing / undefined value.
MISSING = "\u2013"

FIT_METRICS: tuple[str, ...] = ("f1", "accuracy")


# --------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------


def _as_labels(labels: Any) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be a 1-D sequence, got an array of shape {array.shape}")
    if array.size and array.dtype.kind not in "biuf":
        raise ValueError(f"labels must be 0/1 numbers, got values of type {array.dtype}")
    if array.size and not np.isin(array, (0, 1)).all():
        bad = sorted({repr(v) for v in array[~np.isin(array, (0, 1))].tolist()})[:5]
        raise ValueError(f"labels must be 0 or 1, found {', '.join(bad)}")
    return array.astype(np.int64)


def _as_scores(scores: Any, *, name: str, unit_interval: bool) -> np.ndarray:
    array = np.asarray(scores)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, got an array of shape {array.shape}")
    if array.size and array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numbers, got values of type {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, found {int((~np.isfinite(array)).sum())} NaN/inf value(s)")
    if unit_interval and array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(
            f"{name} must lie in [0, 1], found values from {array.min():.6g} to {array.max():.6g}"
        )
    return array


def _validate_pairs(
    labels: Any, scores: Any, *, name: str = "probabilities", unit_interval: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, scores)`` as numpy arrays after checking them; raise ValueError otherwise."""
    y = _as_labels(labels)
    s = _as_scores(scores, name=name, unit_interval=unit_interval)
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"labels and {name} must have the same length, got {y.shape[0]} and {s.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError(f"labels and {name} are empty; need at least one pair")
    return y, s


def _check_threshold(value: Any, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    return value


# --------------------------------------------------------------------------------------------------
# Decision bands
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionBands:
    """Probability thresholds that turn P(merge) into a decision band.

    * ``auto_merge``: ``p > auto_merge`` (strictly greater, so ``p == auto_merge`` is *not* merged),
    * ``review_high_priority``: ``review <= p <= auto_merge``,
    * ``needs_review``: ``p < review`` (and ``p >= keep_separate`` when ``keep_separate`` is set),
    * ``keep_separate``: ``p < keep_separate``; only when ``keep_separate`` is not None.

    Requires ``0 <= keep_separate < review <= auto_merge <= 1`` (``auto_merge=1`` disables
    auto-merging, since no probability exceeds 1).

    Example:
        >>> bands = DecisionBands(keep_separate=0.2)
        >>> [bands.band_of(p) for p in (0.99, 0.95, 0.85)]
        ['auto_merge', 'review_high_priority', 'review_high_priority']
        >>> [bands.band_of(p) for p in (0.5, 0.2, 0.1)]
        ['needs_review', 'needs_review', 'keep_separate']
        >>> DecisionBands(auto_merge=0.8)
        Traceback (most recent call last):
        ...
        ValueError: DecisionBands needs review <= auto_merge, got review=0.85 and auto_merge=0.8
    """

    auto_merge: float = 0.95
    review: float = 0.85
    keep_separate: float | None = None

    def __post_init__(self) -> None:
        auto_merge = _check_threshold(self.auto_merge, name="DecisionBands.auto_merge")
        review = _check_threshold(self.review, name="DecisionBands.review")
        object.__setattr__(self, "auto_merge", auto_merge)
        object.__setattr__(self, "review", review)
        if review > auto_merge:
            raise ValueError(
                "DecisionBands needs review <= auto_merge, "
                f"got review={review!r} and auto_merge={auto_merge!r}"
            )
        if self.keep_separate is not None:
            keep_separate = _check_threshold(self.keep_separate, name="DecisionBands.keep_separate")
            object.__setattr__(self, "keep_separate", keep_separate)
            if keep_separate >= review:
                raise ValueError(
                    "DecisionBands needs keep_separate < review, "
                    f"got keep_separate={keep_separate!r} and review={review!r}"
                )

    def band_names(self) -> tuple[str, ...]:
        """The enabled band names, highest probabilities first (``keep_separate`` only when set)."""
        return BAND_NAMES if self.keep_separate is not None else BAND_NAMES[:3]

    def band_of(self, probability: float) -> str:
        """The band of one probability; raises ValueError for NaN or values outside [0, 1]."""
        p = _check_threshold(probability, name="probability")
        if p > self.auto_merge:
            return AUTO_MERGE
        if p >= self.review:
            return REVIEW_HIGH_PRIORITY
        if self.keep_separate is not None and p < self.keep_separate:
            return KEEP_SEPARATE
        return NEEDS_REVIEW

    def bounds(self, band: str) -> tuple[float, float]:
        """``(lower, upper)`` of a band; which ends are inclusive follows the class docstring."""
        low = 0.0 if self.keep_separate is None else self.keep_separate
        table = {
            AUTO_MERGE: (self.auto_merge, 1.0),
            REVIEW_HIGH_PRIORITY: (self.review, self.auto_merge),
            NEEDS_REVIEW: (low, self.review),
        }
        if self.keep_separate is not None:
            table[KEEP_SEPARATE] = (0.0, self.keep_separate)
        if band not in table:
            raise ValueError(f"unknown or disabled band {band!r}; bands are {', '.join(self.band_names())}")
        return table[band]

    def _masks(self, probabilities: np.ndarray) -> dict[str, np.ndarray]:
        """Boolean membership arrays per enabled band (same rules as :meth:`band_of`)."""
        p = probabilities
        auto = p > self.auto_merge
        review = (p >= self.review) & ~auto
        below = p < self.review
        if self.keep_separate is None:
            return {AUTO_MERGE: auto, REVIEW_HIGH_PRIORITY: review, NEEDS_REVIEW: below}
        keep = p < self.keep_separate
        return {
            AUTO_MERGE: auto,
            REVIEW_HIGH_PRIORITY: review,
            NEEDS_REVIEW: below & ~keep,
            KEEP_SEPARATE: keep,
        }


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def expected_calibration_error(
    labels: Sequence[int], probabilities: Sequence[float], *, n_bins: int = 10
) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins of [0, 1].

    Bin ``i`` holds ``i/n_bins <= p < (i+1)/n_bins`` (the last bin also holds ``p == 1``).
    ECE = sum over non-empty bins of ``(bin size / n) * |mean(label) - mean(p)|``.

    Example:
        >>> expected_calibration_error([0, 0, 0, 1], [0.25, 0.25, 0.25, 0.25])
        0.0
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive whole number, got {n_bins!r}")
    y, p = _validate_pairs(labels, probabilities)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        total += in_bin.sum() / y.size * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(total)


def compute_pair_metrics(
    labels: Sequence[int], probabilities: Sequence[float], *, threshold: float = 0.5
) -> dict[str, float | int | None]:
    """Classification and calibration metrics of merge probabilities against human labels.

    A pair is predicted "merge" when ``p >= threshold``. Returns plain Python numbers:

    * ``accuracy``, ``precision``, ``recall``, ``f1`` -- at ``threshold``; precision (recall, f1) is
      0.0 when nothing is predicted positive (no true positive exists),
    * ``average_precision`` -- sklearn's, threshold-free; None when there is no positive label,
    * ``roc_auc`` -- None when only one class is present,
    * ``brier_score`` -- mean squared error of ``p``,
    * ``expected_calibration_error`` -- 10 equal-width bins, see :func:`expected_calibration_error`,
    * ``n``, ``positives`` (ints) and ``threshold``.

    Raises ValueError when the inputs differ in length, are empty, labels are not 0/1 or
    probabilities are not finite numbers in [0, 1].

    Example:
        >>> m = compute_pair_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1])
        >>> m["accuracy"], m["precision"], m["recall"], m["f1"], m["brier_score"]
        (0.5, 0.5, 0.5, 0.5, 0.185)
    """
    y, p = _validate_pairs(labels, probabilities)
    threshold = _check_threshold(threshold, name="threshold")
    predicted = p >= threshold
    positive = y == 1
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    fn = int((~predicted & positive).sum())
    tn = int((~predicted & ~positive).sum())
    n = int(y.size)
    positives = int(positive.sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    both_classes = 0 < positives < n
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "average_precision": float(average_precision_score(y, p)) if positives else None,
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else None,
        "brier_score": float(np.mean((p - y) ** 2)),
        "expected_calibration_error": expected_calibration_error(y, p),
        "n": n,
        "positives": positives,
        "threshold": threshold,
    }


# --------------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------------


def clopper_pearson_bounds(
    successes: Any, trials: Any, *, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Clopper–Pearson (exact binomial) bounds of a proportion ``successes / trials``.

    Returns ``(lower, upper)``: the true proportion is at least ``lower`` with probability ``confidence``,
    and at most ``upper`` with the same probability (each bound one-sided). Works element-wise on arrays;
    ``trials`` must be positive. Uses the beta-distribution form of the exact interval (scipy).

    Example:
        >>> lower, upper = clopper_pearson_bounds(299, 299, confidence=0.95)
        >>> round(float(lower[0]), 4)
        0.99
        >>> lower, upper = clopper_pearson_bounds(0, 299, confidence=0.95)
        >>> round(float(upper[0]), 4)
        0.01
    """
    from scipy.stats import beta

    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    k = np.atleast_1d(np.asarray(successes, dtype=np.float64))
    n = np.atleast_1d(np.asarray(trials, dtype=np.float64))
    if (n <= 0).any() or (k < 0).any() or (k > n).any():
        raise ValueError("clopper_pearson_bounds needs 0 <= successes <= trials and trials > 0")
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha, k, n - k + 1), 0.0)
        upper = np.where(k < n, beta.ppf(confidence, k + 1, n - k), 1.0)
    return lower, upper


def _check_rate(value: Any, *, name: str, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0) or (not allow_zero and value == 0.0):
        raise ValueError(f"{name} must be in {'[0' if allow_zero else '(0'}, 1], got {value!r}")
    return value


def _check_count(value: Any, *, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _check_confidence(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.5 <= value < 1:
        raise ValueError(f"confidence must be None or in [0.5, 1), got {value!r}")
    return float(value)


def learn_auto_merge_threshold(
    labels: Sequence[int],
    probabilities: Sequence[float],
    *,
    target_precision: float = 0.99,
    min_auto_merged: int = 1,
    confidence: float | None = None,
) -> float | None:
    """Learn the auto-merge threshold from held-out human decisions.

    Candidates are the distinct observed probabilities. A candidate ``t`` *qualifies* when the pairs
    with ``p > t`` -- exactly the pairs ``DecisionBands(auto_merge=t)`` puts in ``auto_merge``, so a pair
    with ``p == t`` is not auto-merged -- number at least ``min_auto_merged`` and their precision (share of
    human label 1) reaches ``target_precision``: the observed precision when ``confidence`` is None, or
    its one-sided Clopper–Pearson *lower* bound at ``confidence`` (e.g. 0.95) otherwise -- the
    conservative rule, so that a threshold learned on validation still holds on new pairs. Returns the
    smallest qualifying ``t`` (the one auto-merging the most pairs), or None when none qualifies.

    With a confidence bound, a high target needs many pairs: with no error at all, a lower bound of 0.99
    at 95% confidence takes 299 auto-merged pairs. Qualifying thresholds need not be contiguous; precision
    is measured over the whole auto-merged set. The result may be below ``DecisionBands.review``; the caller
    decides how to combine them.

    Example:
        >>> learn_auto_merge_threshold([1, 1, 0, 1, 0], [0.99, 0.98, 0.97, 0.96, 0.2])
        0.97
        >>> learn_auto_merge_threshold([1, 1, 0, 1, 0], [0.99, 0.98, 0.97, 0.96, 0.2], target_precision=0.75)
        0.2
        >>> learn_auto_merge_threshold([0, 1], [0.9, 0.1]) is None
        True
        >>> labels, probs = [1] * 40 + [0] * 60, [0.9 + i / 1000 for i in range(40)] + [0.1] * 60
        >>> learn_auto_merge_threshold(labels, probs, target_precision=0.95)
        0.1
        >>> learn_auto_merge_threshold(labels, probs, target_precision=0.95, confidence=0.95) is None
        True
    """
    y, p = _validate_pairs(labels, probabilities)
    target_precision = _check_rate(target_precision, name="target_precision", allow_zero=False)
    min_auto_merged = _check_count(min_auto_merged, name="min_auto_merged")
    confidence = _check_confidence(confidence)

    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    pos_cumulative = np.concatenate(([0], np.cumsum(y[order])))
    candidates = np.unique(p_sorted)  # ascending
    first_above = np.searchsorted(p_sorted, candidates, side="right")  # index of first p > t
    count_above = p.size - first_above
    positives_above = pos_cumulative[-1] - pos_cumulative[first_above]
    usable = count_above >= min_auto_merged
    if not usable.any():
        return None
    count, positives = count_above[usable], positives_above[usable]
    if confidence is None:
        precision = positives / count
    else:
        precision, _ = clopper_pearson_bounds(positives, count, confidence=confidence)
    qualifying = np.flatnonzero(precision >= target_precision)
    return float(candidates[usable][qualifying[0]]) if qualifying.size else None


def learn_keep_separate_threshold(
    labels: Sequence[int],
    probabilities: Sequence[float],
    *,
    max_duplicate_rate: float = 0.01,
    min_kept_separate: int = 1,
    confidence: float | None = None,
) -> float | None:
    """Learn the keep-separate threshold from held-out human decisions: the mirror of
    :func:`learn_auto_merge_threshold`.

    Candidates are the distinct observed probabilities. A candidate ``t`` *qualifies* when the pairs with
    ``p < t`` -- exactly the pairs ``DecisionBands(keep_separate=t)`` keeps separate -- number at least
    ``min_kept_separate`` and the share of true duplicates (human label 1) among them is at most
    ``max_duplicate_rate``: the observed share when ``confidence`` is None, or its one-sided
    Clopper–Pearson *upper* bound at ``confidence`` otherwise. Returns the largest qualifying ``t`` (the
    one keeping the most pairs apart), or None when none qualifies.

    Example:
        >>> learn_keep_separate_threshold([0, 0, 1, 0, 1], [0.05, 0.1, 0.2, 0.3, 0.9])
        0.2
        >>> learn_keep_separate_threshold([0, 0, 1, 0, 1], [0.05, 0.1, 0.2, 0.3, 0.9], max_duplicate_rate=0.34)
        0.9
        >>> labels, probs = [0] * 400 + [1] * 50, [i / 1000 for i in range(400)] + [0.9] * 50
        >>> learn_keep_separate_threshold(labels, probs, confidence=0.95)
        0.9
        >>> learn_keep_separate_threshold(labels[100:], probs[100:], confidence=0.95)
        0.9
        >>> learn_keep_separate_threshold(labels[200:], probs[200:], confidence=0.95) is None
        True
    """
    y, p = _validate_pairs(labels, probabilities)
    max_duplicate_rate = _check_rate(max_duplicate_rate, name="max_duplicate_rate", allow_zero=True)
    min_kept_separate = _check_count(min_kept_separate, name="min_kept_separate")
    confidence = _check_confidence(confidence)

    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    pos_cumulative = np.concatenate(([0], np.cumsum(y[order])))
    candidates = np.unique(p_sorted)  # ascending
    count_below = np.searchsorted(p_sorted, candidates, side="left")  # pairs with p < t
    usable = count_below >= min_kept_separate
    if not usable.any():
        return None
    count = count_below[usable]
    duplicates = pos_cumulative[count]
    if confidence is None:
        rate = duplicates / count
    else:
        _, rate = clopper_pearson_bounds(duplicates, count, confidence=confidence)
    qualifying = np.flatnonzero(rate <= max_duplicate_rate)
    return float(candidates[usable][qualifying[-1]]) if qualifying.size else None


def fit_best_threshold(labels: Sequence[int], scores: Sequence[float], *, metric: str = "f1") -> float:
    """Threshold on a raw score (e.g. cosine similarity) maximising ``metric`` ("f1" or "accuracy").

    A pair is predicted "merge" when ``score >= threshold``. Candidates are the lowest observed score
    (everything merges), the midpoints between consecutive distinct scores, and the float just above
    the highest score (nothing merges). Ties go to the highest threshold (the conservative choice).
    Scores need not lie in [0, 1] but must be finite; both classes must be present.

    Example:
        >>> fit_best_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9])
        0.5
    """
    if metric not in FIT_METRICS:
        raise ValueError(f"metric must be one of {', '.join(FIT_METRICS)}, got {metric!r}")
    y, s = _validate_pairs(labels, scores, name="scores", unit_interval=False)
    positives = int(y.sum())
    if positives in (0, y.size):
        raise ValueError("fit_best_threshold needs both merge (1) and keep-separate (0) labels")

    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    pos_cumulative = np.concatenate(([0], np.cumsum(y[order])))
    distinct = np.unique(s_sorted)
    candidates = np.concatenate(
        ([distinct[0]], (distinct[:-1] + distinct[1:]) / 2.0, [np.nextafter(distinct[-1], np.inf)])
    )
    # Predicting merge for score >= candidate i is the same as score >= distinct[i] (none for the last).
    first_at_or_above = np.concatenate((np.searchsorted(s_sorted, distinct, side="left"), [s.size]))
    predicted = s.size - first_at_or_above
    tp = positives - pos_cumulative[first_at_or_above]
    fp = predicted - tp
    fn = positives - tp
    if metric == "f1":
        values = 2 * tp / (2 * tp + fp + fn)
    else:
        tn = (y.size - positives) - fp
        values = (tp + tn) / y.size
    best = np.flatnonzero(values == values.max())[-1]
    return float(candidates[best])


# --------------------------------------------------------------------------------------------------
# Band report
# --------------------------------------------------------------------------------------------------


def band_report(labels: Sequence[int], probabilities: Sequence[float], bands: DecisionBands) -> list[dict]:
    """One row per enabled band (auto_merge, review_high_priority, needs_review[, keep_separate]).

    Each row: ``band``, ``lower``, ``upper`` (see :meth:`DecisionBands.bounds`), ``count``,
    ``coverage`` (count / n), ``positives`` (human merges in the band) and ``precision``
    (positives / count; None for an empty band).

    Example:
        >>> rows = band_report([1, 0, 1], [0.99, 0.9, 0.1], DecisionBands())
        >>> [(r["band"], r["count"], r["precision"]) for r in rows]
        [('auto_merge', 1, 1.0), ('review_high_priority', 1, 0.0), ('needs_review', 1, 1.0)]
    """
    if not isinstance(bands, DecisionBands):
        raise ValueError(f"bands must be a DecisionBands, got {type(bands).__name__}")
    y, p = _validate_pairs(labels, probabilities)
    return band_report_from_masks(y, bands._masks(p), bands)


def band_report_from_masks(
    labels: np.ndarray, masks: Mapping[str, np.ndarray], bands: DecisionBands
) -> list[dict]:
    """Like :func:`band_report`, from each band's membership mask (e.g. of thresholds cross-validated fold by
    fold); a band ``bands`` does not enable gets bounds (0, 0)."""
    y = np.asarray(labels)
    rows: list[dict] = []
    for band in BAND_NAMES:
        mask = masks.get(band)
        if mask is None:
            continue
        lower, upper = bands.bounds(band) if band in bands.band_names() else (0.0, 0.0)
        count = int(mask.sum())
        positives = int(y[mask].sum())
        rows.append(
            {
                "band": band,
                "lower": lower,
                "upper": upper,
                "count": count,
                "coverage": count / y.size,
                "positives": positives,
                "precision": positives / count if count else None,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------


def bootstrap_average_precision_difference(
    labels: Sequence[int],
    candidate: Sequence[float],
    reference: Sequence[float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap of ``AP(candidate) - AP(reference)`` on the same labelled pairs.

    Pairs are resampled with replacement (the same indices for both models); resamples with a single class
    are drawn again. Returns the point difference, the one-sided lower bound at ``confidence`` (the
    ``1 - confidence`` quantile), the upper bound at the same level, and the share of resamples in which the
    candidate was better. A small test split gives a wide interval: the lower bound is what a gate should
    trust, not the point difference.

    Example:
        >>> labels = [1, 0] * 20
        >>> good = [0.9, 0.1] * 20
        >>> bootstrap_average_precision_difference(labels, good, [0.5] * 40, resamples=200)["lower"] > 0.3
        True
    """
    y = _as_labels(labels)
    a = _as_scores(candidate, name="candidate", unit_interval=False)
    b = _as_scores(reference, name="reference", unit_interval=False)
    if not (len(y) == len(a) == len(b)):
        raise ValueError(f"lengths differ: {len(y)} labels, {len(a)} candidate and {len(b)} reference scores")
    if len(set(y.tolist())) < 2:
        raise ValueError("a bootstrap of average precision needs both classes among the labels")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    differences = []
    while len(differences) < resamples:
        index = rng.integers(0, len(y), len(y))
        sample = y[index]
        if sample.min() == sample.max():
            continue
        differences.append(
            average_precision_score(sample, a[index]) - average_precision_score(sample, b[index])
        )
    values = np.asarray(differences)
    return {
        "difference": float(average_precision_score(y, a) - average_precision_score(y, b)),
        "lower": float(np.quantile(values, 1 - confidence)),
        "upper": float(np.quantile(values, confidence)),
        "confidence": confidence,
        "share_better": float(np.mean(values > 0)),
        "resamples": resamples,
    }


def bootstrap_mean_difference(
    candidate: Sequence[float],
    reference: Sequence[float],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap (``scipy.stats.bootstrap``, percentile) of the mean per-item difference
    ``candidate - reference`` — e.g. nDCG@10 per held-out query. Returns the point difference, the
    one-sided lower and upper bounds at ``confidence`` and the share of items where the candidate is better.

    Example:
        >>> result = bootstrap_mean_difference([0.9, 0.8, 0.7, 0.9] * 10, [0.5, 0.6, 0.7, 0.4] * 10)
        >>> round(result["difference"], 3), result["lower"] > 0.2
        (0.275, True)
    """
    from scipy.stats import bootstrap

    a = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two lists of the same length ({a.shape} vs {b.shape})")
    if len(a) < 2:
        raise ValueError("a paired bootstrap needs at least two items")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    differences = a - b
    if np.ptp(differences) == 0:
        lower = upper = float(differences[0])
    else:
        interval = bootstrap(
            (differences,),
            np.mean,
            n_resamples=resamples,
            confidence_level=2 * confidence - 1,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        lower, upper = float(interval.low), float(interval.high)
    return {
        "difference": float(differences.mean()),
        "lower": lower,
        "upper": upper,
        "confidence": confidence,
        "share_better": float(np.mean(differences > 0)),
        "share_worse": float(np.mean(differences < 0)),
        "items": int(len(a)),
        "resamples": resamples,
    }


# --------------------------------------------------------------------------------------------------
# Plots and markdown
# --------------------------------------------------------------------------------------------------


def precision_recall_plot_png(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], *, title: str
) -> bytes:
    """PNG of one precision-recall curve per model (``name -> (labels, probabilities)``), AP in the legend.

    Uses ``matplotlib.figure.Figure`` with the Agg canvas directly, so pyplot's global state and the
    configured backend are left alone. A model without positive labels has no PR curve; it is listed
    in the legend as such. Raises ValueError when ``curves`` is empty or a model's inputs are invalid.
    """
    if not curves:
        raise ValueError("precision_recall_plot_png needs at least one curve")
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, (labels, probabilities) in curves.items():
        y, p = _validate_pairs(labels, probabilities)
        if not y.any():
            axes.plot([], [], label=f"{name} (no positive pairs: curve undefined)")
            continue
        precision, recall, _ = precision_recall_curve(y, p)
        ap = average_precision_score(y, p)
        axes.step(recall, precision, where="post", label=f"{name} (AP = {ap:.3f}, n = {y.size})")
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("Recall")
    axes.set_ylabel("Precision")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def png_markdown(png: bytes, *, alt: str) -> str:
    """Markdown image with a base64 ``data:`` URI (how Dagster markdown metadata shows a plot).

    Example:
        >>> png_markdown(PNG_SIGNATURE, alt="PR curve")
        '![PR curve](data:image/png;base64,iVBORw0KGgo=)'
    """
    if not bytes(png[:8]) == PNG_SIGNATURE:
        raise ValueError("png_markdown expects PNG bytes (they must start with the PNG signature)")
    safe_alt = " ".join(alt.replace("[", "(").replace("]", ")").split())
    return f"![{safe_alt}](data:image/png;base64,{base64.b64encode(bytes(png)).decode('ascii')})"


def _format_cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3f}"
    return _escape(str(value))


def _escape(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _table(header: Sequence[str], align_right: Sequence[bool], body: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if right else "---" for right in align_right) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def metrics_markdown_table(rows: Mapping[str, Mapping[str, float | None]], *, columns: Sequence[str]) -> str:
    """Markdown table with one row per model and one column per metric.

    Floats are shown with 3 decimals, ints as ints, None (or a missing metric) as "–".

    Example:
        >>> rows = {"base": {"f1": 0.81234, "roc_auc": None}}
        >>> print(metrics_markdown_table(rows, columns=["f1", "roc_auc"]))
        | model | f1 | roc_auc |
        |---|---:|---:|
        | base | 0.812 | – |
    """
    if not columns:
        raise ValueError("metrics_markdown_table needs at least one column")
    body = [
        [_escape(str(model))] + [_format_cell(metrics.get(column)) for column in columns]
        for model, metrics in rows.items()
    ]
    return _table(["model", *(_escape(str(c)) for c in columns)], [False] + [True] * len(columns), body)


_INTERVAL_BRACKETS = {
    AUTO_MERGE: ("(", "]"),
    REVIEW_HIGH_PRIORITY: ("[", "]"),
    NEEDS_REVIEW: ("[", ")"),
    KEEP_SEPARATE: ("[", ")"),
}


def band_report_markdown(report: list[dict]) -> str:
    """Markdown table of a :func:`band_report`.

    Columns: band, probability range (interval notation), count, coverage, positives, precision.

    Example:
        >>> print(band_report_markdown(band_report([1, 0], [0.99, 0.5], DecisionBands())))
        | band | probability | count | coverage | positives | precision |
        |---|---|---:|---:|---:|---:|
        | auto_merge | (0.950, 1.000] | 1 | 0.500 | 1 | 1.000 |
        | review_high_priority | [0.850, 0.950] | 0 | 0.000 | 0 | – |
        | needs_review | [0.000, 0.850) | 1 | 0.500 | 0 | 0.000 |
    """
    body = []
    for row in report:
        opening, closing = _INTERVAL_BRACKETS.get(row["band"], ("[", "]"))
        interval = f"{opening}{row['lower']:.3f}, {row['upper']:.3f}{closing}"
        body.append(
            [_escape(str(row["band"])), interval]
            + [_format_cell(row.get(key)) for key in ("count", "coverage", "positives", "precision")]
        )
    header = ["band", "probability", "count", "coverage", "positives", "precision"]
    return _table(header, [False, False, True, True, True, True], body)
