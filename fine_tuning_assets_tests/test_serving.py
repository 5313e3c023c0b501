"""The serving layer without models: the prediction log and its join with decisions, the model cache's hot
reload, the vector index."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import T0

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.serving.model_cache import ModelCache
from fine_tuning_assets.serving.prediction_log import (
    LoggedPrediction,
    item_key,
    live_accuracy,
    log_predictions,
    served_versions,
)
from fine_tuning_assets.serving.vector_index import VectorIndex, index_folder
from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets.tasks.retrieval.records import Document, Judgement, RetrievalBatch
from fine_tuning_assets.tasks.retrieval.store import RetrievalStore, result_key

A, B, C = "Coffee raises alertness.", "Caffeine makes people alert.", "Statins lower LDL cholesterol."


def _logged(key: str, prediction: str, *, probability: float, band: str, automatic: bool, version=None):
    return LoggedPrediction(
        task="dedup",
        model_version_id=version,
        model="m",
        item_key=key,
        inputs={"text_a": "…"},
        prediction=prediction,
        probability=probability,
        band=band,
        automatic=automatic,
        latency_ms=5.0,
        fallback=version is None,
    )


def test_item_keys_ignore_order_case_and_spacing_of_a_pair_but_not_of_a_query_result():
    assert item_key(A, B) == item_key(B, "  coffee RAISES   alertness. ")
    assert item_key(A, B) != item_key(A, C)
    assert result_key("how to export", "doc-1") != result_key("doc-1", "how to export")


def test_a_decision_recorded_later_becomes_the_outcome_of_the_logged_predictions(sqlite_url):
    engine = open_database(sqlite_url)
    store = FeedbackStore(engine)
    store.add_decisions(
        DecisionBatch(
            (Insight("a", A), Insight("b", B), Insight("c", C)),
            (
                MergeCluster(
                    "p1",
                    "pending",
                    None,
                    None,
                    (ClusterMember("a", None, False), ClusterMember("b", None, False)),
                ),
            ),
        ),
        kind="test",
        source="test",
    )
    log_predictions(
        engine,
        [
            _logged(item_key(B, A), "merge", probability=0.97, band="auto_merge", automatic=True),
            _logged(item_key(A, C), "merge", probability=0.6, band="needs_review", automatic=False),
        ],
    )
    before = live_accuracy(engine, task="dedup", positive="merge")
    assert (before.predictions, before.with_outcome, before.accuracy) == (2, 0, None)

    store.record_decision("p1", status="rejected", reviewer="ana")  # a and b stay apart
    # An import decides a and c: they merge.
    store.add_decisions(
        DecisionBatch(
            (),
            (
                MergeCluster(
                    "d2",
                    "approved",
                    "bo",
                    T0,
                    (ClusterMember("a", None, True), ClusterMember("c", None, True)),
                ),
            ),
        ),
        kind="import:clusters",
        source="file.csv",
    )
    after = live_accuracy(engine, task="dedup", positive="merge")
    assert (after.with_outcome, after.correct, after.accuracy) == (2, 1, 0.5)
    assert after.precision == 0.5
    assert (after.automatic_with_outcome, after.override_rate) == (1, 1.0), "the auto-merge was overridden"
    [mistake] = after.misclassifications
    assert (mistake.prediction, mistake.actual, mistake.probability) == ("merge", "separate", 0.97)
    assert served_versions(engine) == [("dedup", None)]


def test_misclassifications_come_most_confident_first_and_per_version(sqlite_url):
    engine = open_database(sqlite_url)
    log_predictions(
        engine,
        [
            _logged("k1", "merge", probability=0.55, band="needs_review", automatic=False),
            _logged("k2", "merge", probability=0.99, band="auto_merge", automatic=True),
            _logged("k3", "separate", probability=0.1, band="keep_separate", automatic=True),
        ],
    )
    from fine_tuning_assets.serving.prediction_log import record_outcomes

    with engine.begin() as connection:
        assert (
            record_outcomes(
                connection,
                task="dedup",
                outcomes={"k1": "separate", "k2": "separate", "k3": "merge"},
                source="t",
            )
            == 3
        )
        assert record_outcomes(connection, task="retrieval", outcomes={"k1": "x"}, source="t") == 0
    report = live_accuracy(engine, task="dedup", positive="merge")
    assert [m.item_key for m in report.misclassifications] == ["k2", "k3", "k1"]
    assert live_accuracy(engine, task="dedup", positive="merge", model_version_id=12345).predictions == 0


def test_a_rating_imported_later_becomes_the_outcome_of_a_served_search_result(sqlite_url):
    engine = open_database(sqlite_url)
    store = RetrievalStore(engine)
    store.add(RetrievalBatch(documents=(Document("d1", "Export", "How to export notes."),)), source="t")
    log_predictions(
        engine,
        [
            LoggedPrediction(
                task="retrieval",
                model_version_id=None,
                model="base embedding",
                item_key=result_key("How do I export?", "d1"),
                inputs={},
                prediction="relevant",
                probability=None,
                score=3.2,
                band=None,
                automatic=False,
                latency_ms=8.0,
                fallback=True,
            )
        ],
    )
    store.add(
        RetrievalBatch(judgements=(Judgement("how do I   export?", "d1", None, False, "u1"),)), source="t"
    )
    report = live_accuracy(engine, task="retrieval", positive="relevant")
    assert (report.with_outcome, report.accuracy, report.precision) == (1, 0.0, 0.0)


class _Model:
    def __init__(self, version, *, slow: float = 0.0):
        time.sleep(slow)
        self.model_version_id, self.model, self.fallback_reason = version, f"v{version}", None


def test_the_model_cache_swaps_in_a_promoted_version_while_the_old_one_keeps_answering():
    active = {"dedup": 1}
    loads = []

    def load():
        loads.append(active["dedup"])
        return _Model(active["dedup"], slow=0.3 if len(loads) > 1 else 0.0)

    cache = ModelCache(active_version=active.get, loaders={"dedup": load}, refresh_seconds=0.05)
    first = cache.get("dedup")
    assert first.predictor.model == "v1" and cache.get("dedup") is first, "loaded once"
    active["dedup"] = 2
    time.sleep(0.06)
    assert cache.get("dedup").predictor.model == "v1", "the old model answers while the new one loads"
    cache.wait_for_reloads()
    assert cache.get("dedup").predictor.model == "v2" and loads == [1, 2]


def test_a_new_version_that_fails_to_load_leaves_the_loaded_model_serving():
    active = {"dedup": 1}

    def load():
        if active["dedup"] == 2:
            raise RuntimeError("broken files")
        return _Model(active["dedup"])

    cache = ModelCache(active_version=active.get, loaders={"dedup": load}, refresh_seconds=0)
    assert cache.get("dedup").predictor.model == "v1"
    active["dedup"] = 2
    cache.get("dedup")
    cache.wait_for_reloads()
    assert cache.get("dedup").predictor.model == "v1"
    with pytest.raises(KeyError, match="no task 'triage'"):
        cache.get("triage")


def test_the_prediction_cache_computes_only_what_it_has_not_seen():
    cache = ModelCache(active_version=lambda _t: 1, loaders={"dedup": lambda: _Model(1)}, refresh_seconds=60)
    loaded = cache.get("dedup")
    computed = []

    def compute(positions):
        computed.append(list(positions))
        return [f"p{i}" for i in positions]

    assert loaded.cached(["a", "b"], compute) == ["p0", "p1"]
    assert loaded.cached(["b", "c", "a"], compute) == ["p1", "p1", "p0"]
    assert computed == [[0, 1], [1]] and loaded.cache_hits == 2


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_vector_index_finds_nearly_every_exact_nearest_neighbour(tmp_path):
    rng = np.random.default_rng(0)
    vectors = _unit(rng.standard_normal((5000, 32)))
    index = VectorIndex.open(tmp_path, encoder_name="toy", ndim=32)
    assert index.add([f"i{n}" for n in range(5000)], vectors) == 5000
    assert index.add(["i0", "new", "new"], vectors[:3]) == 1, "known ids and repeats are skipped"
    queries = _unit(vectors[:200] + 0.05 * rng.standard_normal((200, 32)))
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, 0]
    found = [index.search(q, k=10) for q in queries]
    recall = np.mean([f"i{e}" in {i for i, _ in hits} for e, hits in zip(exact, found, strict=True)])
    assert recall >= 0.99
    assert index.search(vectors[0], k=3, exclude=["i0"])[0][0] != "i0"


def test_the_vector_index_survives_a_reopen_and_is_rebuilt_for_another_encoder(tmp_path):
    vectors = _unit(np.eye(4, dtype=np.float32) + 0.01)
    folder = index_folder(tmp_path, name="insights", encoder_name="model-a")
    index = VectorIndex.open(folder, encoder_name="model-a", ndim=4)
    index.add(["a", "b", "c", "d"], vectors)
    index.watermark = "2026-01-01T00:00:00+00:00"
    index.save()
    again = VectorIndex.open(folder, encoder_name="model-a", ndim=4)
    assert len(again) == 4 and again.watermark == index.watermark and "c" in again
    assert len(VectorIndex.open(folder, encoder_name="model-b", ndim=4)) == 0, "another encoder: rebuilt"
    assert index_folder(tmp_path, name="insights", encoder_name="model-b") != folder
    # A crash between the two renames of a save leaves the previous index aside: it is taken back.
    (folder / "current").rename(folder / "previous-x")
    assert len(VectorIndex.open(folder, encoder_name="model-a", ndim=4)) == 4


def test_the_vector_index_takes_concurrent_adds_and_searches(tmp_path):
    index = VectorIndex.open(tmp_path, encoder_name="toy", ndim=8)
    rng = np.random.default_rng(1)
    errors = []

    def add(start):
        try:
            for n in range(start, start + 200):
                index.add([f"i{n}"], _unit(rng.standard_normal((1, 8))))
                index.search(_unit(rng.standard_normal((1, 8)))[0], k=5)
        except Exception as error:  # pragma: no cover - the assertion below reports it
            errors.append(error)

    threads = [threading.Thread(target=add, args=(s,)) for s in (0, 1000, 2000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(index) == 600


def test_the_live_accuracy_assets_show_each_served_version_in_the_dagster_ui(tmp_path):
    from dagster import DagsterInstance

    from fine_tuning_assets.core.config import Settings
    from fine_tuning_assets.definitions import build_definitions

    settings = Settings.from_env({"FTA_HOME": str(tmp_path / "fta")})
    engine = open_database(settings.database_url)
    log_predictions(engine, [_logged("k1", "merge", probability=0.99, band="auto_merge", automatic=True)])
    from fine_tuning_assets.serving.prediction_log import record_outcomes

    with engine.begin() as connection:
        record_outcomes(connection, task="dedup", outcomes={"k1": "separate"}, source="t")
    job = build_definitions(settings).resolve_job_def("live_accuracy")
    result = job.execute_in_process(instance=DagsterInstance.ephemeral())
    assert result.success
    [dedup] = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "dedup_live_accuracy"
    ]
    assert dedup["predictions_logged"].value == 1 and dedup["decided_by_a_human"].value == 1
    assert "base (fallback)" in dedup["by_version"].value and "1.000" in dedup["by_version"].value


@pytest.mark.parametrize(
    "module",
    [
        "fine_tuning_assets.serving.prediction_log",
        "fine_tuning_assets.serving.model_cache",
        "fine_tuning_assets.serving.vector_index",
        "fine_tuning_assets.tasks.dedup.examples",
        "fine_tuning_assets.tasks.dedup.ingestion",
        "fine_tuning_assets.defs.launch",
        "fine_tuning_assets.api.app",
    ],
)
def test_module_doctests_pass(module, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed


def test_the_insight_index_follows_the_store_whoever_writes_to_it(sqlite_url, tmp_path):
    from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex

    store = FeedbackStore(open_database(sqlite_url))
    store.add_decisions(DecisionBatch((Insight("a", A), Insight("b", B)), ()), kind="t", source="t")
    index = InsightIndex.open(store, tmp_path / "indexes", base_model=None)
    assert len(index.index) == 2 and index.index.watermark is not None
    assert index.sync() == 0, "nothing new"
    store.add_decisions(DecisionBatch((Insight("c", C),), ()), kind="t", source="another process")
    assert index.sync() == 1 and "c" in index.index
    index.add("d", index.embed(["Aspirin thins the blood."])[0])  # what a check stored and indexed itself
    store.add_decisions(DecisionBatch((Insight("d", "Aspirin thins the blood."),), ()), kind="t", source="t")
    watermark = index.index.watermark
    assert index.sync() == 0 and index.index.watermark > watermark, "read once, then past it"
    # Not saved (less than SAVE_EVERY_SECONDS): a new process catches up from the store when it opens it.
    store.add_decisions(DecisionBatch((Insight("e", "Zinc shortens colds."),), ()), kind="t", source="t")
    reopened = InsightIndex.open(store, tmp_path / "indexes", base_model=None)
    assert {"a", "b", "c", "d", "e"} <= {i for i, _ in reopened.candidates(reopened.embed([A])[0], k=10)}
    [(nearest, similarity)] = reopened.candidates(reopened.embed([B])[0], k=1, exclude=["b"])
    assert nearest == "a" and similarity > 0.5


def test_cluster_all_proposes_pending_clusters_once_and_a_dry_run_writes_nothing(sqlite_url, tmp_path):
    from fine_tuning_assets.core.registry import ModelRegistry
    from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex, cluster_all
    from fine_tuning_assets.tasks.dedup.serving import load_predictor

    engine = open_database(sqlite_url)
    store = FeedbackStore(engine)
    statements = [A, B, C, "Statins reduce LDL cholesterol.", "Zinc shortens the common cold."]
    store.add_decisions(
        DecisionBatch(tuple(Insight(f"i{n}", s) for n, s in enumerate(statements)), ()), kind="t", source="t"
    )
    cache = ModelCache(
        active_version=lambda _t: None,
        loaders={"dedup": lambda: load_predictor(ModelRegistry(engine), base_model=None)},
    )
    index = InsightIndex.open(store, tmp_path / "indexes", base_model=None)
    dry = cluster_all(store=store, index=index, loaded=cache.get("dedup"), k=2, save=False)
    assert dry.new_clusters == 0 and not store.pending().clusters
    proposed = {frozenset(m.insight_id for m in c.members) for c in dry.clusters}
    assert frozenset({"i0", "i1"}) in proposed and frozenset({"i2", "i3"}) in proposed
    assert not any("i4" in members for members in proposed), "nothing close to the zinc claim"
    assert dry.fallback_reason == "no dedup model is active"
    done = cluster_all(store=store, index=index, loaded=cache.get("dedup"), k=2)
    pending = store.pending().clusters
    assert done.new_clusters == len(pending) == len(dry.clusters)
    assert all(c.priority in ("high", "normal") for c in pending)
    again = cluster_all(store=store, index=index, loaded=cache.get("dedup"), k=2)
    assert again.new_clusters == 0 and len(store.pending().clusters) == len(pending), "named by members: once"


def test_check_insight_and_live_accuracy_from_the_command_line(tmp_path):
    from cli_helpers import run

    home = tmp_path / "fta"
    store = FeedbackStore(open_database(f"sqlite:///{home / 'fta.sqlite'}"))
    store.add_decisions(DecisionBatch((Insight("a", A), Insight("c", C)), ()), kind="t", source="t")
    checked = run(tmp_path, "check-insight", B, "--json", home=home)
    assert checked.returncode == 4 and "came from the base-model fallback" in checked.stderr
    answer = __import__("json").loads(checked.stdout)
    assert answer["best_match"]["insight_id"] == "a" and answer["stored"] is True
    assert store.insights([answer["insight_id"]])
    live = run(tmp_path, "models", "live-accuracy", home=home)
    assert live.returncode == 0 and "base (fallback)" in live.stdout and "override rate" in live.stdout
    unknown = run(tmp_path, "models", "live-accuracy", "--task", "sentiment", home=home)
    assert unknown.returncode == 1 and "no task 'sentiment'" in unknown.stderr
