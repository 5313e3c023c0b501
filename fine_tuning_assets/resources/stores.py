"""ConfigurableResource wrappers around the feedback store, model registry and artifact store."""

from __future__ import annotations

from threading import Lock

from dagster import ConfigurableResource
from sqlalchemy.engine import Engine

from fine_tuning_assets.artifacts import ArtifactStore
from fine_tuning_assets.database import open_database
from fine_tuning_assets.feedback_store import FeedbackStore
from fine_tuning_assets.registry import ModelRegistry

_engines: dict[str, Engine] = {}
_engines_lock = Lock()


def shared_engine(url: str) -> Engine:
    """One migrated engine per database URL and process."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = open_database(url)
        return _engines[url]


class FeedbackStoreResource(ConfigurableResource):
    """The feedback store (SQLite under FTA_HOME by default, PostgreSQL via FTA_DATABASE_URL)."""

    database_url: str

    def get_store(self) -> FeedbackStore:
        return FeedbackStore(shared_engine(self.database_url))


class ModelRegistryResource(ConfigurableResource):
    """The model registry, in the same database as the feedback store."""

    database_url: str

    def get_registry(self) -> ModelRegistry:
        return ModelRegistry(shared_engine(self.database_url))


class ArtifactStoreResource(ConfigurableResource):
    """Model versions and training sets under a local root ($FTA_HOME/artifacts by default)."""

    root: str

    def get_store(self) -> ArtifactStore:
        return ArtifactStore(self.root)


class FineTuningSettingsResource(ConfigurableResource):
    """Switches and limits from the environment (FINETUNE_*, FTA_BASE_MODEL)."""

    enabled: bool = True
    min_examples_per_class: int = 10
    auto_promote: bool = True
    retrain_min_new_decisions: int = 50
    base_model: str | None = None
