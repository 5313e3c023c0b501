"""Running the dedup chain in-process on tiny data, for the chain tests."""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, DagsterInstance

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.definitions import build_definitions
from fine_tuning_assets.tasks.dedup.demo import generate_demo_decisions
from fine_tuning_assets.tasks.dedup.records import DecisionBatch


def tiny_demo(decided_clusters: int = 70) -> DecisionBatch:
    """The first decided clusters of the demo (tens of pairs per split) and the insights they name."""
    batch = generate_demo_decisions()
    clusters = [c for c in batch.clusters if c.is_decided][:decided_clusters]
    used = {m.insight_id for c in clusters for m in c.members}
    return DecisionBatch(tuple(i for i in batch.insights if i.id in used), tuple(clusters))


def settings_for(tmp_path, monkeypatch=None, database_url: str | None = None, **env: str) -> Settings:
    """Settings for a chain test. The resources read FTA_DATABASE_URL from the environment at run time, so
    a database URL is set there (``monkeypatch`` is pytest's fixture)."""
    values = {"FTA_HOME": str(tmp_path / "fta"), "FINETUNE_MIN_EXAMPLES": "5", **env}
    if database_url:
        monkeypatch.setenv("FTA_DATABASE_URL", database_url)
        values["FTA_DATABASE_URL"] = database_url
    return Settings.from_env(values)


def chain_run_config(
    *,
    min_improvement: float = -1.0,
    target_precision: float = 0.01,
    recipes: tuple[str, ...] = ("stacker",),
    fixed_split_min_test_pairs: int = 0,
) -> dict[str, Any]:
    """One short epoch per fine-tune; by default only the stacker, which needs no fine-tuning. The gate
    settings are chosen by the test so it knows which way the gate goes: by default (improvement ≥ -1 over
    the reference and the base, auto-merge precision ≥ 0.01, so nearly every pair auto-merges at the base
    rate) it passes whatever the candidate scores. By default the fixed split is used however small the test
    split (``fixed_split_min_test_pairs=0``); a larger value gives the cross-validation regime."""
    return {
        "ops": {
            "dedup_candidate_model": {
                "config": {
                    "recipes": list(recipes),
                    "bi_encoder": {"epochs": 1},
                    "cross_encoder": {"epochs": 1},
                    "cross_validation_folds": 3,
                    "cross_validation_repeats": 1,
                    "fixed_split_min_test_pairs": fixed_split_min_test_pairs,
                }
            },
            "dedup_evaluation": {
                "config": {
                    "min_improvement": min_improvement,
                    "target_precision": target_precision,
                    "min_auto_merged": 1,
                    "min_improvement_over_base": -1.0,
                }
            },
        }
    }


def run_chain(settings: Settings, instance: DagsterInstance, run_config: dict[str, Any]):
    job = build_definitions(settings).resolve_job_def("dedup_chain")
    return job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)


def metadata_of(result, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def check_results(result) -> dict[str, bool]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
