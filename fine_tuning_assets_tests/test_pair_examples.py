from __future__ import annotations

from fine_tuning_assets.tasks.dedup.examples import pair_examples_from_clusters
from fine_tuning_assets_tests.conftest import cluster, insight

INSIGHTS = {f"i{i}": insight(i) for i in range(1, 10)}


def labelled(clusters):
    examples, conflicts = pair_examples_from_clusters(clusters, INSIGHTS)
    return {(e.insight_a_id, e.insight_b_id): (e.label, e.origin) for e in examples}, conflicts


def test_selected_members_of_an_approved_cluster_are_positives():
    pairs, _ = labelled([cluster("c1", "approved", [("i1", True), ("i2", True), ("i3", True)])])
    assert pairs == {
        ("i1", "i2"): (1, "approved_selected"),
        ("i1", "i3"): (1, "approved_selected"),
        ("i2", "i3"): (1, "approved_selected"),
    }


def test_deselected_members_are_negatives_against_selected_ones_only():
    pairs, _ = labelled(
        [cluster("c1", "approved", [("i1", True), ("i2", True), ("i3", False), ("i4", False)])]
    )
    assert pairs[("i1", "i2")] == (1, "approved_selected")
    assert pairs[("i1", "i3")] == (0, "approved_deselected")
    assert pairs[("i2", "i4")] == (0, "approved_deselected")
    assert ("i3", "i4") not in pairs  # two deselected members say nothing about each other


def test_every_pair_of_a_rejected_cluster_is_a_negative():
    pairs, _ = labelled([cluster("c1", "rejected", [("i1", False), ("i2", False), ("i3", False)])])
    assert set(pairs.values()) == {(0, "rejected_cluster")} and len(pairs) == 3


def test_pending_clusters_are_ignored():
    pairs, _ = labelled([cluster("c1", "pending", [("i1", False), ("i2", False)])])
    assert pairs == {}


def test_agreeing_decisions_collapse_without_a_conflict():
    pairs, conflicts = labelled(
        [
            cluster("c1", "rejected", [("i1", False), ("i2", False)], day=1),
            cluster("c2", "rejected", [("i1", False), ("i2", False)], day=2),
        ]
    )
    assert pairs == {("i1", "i2"): (0, "rejected_cluster")} and conflicts == []


def test_conflicting_decisions_are_reported_and_the_latest_wins():
    clusters = [
        cluster("c1", "approved", [("i1", True), ("i2", True)], day=1, reviewer="ana"),
        cluster("c2", "rejected", [("i1", False), ("i2", False)], day=5, reviewer="bo"),
        cluster("c3", "rejected", [("i3", False), ("i4", False)], day=1),
        cluster("c4", "approved", [("i3", True), ("i4", True)], day=9),
    ]
    pairs, conflicts = labelled(clusters)
    assert pairs[("i1", "i2")] == (0, "rejected_cluster")
    assert pairs[("i3", "i4")] == (1, "approved_selected")
    assert [(c.insight_a_id, c.resolved_label) for c in conflicts] == [("i1", 0), ("i3", 1)]
    assert "c1=merge (ana" in conflicts[0].describe() and "→ keep separate" in conflicts[0].describe()


def test_a_tie_between_conflicting_decisions_keeps_the_pair_separate():
    pairs, conflicts = labelled(
        [
            cluster("c1", "approved", [("i1", True), ("i2", True)], day=3),
            cluster("c2", "rejected", [("i1", False), ("i2", False)], day=3),
        ]
    )
    assert pairs[("i1", "i2")][0] == 0 and len(conflicts) == 1


def test_pair_similarity_is_the_lower_member_score():
    from fine_tuning_assets.tasks.dedup.records import ClusterMember, MergeCluster

    c = MergeCluster(
        "c",
        "approved",
        "a",
        cluster("x", "approved", []).decided_at,
        (ClusterMember("i1", 0.9, True), ClusterMember("i2", 0.7, True)),
    )
    examples, _ = pair_examples_from_clusters([c], INSIGHTS)
    assert examples[0].similarity == 0.7
