"""Live metrics in the Dagster UI: one ``<task>_live_accuracy`` asset per task (group ``serving``), made from
the prediction log — how each served model version does on the items humans decided after it answered.

An hourly schedule (``hourly_live_accuracy``) materializes them; the asset's plot of live accuracy per
version and its table of the active version's most confident mistakes are what a person looks at before
rolling back.
"""

from __future__ import annotations

import pandas as pd
from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from fine_tuning_assets.core.task import Task
from fine_tuning_assets.defs.chain import markdown_table
from fine_tuning_assets.defs.resources import FeedbackStoreResource, ModelRegistryResource
from fine_tuning_assets.serving.prediction_log import live_accuracy, served_versions

GROUP = "serving"


def build_live_accuracy_asset(task: Task):  # -> AssetsDefinition
    @asset(
        name=f"{task.name}_live_accuracy",
        group_name=GROUP,
        kinds={"python"},
        description=f"How each served {task.name} model version does on live traffic: its logged "
        "predictions whose item a human decided later (accuracy, precision, the override rate of what it "
        "decided without a human) and the active version's most confident mistakes.",
    )
    def live(
        feedback_store: FeedbackStoreResource, model_registry: ModelRegistryResource
    ) -> MaterializeResult:
        engine = feedback_store.engine()
        registry = model_registry.get_registry()
        active = registry.active(task.name)
        reports = [
            live_accuracy(
                engine,
                task=task.name,
                positive=task.positive_label,
                model_version_id=version_id,
                fallback=version_id is None,
                limit=10,
            )
            for _task, version_id in served_versions(engine, task=task.name)
        ]
        rows = pd.DataFrame(
            [
                {
                    "version": registry.get(r.model_version_id).label
                    if r.model_version_id
                    else "base (fallback)",
                    "active": bool(active and r.model_version_id == active.id),
                    "predictions": r.predictions,
                    "decided by a human": r.with_outcome,
                    "accuracy": r.accuracy,
                    "precision": r.precision,
                    "override rate": r.override_rate,
                    "mean latency ms": r.mean_latency_ms,
                }
                for r in reports
            ]
        )
        current = next((r for r in reports if active and r.model_version_id == active.id), None)
        mistakes = pd.DataFrame(
            [
                {
                    "predicted": m.prediction,
                    "human": m.actual,
                    "probability": m.probability,
                    "inputs": str(m.inputs)[:160],
                }
                for m in (current.misclassifications if current else [])
            ]
        )
        return MaterializeResult(
            metadata={
                "active_version_id": active.id if active else None,
                "predictions_logged": int(rows["predictions"].sum()) if len(rows) else 0,
                "decided_by_a_human": int(rows["decided by a human"].sum()) if len(rows) else 0,
                "active_live_accuracy": current.accuracy if current else None,
                "active_override_rate": current.override_rate if current else None,
                "by_version": markdown_table(rows, floatfmt=".3f"),
                "active_most_confident_mistakes": markdown_table(mistakes, floatfmt=".3f"),
            }
        )

    return live


def build_serving_definitions(tasks: list[Task]) -> tuple[list, list, list]:
    """The live-accuracy assets of ``tasks``, their job and its hourly schedule."""
    assets = [build_live_accuracy_asset(task) for task in tasks]
    job = define_asset_job(
        "live_accuracy",
        selection=AssetSelection.groups(GROUP),
        description="Live accuracy of every served model version, from the prediction log.",
    )
    schedule = ScheduleDefinition(
        name="hourly_live_accuracy",
        job=job,
        cron_schedule="15 * * * *",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every hour: live accuracy of the served models from the prediction log.",
    )
    return assets, [job], [schedule]
