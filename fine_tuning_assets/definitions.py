"""The project's one Definitions object: every task's chain (assets, checks, jobs, schedules, sensor) and the
resources they share."""

from __future__ import annotations

from dagster import Definitions

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.defs.automation import build_task_automation, build_task_jobs
from fine_tuning_assets.defs.chain import build_task_assets
from fine_tuning_assets.defs.resources import (
    ArtifactStoreResource,
    FeedbackStoreResource,
    FineTuningSettingsResource,
    ModelRegistryResource,
)
from fine_tuning_assets.defs.serving import build_serving_definitions
from fine_tuning_assets.tasks import TASKS


def build_definitions(settings: Settings) -> Definitions:
    """Definitions wired to ``settings`` (tests pass their own; ``defs`` uses the environment)."""
    assets, jobs, schedules, sensors = [], [], [], []
    for task in TASKS:
        assets += build_task_assets(task)
        task_jobs = build_task_jobs(task)
        jobs += [task_jobs.chain, task_jobs.data_prep]
        task_schedules, task_sensors = build_task_automation(
            task, task_jobs, schedule_mode=settings.schedule, finetune_enabled=settings.finetune_enabled
        )
        schedules += task_schedules
        sensors += task_sensors
    serving_assets, serving_jobs, serving_schedules = build_serving_definitions(list(TASKS))
    assets += serving_assets
    jobs += serving_jobs
    schedules += serving_schedules
    return Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={
            # The database URL (it may hold a password) is read from FTA_DATABASE_URL at run time, never
            # passed as config: only the FTA_HOME folder (the SQLite default) is.
            "feedback_store": FeedbackStoreResource(home=str(settings.home)),
            "model_registry": ModelRegistryResource(home=str(settings.home)),
            "artifact_store": ArtifactStoreResource(root=str(settings.artifact_root)),
            "finetuning": FineTuningSettingsResource(
                enabled=settings.finetune_enabled,
                min_examples_per_class=settings.min_examples_per_class,
                auto_promote=settings.auto_promote,
                retrain_min_new_decisions=settings.retrain_min_new_decisions,
                base_model=settings.base_model,
            ),
        },
    )


defs = build_definitions(Settings.from_env())


if __name__ == "__main__":  # a run launched through the HTTP API (fine_tuning_assets.defs.launch.launch_job)
    import sys

    from fine_tuning_assets.defs.launch import main

    sys.exit(main(build_definitions, sys.argv[1:]))
