"""The review queue: pending pairs ordered by how much a reviewer's decision would teach the model.

A decision teaches most where the model is unsure (its probability near the decision threshold) and where its
recipes disagree. Suspected label errors (:mod:`fine_tuning_assets.tasks.dedup.label_issues`) come first: a wrong
decision already in the training data costs more than an undecided pair.

Example:
    >>> scores = informativeness([0.5, 0.95, 0.1, 0.6], threshold=0.5)
    >>> [round(float(s), 2) for s in scores]
    [1.0, 0.1, 0.2, 0.8]
    >>> order = queue_order([0.5, 0.95, 0.1, 0.6], threshold=0.5, recipe_probabilities=[[0.5, 0.9, 0.1, 0.1]])
    >>> order.tolist()
    [3, 0, 2, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from fine_tuning_assets.tasks.dedup.records import DecisionBatch

#: How much the spread of the recipes' probabilities adds to a pair's informativeness (per unit of spread).
DISAGREEMENT_WEIGHT = 1.0


def informativeness(
    probabilities: Sequence[float],
    *,
    threshold: float = 0.5,
    recipe_probabilities: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """How much deciding each pair would teach the model, in [0, 2]: uncertainty (1 at the decision threshold,
    falling linearly to 0 at probability 0 or 1) plus ``DISAGREEMENT_WEIGHT`` times the spread (max - min) of
    the probabilities the model's recipes give it (``recipe_probabilities``: one sequence per recipe)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    distance = np.where(p >= threshold, (p - threshold) / (1 - threshold), (threshold - p) / threshold)
    score = 1.0 - np.clip(distance, 0.0, 1.0)
    if len(recipe_probabilities):
        recipes = np.asarray(recipe_probabilities, dtype=np.float64)
        if recipes.ndim != 2 or recipes.shape[1] != p.size:
            raise ValueError("recipe_probabilities must hold one probability per pair for each recipe")
        everything = np.vstack([recipes, p])
        score = score + DISAGREEMENT_WEIGHT * (everything.max(axis=0) - everything.min(axis=0))
    return score


def queue_order(
    probabilities: Sequence[float],
    *,
    threshold: float = 0.5,
    recipe_probabilities: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """Indices of the pairs, most informative first (ties keep the input order)."""
    scores = informativeness(probabilities, threshold=threshold, recipe_probabilities=recipe_probabilities)
    return np.argsort(-scores, kind="stable")


@dataclass(frozen=True)
class QueueItem:
    """One entry of the review queue."""

    kind: str  # "label_issue" (re-check a decision) or "pending" (decide a proposed pair)
    cluster_id: str | None
    insight_a_id: str
    insight_b_id: str
    text_a: str
    text_b: str
    probability: float | None
    informativeness: float | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pending_pairs(batch: DecisionBatch) -> list[tuple[str, str, str, str, str]]:
    """``(cluster_id, insight_a_id, insight_b_id, text_a, text_b)`` for every two members of a pending cluster."""
    statements = {i.id: i.statement for i in batch.insights}
    rows = []
    for cluster in batch.clusters:
        if cluster.is_decided:
            continue
        members = sorted(m.insight_id for m in cluster.members)
        for a, b in combinations(members, 2):
            rows.append((cluster.id, a, b, statements[a], statements[b]))
    return rows


def build_review_queue(
    pending: Sequence[tuple[str, str, str, str, str]],
    *,
    probabilities: Sequence[float],
    recipe_probabilities: Sequence[Sequence[float]] = (),
    threshold: float = 0.5,
    label_issues: Sequence[dict[str, Any]] = (),
) -> list[QueueItem]:
    """Label issues first (in the order found: conflicts, contradictions, suspected mislabels), then the
    pending pairs, most informative first."""
    items = [
        QueueItem(
            kind="label_issue",
            cluster_id=None,
            insight_a_id=issue["insight_a_id"],
            insight_b_id=issue["insight_b_id"],
            text_a=issue.get("text_a", ""),
            text_b=issue.get("text_b", ""),
            probability=issue.get("probability"),
            informativeness=None,
            why=f"{issue['kind'].replace('_', ' ')}: {issue['evidence']}",
        )
        for issue in label_issues
    ]
    if len(pending):
        scores = informativeness(
            probabilities, threshold=threshold, recipe_probabilities=recipe_probabilities
        )
        recipes = np.asarray(recipe_probabilities, dtype=np.float64) if len(recipe_probabilities) else None
        for index in queue_order(
            probabilities, threshold=threshold, recipe_probabilities=recipe_probabilities
        ):
            cluster_id, a, b, text_a, text_b = pending[index]
            spread = (
                f", recipes {float(recipes[:, index].min()):.2f}–{float(recipes[:, index].max()):.2f}"
                if recipes is not None
                else ""
            )
            items.append(
                QueueItem(
                    kind="pending",
                    cluster_id=cluster_id,
                    insight_a_id=a,
                    insight_b_id=b,
                    text_a=text_a,
                    text_b=text_b,
                    probability=round(float(probabilities[index]), 4),
                    informativeness=round(float(scores[index]), 4),
                    why=f"P(merge) {float(probabilities[index]):.2f} vs threshold {threshold:.2f}{spread}",
                )
            )
    return items
