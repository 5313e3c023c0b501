"""Tests for the demo decision generator (pure Python, fast)."""

from __future__ import annotations

import doctest
import hashlib
import itertools
import json
import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from fine_tuning_assets.tasks.dedup import demo as demo_decisions
from fine_tuning_assets.tasks.dedup.demo import (
    CLAIM_FAMILIES,
    DEFAULT_ROUNDS,
    EVIDENCE_TYPES,
    MAX_CLUSTERS_PER_INSIGHT,
    MAX_COMPONENT_SIZE,
    REVIEWERS,
    connected_components,
    generate_demo_decisions,
    generate_demo_decisions_with_kinds,
    render_statement,
    round_seed,
)
from fine_tuning_assets.tasks.dedup.records import DecisionBatch, MergeCluster
from fine_tuning_assets.tasks.dedup.training_set import TrainingSetConfig, build_training_set, find_leakage

SEED = 7
OTHER_SEEDS = (0, 1, 42, 2026)
#: sha256 of :func:`_fingerprint` of the single-round demo as generated before rounds existed.
SINGLE_ROUND_FINGERPRINTS = {
    7: "94a780f5c42fd0edd3e455a6283b65aa3060cf0151e0b732a38c905dcfc0d6d8",
    0: "7cc29bfd5cd494ef19524ebb1704fc3addbdb621804db653872ea6192267c78d",
}


