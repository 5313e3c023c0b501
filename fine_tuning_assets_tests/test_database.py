from __future__ import annotations

import pytest
import sqlalchemy as sa

from fine_tuning_assets.core.database import DatabaseUnavailableError, head_revision, migrate, open_database


def test_migrations_apply_once(sqlite_url):
    engine = open_database(sqlite_url)
    assert migrate(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM fta_alembic_version")).scalars().all() == [
            head_revision()
        ]


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
