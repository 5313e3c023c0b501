"""ConfigurableResource wrappers around the feedback store, model registry and artifact store.

The database URL can hold a password, so it is never a config value (Dagster stores resource config in the
run's snapshot and shows it in the UI): the resources keep only the *name* of the environment variable and
the FTA_HOME folder, and read the URL from the environment of the process that uses them.
"""

from __future__ import annotations

from threading import Lock

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.config import DATABASE_URL_VARIABLE, database_url_from_env
from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.core.task import TaskSettings

_engines: dict[str, Engine] = {}
_engines_lock = Lock()


def shared_engine(url: str) -> Engine:
    """One migrated engine per database URL and process."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = open_database(url)
        return _engines[url]


class DatabaseResource(ConfigurableResource):
    """The project's database: the URL in the environment variable ``database_url_env`` when it is set,
    else the SQLite file under ``home``. The URL is read when the resource is used, never stored."""

    home: str = Field(description="FTA_HOME: the folder of the embedded SQLite database (fta.sqlite).")
    database_url_env: str = Field(
        DATABASE_URL_VARIABLE,
        description="Environment variable holding the database URL (e.g. postgresql+psycopg2://…); "
        "read at run time, so a password in it never reaches run config, storage or the UI.",
    )

    def engine(self) -> Engine:
        return shared_engine(database_url_from_env(self.home, variable=self.database_url_env))


class FeedbackStoreResource(DatabaseResource):
    """The database of every task's feedback (SQLite under FTA_HOME by default, PostgreSQL via
    FTA_DATABASE_URL); each task reads its own tables through :meth:`engine`."""


class ModelRegistryResource(DatabaseResource):
    """The model registry, in the same database as the feedback store."""

    def get_registry(self) -> ModelRegistry:
        return ModelRegistry(self.engine())


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

    def task_settings(self) -> TaskSettings:
        return TaskSettings(min_examples=self.min_examples_per_class, base_model=self.base_model)
