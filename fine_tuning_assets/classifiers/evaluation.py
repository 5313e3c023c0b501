"""Judging classifiers on held-out human labels: per-field metrics, confusion matrices, ranking metrics of a
binary field, confidence-band coverage, the zero-shot base model, and the paired bootstrap the gate uses.

Example:
    >>> m = field_metrics(["BUG", "BUG", "OTHER"], ["BUG", "OTHER", "OTHER"], labels=["BUG", "OTHER"])
    >>> m["accuracy"], round(m["macro_f1"], 3)
    (0.6667, 0.667)
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fine_tuning_assets.classifiers.model import encode, softmax


def field_metrics(truth: Sequence[str], predicted: Sequence[str], *, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support of one field's predictions."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    present = sorted(set(labels) | set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=present, zero_division=0
    )
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4) if len(truth) else None,
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)), 4
        )
        if len(truth)
        else None,
        "per_class": [
            {
                "label": lab,
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for lab, p, r, f, s in zip(present, precision, recall, f1, support, strict=True)
        ],
    }


def ranking_metrics(
    positive: Sequence[bool],
    scores: Sequence[float],
    *,
    ks: Sequence[int] = (10, 50),
    votes_positive: Sequence[int] | None = None,
    votes_total: Sequence[int] | None = None,
) -> dict[str, float | None]:
    """Of a binary field ranked by ``scores``: the average precision of the positive label, precision@k (share
    of positives among the top k) and, with votes, the save rate among the top k (positive actions over all
    actions on those items)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    out: dict[str, float | None] = {
        "average_precision": round(float(average_precision_score(y, s)), 4)
        if y.any() and not y.all()
        else None,
        "base_rate": round(float(y.mean()), 4) if len(y) else None,
    }
    for k in ks:
        top = order[: min(k, len(order))]
        out[f"precision@{k}"] = round(float(y[top].mean()), 4) if len(top) else None
        if votes_positive is not None and votes_total is not None:
            vp, vt = np.asarray(votes_positive)[top], np.asarray(votes_total)[top]
            out[f"save_rate@{k}"] = round(float(vp.sum() / vt.sum()), 4) if vt.sum() else None
    return out


def band_coverage(
    truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float], *, threshold: float | None
) -> dict[str, Any]:
    """How a field's confidence threshold splits held-out examples: the share applied without a human
    (coverage), their accuracy, and the accuracy of what is sent to a human."""
    correct = np.asarray([t == p for t, p in zip(truth, predicted, strict=True)], dtype=bool)
    p = np.asarray(confidence, dtype=np.float64)
    automatic = p > threshold if threshold is not None else np.zeros(len(p), dtype=bool)
    return {
        "threshold": threshold,
        "coverage": round(float(automatic.mean()), 4) if len(p) else 0.0,
        "automatic": int(automatic.sum()),
        "accuracy_automatic": round(float(correct[automatic].mean()), 4) if automatic.any() else None,
        "accuracy_to_humans": round(float(correct[~automatic].mean()), 4) if (~automatic).any() else None,
    }


def check_band(band: Mapping[str, Any], *, target_accuracy: float | None) -> dict[str, Any]:
    """A field's band (:func:`band_coverage` on held-out examples) against the accuracy it was learned for:
    it ``holds`` unless the examples it applied have a lower accuracy (an empty band holds, and so does one
    whose target was not recorded). A band that does not hold is switched off for serving, like dedup's.

    Example:
        >>> check_band({"accuracy_automatic": 0.9}, target_accuracy=0.95)["holds"]
        False
        >>> check_band({"accuracy_automatic": None}, target_accuracy=0.95)["holds"]
        True
    """
    accuracy = band["accuracy_automatic"]
    holds = accuracy is None or target_accuracy is None or accuracy >= target_accuracy
    return {"target_accuracy": target_accuracy, **band, "holds": bool(holds)}


