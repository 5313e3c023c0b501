"""The project's one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

from dagster import Definitions

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.defs.automation import build_automation, dedup_chain_job, dedup_data_prep_job
from fine_tuning_assets.defs.dedup import DEDUP_ASSETS
from fine_tuning_assets.defs.resources import (
    ArtifactStoreResource,
    FeedbackStoreResource,
    FineTuningSettingsResource,
    ModelRegistryResource,
)


def build_definitions(settings: Settings) -> Definitions:
    """Definitions wired to ``settings`` (tests pass their own; ``defs`` uses the environment)."""
    schedules, sensors = build_automation(
        schedule_mode=settings.schedule, finetune_enabled=settings.finetune_enabled
    )
    return Definitions(
        assets=DEDUP_ASSETS,
        jobs=[dedup_chain_job, dedup_data_prep_job],
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
