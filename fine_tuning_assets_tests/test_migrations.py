"""The schema arrives through Alembic: a fresh database at head is exactly :data:`metadata`, a store made by the
numbered migrations of earlier versions is adopted with its rows, and migrating is atomic and serialised."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import fine_tuning_assets.tasks.retrieval.tables  # noqa: F401  (every task's tables on the metadata)
from fine_tuning_assets.core.database import (
    VERSION_TABLE,
    DatabaseUnavailableError,
    connect,
    current_revision,
    head_revision,
    metadata,
    migrate,
    open_database,
)
from fine_tuning_assets.core.migrations import schema_metadata
from fine_tuning_assets.core.processes import RunOwner
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.store import FeedbackStore

NUMBERED_STORE = Path(__file__).with_name("data") / "numbered_store"
OWNER_COLUMNS = {"owner_run_id", "owner_host", "owner_pid"}
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fta.sqlite'}"
    return request.getfixturevalue("postgres_url")


def schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(
            MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}), metadata
        )


def test_every_task_table_is_on_the_metadata():
    assert {"documents", "retrieval_feedback", "model_versions", "merge_clusters"} <= set(
        schema_metadata().tables
    )


def test_a_fresh_database_at_head_has_exactly_the_schema_of_metadata(database_url):
    engine = open_database(database_url)
    assert schema_differences(engine) == []
    tables = set(sa.inspect(engine).get_table_names())
    assert tables == set(metadata.tables) | {"fta_alembic_version"}
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_migrate_is_idempotent_and_returns_the_head(database_url):
    engine = open_database(database_url)
    assert migrate(engine) == migrate(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM fta_alembic_version")).scalar_one() == 1
    engine.dispose()


def test_an_in_memory_database_migrates():
    engine = open_database("sqlite://")
    assert schema_differences(engine) == []


def _numbered_store_sql(version: str, dialect: str) -> list[str]:
    """The statements of a captured numbered store (``data/numbered_store/<version>.<dialect>.sql``)."""
    lines = (NUMBERED_STORE / f"{version}.{dialect}.sql").read_text().splitlines()
    sql = "\n".join(line for line in lines if not line.startswith("--"))
    return [statement.strip().rstrip(";") for statement in sql.split(";\n") if statement.strip()]


def _load_numbered_store(engine: sa.Engine, version: str) -> tuple[sa.MetaData, dict[str, list[tuple]]]:
    """A store as the numbered migrations left it (captured DDL of that code, see the .sql files) with a few
    rows in every table, inserted through the reflected old tables; returns those tables and their rows."""
    with engine.begin() as connection:
        for statement in _numbered_store_sql(version, engine.dialect.name):
            connection.exec_driver_sql(statement)
        old = sa.MetaData()
        old.reflect(connection)
        t = old.tables
        batch = connection.execute(
            t["import_batches"].insert(),
            dict(kind="decisions", source="old.csv", insight_count=2, cluster_count=1, imported_at=T0),
        ).inserted_primary_key[0]
        for insight_id in ("i1", "i2"):
            connection.execute(
                t["insights"].insert(),
                dict(
                    id=insight_id,
                    statement=f"statement {insight_id}",
                    confidence=0.5,
                    evidence_type=None,
                    source="interviews",
                    extra_metadata={"team": "x"},
                    import_batch_id=batch,
                    created_at=T0,
                ),
            )
        connection.execute(
            t["merge_clusters"].insert(),
            dict(
                id="c1",
                status="approved",
                reviewer="ana",
                decided_at=T0,
                import_batch_id=batch,
                created_at=T0,
                recorded_at=T0,
            ),
        )
        connection.execute(
            t["merge_cluster_members"].insert(),
            [dict(cluster_id="c1", insight_id=i, similarity=0.9, selected=True) for i in ("i1", "i2")],
        )
        version_id = connection.execute(
            t["model_versions"].insert(),
            dict(
                task="dedup",
                version=1,
                state="active",
                model_kind="cross-encoder",
                base_model="base",
                dataset_version="d1",
                artifact_path="/models/1",
                config={"lr": 1e-5},
                training_metrics={"loss": 0.1},
                evaluation={"f1": 0.8},
                created_at=T0,
                updated_at=T0,
            ),
        ).inserted_primary_key[0]
        connection.execute(
            t["model_events"].insert(),
            dict(
                task="dedup",
                model_version_id=version_id,
                event="promote",
                from_state="staged",
                to_state="active",
                actor="ana",
                reason="better",
                created_at=T0,
            ),
        )
        return old, _rows(connection, old)


def _rows(connection: sa.Connection, old: sa.MetaData) -> dict[str, list[tuple]]:
    """Every row of the numbered store's data tables, in the old columns, ordered by primary key."""
    rows = {}
    for name, table in old.tables.items():
        if name == "schema_migrations":
            continue
        current = sa.Table(name, sa.MetaData(), autoload_with=connection)
        columns = [current.c[c.name] for c in table.columns]
        query = sa.select(*columns).order_by(*current.primary_key.columns)
        rows[name] = [tuple(row) for row in connection.execute(query)]
    return rows


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_store_made_by_the_numbered_migrations_is_adopted_with_its_rows(database_url, version):
    engine = connect(database_url)
    old, before = _load_numbered_store(engine, version)
    assert (OWNER_COLUMNS <= {c["name"] for c in sa.inspect(engine).get_columns("model_versions")}) == (
        version == "v2"
    )
    assert all(before.values()), before

    assert migrate(engine) == head_revision()

    with engine.connect() as connection:
        assert _rows(connection, old) == before
    assert not sa.inspect(engine).has_table("schema_migrations")
    assert schema_differences(engine) == []
    assert migrate(engine) == head_revision()  # and again: nothing left to do

    # The project reads and writes the adopted store as its own.
    registry = ModelRegistry(engine)
    active = registry.active("dedup")
    assert active is not None and active.evaluation == {"f1": 0.8} and active.owner is None
    owner = RunOwner(run_id="run-1", host="h", pid=7)
    added = registry.register(
        task="dedup",
        model_kind="cross-encoder",
        base_model="base",
        dataset_version="d2",
        config={},
        actor="t",
        owner=owner,
    )
    assert (added.version, registry.get(added.id).owner) == (2, owner)
    cluster = FeedbackStore(engine).get_cluster("c1")
    assert cluster is not None and cluster.status == "approved" and len(cluster.members) == 2
    engine.dispose()


