"""A password in FTA_DATABASE_URL never reaches Dagster's storage, its event log, the UI's GraphQL answers, a
log line, an error message or a repr."""

from __future__ import annotations

import pytest
from dagster import AssetKey, instance_for_test
from sqlalchemy.engine import make_url

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.database import DatabaseUnavailableError, open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.chain_helpers import chain_run_config, metadata_of, run_chain, tiny_demo
from fine_tuning_assets_tests.secret_scan import (
    event_log_text,
    graphql_answers,
    postgres_tables_text,
    sqlite_files_text,
)

PASSWORD = "n0t-for-your-eyes"

DEFINITIONS = (
    "from fine_tuning_assets.core.config import Settings\n"
    "from fine_tuning_assets.definitions import build_definitions\n\n"
    "defs = build_definitions(Settings.from_env())\n"
)


def with_password(url: str) -> str:
    """The URL with a password (the local server trusts every connection, so any password works)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def run_the_chain_with_a_password_in_the_url(tmp_path, monkeypatch, database_url: str, instance):
    """Configure as a deployment does (environment variables only) and run the whole chain."""
    monkeypatch.setenv("FTA_HOME", str(tmp_path / "fta"))
    monkeypatch.setenv("FTA_DATABASE_URL", database_url)
    monkeypatch.setenv("FINETUNE_MIN_EXAMPLES", "5")
    settings = Settings.from_env()
    FeedbackStore(open_database(database_url)).add_decisions(tiny_demo(), kind="test", source="tiny demo")
    result = run_chain(settings, instance, chain_run_config())
    assert result.success
    return result


def assert_nowhere(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        assert text, f"{where}: nothing was read, so nothing was checked"
        assert PASSWORD not in text, f"the database password is in {where}"


def graphql_text(instance, tmp_path, run_id: str) -> str:
    definitions = tmp_path / "definitions_from_env.py"
    definitions.write_text(DEFINITIONS)
    answers = graphql_answers(instance, definitions, run_id)
    # The resources and the run were found, so their config was really searched.
    assert '"name": "feedback_store"' in answers and '"name": "model_registry"' in answers
    assert "runConfigYaml" in answers and run_id in answers
    return answers


def test_the_password_is_nowhere_in_a_sqlite_dagster_instance(tmp_path, monkeypatch, postgres_url):
    url = with_password(postgres_url)
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = run_the_chain_with_a_password_in_the_url(tmp_path, monkeypatch, url, instance)
        storage = sqlite_files_text(tmp_path / "dagster")
        assert result.run_id in storage
        assert_nowhere(
            {
                "the instance's storage (SQLite files, compute logs)": storage,
                "the run's event log": event_log_text(instance, result.run_id),
                "the GraphQL answers": graphql_text(instance, tmp_path, result.run_id),
            }
        )
        # The run's job snapshot was decompressed and read: it names the resources' config fields.
        assert "database_url_env" in storage


def test_the_chain_on_postgres_for_dagster_and_the_feedback_store_leaks_no_password(
    tmp_path, monkeypatch, postgres_url
):
    """The production profile: the Dagster instance and the feedback store in PostgreSQL, credentials from
    the environment (the instance's config names DAGSTER_PG_* variables, as deploy/postgres does)."""
    url = with_password(postgres_url)
    parts = make_url(url)
    for name, value in {
        "DAGSTER_PG_USERNAME": parts.username,
        "DAGSTER_PG_PASSWORD": PASSWORD,
        "DAGSTER_PG_HOST": parts.host,
        "DAGSTER_PG_DB": parts.database,
        "DAGSTER_PG_PORT": str(parts.port or 5432),
    }.items():
        monkeypatch.setenv(name, value)
    storage = {
        "postgres_db": {
            "username": {"env": "DAGSTER_PG_USERNAME"},
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": {"env": "DAGSTER_PG_HOST"},
            "db_name": {"env": "DAGSTER_PG_DB"},
            "port": {"env": "DAGSTER_PG_PORT"},
            "scheme": "postgresql+psycopg2",
        }
    }
    overrides = {"storage": {"postgres": storage}}
    (tmp_path / "dagster").mkdir()
    with instance_for_test(overrides=overrides, temp_dir=str(tmp_path / "dagster")) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = run_the_chain_with_a_password_in_the_url(tmp_path, monkeypatch, url, instance)
        version_id = metadata_of(result, "dedup_active_model")["active_version_id"]
        tables = postgres_tables_text(postgres_url)
        assert result.run_id in tables
        assert_nowhere(
            {
                "the instance's PostgreSQL tables": tables,
                "the instance's local files (its config, compute logs)": sqlite_files_text(
                    tmp_path / "dagster"
                ),
                "the run's event log": event_log_text(instance, result.run_id),
                "the GraphQL answers": graphql_text(instance, tmp_path, result.run_id),
            }
        )
        assert "database_url_env" in tables  # the job snapshot was decompressed and read
    # The instance's records live in PostgreSQL: a second instance on the same database sees the run.
    with instance_for_test(overrides=overrides) as again:
        assert again.get_run_by_id(result.run_id).is_success
        assert again.get_latest_materialization_event(AssetKey("dedup_active_model")) is not None
    assert ModelRegistry(open_database(url)).active("dedup").id == version_id


def test_settings_and_connection_errors_hide_the_password():
    settings = Settings.from_env(
        {
            "FTA_DATABASE_URL": f"postgresql+psycopg2://fta:{PASSWORD}@127.0.0.1:1/fta",
            "OPENAI_API_KEY": "sk-also-secret",
        }
    )
    shown = repr(settings)
    assert PASSWORD not in shown and "sk-also-secret" not in shown
    assert "postgresql+psycopg2://fta:***@127.0.0.1:1/fta" in shown and "openai_api_key='***'" in shown
    with pytest.raises(DatabaseUnavailableError) as raised:
        open_database(settings.database_url)
    assert PASSWORD not in str(raised.value) and "fta:***@127.0.0.1:1" in str(raised.value)
