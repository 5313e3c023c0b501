from __future__ import annotations

import numpy as np
import pytest

from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
from fine_tuning_assets.tasks.dedup.review_queue import (
    build_review_queue,
    informativeness,
    pending_pairs,
    queue_order,
)


def test_pairs_near_the_threshold_and_where_recipes_disagree_come_first():
    probabilities = [0.02, 0.5, 0.97, 0.7, 0.3]
    assert queue_order(probabilities, threshold=0.5).tolist() == [1, 3, 4, 2, 0]
    # A confident pair the recipes disagree about moves up past an unsure one they agree on.
    recipes = [[0.02, 0.5, 0.1, 0.7, 0.3]]
    assert queue_order(probabilities, threshold=0.5, recipe_probabilities=recipes).tolist()[:2] == [1, 2]
    scores = informativeness(probabilities, threshold=0.5)
    assert scores[1] == pytest.approx(1.0) and scores[2] == pytest.approx(0.06)
    with pytest.raises(ValueError, match="threshold"):
        informativeness(probabilities, threshold=1.0)
    with pytest.raises(ValueError, match="one probability per pair"):
        informativeness(probabilities, recipe_probabilities=[[0.1]])


def test_label_issues_come_before_pending_pairs_and_every_pending_pair_is_listed():
    batch = DecisionBatch(
        insights=tuple(Insight(i, f"statement {i}") for i in ("a", "b", "c", "d")),
        clusters=(
            MergeCluster(
                "p1", "pending", None, None, tuple(ClusterMember(i, 0.9, False) for i in ("a", "b", "c"))
            ),
        ),
    )
    pending = pending_pairs(batch)
    assert [(row[0], row[1], row[2]) for row in pending] == [
        ("p1", "a", "b"),
        ("p1", "a", "c"),
        ("p1", "b", "c"),
    ]
    issue = {
        "kind": "transitive_contradiction",
        "insight_a_id": "x",
        "insight_b_id": "y",
        "evidence": "x = z = y",
    }
    queue = build_review_queue(pending, probabilities=np.array([0.1, 0.55, 0.9]), label_issues=[issue])
    assert [item.kind for item in queue] == ["label_issue", "pending", "pending", "pending"]
    assert [(item.insight_a_id, item.insight_b_id) for item in queue[1:]] == [
        ("a", "c"),
        ("a", "b"),
        ("b", "c"),
    ]
    assert queue[1].probability == 0.55 and "transitive contradiction" in queue[0].why