def _macro_f1_from_codes(truth: np.ndarray, predicted: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the labels present in ``truth`` (as sklearn's with ``labels=present``), vectorised."""
    matrix = np.bincount(truth * n_labels + predicted, minlength=n_labels * n_labels).reshape(
        n_labels, n_labels
    )
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted_count = matrix.sum(axis=0)
    denominator = support + predicted_count
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    present = support > 0
    return float(f1[present].mean()) if present.any() else 0.0


def bootstrap_label_metric_difference(
    truth: Sequence[str],
    candidate: Sequence[str],
    reference: Sequence[str],
    *,
    metric: str = "macro_f1",
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap of ``metric(candidate) - metric(reference)`` (``macro_f1`` or ``accuracy``) over
    the same held-out examples: the point difference, the one-sided lower and upper bounds at
    ``confidence`` and the share of resamples in which the candidate was better.

    Example:
        >>> truth = ["a", "b", "c"] * 30
        >>> result = bootstrap_label_metric_difference(truth, truth, ["a"] * 90, resamples=200)
        >>> result["lower"] > 0.4
        True
    """
    if not (len(truth) == len(candidate) == len(reference)):
        raise ValueError("truth, candidate and reference must have the same length")
    if len(truth) < 2:
        raise ValueError("a paired bootstrap needs at least two examples")
    codes = {label: i for i, label in enumerate(sorted(set(truth) | set(candidate) | set(reference)))}
    t = np.asarray([codes[x] for x in truth])
    a = np.asarray([codes[x] for x in candidate])
    b = np.asarray([codes[x] for x in reference])
    n_labels = len(codes)

    def value(index: np.ndarray, predicted: np.ndarray) -> float:
        if metric == "accuracy":
            return float(np.mean(t[index] == predicted[index]))
        if metric == "macro_f1":
            return _macro_f1_from_codes(t[index], predicted[index], n_labels)
        raise ValueError(f"unknown metric {metric!r}; use macro_f1 or accuracy")

    everything = np.arange(len(t))
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for r in range(resamples):
        index = rng.integers(0, len(t), len(t))
        differences[r] = value(index, a) - value(index, b)
    return {
        "difference": round(value(everything, a) - value(everything, b), 4),
        "lower": round(float(np.quantile(differences, 1 - confidence)), 4),
        "upper": round(float(np.quantile(differences, confidence)), 4),
        "confidence": confidence,
        "share_better": round(float(np.mean(differences > 0)), 4),
        "resamples": resamples,
        "items": len(t),
    }


def zero_shot_probabilities(
    model: Any,
    texts: Sequence[str],
    prompts: Mapping[str, str],
    *,
    temperature: float = 0.05,
    prompt_vectors: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """The base model as a classifier with no training: the softmax of a text's cosine similarity to each
    label's prompt (label → prompt), sharpened by ``temperature``. Returns the labels and the probabilities.
    ``prompt_vectors`` passes the prompts' embeddings (in ``prompts`` order) when the caller keeps them."""
    labels = list(prompts)
    label_vectors = (
        prompt_vectors if prompt_vectors is not None else encode(model, [prompts[lab] for lab in labels])
    )
    text_vectors = encode(model, texts)
    return labels, softmax((text_vectors @ label_vectors.T) / temperature)


def confusion_matrix_png(
    truth: Sequence[str], predicted: Sequence[str], *, labels: Sequence[str], title: str
) -> bytes:
    """PNG of the confusion matrix (rows: the human's label, columns: the model's), counts in the cells."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import confusion_matrix

    order = sorted(set(labels) | set(truth) | set(predicted))
    matrix = confusion_matrix(truth, predicted, labels=order)
    size = max(4.0, 0.6 * len(order) + 2)
    figure = Figure(figsize=(size + 1, size), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    axes.set_xticks(range(len(order)), order, rotation=45, ha="right")
    axes.set_yticks(range(len(order)), order)
    axes.set_xlabel("model")
    axes.set_ylabel("human")
    axes.set_title(title)
    peak = matrix.max() or 1
    for i in range(len(order)):
        for j in range(len(order)):
            axes.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                color="white" if matrix[i, j] > peak / 2 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
