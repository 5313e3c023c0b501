"""The project's Alembic migration environment: ``env.py``, the revision template and ``versions/``.

:func:`fine_tuning_assets.core.database.migrate` runs it on an open connection (no ``alembic.ini`` at run
time); developers run the ``alembic`` command from the repository root (``alembic.ini`` there points here) to
write a new revision, as the :mod:`fine_tuning_assets.core.database` docstring describes.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import sqlalchemy as sa

from fine_tuning_assets.core.database import metadata

TASKS_FOLDER = Path(__file__).resolve().parents[2] / "tasks"


def schema_metadata() -> sa.MetaData:
    """The project's one :data:`~fine_tuning_assets.core.database.metadata` with every task's tables on it.

    The core tables are defined with the metadata; a task's own tables live in ``tasks/<task>/tables.py``,
    imported here by that convention so that autogenerate (and the schema test) see them without ``core/``
    naming any task. The task list itself is not imported: it loads every task's models (seconds).
    """
    for tables in sorted(TASKS_FOLDER.glob("*/tables.py")):
        importlib.import_module(f"fine_tuning_assets.tasks.{tables.parent.name}.tables")
    return metadata
