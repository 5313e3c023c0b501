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

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import NoSuchModuleError, OperationalError

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
    # The owner of a version in flight (training, evaluating): the Dagster run and the process that
    # registered it, so a version whose owner died can be told from one still being worked on (migration 2).
    sa.Column("owner_run_id", sa.String(64), nullable=True),
    sa.Column("owner_host", sa.String(255), nullable=True),
    sa.Column("owner_pid", sa.Integer, nullable=True),
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


class DatabaseURLError(DatabaseUnavailableError):
    """The database URL is malformed or names a database or driver the project cannot use."""


class DatabaseReadOnlyError(DatabaseUnavailableError):
    """The database (or the folder of a SQLite file) cannot be written."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite; every datetime in this project is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def redact_url(url: str) -> str:
    """The URL with any password hidden, safe to print (also when it is not a URL SQLAlchemy can parse).

    Example:
        >>> redact_url("postgresql+psycopg2://fta:s3cret@db:5432/fta")
        'postgresql+psycopg2://fta:***@db:5432/fta'
        >>> redact_url("postgresql://fta:s3cret@db:port/fta")
        'postgresql://fta:***@db:port/fta'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: hide whatever stands between "user:" and the last "@"
        return re.sub(r"(://[^:/@]*:).*@", r"\1***@", url)


def text_problems(table: sa.Table, values: Mapping[str, Any], *, what: str) -> list[str]:
    """What the two databases would not store alike in a row of ``table``: a NUL character (PostgreSQL
    refuses one, SQLite would keep it) or a string longer than its column (PostgreSQL refuses it, SQLite
    would store it whole). Checked before writing, so both backends refuse the same rows, with one message.

    Example:
        >>> text_problems(merge_clusters, {"reviewer": "x" * 201}, what="cluster 'c1'")
        ["cluster 'c1': reviewer is longer than 200 characters (201)"]
    """
    problems = []
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            problems.append(
                f"{what}: {name} contains a NUL character (\\x00), which the database cannot store"
            )
        length = getattr(table.c[name].type, "length", None)
        if length is not None and len(value) > length:
            problems.append(f"{what}: {name} is longer than {length} characters ({len(value)})")
    return problems


#: The databases the project runs on, by SQLAlchemy backend name.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_URL_EXAMPLES = "sqlite:////path/to/fta.sqlite or postgresql+psycopg2://user:password@host:5432/dbname"


def _parse_database_url(url: str):  # -> sqlalchemy URL
    """The parsed URL of a supported database; :class:`DatabaseURLError` (password hidden) otherwise."""
    try:
        parsed = make_url(url)
    except Exception as error:  # ArgumentError, or ValueError for e.g. a port that is not a number
        raise DatabaseURLError(
            f"the database URL {redact_url(url)!r} cannot be parsed ({error}); use {_URL_EXAMPLES}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise DatabaseURLError(
            f"the database URL {redact_url(url)!r} starts with postgres://; SQLAlchemy names PostgreSQL "
            "postgresql:// (postgresql+psycopg2://user:password@host:5432/dbname)"
        )
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseURLError(
            f"the database URL {redact_url(url)!r} names {backend!r}, which fine_tuning_assets does not "
            f"support; it runs on SQLite or PostgreSQL: {_URL_EXAMPLES}"
        )
    return parsed


def _prepare_sqlite_folder(url: str, database: str) -> None:
    """Create the SQLite file's folder; refuse clearly when the file cannot be created or written there."""
    file = Path(database)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailableError(
            f"cannot create the folder of the database {redact_url(url)}: {error.strerror} "
            f"({error.filename or file.parent})"
        ) from None
    if not file.exists() and not os.access(file.parent, os.W_OK):
        raise DatabaseReadOnlyError(
            f"cannot create the database {redact_url(url)}: the folder {file.parent} is not writable "
            "(read-only file system or no permission); set FTA_HOME (or FTA_DATABASE_URL) to a writable place"
        )


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, foreign keys and a busy timeout.

    Raises :class:`DatabaseURLError` for a URL that is malformed or names a database other than SQLite or
    PostgreSQL, :class:`DatabaseReadOnlyError` when a SQLite database cannot be written (also later, on
    the first write), and :class:`DatabaseUnavailableError` when it cannot connect; every message names the
    URL with its password hidden.
    """
    parsed = _parse_database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _prepare_sqlite_folder(url, parsed.database)
            engine = sa.create_engine(url, connect_args={"timeout": 30})
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as error:  # a driver that is not installed
        raise DatabaseURLError(
            f"cannot use the database URL {redact_url(url)!r}: {error}; the installed drivers are SQLite's "
            "and psycopg2 (postgresql+psycopg2://…)"
        ) from None

    if engine.dialect.name == "sqlite":

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

        @sa.event.listens_for(engine, "handle_error")
        def _sqlite_read_only(context) -> None:  # type: ignore[no-untyped-def]
            # SQLite says "attempt to write a readonly database"; say which database and what to do.
            if "readonly database" in str(context.original_exception):
                raise DatabaseReadOnlyError(
                    f"the database {redact_url(url)} is read-only ({context.original_exception}): its file "
                    "or its folder cannot be written; set FTA_HOME (or FTA_DATABASE_URL) to a writable place"
                ) from context.sqlalchemy_exception

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


def _migration_2_model_version_owner(connection: Connection) -> None:
    # Migration 1 creates the tables from the current definitions, so a database created since already has
    # these columns; one created before gets them here.
    present = {column["name"] for column in sa.inspect(connection).get_columns(model_versions.name)}
    for column in (model_versions.c.owner_run_id, model_versions.c.owner_host, model_versions.c.owner_pid):
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(sa.text(f"ALTER TABLE {model_versions.name} ADD COLUMN {column.name} {kind}"))


#: Ordered migrations: (version, description, function). Append; never edit an applied one.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "feedback store and model registry", _migration_1_initial_schema),
    (2, "model versions record their owner (Dagster run, host, process)", _migration_2_model_version_owner),
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
