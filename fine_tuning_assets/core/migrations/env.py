"""Alembic's environment for the project's schema, run in two ways.

* By :func:`fine_tuning_assets.core.database.migrate`: the connection arrives in
  ``config.attributes["connection"]``, already inside the transaction that holds the migration lock, so a
  whole upgrade commits or rolls back as one.
* By the ``alembic`` command (a developer writing or checking a revision): the database is ``-x url=…``, else
  the project's own (``FTA_DATABASE_URL``, else the SQLite file under ``FTA_HOME``), and the target metadata
  holds every task's tables so that ``--autogenerate`` sees them.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from fine_tuning_assets.core.config import database_url_from_env, home_from_env
from fine_tuning_assets.core.database import VERSION_TABLE, connect, hold_migration_lock, redact_url

config = context.config


def _configure(connection: Connection, target_metadata) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        # SQLite alters a table by copying it: autogenerate writes batch operations, which work on both.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _command_line_url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or database_url_from_env(
        home_from_env(os.environ)
    )


def _run_from_the_command_line() -> None:
    from fine_tuning_assets.core.migrations import schema_metadata

    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = _command_line_url()
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=schema_metadata(),
            literal_binds=True,
            render_as_batch=True,
            version_table=VERSION_TABLE,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    print(f"fine_tuning_assets migrations on {redact_url(url)}")
    engine = connect(url)
    try:
        with engine.begin() as connection:
            hold_migration_lock(connection)
            _configure(connection, schema_metadata())
    finally:
        engine.dispose()


if (given := config.attributes.get("connection")) is not None:
    # Upgrading needs no target metadata (only autogenerate does), and importing every task's tables here
    # would load the task packages on each open of the database.
    _configure(given, config.attributes.get("target_metadata"))
else:
    _run_from_the_command_line()
