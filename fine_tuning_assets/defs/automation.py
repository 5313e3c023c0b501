"""Jobs, schedules and sensors of the dedup chain."""

# No `from __future__ import annotations` here: Dagster reads the `context` and config annotations at
# definition time and rejects string annotations.

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

from fine_tuning_assets.defs.dedup import dedup_feedback, dedup_training_set
from fine_tuning_assets.defs.materializations import decisions_since_last_training
from fine_tuning_assets.defs.resources import FeedbackStoreResource, FineTuningSettingsResource
from fine_tuning_assets.tasks.dedup.store import FeedbackStore

dedup_chain_job = define_asset_job(
    "dedup_chain",
    selection=AssetSelection.groups("dedup"),
    description="The whole dedup chain: feedback → training set → candidate → evaluation → active model.",
)
dedup_data_prep_job = define_asset_job(
    "dedup_data_prep",
    selection=AssetSelection.assets(dedup_feedback, dedup_training_set),
    description="Snapshot the decisions and rebuild the training set (no training).",
)


def retraining_request(
    instance: DagsterInstance, store: FeedbackStore, *, threshold: int, trigger: str
) -> RunRequest | SkipReason:
    """A run of the whole chain when the decisions recorded since the last trained model's data reach
    ``threshold``; otherwise the reason to skip. The run key holds the store's watermark, so one trigger
    never starts two runs for the same decisions."""
    count = decisions_since_last_training(instance, store)
    if count < threshold:
        return SkipReason(
            f"{count} new decisions since the last trained model; retraining needs {threshold} "
            "(FINETUNE_RETRAIN_MIN_NEW_DECISIONS)"
        )
    latest = store.latest_recorded_at()
    return RunRequest(
        run_key=f"{trigger}-{latest.isoformat() if latest else 'none'}",
        tags={"fta/trigger": trigger, "fta/new_decisions": str(count)},
    )


def build_automation(*, schedule_mode: str, finetune_enabled: bool) -> tuple[list, list]:
    """The schedules and sensors, switched on by FINETUNE_SCHEDULE and FINETUNE_ENABLED.

    ``weekly``: weekly data prep and monthly retraining run; ``monthly``: monthly retraining only;
    ``manual``: neither (the new-decisions sensor still runs while fine-tuning is enabled).
    """

    def status(on: bool) -> DefaultScheduleStatus:
        return DefaultScheduleStatus.RUNNING if on and finetune_enabled else DefaultScheduleStatus.STOPPED

    weekly_data_prep = ScheduleDefinition(
        name="weekly_dedup_data_prep",
        job=dedup_data_prep_job,
        cron_schedule="0 2 * * 0",
        default_status=status(schedule_mode == "weekly"),
        description="Sundays 02:00: snapshot decisions and rebuild the dedup training set.",
    )

    @schedule(
        name="monthly_dedup_retraining",
        job=dedup_chain_job,
        cron_schedule="0 2 1 * *",
        default_status=status(schedule_mode in ("weekly", "monthly")),
        description="1st of the month 02:00: run the whole chain if enough new decisions arrived.",
    )
    def monthly_retraining(
        context: ScheduleEvaluationContext,
        feedback_store: FeedbackStoreResource,
        finetuning: FineTuningSettingsResource,
    ):
        return retraining_request(
            context.instance,
            feedback_store.get_store(),
            threshold=finetuning.retrain_min_new_decisions,
            trigger="monthly_schedule",
        )

    @sensor(
        name="dedup_new_decisions_sensor",
        job=dedup_chain_job,
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING if finetune_enabled else DefaultSensorStatus.STOPPED,
        description="Retrain when the decisions since the last training set reach the threshold.",
    )
    def new_decisions_sensor(
        context: SensorEvaluationContext,
        feedback_store: FeedbackStoreResource,
        finetuning: FineTuningSettingsResource,
    ):
        return retraining_request(
            context.instance,
            feedback_store.get_store(),
            threshold=finetuning.retrain_min_new_decisions,
            trigger="new_decisions",
        )

    return [weekly_data_prep, monthly_retraining], [new_decisions_sensor]
