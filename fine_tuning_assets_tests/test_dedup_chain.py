"""The dedup chain materialized in-process on tiny data (one short epoch per training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import instance_for_test

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.metrics import DecisionBands
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.model import RECIPES, serving_bands
from fine_tuning_assets.tasks.dedup.prediction import predict_merge
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.chain_helpers import (
    chain_run_config,
    check_results,
    metadata_of,
    run_chain,
    settings_for,
    tiny_demo,
)


# About 70 s (three chain runs with fine-tuning): `pytest -m slow`. The fast suite promotes through the demo
# fixture and test_api_server.py, and refuses in test_dedup_evaluation.py.
@pytest.mark.slow
def test_chain_promotes_replaces_and_refuses(tmp_path):
    settings = settings_for(tmp_path)
    engine = open_database(settings.database_url)
    FeedbackStore(engine).add_decisions(tiny_demo(), kind="test", source="tiny demo")
    registry = ModelRegistry(engine)

    with instance_for_test() as instance:
        # 1. First run: every recipe; no active model, the gate compares with the base model and (configured
        #    to pass) promotes.
        first = run_chain(settings, instance, chain_run_config(recipes=RECIPES))
        assert first.success
        feedback = metadata_of(first, "dedup_feedback")
        assert feedback["clusters_approved"] + feedback["clusters_rejected"] == 70
        training = metadata_of(first, "dedup_training_set")
        assert (
            training["dataset_version"].startswith("ds-")
            and training["recorded_through"] == feedback["recorded_through"]
        )
        assert training["merge_pairs"] >= 5 and training["dont_merge_pairs"] >= 5
        assert "| train" in training["splits"] and Path(training["path"]).is_dir()
        checks = check_results(first)
        assert checks["enough_examples_per_class"] and checks["no_leakage"] and checks["promotion_gate"]
        assert "no_conflicting_decisions" in checks and "class_balance" in checks
        assert "no_label_issues" in checks and "decision_bands_hold" in checks
        issues = json.loads((Path(training["path"]) / "label_issues.json").read_text())
        assert issues["dataset_version"] == training["dataset_version"] and isinstance(issues["issues"], list)

        candidate = metadata_of(first, "dedup_candidate_model")
        assert candidate["dataset_version"] == training["dataset_version"]
        model_dir = Path(candidate["path"])
        assert candidate["train_pairs"] > 0 and (model_dir / "manifest.json").is_file()
        for component in ("bi_encoder", "cross_encoder"):
            assert (model_dir / component / "model.safetensors").is_file()
        spec = json.loads((model_dir / "pair_model.json").read_text())
        assert (
            set(spec["recipes"]) == set(RECIPES) and candidate["selected_recipe"] == spec["selected_recipe"]
        )
        # The chosen recipe has the best out-of-fold validation average precision.
        chosen_ap = spec["recipes"][spec["selected_recipe"]]["validation_average_precision"]
        assert chosen_ap == max(r["validation_average_precision"] for r in spec["recipes"].values())
        assert all(f"| {recipe}" in candidate["recipes"] for recipe in RECIPES)

        evaluation = metadata_of(first, "dedup_evaluation")
        assert evaluation["candidate_version_id"] == candidate["model_version_id"]
        assert evaluation["active_version_id"] is None and evaluation["gate_passed"] is True
        assert "average_precision" in evaluation["metrics"] and "base" in evaluation["metrics"]
        assert evaluation["precision_recall"].startswith("![precision-recall curves](data:image/png;base64,")
        report = json.loads(Path(evaluation["report"]).read_text())
        # Every recipe side by side with the base model; the gate compares with the base model.
        others = {f"recipe {r}" for r in RECIPES if r != spec["selected_recipe"]}
        assert (
            set(report["models"]) == {"candidate", "base", *others} and report["gate"]["reference"] == "base"
        )
        assert report["models"]["candidate"]["recipe"] == spec["selected_recipe"]
        assert len(report["gate"]["reasons"]) == 2  # vs the reference (base), vs the base
        assert report["regime"] == evaluation["regime"] == "fixed_split"
        assert len(report["test_labels"]) == report["test_pairs"] == evaluation["test_pairs"]
        assert [row["band"] for row in report["models"]["candidate"]["band_report"]][:3] == [
            "auto_merge",
            "review_high_priority",
            "needs_review",
        ]
        # The headline, the band checks and the trade-off plot are in the UI.
        decided = report["decided_without_human"]
        assert (
            evaluation["decided_without_human"]
            == decided["share"]
            == decided["auto_merged"] + decided["kept_separate"]
        )
        assert len(report["band_checks"]["reasons"]) == 2 and "serving_bands" in report
        assert "![share decided without a human" in evaluation["trade_off"]
        assert [p["error_rate"] for p in report["trade_off"]["candidate"]] == sorted(
            p["error_rate"] for p in report["trade_off"]["candidate"]
        )
        active = metadata_of(first, "dedup_active_model")
        assert active["action"] == "promoted" and active["active_version_id"] == candidate["model_version_id"]
        v1 = registry.get(candidate["model_version_id"])
        assert v1.state == "active" and v1.training_metrics["selected_recipe"] == candidate["selected_recipe"]
        assert [e.to_state for e in registry.events(version_id=v1.id)] == [
            "training",
            "evaluating",
            "staged",
            "active",
        ]

        prediction = predict_merge(
            "Vitamin D at 2,000 IU daily lowers fracture risk in adults over 65.",
            "Taking 2,000 IU of vitamin D a day reduces fractures in people older than 65.",
            registry=registry,
        )
        assert prediction.fallback_reason is None and prediction.model_version_id == v1.id
        assert 0.0 <= prediction.probability <= 1.0

        # 2. Second run: the active model is the reference; the new version replaces it.
        second = run_chain(settings, instance, chain_run_config())
        assert second.success
        evaluation = metadata_of(second, "dedup_evaluation")
        assert evaluation["active_version_id"] == v1.id
        report = json.loads(Path(evaluation["report"]).read_text())
        assert (
            set(report["models"]) == {"candidate", "active", "base"}
            and report["gate"]["reference"] == "active"
        )
        assert report["models"]["active"]["bands"] == v1.evaluation["serving_bands"]
        # Same decisions, same (sticky) split: no test pair was seen by the active model, none left out.
        assert report["test_pairs_seen_by_active_left_out"] == 0
        v2 = registry.active("dedup")
        assert v2.id == evaluation["candidate_version_id"] != v1.id
        assert registry.get(v1.id).state == "deprecated"

        # 3. Third run: a gate nobody can pass refuses the candidate; the active version stays.
        third = run_chain(settings, instance, chain_run_config(min_improvement=1.0))
        assert not third.success
        assert check_results(third)["promotion_gate"] is False
        refused = registry.get(metadata_of(third, "dedup_evaluation")["candidate_version_id"])
        assert (
            refused.state == "failed"
            and "promotion gate refused" in registry.events(version_id=refused.id)[-1].reason
        )
        assert not [
            e for e in third.get_asset_materialization_events() if e.asset_key.path == ["dedup_active_model"]
        ]
        assert registry.active("dedup").id == v2.id


def test_small_data_regime_cross_validates_over_every_decision_and_serves_its_bands(tmp_path):
    settings = settings_for(tmp_path)
    engine = open_database(settings.database_url)
    FeedbackStore(engine).add_decisions(tiny_demo(), kind="test", source="tiny demo")
    registry = ModelRegistry(engine)
    config = chain_run_config(fixed_split_min_test_pairs=10_000)
    config["ops"]["dedup_evaluation"]["config"].update({"max_duplicate_rate": 0.2, "band_confidence": 0.5})
    with instance_for_test() as instance:
        result = run_chain(settings, instance, config)
        assert result.success
        training = metadata_of(result, "dedup_training_set")
        evaluation = metadata_of(result, "dedup_evaluation")
        report = json.loads(Path(evaluation["report"]).read_text())
    human = training["merge_pairs"] + training["dont_merge_pairs"]
    # Every decided pair is held out once (out of fold), not only the small test split.
    assert report["regime"] == "cross_validation" and report["test_pairs"] == human
    assert report["cross_validation"] == {"folds": 3, "repeats": 1, "pairs": human}
    assert "cross-validated pairs" in report["gate"]["reasons"][0]
    spec = json.loads(
        (Path(registry.get(evaluation["candidate_version_id"]).artifact_path) / "pair_model.json").read_text()
    )
    assert spec["regime"] == "cross_validation" and spec["skipped"] == {}
    assert set(spec["cross_validation"]["fold_of_pair"]) == {0, 1, 2}
    version = registry.active("dedup")
    assert version.id == evaluation["candidate_version_id"]
    bands = serving_bands(version)
    assert bands == DecisionBands(**report["serving_bands"])
    if bands.keep_separate is not None:
        assert report["models"]["candidate"]["metrics"]["keep_separate_coverage"] > 0
    prediction = predict_merge(
        "Statins lower LDL cholesterol.", "Coffee raises alertness.", registry=registry
    )
    assert prediction.bands == bands and prediction.band == bands.band_of(prediction.probability)


def test_too_few_decisions_fail_the_training_set_with_a_clear_message(tmp_path):
    settings = settings_for(tmp_path, FINETUNE_MIN_EXAMPLES="10")
    FeedbackStore(open_database(settings.database_url)).add_decisions(
        tiny_demo(6), kind="test", source="tiny"
    )
    with instance_for_test() as instance:
        result = run_chain(settings, instance, chain_run_config())
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "dedup_training_set"
    assert "at least 10 of each are needed (FINETUNE_MIN_EXAMPLES)" in failure.step_failure_data.error.message
    assert ModelRegistry(open_database(settings.database_url)).versions() == []
