"""The feedback store's and model registry's schema, engines and migrations.

One schema serves SQLite (the embedded default under ``FTA_HOME``) and PostgreSQL (``FTA_DATABASE_URL``).
Migrations are ordered, numbered functions owned by the project and recorded in ``schema_migrations``;
:func:`migrate` applies the missing ones in a transaction each, so a live database is never changed by hand.

Example:
    >>> engine = connect("sqlite://")
    >>> applied = migrate(engine)
    >>> applied[-1] >= 1
    True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

metadata = sa.MetaData()

insights = sa.Table(
    "insights",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("evidence_type", sa.String(100), nullable=True),
    sa.Column("source", sa.String(500), nullable=True),
    sa.Column("extra_metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

import_batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("insight_count", sa.Integer, nullable=False),
    sa.Column("cluster_count", sa.Integer, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

merge_clusters = sa.Table(
    "merge_clusters",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reviewer", sa.String(200), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # When the store last recorded this cluster (created, or decided): the watermark of feedback snapshots.
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_merge_clusters_status"),
    sa.CheckConstraint(
        "(status = 'pending' AND decided_at IS NULL) OR (status <> 'pending' AND decided_at IS NOT NULL)",
        name="ck_merge_clusters_decided_at",
    ),
    sa.Index("ix_merge_clusters_recorded_at", "recorded_at"),
)

merge_cluster_members = sa.Table(
    "merge_cluster_members",
    metadata,
    sa.Column("cluster_id", sa.String(200), sa.ForeignKey("merge_clusters.id"), primary_key=True),
    sa.Column("insight_id", sa.String(200), sa.ForeignKey("insights.id"), primary_key=True),
    sa.Column("similarity", sa.Float, nullable=True),
    sa.Column("selected", sa.Boolean, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("model_kind", sa.String(100), nullable=False),
    sa.Column("base_model", sa.Text, nullable=False),
    sa.Column("dataset_version", sa.String(200), nullable=False),
    sa.Column("artifact_path", sa.Text, nullable=True),
    sa.Column("config", sa.JSON, nullable=False, default=dict),
    sa.Column("training_metrics", sa.JSON, nullable=False, default=dict),
    sa.Column("evaluation", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("task", "version", name="uq_model_versions_task_version"),
    sa.CheckConstraint(
        "state IN ('training', 'evaluating', 'staged', 'active', 'deprecated', 'failed')",
        name="ck_model_versions_state",
    ),
    # Exactly one active version per task, enforced by the database (a partial unique index).
    sa.Index(
        "uq_model_versions_one_active",
        "task",
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    ),
)

model_events = sa.Table(
    "model_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(100), nullable=False),
    sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("event", sa.String(50), nullable=False),
    sa.Column("from_state", sa.String(20), nullable=True),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_model_events_task", "task", "id"),
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be reached or opened."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite; every datetime in this project is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def redact_url(url: str) -> str:
    """The URL with any password hidden, safe to print."""
    return make_url(url).render_as_string(hide_password=True)


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, foreign keys and a busy timeout.

    Raises :class:`DatabaseUnavailableError` naming the (password-redacted) URL when it cannot connect.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the driver, open transactions, so that "begin" below is the only BEGIN.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
            # Writers take the lock up front: two racing transactions run one after the other instead of
            # failing half-way with "database is locked" when the second one tries to write.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        engine.dispose()
        raise DatabaseUnavailableError(
            f"cannot connect to the database at {redact_url(url)}: {error.orig}"
        ) from error
    return engine


def _migration_1_initial_schema(connection: Connection) -> None:
    metadata.create_all(
        connection,
        tables=[
            import_batches,
            insights,
            merge_clusters,
            merge_cluster_members,
            model_versions,
            model_events,
        ],
    )


#: Ordered migrations: (version, description, function). Append; never edit an applied one.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "feedback store and model registry", _migration_1_initial_schema),
)


def migrate(engine: Engine) -> list[int]:
    """Apply the migrations this database has not had yet; returns every applied version, ascending."""
    with engine.begin() as connection:
        schema_migrations.create(connection, checkfirst=True)
    for version, description, apply in MIGRATIONS:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Two processes migrating at once: the second waits, then finds the version applied.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(724105)"))
            done = connection.execute(
                sa.select(schema_migrations.c.version).where(schema_migrations.c.version == version)
            ).first()
            if done:
                continue
            apply(connection)
            connection.execute(
                schema_migrations.insert().values(
                    version=version, description=description, applied_at=utcnow()
                )
            )
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(schema_migrations.c.version)).scalars())


def open_database(url: str) -> Engine:
    """Connect and bring the schema up to date: the one way the project opens its database."""
    engine = connect(url)
    migrate(engine)
    return engine
