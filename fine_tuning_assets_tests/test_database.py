from __future__ import annotations

import pytest
import sqlalchemy as sa

from fine_tuning_assets.core.database import MIGRATIONS, DatabaseUnavailableError, migrate, open_database


def test_migrations_apply_once(sqlite_url):
    engine = open_database(sqlite_url)
    assert migrate(engine) == [version for version, _, _ in MIGRATIONS]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar() == len(
            MIGRATIONS
        )


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(
        DatabaseUnavailableError,
        match=r"cannot connect to the database at postgresql\+psycopg2://u:\*\*\*@127.0.0.1:1/x",
    ):
        open_database("postgresql+psycopg2://u:secret@127.0.0.1:1/x")


def test_sqlite_file_folder_is_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'fta.sqlite'}"
    open_database(url)
    assert (tmp_path / "deep" / "er" / "fta.sqlite").is_file()


def test_migration_2_adds_the_owner_columns_to_a_database_created_before_it(sqlite_url):
    engine = open_database(sqlite_url)
    with engine.begin() as connection:  # the database as migration 1 left it before owners existed
        for column in ("owner_run_id", "owner_host", "owner_pid"):
            connection.exec_driver_sql(f"ALTER TABLE model_versions DROP COLUMN {column}")
        connection.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 2")
    assert migrate(engine) == [1, 2]
    columns = {c["name"] for c in sa.inspect(engine).get_columns("model_versions")}
    assert {"owner_run_id", "owner_host", "owner_pid"} <= columns
