"""The signals task's store: readers' actions on content chunks.

Every write is one transaction under the feedback write lock (:mod:`fine_tuning_assets.core.store_writes`),
so a batch lands whole or not at all and ``recorded_at`` follows commit order: the watermark a snapshot is cut
at. Re-importing the same actions changes nothing. A chunk keeps the content it was first stored with: a
batch bringing another content under a stored chunk id is refused.

Example:
    >>> from fine_tuning_assets.core.database import open_database
    >>> store = SignalsStore(open_database("sqlite://"))
    >>> batch = ChunkBatch(actions=(
    ...     ChunkAction("c1", "Batch your email twice a day.", "saved", user_id="ana"),
    ...     ChunkAction("c1", "Batch your email twice a day.", "skipped", user_id="bo"),
    ... ))
    >>> report = store.add(batch, source="doctest")
    >>> (report.actions_new, report.chunks_new)
    (2, 1)
    >>> store.add(batch, source="doctest").actions_already_present
    2
    >>> store.counts()["by_action"]
    {'saved': 1, 'snipped': 0, 'skipped': 1}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fine_tuning_assets.core.database import as_utc, import_batches
from fine_tuning_assets.core.imports import list_problems, shorten
from fine_tuning_assets.core.store_writes import IN_QUERY_CHUNK, in_chunks, serialize_feedback_writes
from fine_tuning_assets.serving.prediction_log import item_key, record_outcomes
from fine_tuning_assets.tasks.signals.records import (
    ACTIONS,
    ChunkAction,
    ChunkBatch,
    batch_problems,
    normalise_content,
)
from fine_tuning_assets.tasks.signals.tables import chunk_actions

__all__ = ["IMPORT_KIND", "ImportReport", "SignalsStore", "SignalsStoreError"]

#: ``import_batches.kind`` of a signals import.
IMPORT_KIND = "signals"


class SignalsStoreError(ValueError):
    """A write the signals store refuses; nothing was written."""


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`SignalsStore.add` did with a batch.

    ``actions_new`` + ``actions_already_present`` is the batch's action count (already present: the same
    fingerprint is stored). ``chunks_new`` counts the batch's chunk ids the store did not hold before,
    ``chunks`` all of the batch's chunk ids. ``batch_id`` is the ``import_batches`` row, None when nothing
    was written.
    """

    batch_id: int | None
    actions_new: int
    actions_already_present: int
    chunks_new: int
    chunks: int

    @property
    def wrote_anything(self) -> bool:
        return self.batch_id is not None


def _action_from_row(row: sa.Row) -> ChunkAction:
    return ChunkAction(
        chunk_id=row.chunk_id,
        content=row.content,
        action=row.action,
        user_id=row.user_id,
        context=dict(row.context or {}),
        relevance_score=row.relevance_score,
        quality_score=row.quality_score,
        acted_at=as_utc(row.acted_at),
        recorded_at=as_utc(row.recorded_at),
    )


