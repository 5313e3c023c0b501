from __future__ import annotations

import pytest

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.tasks.dedup.records import DecisionBatch, Insight
from fine_tuning_assets.tasks.dedup.store import FeedbackStore, FeedbackStoreError
from fine_tuning_assets_tests.conftest import cluster, insight, small_batch


def test_add_decisions_writes_everything_and_counts(store):
    summary = store.add_decisions(small_batch(), kind="test", source="unit")
    assert (summary.cluster_count, summary.decided_cluster_count, summary.new_insight_count) == (3, 2, 6)
    counts = store.counts()
    assert counts["insights"] == 6
    assert (counts["clusters_approved"], counts["clusters_rejected"], counts["clusters_pending"]) == (1, 1, 1)
    assert counts["members"] == 7
    assert store.get_cluster("c1").members[2].selected is False


def test_a_batch_with_any_problem_writes_nothing_and_lists_every_problem(store):
    store.add_decisions(small_batch(), kind="test", source="unit")
    bad = DecisionBatch(
        insights=(Insight("i1", "a different statement for i1"), insight(7), insight(8)),
        clusters=(
            cluster("c1", "approved", [("i7", True), ("i8", True)]),  # cluster id taken
            cluster("c9", "approved", [("i7", True), ("i8", False)]),  # approval with one selected
            cluster("c10", "rejected", [("i7", False), ("i99", False)]),  # unknown insight
        ),
    )
    with pytest.raises(FeedbackStoreError) as raised:
        store.add_decisions(bad, kind="test", source="bad.csv")
    message = str(raised.value)
    assert "nothing was written" in message
    assert "'i1' already exists in the store with another statement" in message
    assert "cluster 'c1' already exists" in message
    assert "'c9': an approved cluster needs at least 2 selected members" in message
    assert "unknown insight 'i99'" in message
    assert store.counts()["insights"] == 6 and store.counts()["clusters"] == 3


def test_existing_insights_are_reused_by_a_later_batch(store):
    store.add_decisions(small_batch(), kind="test", source="unit")
    later = DecisionBatch(
        insights=(insight(1), insight(9)), clusters=(cluster("c4", "approved", [("i1", True), ("i9", True)]),)
    )
    summary = store.add_decisions(later, kind="test", source="unit")
    assert summary.new_insight_count == 1
    assert store.counts()["insights"] == 7


def test_record_decision_on_a_pending_cluster(store):
    store.add_decisions(small_batch(), kind="test", source="unit")
    watermark = store.latest_recorded_at()
    decided = store.record_decision("c3", status="approved", reviewer="bo", selected_insight_ids=["i5", "i6"])
    assert decided.status == "approved" and decided.reviewer == "bo" and decided.decided_at is not None
    assert all(m.selected for m in decided.members)
    assert store.count_decisions_recorded_after(watermark) == 1
    assert store.counts()["clusters_pending"] == 0


@pytest.mark.parametrize(
    ("cluster_id", "kwargs", "message"),
    [
        ("c1", {"status": "rejected"}, "already approved"),
        ("nope", {"status": "rejected"}, "no cluster 'nope'"),
        ("c3", {"status": "approved", "selected_insight_ids": ["i5"]}, "at least two members"),
        ("c3", {"status": "approved", "selected_insight_ids": ["i5", "i1"]}, "has no member(s) i1"),
        ("c3", {"status": "rejected", "selected_insight_ids": ["i5"]}, "selects no members"),
        ("c3", {"status": "maybe"}, "'approved' or 'rejected'"),
    ],
)
def test_record_decision_refuses_bad_decisions(store, cluster_id, kwargs, message):
    store.add_decisions(small_batch(), kind="test", source="unit")
    with pytest.raises(FeedbackStoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.record_decision(cluster_id, reviewer="bo", **kwargs)
    assert store.get_cluster("c3").status == "pending"


def test_snapshot_is_reproducible_at_its_watermark(store):
    store.add_decisions(small_batch(), kind="test", source="unit")
    watermark = store.latest_recorded_at()
    store.record_decision("c3", status="rejected", reviewer="bo")
    old = store.snapshot(recorded_through=watermark)
    new = store.snapshot(recorded_through=store.latest_recorded_at())
    assert [c.id for c in old.decisions.clusters] == ["c1", "c2"]
    assert [c.id for c in new.decisions.clusters] == ["c1", "c2", "c3"]
    assert store.count_decisions_recorded_after(watermark) == 1
    assert {i.id for i in old.decisions.insights} == {"i1", "i2", "i3", "i4", "i5"}


def test_insight_metadata_round_trips(store):
    batch = DecisionBatch(
        insights=(insight(1, confidence=0.8, evidence_type="rct", source="PubMed 1", extra="x"), insight(2)),
        clusters=(cluster("c1", "approved", [("i1", True), ("i2", True)]),),
    )
    store.add_decisions(batch, kind="test", source="unit")
    assert store.insights(["i1"])["i1"].metadata == {
        "confidence": 0.8,
        "evidence_type": "rct",
        "source": "PubMed 1",
        "extra": "x",
    }


def test_feedback_store_on_postgres(postgres_url):
    store = FeedbackStore(open_database(postgres_url))
    store.add_decisions(small_batch(), kind="test", source="unit")
    store.record_decision("c3", status="approved", reviewer="bo", selected_insight_ids=["i5", "i6"])
    assert store.counts()["clusters_approved"] == 2
    assert len(store.snapshot(recorded_through=None).decisions.clusters) == 3
