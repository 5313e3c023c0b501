"""The retrieval task's ranking, training set, recipe search and evaluation, on a tiny help center."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.fine_tuning import FineTuningConfig
from fine_tuning_assets.core.metrics import bootstrap_mean_difference
from fine_tuning_assets.tasks.retrieval.ranking import (
    Corpus,
    fuse,
    ranking_metrics,
    reciprocal_rank_fusion,
    zscore,
)
from fine_tuning_assets.tasks.retrieval.records import Document, Judgement
from fine_tuning_assets.tasks.retrieval.training_set import (
    RetrievalTrainingSetError,
    TrainingSetConfig,
    build_training_set,
    find_leakage,
    load_training_set,
    save_training_set,
)

TOPICS = [
    "export notes to pdf",
    "share a notebook",
    "reset password",
    "sync between phone and laptop",
    "add a tag",
    "delete a note",
    "restore from trash",
    "change theme",
    "enable two factor login",
    "print a note",
    "search notes",
    "work offline",
    "attach a file",
    "set a reminder",
    "invite a teammate",
    "cancel subscription",
    "change email address",
    "import from evernote",
    "keyboard shortcuts",
    "merge notes",
]


def help_center() -> tuple[list[Document], list[Judgement]]:
    documents = [
        Document(
            f"d{i}",
            topic.capitalize(),
            f"To {topic} in Notely, open the menu, choose the option and confirm.",
        )
        for i, topic in enumerate(TOPICS)
    ]
    judgements = []
    for i, topic in enumerate(TOPICS):
        for query in (f"how can I {topic}", f"{topic} is not working", f"help: {topic} please"):
            judgements.append(Judgement(query, f"d{i}", 2.0, True, "ana"))
            judgements.append(Judgement(query, f"d{(i + 1) % len(TOPICS)}", 0.0, False, "ana"))
    return documents, judgements


def no_mining(anchors, positives, corpus):
    return [None] * len(anchors)


def test_ranking_metrics_match_hand_computed_values():
    corpus = Corpus(["a", "b", "c", "d"], ["", "", "", ""])
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.9, 0.8, 0.0]])
    metrics = ranking_metrics(scores, [{"b": 1.0}, {"c": 1.0, "d": 1.0}], corpus)
    assert metrics["mrr@10"] == [0.5, 0.5]
    assert metrics["recall@100"] == [1.0, 1.0]
    assert metrics["map"][0] == pytest.approx(0.5)
    assert metrics["map"][1] == pytest.approx((1 / 2 + 2 / 4) / 2)
    # nDCG@10 of a single relevant document at rank 2: 1 / log2(3).
    assert metrics["ndcg@10"][0] == pytest.approx(1 / np.log2(3))


def test_a_query_without_a_relevant_document_scores_zero_and_shapes_are_checked():
    corpus = Corpus(["a", "b"], ["", ""])
    assert ranking_metrics(np.array([[1.0, 0.0]]), [{}], corpus)["ndcg@10"] == [0.0]
    with pytest.raises(ValueError, match="scores of shape"):
        ranking_metrics(np.zeros((2, 2)), [{"a": 1}], corpus)


def test_fusion_weights_at_the_ends_are_the_single_rankers_and_z_scores_are_standardised():
    bm25 = np.array([[3.0, 1.0, 0.0]])
    dense = np.array([[0.1, 0.5, 0.2]])
    assert np.array_equal(fuse(bm25, dense, weight=1.0), bm25)
    assert np.array_equal(fuse(bm25, dense, weight=0.0), dense)
    z = zscore(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    assert z[0].mean() == pytest.approx(0) and z[0].std() == pytest.approx(1) and not z[1].any()
    with pytest.raises(ValueError, match="fusion weight"):
        fuse(bm25, dense, weight=1.5)
    fused = reciprocal_rank_fusion(bm25, dense)
    assert fused[0].argmax() in (0, 1)


def test_paired_bootstrap_of_per_query_differences():
    better = bootstrap_mean_difference([0.8, 0.9, 0.7, 1.0] * 5, [0.5, 0.6, 0.7, 0.4] * 5, resamples=500)
    assert better["lower"] > 0 and better["share_better"] == pytest.approx(0.75)
    same = bootstrap_mean_difference([0.5] * 10, [0.5] * 10)
    assert same["difference"] == same["lower"] == 0.0
    with pytest.raises(ValueError, match="same length"):
        bootstrap_mean_difference([1.0, 2.0], [1.0])


def test_training_set_splits_by_query_resolves_conflicts_and_keeps_archive_pairs_in_train(tmp_path):
    documents, judgements = help_center()
    # Two people disagree on one pair; the later rating wins.
    judgements.append(
        Judgement("How can I reset password", "d2", 0.0, False, "bo", datetime(2026, 1, 2, tzinfo=UTC))
    )
    judgements.append(
        Judgement("how can i reset  password", "d2", 2.0, True, "cy", datetime(2026, 1, 3, tzinfo=UTC))
    )
    training_set = build_training_set(
        documents,
        judgements,
        recorded_through=None,
        config=TrainingSetConfig(min_queries_with_positive=5),
        mine=no_mining,
    )
    assert not find_leakage(training_set.queries, training_set.tuples)
    assert len({q.key for q in training_set.queries}) == len(training_set.queries) == 60
    assert {q.split for q in training_set.queries} == {"train", "validation", "test"}
    conflict = [c for c in training_set.conflicts if c.document_id == "d2"]
    assert conflict and conflict[0].resolved_relevant is True
    archive = [t for t in training_set.tuples if t.origin == "archive"]
    assert len(archive) == len(TOPICS) and {t.split for t in archive} == {"train"}
    test_keys = {q.key for q in training_set.split_queries("test")}
    assert not [t for t in training_set.tuples if t.origin == "rated" and t.anchor.casefold() in test_keys]
    # Rated-irrelevant documents are the negatives of their query's tuples.
    rated = [t for t in training_set.tuples if t.origin == "rated"]
    assert rated and all(t.negative_origin == "rated_irrelevant" for t in rated)
    store = ArtifactStore(tmp_path)
    save_training_set(training_set, store)
    assert load_training_set(store, training_set.version) == training_set
    exports = sorted(
        p.name for p in (tmp_path / "datasets" / "retrieval" / training_set.version / "exports").iterdir()
    )
    assert "tuples_train.jsonl" in exports and "openai_chat_test.jsonl" in exports


def test_too_few_rated_queries_and_unknown_documents_are_clear_errors():
    documents, judgements = help_center()
    with pytest.raises(RetrievalTrainingSetError, match="at least 500 are needed"):
        build_training_set(
            documents,
            judgements,
            recorded_through=None,
            config=TrainingSetConfig(min_queries_with_positive=500),
            mine=no_mining,
        )
    with pytest.raises(RetrievalTrainingSetError, match="not in the archive"):
        build_training_set(
            documents[:5],
            judgements,
            recorded_through=None,
            config=TrainingSetConfig(min_queries_with_positive=5),
            mine=no_mining,
        )


def test_recipe_search_evaluation_and_gate_on_a_tiny_help_center(tmp_path):
    """End to end without Dagster: mined negatives, a short MNRL fine-tune, the hybrid weight chosen on
    validation, the evaluation against base and BM25 with the paired-bootstrap gate."""
    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model
    from fine_tuning_assets.tasks.retrieval.evaluation import EvaluationConfig, evaluate_retrieval_models
    from fine_tuning_assets.tasks.retrieval.model import Ranker, RetrievalModelSpec
    from fine_tuning_assets.tasks.retrieval.recipes import RecipeSearchConfig, search_recipes
    from fine_tuning_assets.tasks.retrieval.training_set import mine_hard_negatives_with

    documents, judgements = help_center()
    judgements = [j for j in judgements if j.relevant]  # negatives come from mining
    model = load_sentence_transformer(resolve_base_model(None))
    training_set = build_training_set(
        documents,
        judgements,
        recorded_through=None,
        config=TrainingSetConfig(min_queries_with_positive=5),
        mine=mine_hard_negatives_with(model, range_max=10, relative_margin=0.05),
    )
    assert training_set.stats()["negatives"]["mined"] > 0
    output = tmp_path / "model"
    output.mkdir()
    result = search_recipes(
        training_set,
        base_model=None,
        config=RecipeSearchConfig(bi_encoder=FineTuningConfig(epochs=1, batch_size=8, max_seq_length=64)),
        output_dir=output,
    )
    spec = RetrievalModelSpec.load(output)
    assert set(spec.recipes) == {"base-hybrid", "bi-encoder", "hybrid"} and spec.embedding_dimension == 384
    assert (output / "bi_encoder" / "model.safetensors").is_file()
    assert result.training["bi-encoder"].steps > 0
    ranker = Ranker.for_model(output, training_set.corpus, base_model=None)
    report = evaluate_retrieval_models(
        training_set,
        candidate=ranker,
        candidate_name="v1",
        active=None,
        active_name=None,
        base_model=None,
        config=EvaluationConfig(bootstrap_resamples=200),
    )
    assert {"candidate", "base", "bm25", "rrf"} <= set(report["models"])
    assert report["gate"]["reference"] == "base embedding"
    assert len(report["per_query"]) == report["test_queries"]
    # The gate's verdict follows from the numbers it reports.
    gate = report["gate"]
    candidate, base = report["models"]["candidate"]["metrics"], report["models"]["base"]["metrics"]
    assert gate["passed"] == (gate["improvement_lower_bound"] > 0 and candidate["ndcg@10"] >= base["ndcg@10"])
    assert report["reindex"]["needed"] == (
        spec.recipes[spec.selected_recipe].embedding == "bi_encoder"
        and spec.recipes[spec.selected_recipe].bm25_weight < 1
    )


def test_the_gate_keeps_base_when_the_candidate_is_worse_or_unproven_and_passes_a_clear_gain():
    from fine_tuning_assets.tasks.retrieval.evaluation import EvaluationConfig, promotion_gate

    config = EvaluationConfig(bootstrap_resamples=300)
    base = [0.5, 0.6, 0.4, 0.7] * 10
    worse = promotion_gate(
        [b - 0.05 for b in base], reference=base, base=base, reference_name="base", config=config
    )
    assert (
        not worse["passed"]
        and "not proven better" in worse["reasons"][0]
        and "worse than" in worse["reasons"][1]
    )
    noisy = [b + (0.3 if i % 2 else -0.29) for i, b in enumerate(base)]
    unproven = promotion_gate(noisy, reference=base, base=base, reference_name="base", config=config)
    assert not unproven["passed"] and unproven["improvement_lower_bound"] <= 0 < unproven["improvement"]
    better = promotion_gate(
        [b + 0.1 for b in base], reference=base, base=base, reference_name="base", config=config
    )
    assert better["passed"] and better["improvement"] == pytest.approx(0.1)
    # Better than the active model is not enough when it is worse than the base embedding.
    weak_active = [b - 0.3 for b in base]
    below_base = promotion_gate(
        [b - 0.1 for b in base], reference=weak_active, base=base, reference_name="active", config=config
    )
    assert not below_base["passed"] and below_base["improvement_lower_bound"] > 0
