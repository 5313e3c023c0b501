"""The feedback store's and model registry's schema, engines and migrations.

One schema serves SQLite (the embedded default under ``FTA_HOME``) and PostgreSQL (``FTA_DATABASE_URL``).
Every table is defined on :data:`metadata` (the core tables here, a task's own in ``tasks/<task>/tables.py``)
and arrives in a database through an Alembic revision in ``core/migrations/versions/``; :func:`migrate` (run
by :func:`open_database`) upgrades a database to the newest one, so a live database is never changed by hand.

Adding a migration (from the repository root, whose ``alembic.ini`` points at ``core/migrations``):

1. Change or add the table definitions (a new task's tables go in its ``tables.py``, on :data:`metadata`).
2. Bring a scratch database to head and let Alembic write the difference::

       alembic -x url=sqlite:////tmp/fta-scratch.sqlite upgrade head
       alembic -x url=sqlite:////tmp/fta-scratch.sqlite revision --autogenerate --rev-id 0003 -m "what changes"

   (without ``-x url`` the command uses the project's database: ``FTA_DATABASE_URL``, else ``FTA_HOME``).
3. Read the new file in ``versions/``: autogenerate misses renames, and check constraints, partial-index
   conditions and server defaults need writing out; keep it self-contained (``op`` calls with explicit
   columns, never an import of the live tables). Alterations of an existing table are batch operations
   (``op.batch_alter_table``), which SQLite needs. Never edit a revision a store may already have.
4. ``fine_tuning_assets_tests/test_migrations.py`` checks that a fresh database at head has exactly the
   schema of :data:`metadata`, on SQLite and PostgreSQL.

Example:
    >>> engine = connect("sqlite://")
    >>> migrate(engine) == head_revision()
    True
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
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
    # The ingestion check's index syncs the insights stored after its watermark, on every check.
    sa.Index("ix_insights_created_at", "created_at"),
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
    # How urgently a pending cluster wants a reviewer ("high", "normal"); set by the ingestion check.
    sa.Column("priority", sa.String(20), nullable=True),
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
    # registered it, so a version whose owner died can be told from one still being worked on.
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


#: The prediction log: every prediction the models served (HTTP API, ingestion check), and — once a human
#: decides the same item (``item_key``) — what the human decided. ``model_version_id`` is NULL when the base
#: model served (a fallback). Written by :mod:`fine_tuning_assets.serving.prediction_log`.
model_predictions = sa.Table(
    "model_predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(100), nullable=False),
    sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=True),
    sa.Column("model", sa.Text, nullable=False),
    # What identifies the decided item across the API and the feedback store (a task's own key).
    sa.Column("item_key", sa.String(64), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False, default=dict),
    sa.Column("prediction", sa.String(100), nullable=False),
    sa.Column("probability", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("band", sa.String(40), nullable=True),
    # Applied without a human (an automatic band): what the override rate is measured on.
    sa.Column("automatic", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("fallback", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actual", sa.String(100), nullable=True),
    sa.Column("actual_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("actual_source", sa.String(200), nullable=True),
    sa.Index("ix_model_predictions_item", "task", "item_key"),
    sa.Index("ix_model_predictions_version", "model_version_id", "id"),
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


#: The revision whose schema the numbered migrations of earlier versions (``schema_migrations`` 1 and 2) built.
BASELINE_REVISION = "0001"
#: The Alembic environment (env.py, script.py.mako, versions/), shipped inside the package.
MIGRATIONS_FOLDER = Path(__file__).with_name("migrations")
#: Key of the PostgreSQL advisory lock that serialises migrating processes.
_MIGRATION_LOCK_KEY = 724105
# Alembic installs the running environment as the module-level proxy ``alembic.context``: two threads
# migrating at once in one process would see each other's, so a process migrates one database at a time.
_migrating = threading.Lock()
#: The owner columns migration 2 of the numbered scheme added to ``model_versions``.
_NUMBERED_MIGRATION_2_COLUMNS = (
    ("owner_run_id", sa.String(64)),
    ("owner_host", sa.String(255)),
    ("owner_pid", sa.Integer()),
)


#: Alembic's version table for the project's schema. Not Alembic's default ``alembic_version``: Dagster's
#: PostgreSQL storage (dagster-postgres) keeps its own revisions there, and the deploy profile may share one
#: database between the Dagster instance and the project's store.
VERSION_TABLE = "fta_alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the package's migration environment; with ``connection``, commands run on
    it (inside its transaction) instead of opening their own."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision in ``migrations/versions``: the schema :func:`migrate` brings a database to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revisions in {MIGRATIONS_FOLDER / 'versions'}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (None for one Alembic has not migrated)."""
    return MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()


