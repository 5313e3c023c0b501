"""Tests for the demo decision generator (pure Python, fast)."""

from __future__ import annotations

import doctest
import itertools
from collections import Counter
from datetime import UTC, datetime

import pytest

from fine_tuning_assets import demo_decisions
from fine_tuning_assets.decisions import DecisionBatch, MergeCluster
from fine_tuning_assets.demo_decisions import (
    CLAIM_FAMILIES,
    EVIDENCE_TYPES,
    MAX_CLUSTERS_PER_INSIGHT,
    MAX_COMPONENT_SIZE,
    REVIEWERS,
    connected_components,
    generate_demo_decisions,
    generate_demo_decisions_with_kinds,
    render_statement,
)

SEED = 7
OTHER_SEEDS = (0, 1, 42, 2026)


@pytest.fixture(scope="module")
def batch() -> DecisionBatch:
    return generate_demo_decisions(seed=SEED)


@pytest.fixture(scope="module")
def kinds() -> dict[str, str]:
    return generate_demo_decisions_with_kinds(seed=SEED)[1]


def _decided(batch: DecisionBatch) -> list[MergeCluster]:
    return [cluster for cluster in batch.clusters if cluster.is_decided]


def _pairs(cluster: MergeCluster, *, selected_only: bool) -> set[frozenset[str]]:
    ids = [member.insight_id for member in cluster.members if member.selected or not selected_only]
    return {frozenset(pair) for pair in itertools.combinations(ids, 2)}


def _conflicting_pairs(batch: DecisionBatch) -> set[frozenset[str]]:
    approved: set[frozenset[str]] = set()
    rejected: set[frozenset[str]] = set()
    for cluster in _decided(batch):
        if cluster.status == "approved":
            approved |= _pairs(cluster, selected_only=True)
        else:
            rejected |= _pairs(cluster, selected_only=False)
    return approved & rejected


def test_same_seed_gives_the_same_batch_and_other_seeds_differ(batch: DecisionBatch) -> None:
    assert generate_demo_decisions(seed=SEED) == batch
    assert generate_demo_decisions() == batch  # seed 7 is the default
    assert generate_demo_decisions(seed=SEED + 1) != batch


def test_module_docstring_example_runs() -> None:
    assert doctest.testmod(demo_decisions).failed == 0


def test_catalogue_has_many_distinct_claim_families() -> None:
    assert len(CLAIM_FAMILIES) >= 40
    assert len({family.name for family in CLAIM_FAMILIES}) == len(CLAIM_FAMILIES)
    assert len({family.topic for family in CLAIM_FAMILIES}) >= 8
    for family in CLAIM_FAMILIES:
        assert len(family.templates) >= 4
        assert family.varying_slots, f"{family.name} has nothing a near-miss could change"


def test_every_template_renders_a_full_sentence() -> None:
    for family in CLAIM_FAMILIES:
        for template_index in range(len(family.templates)):
            for slot in family.varying_slots:
                for value in range(family.slot_sizes[slot]):
                    meaning = tuple(
                        (name, value if name == slot else 0) for name in sorted(family.slot_sizes)
                    )
                    statement = render_statement(family, template_index, meaning, {})
                    assert "{" not in statement and "}" not in statement
                    assert statement[0].isupper() or statement[0].isdigit(), statement
                    assert statement.endswith("."), statement
                    assert "  " not in statement, statement


def test_counts(batch: DecisionBatch, kinds: dict[str, str]) -> None:
    assert 400 <= len(batch.insights) <= 700
    assert len(_decided(batch)) >= 150
    pending = [cluster for cluster in batch.clusters if cluster.status == "pending"]
    assert 8 <= len(pending) <= 12
    assert Counter(kinds.values())["pending"] == len(pending)


def test_every_kind_of_cluster_is_present_many_times(batch: DecisionBatch, kinds: dict[str, str]) -> None:
    counts = Counter(kinds.values())
    for kind in (
        "paraphrase_approved",
        "approved_with_deselected",
        "near_miss_rejected",
        "unrelated_rejected",
    ):
        assert counts[kind] >= 20, (kind, counts)
    approved_all_selected = [
        c for c in _decided(batch) if c.status == "approved" and all(m.selected for m in c.members)
    ]
    approved_with_deselected = [
        c for c in _decided(batch) if c.status == "approved" and not all(m.selected for m in c.members)
    ]
    rejected = [c for c in _decided(batch) if c.status == "rejected"]
    assert len(approved_all_selected) >= 20
    assert len(approved_with_deselected) >= 20
    assert len(rejected) >= 40


def test_kind_labels_match_the_decisions(batch: DecisionBatch, kinds: dict[str, str]) -> None:
    assert set(kinds) == {cluster.id for cluster in batch.clusters}
    for cluster in batch.clusters:
        kind = kinds[cluster.id]
        selected = [member.selected for member in cluster.members]
        if kind == "paraphrase_approved":
            assert cluster.status == "approved" and all(selected) and 2 <= len(selected) <= 4
        elif kind == "approved_with_deselected":
            assert cluster.status == "approved" and selected.count(False) == 1 and selected.count(True) >= 2
        elif kind in ("near_miss_rejected", "unrelated_rejected"):
            assert cluster.status == "rejected" and not any(selected) and 2 <= len(selected) <= 3
        elif kind == "pending":
            assert cluster.status == "pending"