def test_a_store_reopened_by_an_earlier_version_after_adoption_migrates_again(database_url):
    """An earlier version opening an adopted store (a rollback) recreates ``schema_migrations`` with 1 and 2
    (its migrations are no-ops on the present tables); the next migrate drops it again and keeps the rows,
    rather than stamping the store back to the baseline."""
    engine = connect(database_url)
    old, before = _load_numbered_store(engine, "v2")
    migrate(engine)
    with engine.begin() as connection:  # its CREATE TABLE schema_migrations and INSERTs, as it ran them
        for statement in _numbered_store_sql("v2", engine.dialect.name):
            if "schema_migrations" in statement:
                connection.exec_driver_sql(statement)
    assert migrate(engine) == head_revision()
    assert not sa.inspect(engine).has_table("schema_migrations")
    with engine.connect() as connection:
        assert _rows(connection, old) == before
    assert schema_differences(engine) == []
    engine.dispose()


def test_a_failed_upgrade_leaves_the_store_as_it_was(database_url):
    """Adoption and every revision run in one transaction: a revision that fails (here: a table in the way of
    revision 2) rolls back the added owner columns, the stamp and the drop of ``schema_migrations`` too."""
    engine = connect(database_url)
    old, before = _load_numbered_store(engine, "v1")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE documents (id INTEGER PRIMARY KEY)")
    with pytest.raises(sa.exc.DatabaseError, match="documents"):
        migrate(engine)
    inspector = sa.inspect(engine)
    assert not inspector.has_table("fta_alembic_version")
    assert not OWNER_COLUMNS & {c["name"] for c in inspector.get_columns("model_versions")}
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all() == [1]
        assert _rows(connection, old) == before
    engine.dispose()


def test_a_numbered_store_without_migration_1_gets_every_table(database_url):
    """The numbered scheme created ``schema_migrations`` before migration 1 ran (in its own transaction)."""
    engine = connect(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at TIMESTAMP NOT NULL)"
        )
    assert migrate(engine) == head_revision()
    assert schema_differences(engine) == []
    assert not sa.inspect(engine).has_table("schema_migrations")
    engine.dispose()


def test_a_database_migrated_by_a_newer_version_is_refused(sqlite_url):
    engine = open_database(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE fta_alembic_version SET version_num = '0099'")
    with pytest.raises(DatabaseUnavailableError, match=r"is at schema revision '0099', which this version"):
        migrate(engine)


def test_a_numbered_store_from_a_newer_version_is_refused(sqlite_url):
    engine = connect(sqlite_url)
    _load_numbered_store(engine, "v2")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO schema_migrations VALUES (3, 'from the future', '2026-03-01 12:00:00')"
        )
    with pytest.raises(DatabaseUnavailableError, match=r"records schema migrations \[3\] that this version"):
        migrate(engine)
    assert sa.inspect(engine).has_table("schema_migrations")
    assert not sa.inspect(engine).has_table("fta_alembic_version")


_MIGRATE_AT = """
import sys, time
from fine_tuning_assets.core.database import connect, migrate
engine = connect(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(migrate(engine))
"""


def test_two_processes_migrating_at_once_both_reach_head(database_url):
    """The second waits for the first (PostgreSQL advisory lock, SQLite BEGIN IMMEDIATE), then finds the
    schema at head; without the lock both would create ``fta_alembic_version`` and the tables."""
    start = time.time() + 4  # both processes are up (imports take ~1 s) and start migrating together
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AT, database_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
        assert stdout.strip() == head_revision()
    engine = connect(database_url)
    assert schema_differences(engine) == []
    engine.dispose()
