from __future__ import annotations

import json

import numpy as np
import pytest

from fine_tuning_assets.core.artifacts import ArtifactError, ArtifactStore
from fine_tuning_assets.tasks.dedup.exports import SYSTEM_PROMPT, openai_chat_record
from fine_tuning_assets.tasks.dedup.records import DecisionBatch
from fine_tuning_assets.tasks.dedup.training_set import (
    SPLITS,
    TrainingSetConfig,
    TrainingSetError,
    assign_group_splits,
    build_training_set,
    find_leakage,
    load_training_set,
    save_training_set,
)
from fine_tuning_assets_tests.conftest import cluster, insight


def zero_similarity(a, b):
    return np.zeros(len(a))


def groups(n: int) -> DecisionBatch:
    """n independent groups: an approved pair plus a deselected near-miss, and a rejected pair."""
    insights, clusters = [], []
    for g in range(n):
        ids = [f"{g}-{k}" for k in range(5)]
        insights += [insight(i, f"group {g} statement {k}") for k, i in enumerate(ids)]
        clusters.append(
            cluster(f"a{g}", "approved", [(f"i{ids[0]}", True), (f"i{ids[1]}", True), (f"i{ids[2]}", False)])
        )
        clusters.append(cluster(f"r{g}", "rejected", [(f"i{ids[3]}", False), (f"i{ids[4]}", False)]))
    return DecisionBatch(tuple(insights), tuple(clusters))


def build(batch: DecisionBatch, **config):
    return build_training_set(
        batch, recorded_through=None, config=TrainingSetConfig(**config), similarity_fn=zero_similarity
    )


def test_split_is_group_aware_and_every_split_has_both_classes():
    ts = build(groups(40))
    assert find_leakage(ts.examples) == []
    for name in SPLITS:
        assert {e.label for e in ts.split(name)} == {0, 1}
    sizes = {name: len([e for e in ts.split(name) if e.origin != "low_similarity_sample"]) for name in SPLITS}
    human = sum(sizes.values())
    assert 0.1 < sizes["test"] / human < 0.3 and 0.05 < sizes["validation"] / human < 0.25


def test_linked_insights_share_a_split():
    ts = build(groups(30))
    split_of = {}
    for e in ts.examples:
        for i in e.key:
            split_of.setdefault(i, set()).add(e.split)
    assert all(len(s) == 1 for s in split_of.values())


def test_assign_group_splits_is_deterministic_for_a_seed():
    ts = build(groups(30))
    kwargs = {"validation_fraction": 0.15, "test_fraction": 0.2}
    assert assign_group_splits(ts.examples, seed=1, **kwargs) == assign_group_splits(
        ts.examples, seed=1, **kwargs
    )


def test_find_leakage_reports_an_insight_on_two_sides():
    ts = build(groups(30))
    first = ts.split("train")[0]
    leaked = [*ts.examples, first.__class__(**{**first.__dict__, "split": "test"})]
    assert any(first.insight_a_id in problem for problem in find_leakage(leaked))


def test_too_few_examples_per_class_fails_with_a_clear_message():
    with pytest.raises(TrainingSetError, match=r"at least 10 of each are needed \(FINETUNE_MIN_EXAMPLES\)"):
        build(groups(4))
    with pytest.raises(TrainingSetError, match="at least 50 of each"):
        build(groups(40), min_examples_per_class=50)


def test_empty_decisions_fail_clearly():
    with pytest.raises(TrainingSetError, match="0 merge and 0 keep-separate pairs"):
        build(DecisionBatch((), ()))


def test_sampled_low_similarity_negatives_go_to_train_only_and_respect_the_cap():
    calls = []

    def similarity(a, b):
        calls.append(len(a))
        return np.array([0.1 if i % 2 else 0.9 for i in range(len(a))])

    ts = build_training_set(
        groups(40),
        recorded_through=None,
        config=TrainingSetConfig(low_similarity_ratio=0.5),
        similarity_fn=similarity,
    )
    sampled = [e for e in ts.examples if e.origin == "low_similarity_sample"]
    assert sampled and all(e.split == "train" and e.label == 0 and e.similarity < 0.3 for e in sampled)
    assert len(sampled) == ts.low_similarity_requested
    labelled = {e.key for e in ts.examples if e.origin != "low_similarity_sample"}
    assert not labelled & {e.key for e in sampled}


def test_save_and_load_round_trip_with_exports(tmp_path):
    ts = build(groups(40))
    store = ArtifactStore(tmp_path)
    path = save_training_set(ts, store)
    loaded = load_training_set(store, ts.version)
    assert loaded.examples == ts.examples and loaded.version == ts.version
    lines = (path / "exports" / "openai_chat_train.jsonl").read_text().splitlines()
    assert len(lines) == len(ts.split("train"))
    record = json.loads(lines[0])
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert record["messages"][0]["content"] == SYSTEM_PROMPT
    assert record["messages"][1]["content"].startswith("Insight 1: ")
    assert record["messages"][2]["content"] in ("MERGE", "DON'T MERGE")
    payload = json.loads((path / "exports" / "pairs_test.json").read_text())
    assert payload["counts"]["total"] == len(payload["records"]) == len(ts.split("test"))
    assert set(payload["records"][0]) == {"insight1", "insight2", "similarity", "should_merge", "metadata"}


def test_a_tampered_training_set_is_refused(tmp_path):
    ts = build(groups(40))
    store = ArtifactStore(tmp_path)
    path = save_training_set(ts, store)
    with (path / "examples.jsonl").open("a") as stream:
        stream.write("{}\n")
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        load_training_set(store, ts.version)
    with pytest.raises(ArtifactError, match="not found"):
        load_training_set(store, "ds-missing")


def test_openai_record_user_message_layout():
    ts = build(groups(40))
    example = ts.split("test")[0]
    user = openai_chat_record(example)["messages"][1]["content"].split("\n")
    assert user[0] == f"Insight 1: {example.text_a}"
    assert user[1] == f"Insight 2: {example.text_b}"
    assert user[2] == "Similarity Score: 0.900"
    assert user[3].startswith("Metadata: {")


def test_statements_equal_up_to_case_share_a_split_even_under_different_ids():
    batch = groups(40)
    twins = DecisionBatch(
        insights=(
            *batch.insights,
            insight("twin-a", "GROUP 0 STATEMENT 0"),
            insight("twin-b", "an unrelated claim"),
        ),
        clusters=(*batch.clusters, cluster("twin", "rejected", [("itwin-a", False), ("itwin-b", False)])),
    )
    ts = build(twins)
    split_of = {i: e.split for e in ts.examples for i in e.key}
    assert split_of["itwin-a"] == split_of["i0-0"]
    assert find_leakage(ts.examples) == []


def test_groups_keep_their_split_when_new_decisions_arrive():
    before = build(groups(30))
    after = build(groups(45))
    split_before = {i: e.split for e in before.examples if e.origin != "low_similarity_sample" for i in e.key}
    split_after = {i: e.split for e in after.examples if e.origin != "low_similarity_sample" for i in e.key}
    assert all(split_after[i] == split for i, split in split_before.items())