def test_statements_are_unique_and_non_trivial(batch: DecisionBatch) -> None:
    statements = [insight.statement for insight in batch.insights]
    assert len(set(statements)) == len(statements)
    for statement in statements:
        assert len(statement.split()) >= 5, statement


def test_ids_are_sequential(batch: DecisionBatch) -> None:
    assert [i.id for i in batch.insights] == [f"ins-{n:04d}" for n in range(1, len(batch.insights) + 1)]
    assert [c.id for c in batch.clusters] == [f"clu-{n:04d}" for n in range(1, len(batch.clusters) + 1)]


def test_every_member_refers_to_an_existing_insight_once_per_cluster(batch: DecisionBatch) -> None:
    insight_ids = {insight.id for insight in batch.insights}
    for cluster in batch.clusters:
        member_ids = [member.insight_id for member in cluster.members]
        assert len(member_ids) >= 2
        assert len(set(member_ids)) == len(member_ids)
        assert set(member_ids) <= insight_ids


def test_decisions_are_well_formed(batch: DecisionBatch) -> None:
    start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    for cluster in batch.clusters:
        if cluster.status == "pending":
            assert cluster.reviewer is None and cluster.decided_at is None
            assert not any(member.selected for member in cluster.members)
            continue
        assert cluster.reviewer in REVIEWERS
        assert cluster.decided_at is not None and cluster.decided_at.tzinfo is not None
        assert cluster.decided_at.utcoffset().total_seconds() == 0
        assert start <= cluster.decided_at < end
        selected = sum(member.selected for member in cluster.members)
        assert selected >= 2 if cluster.status == "approved" else selected == 0
    decided_times = [cluster.decided_at for cluster in _decided(batch)]
    assert decided_times == sorted(decided_times)
    assert len({cluster.reviewer for cluster in _decided(batch)}) >= 4
    months = {cluster.decided_at.month for cluster in _decided(batch) if cluster.decided_at}
    assert len(months) == 6


def test_similarities_are_plausible(batch: DecisionBatch, kinds: dict[str, str]) -> None:
    by_kind: dict[str, list[float]] = {}
    for cluster in batch.clusters:
        for member in cluster.members:
            assert member.similarity is not None
            assert 0.55 <= member.similarity <= 0.99
            assert round(member.similarity, 3) == member.similarity
            by_kind.setdefault(kinds[cluster.id], []).append(member.similarity)
        similarities = [member.similarity for member in cluster.members]
        assert similarities == sorted(similarities, reverse=True)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    paraphrase, near_miss = by_kind["paraphrase_approved"], by_kind["near_miss_rejected"]
    unrelated = by_kind["unrelated_rejected"]
    assert mean(paraphrase) > mean(near_miss) > mean(unrelated)
    assert max(near_miss) > mean(paraphrase)  # the proposer is fooled by near-misses


def test_conflicting_decisions_are_present_and_later(batch: DecisionBatch, kinds: dict[str, str]) -> None:
    conflicts = _conflicting_pairs(batch)
    assert 3 <= len(conflicts) <= 6
    assert len(conflicts) == Counter(kinds.values())["conflicting_decision"]
    for pair in conflicts:
        involved = [c for c in _decided(batch) if pair <= {m.insight_id for m in c.members}]
        latest = max(involved, key=lambda cluster: cluster.decided_at or datetime.min.replace(tzinfo=UTC))
        assert kinds[latest.id] == "conflicting_decision"
        assert {c.status for c in involved} == {"approved", "rejected"}


@pytest.mark.parametrize("seed", (SEED, *OTHER_SEEDS))
def test_groups_stay_small_and_separate(seed: int) -> None:
    batch, kinds = generate_demo_decisions_with_kinds(seed=seed)
    clusters_per_insight = Counter(member.insight_id for c in batch.clusters for member in c.members)
    assert max(clusters_per_insight.values()) <= MAX_CLUSTERS_PER_INSIGHT
    components = connected_components(batch.clusters)
    assert len(components[0]) <= MAX_COMPONENT_SIZE
    assert len(components) >= 100
    assert len(batch.insights) >= 400 and len(_decided(batch)) >= 150
    assert 3 <= Counter(kinds.values())["conflicting_decision"] <= 6


def test_metadata_fields_are_valid(batch: DecisionBatch) -> None:
    evidence_types = Counter()
    for insight in batch.insights:
        assert set(insight.metadata) == {"confidence", "evidence_type", "source"}
        confidence = insight.metadata["confidence"]
        assert isinstance(confidence, float) and 0.5 <= confidence <= 0.99
        assert insight.metadata["evidence_type"] in EVIDENCE_TYPES
        assert isinstance(insight.metadata["source"], str) and len(insight.metadata["source"]) >= 8
        evidence_types[insight.metadata["evidence_type"]] += 1
    assert set(evidence_types) == set(EVIDENCE_TYPES)
    sources = [insight.metadata["source"] for insight in batch.insights]
    assert any(source.startswith("PubMed ") for source in sources)
    assert any(source.startswith("Cochrane review CD") for source in sources)
    assert any(source.startswith("NICE guideline NG") for source in sources)