def hold_migration_lock(connection: Connection) -> None:
    """Serialise migrating processes until the transaction ends: on PostgreSQL a transaction-level advisory
    lock (the second process waits, then finds the schema at head); SQLite's ``BEGIN IMMEDIATE`` (see
    :func:`connect`) already gives the writer the database to itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def _adopt_numbered_migrations(connection: Connection, config: Config) -> None:
    """Hand a store created before Alembic over to it: one that recorded the numbered migrations in
    ``schema_migrations`` is brought to the baseline (migration 1 alone left it without the owner columns),
    stamped at :data:`BASELINE_REVISION`, and ``schema_migrations`` is dropped, so that :data:`VERSION_TABLE`
    is the one record of the schema and an adopted store has exactly a fresh one's tables. The data stays.
    """
    if not sa.inspect(connection).has_table("schema_migrations"):
        return
    versions = set(connection.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
    operations = Operations(MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}))
    if current_revision(connection) is not None and versions <= {1, 2}:
        # Adopted already: an earlier version of the project opened the store since (a rollback, or old and
        # new processes side by side) and recreated the table; the baseline covers what it records.
        operations.drop_table("schema_migrations")
        return
    if unknown := sorted(versions - {1, 2}):
        raise DatabaseUnavailableError(
            f"the database {connection.engine.url.render_as_string(hide_password=True)} records "
            f"schema migrations {unknown} that this version of fine_tuning_assets does not know (it knows 1 "
            "and 2): it was written by a newer version; open it with that one"
        )
    if 1 in versions:
        present = {column["name"] for column in sa.inspect(connection).get_columns("model_versions")}
        for name, kind in _NUMBERED_MIGRATION_2_COLUMNS:
            if name not in present:
                operations.add_column("model_versions", sa.Column(name, kind, nullable=True))
        command.stamp(config, BASELINE_REVISION)
    # Without version 1 the store has no tables (migration 1 ran in one transaction): upgrading creates them.
    operations.drop_table("schema_migrations")


def _refuse_unknown_revision(connection: Connection, config: Config) -> None:
    """A database at a revision this code does not have was migrated by a newer version of the project;
    Alembic would stop with "Can't locate revision": say so in the project's terms instead."""
    revision = current_revision(connection)
    if revision is None:
        return
    try:
        ScriptDirectory.from_config(config).get_revision(revision)
    except CommandError:
        raise DatabaseUnavailableError(
            f"the database {connection.engine.url.render_as_string(hide_password=True)} is at schema "
            f"revision {revision!r}, which this version of fine_tuning_assets does not know (its newest is "
            f"{head_revision()!r}): it was migrated by a newer version; open it with that one"
        ) from None


def migrate(engine: Engine) -> str:
    """Bring the schema to :func:`head_revision` (``alembic upgrade head``) and return that revision.

    Idempotent (a database at head is left as it is), in one transaction (a failed revision leaves the
    database as it was), and serialised between processes by :func:`hold_migration_lock`. A store created
    before Alembic is adopted first (:func:`_adopt_numbered_migrations`).
    """
    with _migrating, engine.begin() as connection:
        hold_migration_lock(connection)
        config = alembic_config(connection)
        _adopt_numbered_migrations(connection, config)
        _refuse_unknown_revision(connection, config)
        command.upgrade(config, "head")
        revision = current_revision(connection)
    if revision is None:  # alembic wrote no version: a broken environment, not a database to work on
        raise RuntimeError(f"the migrations in {MIGRATIONS_FOLDER} left no revision in {VERSION_TABLE}")
    return revision


def open_database(url: str) -> Engine:
    """Connect and bring the schema up to date: the one way the project opens its database."""
    engine = connect(url)
    migrate(engine)
    return engine
