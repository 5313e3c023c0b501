"""What every task's feedback store does the same way when it writes: one lock, a commit-ordered watermark,
and ``IN (...)`` queries in chunks.

Each task keeps its own store (``tasks/<task>/store.py``); these helpers make them agree on how feedback is
recorded, so the ``recorded_at`` watermark means the same thing for every task.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fine_tuning_assets.core.database import utcnow

__all__ = ["IN_QUERY_CHUNK", "in_chunks", "serialize_feedback_writes"]

#: Ids per ``IN (...)`` query (and rows per chunked write), well under SQLite's and PostgreSQL's
#: bound-parameter limits.
IN_QUERY_CHUNK = 500

# The PostgreSQL advisory lock every feedback write takes (the migrations take 724105).
_FEEDBACK_WRITE_LOCK = 724106


def in_chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    """The ids in lists of at most :data:`IN_QUERY_CHUNK`, in their order."""
    ids = list(ids)
    for start in range(0, len(ids), IN_QUERY_CHUNK):
        yield ids[start : start + IN_QUERY_CHUNK]


def serialize_feedback_writes(connection: Connection) -> datetime:
    """Take the feedback store's write lock and return the time to record.

    ``recorded_at`` is the watermark feedback snapshots are cut at, so it must follow commit order: the
    time is read only once this transaction holds the lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
    advisory transaction lock), so a writer that waited cannot record a time before one already committed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_FEEDBACK_WRITE_LOCK})"))
    return utcnow()
