"""Dagster resources: the project's stores and settings, configured from the environment."""

from __future__ import annotations

from fine_tuning_assets.resources.stores import (
    ArtifactStoreResource,
    FeedbackStoreResource,
    FineTuningSettingsResource,
    ModelRegistryResource,
)

__all__ = [
    "ArtifactStoreResource",
    "FeedbackStoreResource",
    "FineTuningSettingsResource",
    "ModelRegistryResource",
]
