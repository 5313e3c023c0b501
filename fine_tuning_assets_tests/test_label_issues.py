from __future__ import annotations

import numpy as np

from fine_tuning_assets.tasks.dedup.demo import generate_demo_decisions_with_kinds
from fine_tuning_assets.tasks.dedup.examples import PairExample
from fine_tuning_assets.tasks.dedup.label_issues import (
    CONFLICTING_DECISIONS,
    SUSPECTED_MISLABEL,
    TRANSITIVE_CONTRADICTION,
    find_label_issues_in,
    find_suspected_mislabels,
    find_transitive_contradictions,
)
from fine_tuning_assets.tasks.dedup.training_set import TrainingSetConfig, build_training_set


def pair(a: str, b: str, label: int) -> PairExample:
    return PairExample(a, b, f"text {a}", f"text {b}", label, "approved_selected", "c", None, None)


def test_the_label_issue_check_lists_every_contradiction_planted_in_the_demo():
    batch, kinds = generate_demo_decisions_with_kinds()
    planted = {
        tuple(sorted(m.insight_id for m in cluster.members))
        for cluster in batch.clusters
        if kinds[cluster.id] == "conflicting_decision"
    }
    assert len(planted) >= 16
    training_set = build_training_set(
        batch,
        recorded_through=None,
        config=TrainingSetConfig(low_similarity_ratio=0.0),
        similarity_fn=lambda a, b: np.zeros(len(a)),
    )
    issues = find_label_issues_in(
        training_set.examples, training_set.conflicts, out_of_fold_probabilities=None
    )
    listed = {issue.key for issue in issues}
    assert planted <= listed, f"not listed: {sorted(planted - listed)}"
    conflicts = [i for i in issues if i.kind == CONFLICTING_DECISIONS]
    assert {i.key for i in conflicts} == planted
    assert all("→" in i.evidence and i.text_a and i.text_b for i in conflicts)


def test_a_chain_of_merges_contradicting_a_keep_separate_decision_is_listed_with_the_chain():
    examples = [pair("a", "b", 1), pair("b", "c", 1), pair("c", "d", 1), pair("a", "d", 0), pair("d", "e", 0)]
    [issue] = find_transitive_contradictions(examples)
    assert issue.kind == TRANSITIVE_CONTRADICTION and issue.key == ("a", "d")
    assert issue.evidence == "a = b = c = d merged, but a ≠ d kept separate"
    assert find_transitive_contradictions([pair("a", "b", 1), pair("a", "c", 0)]) == []


def test_suspected_mislabels_are_the_pairs_a_model_is_confidently_against():
    examples = [pair(f"a{i}", f"b{i}", i % 2) for i in range(60)]
    probabilities = np.where(np.arange(60) % 2 == 1, 0.85, 0.15)
    probabilities[[4, 7]] = [0.96, 0.03]  # a "keep separate" the model is sure merges, and the reverse
    probabilities[10] = 0.6  # against the label, but not confidently: not listed
    issues = find_suspected_mislabels(examples, probabilities)
    assert [i.key for i in issues] == [("a7", "b7"), ("a4", "b4")] or [i.key for i in issues] == [
        ("a4", "b4"),
        ("a7", "b7"),
    ]
    assert all(i.kind == SUSPECTED_MISLABEL and i.probability is not None for i in issues)
