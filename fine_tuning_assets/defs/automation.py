"""Jobs, schedules and the sensor of every task's chain.

Per task: the jobs ``<task>_chain`` (the whole chain) and ``<task>_data_prep`` (feedback and training set);
the schedules ``weekly_<task>_data_prep`` (Sundays 02:00) and ``monthly_<task>_retraining`` (the 1st, 02:00,
skipped unless enough new decisions arrived), switched by FINETUNE_SCHEDULE; and the sensor
``<task>_new_decisions_sensor``, which runs the chain when the decisions recorded since the data of the last
trained model reach FINETUNE_RETRAIN_MIN_NEW_DECISIONS.
"""

# No `from __future__ import annotations` here: Dagster reads the `context` and resource annotations at
# definition time and rejects string annotations.

from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetSelection,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.task import Task
from fine_tuning_assets.defs.materializations import decisions_since_last_training
from fine_tuning_assets.defs.resources import FeedbackStoreResource, FineTuningSettingsResource


@dataclass(frozen=True)
class TaskJobs:
    """A task's asset jobs (what ``define_asset_job`` returns)."""

    chain: Any
    data_prep: Any


def build_task_jobs(task: Task) -> TaskJobs:
    name = task.name
    return TaskJobs(
        chain=define_asset_job(
            f"{name}_chain",
            selection=AssetSelection.groups(name),
            description=f"The whole {name} chain: feedback → training set → candidate → evaluation → active model.",
        ),
        data_prep=define_asset_job(
            f"{name}_data_prep",
            selection=AssetSelection.assets(f"{name}_feedback", f"{name}_training_set"),
            description=f"Snapshot the {name} decisions and rebuild the training set (no training).",
        ),
    )


def retraining_request(
    instance: DagsterInstance, task: Task, engine: Engine, *, threshold: int, trigger: str
) -> RunRequest | SkipReason:
    """A run of the whole chain when the decisions recorded since the last trained model's data reach
    ``threshold``; otherwise the reason to skip. The run key holds the store's watermark, so one trigger
    never starts two runs for the same decisions."""
    count = decisions_since_last_training(instance, task, engine)
    if count < threshold:
        return SkipReason(
            f"{count} new decisions since the last trained {task.name} model; retraining needs {threshold} "
            "(FINETUNE_RETRAIN_MIN_NEW_DECISIONS)"
        )
    latest = task.latest_recorded_at(engine)
    return RunRequest(
        run_key=f"{trigger}-{latest.isoformat() if latest else 'none'}",
        tags={"fta/trigger": trigger, "fta/new_decisions": str(count)},
    )


def build_task_automation(
    task: Task, jobs: TaskJobs, *, schedule_mode: str, finetune_enabled: bool
) -> tuple[list, list]:
    """The task's schedules and sensor, switched on by FINETUNE_SCHEDULE and FINETUNE_ENABLED.

    ``weekly``: weekly data prep and monthly retraining run; ``monthly``: monthly retraining only;
    ``manual``: neither (the new-decisions sensor still runs while fine-tuning is enabled).
    """
    name = task.name

    def status(on: bool) -> DefaultScheduleStatus:
        return DefaultScheduleStatus.RUNNING if on and finetune_enabled else DefaultScheduleStatus.STOPPED

    weekly_data_prep = ScheduleDefinition(
        name=f"weekly_{name}_data_prep",
        job=jobs.data_prep,
        cron_schedule="0 2 * * 0",
        default_status=status(schedule_mode == "weekly"),
        description=f"Sundays 02:00: snapshot the {name} decisions and rebuild the training set.",
    )

    @schedule(
        name=f"monthly_{name}_retraining",
        job=jobs.chain,
        cron_schedule="0 2 1 * *",
        default_status=status(schedule_mode in ("weekly", "monthly")),
        description=f"1st of the month 02:00: run the whole {name} chain if enough new decisions arrived.",
    )
    def monthly_retraining(
        context: ScheduleEvaluationContext,
        feedback_store: FeedbackStoreResource,
        finetuning: FineTuningSettingsResource,
    ):
        return retraining_request(
            context.instance,
            task,
            feedback_store.engine(),
            threshold=finetuning.retrain_min_new_decisions,
            trigger="monthly_schedule",
        )

    @sensor(
        name=f"{name}_new_decisions_sensor",
        job=jobs.chain,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING if finetune_enabled else DefaultSensorStatus.STOPPED,
        description=f"Retrain when the {name} decisions since the last trained model's data reach the threshold.",
    )
    def new_decisions_sensor(
        context: SensorEvaluationContext,
        feedback_store: FeedbackStoreResource,
        finetuning: FineTuningSettingsResource,
    ):
        return retraining_request(
            context.instance,
            task,
            feedback_store.engine(),
            threshold=finetuning.retrain_min_new_decisions,
            trigger="new_decisions",
        )

    return [weekly_data_prep, monthly_retraining], [new_decisions_sensor]