class SignalsStore:
    """Reads and writes the signals task's chunk actions through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -------------------------------------------------------------------------------------
    def add(self, batch: ChunkBatch, *, source: str) -> ImportReport:
        """Write the batch's new actions in one transaction.

        An action whose fingerprint (chunk, user, action, time) is stored is already present (the stored
        row is kept as it is). When nothing is new, nothing is written (no import batch either).

        Raises :class:`SignalsStoreError` listing every problem (see
        :func:`~fine_tuning_assets.tasks.signals.records.batch_problems`, plus a chunk id the store holds
        with another content, naming the file line when the batch knows it); nothing is written then.
        """
        if not batch.actions:
            raise SignalsStoreError(f"{source}: nothing to import (no actions)")
        problems = batch_problems(batch)
        with self.engine.begin() as connection:
            now = serialize_feedback_writes(connection)
            chunk_ids = batch.chunk_ids()
            stored = self._stored_contents(connection, chunk_ids)
            batch_contents = {a.chunk_id: normalise_content(a.content) for a in batch.actions}
            for chunk_id in chunk_ids:
                if chunk_id in stored and stored[chunk_id] != batch_contents[chunk_id]:
                    line = batch.chunk_lines.get(chunk_id)
                    where = f" (line {line})" if line is not None else ""
                    problems.append(
                        f"chunk {chunk_id!r}{where} has content {shorten(batch_contents[chunk_id])!r}, but the "
                        f"store holds it with {shorten(stored[chunk_id])!r}; a chunk id names one content"
                    )
            if problems:
                raise SignalsStoreError(
                    f"{source}: {len(problems)} problem(s), nothing was written:\n" + list_problems(problems)
                )
            fingerprints = {action.fingerprint: action for action in batch.actions}
            present = self._stored_fingerprints(connection, fingerprints)
            new_actions = [action for f, action in fingerprints.items() if f not in present]
            report = ImportReport(
                batch_id=None,
                actions_new=len(new_actions),
                actions_already_present=len(present),
                chunks_new=sum(1 for chunk_id in chunk_ids if chunk_id not in stored),
                chunks=len(chunk_ids),
            )
            if not new_actions:
                return report
            # import_batches counts dedup's records (insights, clusters); the signals counts are in the report.
            batch_id = connection.execute(
                import_batches.insert().values(
                    kind=IMPORT_KIND, source=source, insight_count=0, cluster_count=0, imported_at=now
                )
            ).inserted_primary_key[0]
            rows = [
                {
                    "chunk_id": action.chunk_id,
                    "content": normalise_content(action.content),
                    "user_id": action.user_id,
                    "action": action.action,
                    "context": dict(action.context),
                    "relevance_score": action.relevance_score,
                    "quality_score": action.quality_score,
                    "acted_at": action.acted_at,
                    "recorded_at": now,
                    "fingerprint": action.fingerprint,
                    "import_batch_id": batch_id,
                }
                for action in new_actions
            ]
            for start in range(0, len(rows), IN_QUERY_CHUNK):
                connection.execute(chunk_actions.insert(), rows[start : start + IN_QUERY_CHUNK])
            # The prediction log learns what a reader did with chunks it scored (the latest action wins).
            ordered = sorted(new_actions, key=lambda a: a.acted_at or now)
            record_outcomes(
                connection,
                task=IMPORT_KIND,
                outcomes={item_key(a.content): "saved" if a.positive else "skipped" for a in ordered},
                source=source,
            )
        return replace(report, batch_id=batch_id)

    def record_action(self, action: ChunkAction, *, source: str = "fta record-action") -> ImportReport:
        """Record one action (a reader acting now, or a command line), in its own transaction, with the same
        checks as :meth:`add`; recording the same action twice writes nothing the second time."""
        return self.add(ChunkBatch(actions=(action,)), source=source)

    # -- reads --------------------------------------------------------------------------------------
    def counts(self) -> dict[str, object]:
        """``actions``, ``chunks`` (distinct ids), ``users`` (distinct known users), ``by_action`` (action →
        count, every action listed) and ``last_recorded_at`` (ISO 8601, None when empty)."""
        c = chunk_actions.c
        count = sa.func.count
        with self.engine.connect() as connection:
            actions, chunks, users = connection.execute(
                sa.select(count(), count(sa.distinct(c.chunk_id)), count(sa.distinct(c.user_id)))
            ).one()
            by_action = dict.fromkeys(ACTIONS, 0)
            for action, n in connection.execute(sa.select(c.action, count()).group_by(c.action)):
                by_action[action] = int(n)
        latest = self.latest_recorded_at()
        return {
            "actions": int(actions),
            "chunks": int(chunks),
            "users": int(users),
            "by_action": by_action,
            "last_recorded_at": latest.isoformat() if latest else None,
        }

    def latest_recorded_at(self) -> datetime | None:
        """The latest time an action was recorded: the watermark of a snapshot taken now."""
        with self.engine.connect() as connection:
            latest = connection.execute(sa.select(sa.func.max(chunk_actions.c.recorded_at))).scalar()
        return as_utc(latest)

    def count_after(self, watermark: datetime | None) -> int:
        """Actions recorded after ``watermark`` (all of them when it is None): what a training cut at
        ``watermark`` has not seen."""
        query = sa.select(sa.func.count()).select_from(chunk_actions)
        if watermark is not None:
            query = query.where(chunk_actions.c.recorded_at > watermark)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def snapshot(self, *, recorded_through: datetime | None) -> list[ChunkAction]:
        """The actions recorded at or before ``recorded_through`` (everything when None), oldest first (in
        recording order), each with its ``recorded_at``."""
        query = sa.select(chunk_actions).order_by(chunk_actions.c.id)
        if recorded_through is not None:
            query = query.where(chunk_actions.c.recorded_at <= recorded_through)
        with self.engine.connect() as connection:
            return [_action_from_row(row) for row in connection.execute(query)]

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _stored_contents(connection: Connection, chunk_ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        c = chunk_actions.c
        for chunk in in_chunks(sorted(set(chunk_ids))):
            rows = connection.execute(
                sa.select(c.chunk_id, c.content).where(c.chunk_id.in_(chunk)).group_by(c.chunk_id, c.content)
            )
            for row in rows:
                found.setdefault(row.chunk_id, row.content)
        return found

    @staticmethod
    def _stored_fingerprints(connection: Connection, fingerprints: Iterable[str]) -> set[str]:
        found: set[str] = set()
        column = chunk_actions.c.fingerprint
        for chunk in in_chunks(sorted(fingerprints)):
            found.update(connection.execute(sa.select(column).where(column.in_(chunk))).scalars())
        return found