@pytest.fixture(scope="module", params=(1, DEFAULT_ROUNDS), ids=("one_round", "default_rounds"))
def rounds(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(scope="module")
def generated(rounds: int) -> tuple[DecisionBatch, dict[str, str]]:
    return generate_demo_decisions_with_kinds(seed=SEED, rounds=rounds)


@pytest.fixture(scope="module")
def batch(generated: tuple[DecisionBatch, dict[str, str]]) -> DecisionBatch:
    return generated[0]


@pytest.fixture(scope="module")
def kinds(generated: tuple[DecisionBatch, dict[str, str]]) -> dict[str, str]:
    return generated[1]


@pytest.fixture(scope="module")
def default_batch() -> DecisionBatch:
    return generate_demo_decisions()


def _normalised(statement: str) -> str:
    return " ".join(statement.lower().split())


def _fingerprint(batch: DecisionBatch) -> str:
    rows = [[i.id, i.statement, i.metadata] for i in batch.insights] + [
        [
            c.id,
            c.status,
            c.reviewer,
            c.decided_at.isoformat() if c.decided_at else None,
            [[m.insight_id, m.similarity, m.selected] for m in c.members],
        ]
        for c in batch.clusters
    ]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


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


def test_same_seed_gives_the_same_batch_and_other_seeds_differ(batch: DecisionBatch, rounds: int) -> None:
    assert generate_demo_decisions(seed=SEED, rounds=rounds) == batch
    assert generate_demo_decisions_with_kinds(seed=SEED, rounds=rounds)[0] == batch
    assert generate_demo_decisions(seed=SEED + 1, rounds=rounds) != batch


def test_defaults_are_seed_7_and_four_rounds(default_batch: DecisionBatch) -> None:
    assert DEFAULT_ROUNDS == 4
    assert generate_demo_decisions(seed=SEED, rounds=DEFAULT_ROUNDS) == default_batch


@pytest.mark.parametrize("seed", sorted(SINGLE_ROUND_FINGERPRINTS))
def test_one_round_is_exactly_the_single_round_demo(seed: int) -> None:
    single = generate_demo_decisions(seed=seed, rounds=1)
    assert _fingerprint(single) == SINGLE_ROUND_FINGERPRINTS[seed]
    assert single.insights[0].id == "ins-0001" and single.clusters[0].id == "clu-0001"


def test_first_round_of_several_is_drawn_like_one_round(default_batch: DecisionBatch) -> None:
    # Same seed, but a shorter window changes which decisions are old enough to be contradicted, so the
    # draws diverge from the conflicts on: most statements are shared, not all.
    single = {insight.statement for insight in generate_demo_decisions(seed=SEED, rounds=1).insights}
    first_round = {insight.statement for insight in default_batch.insights[: len(single)]}
    assert len(single & first_round) >= 0.8 * len(single)


def test_round_seeds_and_invalid_rounds() -> None:
    assert round_seed(SEED, 0) == SEED
    assert [round_seed(SEED, n) for n in (1, 2, 3)] == [7001, 7002, 7003]
    with pytest.raises(ValueError, match="rounds"):
        generate_demo_decisions(rounds=0)


def test_default_batch_is_fast() -> None:
    start = time.perf_counter()
    generate_demo_decisions()
    assert time.perf_counter() - start < 2.0


def test_rounds_add_up_and_topics_recur(default_batch: DecisionBatch) -> None:
    two = generate_demo_decisions(seed=SEED, rounds=2)
    assert len(generate_demo_decisions(seed=SEED, rounds=1).insights) < len(two.insights)
    assert len(two.insights) < len(default_batch.insights)
    # Every family reappears in later rounds: its canonical claim is drawn in each round.
    later = default_batch.insights[len(two.insights) :]
    later_texts = " ".join(_normalised(i.statement) for i in later)
    assert "vitamin d" in later_texts and "metformin" in later_texts and "statin" in later_texts


def test_first_decided_clusters_are_varied(default_batch: DecisionBatch) -> None:
    _, kinds = generate_demo_decisions_with_kinds()
    first = [c for c in default_batch.clusters if c.is_decided][:70]
    first_kinds = Counter(kinds[c.id] for c in first)
    for kind in (
        "paraphrase_approved",
        "approved_with_deselected",
        "near_miss_rejected",
        "unrelated_rejected",
    ):
        assert first_kinds[kind] >= 3, first_kinds
    assert {c.status for c in first} == {"approved", "rejected"}


def test_default_training_set_has_no_leakage(default_batch: DecisionBatch) -> None:
    training_set = build_training_set(
        default_batch,
        recorded_through=None,
        config=TrainingSetConfig(),
        similarity_fn=lambda a, b: np.zeros(len(a)),
    )
    assert find_leakage(training_set.examples) == []
    assert len(training_set.split("train")) >= 1000


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


def test_counts(batch: DecisionBatch, kinds: dict[str, str], rounds: int) -> None:
    assert 400 * rounds <= len(batch.insights) <= 700 * rounds
    assert len(_decided(batch)) >= 150 * rounds
    pending = [cluster for cluster in batch.clusters if cluster.status == "pending"]
    assert 8 * rounds <= len(pending) <= 12 * rounds
    assert Counter(kinds.values())["pending"] == len(pending)


def test_default_counts(default_batch: DecisionBatch) -> None:
    assert len(default_batch.insights) >= 1600
    assert len(_decided(default_batch)) >= 600


def test_every_kind_of_cluster_is_present_many_times(
    batch: DecisionBatch, kinds: dict[str, str], rounds: int
) -> None:
    counts = Counter(kinds.values())
    assert set(counts) == set(demo_decisions.DEMO_CLUSTER_KINDS)
    for kind in (
        "paraphrase_approved",
        "approved_with_deselected",
        "near_miss_rejected",
        "unrelated_rejected",
    ):
        assert counts[kind] >= 20 * rounds, (kind, counts)
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
    assert len({_normalised(statement) for statement in statements}) == len(statements)
    for statement in statements:
        assert len(statement.split()) >= 5, statement


def test_ids_are_sequential_unique_and_sort(batch: DecisionBatch, rounds: int) -> None:
    digits = 4 if rounds == 1 else 5
    insight_ids = [i.id for i in batch.insights]
    cluster_ids = [c.id for c in batch.clusters]
    assert insight_ids == [f"ins-{n:0{digits}d}" for n in range(1, len(batch.insights) + 1)]
    assert cluster_ids == [f"clu-{n:0{digits}d}" for n in range(1, len(batch.clusters) + 1)]
    assert insight_ids == sorted(set(insight_ids)) and cluster_ids == sorted(set(cluster_ids))


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


def test_conflicting_decisions_are_present_and_later(
    batch: DecisionBatch, kinds: dict[str, str], rounds: int
) -> None:
    conflicts = _conflicting_pairs(batch)
    assert 3 * rounds <= len(conflicts) <= 6 * rounds
    assert len(conflicts) == Counter(kinds.values())["conflicting_decision"]
    for pair in conflicts:
        involved = [c for c in _decided(batch) if pair <= {m.insight_id for m in c.members}]
        latest = max(involved, key=lambda cluster: cluster.decided_at or datetime.min.replace(tzinfo=UTC))
        assert kinds[latest.id] == "conflicting_decision"
        assert {c.status for c in involved} == {"approved", "rejected"}


@pytest.mark.parametrize("seed", (SEED, *OTHER_SEEDS))
@pytest.mark.parametrize("rounds", (1, DEFAULT_ROUNDS))
def test_groups_stay_small_and_separate(seed: int, rounds: int) -> None:
    batch, kinds = generate_demo_decisions_with_kinds(seed=seed, rounds=rounds)
    clusters_per_insight = Counter(member.insight_id for c in batch.clusters for member in c.members)
    assert max(clusters_per_insight.values()) <= MAX_CLUSTERS_PER_INSIGHT
    components = connected_components(batch.clusters)
    assert len(components[0]) <= MAX_COMPONENT_SIZE
    assert len(components) >= 100 * rounds
    assert len(batch.insights) >= 400 * rounds and len(_decided(batch)) >= 150 * rounds
    assert 3 * rounds <= Counter(kinds.values())["conflicting_decision"] <= 6 * rounds
    statements = {_normalised(insight.statement) for insight in batch.insights}
    assert len(statements) == len(batch.insights)
    assert len({insight.id for insight in batch.insights}) == len(batch.insights)


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
