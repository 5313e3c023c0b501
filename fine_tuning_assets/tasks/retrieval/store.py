"""The retrieval task's store: the archive of documents and people's judgements of them for their queries.

Every write is one transaction under the feedback write lock (:mod:`fine_tuning_assets.core.store_writes`),
so a batch lands whole or not at all and ``recorded_at`` follows commit order: the watermark a snapshot is cut
at. Re-importing the same content changes nothing; a document re-imported with other content is updated and
recorded again (it is new training data).

Example:
    >>> import sqlalchemy as sa
    >>> from fine_tuning_assets.core.database import metadata, open_database
    >>> from fine_tuning_assets.tasks.retrieval.tables import documents, retrieval_feedback
    >>> engine = open_database("sqlite://")
    >>> metadata.create_all(engine, tables=[documents, retrieval_feedback])
    >>> store = RetrievalStore(engine)
    >>> batch = RetrievalBatch(
    ...     documents=(Document("kb-1", "Export as PDF", "Choose Share, then Export as PDF."),),
    ...     judgements=(Judgement("save my notes as a pdf", "kb-1", rating=None, relevant=True),),
    ... )
    >>> report = store.add(batch, source="doctest")
    >>> (report.documents_new, report.judgements_new)
    (1, 1)
    >>> store.add(batch, source="doctest").judgements_already_present
    1
    >>> store.counts()["queries_with_relevant"]
    1
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fine_tuning_assets.core.database import as_utc, import_batches
from fine_tuning_assets.core.imports import list_problems
from fine_tuning_assets.core.store_writes import IN_QUERY_CHUNK, in_chunks, serialize_feedback_writes
from fine_tuning_assets.serving.prediction_log import item_key, record_outcomes
from fine_tuning_assets.tasks.retrieval import TASK
from fine_tuning_assets.tasks.retrieval.records import (
    Document,
    Judgement,
    RetrievalBatch,
    batch_problems,
    document_content_sha256,
    normalise_query,
)
from fine_tuning_assets.tasks.retrieval.tables import documents, retrieval_feedback

__all__ = ["ImportReport", "RetrievalStore", "RetrievalStoreError"]

#: ``import_batches.kind`` of a retrieval import.
IMPORT_KIND = "retrieval"


class RetrievalStoreError(ValueError):
    """A write the retrieval store refuses; nothing was written."""


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`RetrievalStore.add` did with a batch; the three counts of each kind are disjoint.

    Documents: *new* (id not stored), *changed* (id stored with other content: updated, recorded again),
    *already present* (same content). Judgements: *new*, *changed* (new, and the same user had judged the
    same query and document otherwise before: stored too; the training set decides how to resolve it),
    *already present* (same fingerprint stored). ``changed_document_ids`` names the changed documents.
    ``batch_id`` is the ``import_batches`` row, None when nothing was written.
    """

    batch_id: int | None
    documents_new: int
    documents_changed: int
    documents_already_present: int
    judgements_new: int
    judgements_changed: int
    judgements_already_present: int
    changed_document_ids: tuple[str, ...] = ()

    @property
    def wrote_anything(self) -> bool:
        return self.batch_id is not None


def _document_row(document: Document, *, batch_id: int | None, now: datetime) -> dict:
    return {
        "id": document.id,
        "title": document.title,
        "text": document.text,
        "source": document.source,
        "published_at": document.published_at,
        "extra_metadata": document.metadata,
        "content_sha256": document_content_sha256(document),
        "import_batch_id": batch_id,
        "recorded_at": now,
    }


def _document_from_row(row: sa.Row) -> Document:
    return Document(
        id=row.id,
        title=row.title,
        text=row.text,
        source=row.source,
        published_at=as_utc(row.published_at),
        metadata=dict(row.extra_metadata or {}),
    )


def _judgement_from_row(row: sa.Row) -> Judgement:
    return Judgement(
        query=row.query,
        document_id=row.document_id,
        rating=row.rating,
        relevant=bool(row.relevant),
        user=row.user_id,
        rated_at=as_utc(row.rated_at),
    )


def _outcome(judgement: Judgement) -> tuple[float | None, bool]:
    return (judgement.rating, judgement.relevant)


#: The labels of a served search result in the prediction log: the model ranked it in the top k (relevant);
#: a person's rating says whether it was.
RELEVANT, NOT_RELEVANT = "relevant", "not_relevant"


def result_key(query: str, document_id: str) -> str:
    """The prediction log's key of one (query, document) result: a later rating of the same pair is its
    outcome (the query compared case-folded, with whitespace collapsed)."""
    return item_key(query, document_id, ordered=True)


class RetrievalStore:
    """Reads and writes the retrieval task's documents and judgements through one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes -------------------------------------------------------------------------------------
    def add(self, batch: RetrievalBatch, *, source: str) -> ImportReport:
        """Write the batch's new and changed documents and its new judgements in one transaction.

        A document whose id is stored with the same content is already present; with other content it is
        changed: updated in place and its ``recorded_at`` bumped (the training set after this import sees the
        new text). A judgement whose fingerprint is stored is already present. When nothing is new or
        changed, nothing is written (no import batch either).

        Raises :class:`RetrievalStoreError` listing every problem (see
        :func:`~fine_tuning_assets.tasks.retrieval.records.batch_problems`, plus a judgement naming a
        document that is neither in the batch nor in the store); nothing is written then.
        """
        if not batch.documents and not batch.judgements:
            raise RetrievalStoreError(f"{source}: nothing to import (no documents and no judgements)")
        problems = batch_problems(batch)
        batch_documents = {document.id: document for document in batch.documents}
        with self.engine.begin() as connection:
            now = serialize_feedback_writes(connection)
            stored_hashes = self._stored_hashes(connection, batch_documents)
            referenced = {judgement.document_id for judgement in batch.judgements} - set(batch_documents)
            unknown = referenced - set(self._stored_hashes(connection, referenced))
            problems += [
                f"a judgement names document {document_id!r}, which is neither in the batch nor in the store"
                for document_id in sorted(unknown)
            ]
            if problems:
                raise RetrievalStoreError(
                    f"{source}: {len(problems)} problem(s), nothing was written:\n" + list_problems(problems)
                )
            new_documents, changed_documents, present_documents = [], [], 0
            for document in batch_documents.values():
                stored = stored_hashes.get(document.id)
                if stored is None:
                    new_documents.append(document)
                elif stored != document_content_sha256(document):
                    changed_documents.append(document)
                else:
                    present_documents += 1
            fingerprints = {judgement.fingerprint: judgement for judgement in batch.judgements}
            stored_fingerprints = self._stored_fingerprints(connection, fingerprints)
            new_judgements = [j for f, j in fingerprints.items() if f not in stored_fingerprints]
            changed_judgements = self._rejudged(connection, new_judgements)
            report = ImportReport(
                batch_id=None,
                documents_new=len(new_documents),
                documents_changed=len(changed_documents),
                documents_already_present=present_documents,
                judgements_new=len(new_judgements) - changed_judgements,
                judgements_changed=changed_judgements,
                judgements_already_present=len(fingerprints) - len(new_judgements),
                changed_document_ids=tuple(document.id for document in changed_documents),
            )
            if not new_documents and not changed_documents and not new_judgements:
                return report
            # import_batches counts dedup's records (insights, clusters); retrieval's counts are in the report.
            batch_id = connection.execute(
                import_batches.insert().values(
                    kind=IMPORT_KIND, source=source, insight_count=0, cluster_count=0, imported_at=now
                )
            ).inserted_primary_key[0]
            rows = [
                {**_document_row(d, batch_id=batch_id, now=now), "created_at": now} for d in new_documents
            ]
            for start in range(0, len(rows), IN_QUERY_CHUNK):
                connection.execute(documents.insert(), rows[start : start + IN_QUERY_CHUNK])
            for document in changed_documents:
                connection.execute(
                    documents.update()
                    .where(documents.c.id == document.id)
                    .values(**_document_row(document, batch_id=batch_id, now=now))
                )
            rows = [
                {
                    "query": normalise_query(judgement.query),
                    "document_id": judgement.document_id,
                    "rating": judgement.rating,
                    "relevant": judgement.relevant,
                    "user_id": judgement.user,
                    "rated_at": judgement.rated_at,
                    "recorded_at": now,
                    "fingerprint": judgement.fingerprint,
                    "import_batch_id": batch_id,
                }
                for judgement in new_judgements
            ]
            for start in range(0, len(rows), IN_QUERY_CHUNK):
                connection.execute(retrieval_feedback.insert(), rows[start : start + IN_QUERY_CHUNK])
            # The prediction log learns what people rated among the results it served (latest rating wins).
            ordered = sorted(new_judgements, key=lambda j: (j.rated_at is not None, j.rated_at or now))
            record_outcomes(
                connection,
                task=TASK,
                outcomes={
                    result_key(j.query, j.document_id): RELEVANT if j.relevant else NOT_RELEVANT
                    for j in ordered
                },
                source=source,
            )
        return replace(report, batch_id=batch_id)

    def documents_version(self) -> tuple[int, str | None]:
        """How many documents are stored and when the last one was recorded: a ranker over an older corpus
        is stale."""
        with self.engine.connect() as connection:
            count, latest = connection.execute(
                sa.select(sa.func.count(), sa.func.max(documents.c.recorded_at))
            ).one()
        return int(count), as_utc(latest).isoformat() if latest is not None else None

    # -- reads --------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int | str | None]:
        """``documents``, ``judgements``, ``queries`` (distinct), ``relevant`` (judgements), ``queries_with_relevant``,
        ``conflicting`` ((query, document) pairs judged both relevant and not relevant) and
        ``last_recorded_at`` (ISO 8601, None when empty)."""
        feedback = retrieval_feedback.c
        relevant_as_int = sa.case((feedback.relevant, 1), else_=0)
        pairs = (
            sa.select(feedback.query, feedback.document_id)
            .group_by(feedback.query, feedback.document_id)
            .having(sa.func.max(relevant_as_int) == 1, sa.func.min(relevant_as_int) == 0)
            .subquery()
        )
        count = sa.func.count
        with self.engine.connect() as connection:
            result: dict[str, int | str | None] = {
                "documents": connection.execute(sa.select(count()).select_from(documents)).scalar_one(),
                "judgements": connection.execute(
                    sa.select(count()).select_from(retrieval_feedback)
                ).scalar_one(),
                "queries": connection.execute(sa.select(count(sa.distinct(feedback.query)))).scalar_one(),
                "relevant": connection.execute(
                    sa.select(count()).select_from(retrieval_feedback).where(feedback.relevant.is_(True))
                ).scalar_one(),
                "queries_with_relevant": connection.execute(
                    sa.select(count(sa.distinct(feedback.query))).where(feedback.relevant.is_(True))
                ).scalar_one(),
                "conflicting": connection.execute(sa.select(count()).select_from(pairs)).scalar_one(),
            }
        latest = self.latest_recorded_at()
        result["last_recorded_at"] = latest.isoformat() if latest else None
        return result

    def latest_recorded_at(self) -> datetime | None:
        """The latest time a document or a judgement was recorded: the watermark of a snapshot taken now."""
        with self.engine.connect() as connection:
            times = [
                connection.execute(sa.select(sa.func.max(table.c.recorded_at))).scalar()
                for table in (documents, retrieval_feedback)
            ]
        present = [as_utc(time) for time in times if time is not None]
        return max(present) if present else None

    def count_after(self, watermark: datetime | None) -> int:
        """Documents and judgements recorded after ``watermark`` (all of them when it is None): what a
        training cut at ``watermark`` has not seen."""
        total = 0
        with self.engine.connect() as connection:
            for table in (documents, retrieval_feedback):
                query = sa.select(sa.func.count()).select_from(table)
                if watermark is not None:
                    query = query.where(table.c.recorded_at > watermark)
                total += connection.execute(query).scalar_one()
        return total

    def snapshot(self, *, recorded_through: datetime | None) -> tuple[list[Document], list[Judgement]]:
        """The documents and judgements recorded at or before ``recorded_through`` (everything when None),
        ordered by id and by recording order.

        A judgement of the snapshot always comes with its document: a document recorded after the watermark
        (changed since) whose judgements are in the snapshot is included as it is now — the store keeps no
        history of a document's earlier versions.
        """
        document_query = sa.select(documents).order_by(documents.c.id)
        feedback_query = sa.select(retrieval_feedback).order_by(retrieval_feedback.c.id)
        if recorded_through is not None:
            document_query = document_query.where(documents.c.recorded_at <= recorded_through)
            feedback_query = feedback_query.where(retrieval_feedback.c.recorded_at <= recorded_through)
        with self.engine.connect() as connection:
            found = {row.id: _document_from_row(row) for row in connection.execute(document_query)}
            judgements = [_judgement_from_row(row) for row in connection.execute(feedback_query)]
            later = sorted({j.document_id for j in judgements} - set(found))
            for chunk in in_chunks(later):
                rows = connection.execute(sa.select(documents).where(documents.c.id.in_(chunk)))
                found.update({row.id: _document_from_row(row) for row in rows})
        return [found[document_id] for document_id in sorted(found)], judgements

    def get_documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The stored documents with these ids (ids not stored are left out)."""
        found: dict[str, Document] = {}
        with self.engine.connect() as connection:
            for chunk in in_chunks(sorted(set(ids))):
                rows = connection.execute(sa.select(documents).where(documents.c.id.in_(chunk)))
                found.update({row.id: _document_from_row(row) for row in rows})
        return found

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _stored_hashes(connection: Connection, ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in in_chunks(sorted(ids)):
            rows = connection.execute(
                sa.select(documents.c.id, documents.c.content_sha256).where(documents.c.id.in_(chunk))
            )
            found.update({row.id: row.content_sha256 for row in rows})
        return found

    @staticmethod
    def _stored_fingerprints(connection: Connection, fingerprints: Iterable[str]) -> set[str]:
        found: set[str] = set()
        column = retrieval_feedback.c.fingerprint
        for chunk in in_chunks(sorted(fingerprints)):
            found.update(connection.execute(sa.select(column).where(column.in_(chunk))).scalars())
        return found

    @staticmethod
    def _rejudged(connection: Connection, judgements: list[Judgement]) -> int:
        """How many of these new judgements judge a (query, document) pair the same user had judged
        otherwise (another rating or flag) in a stored judgement."""
        feedback = retrieval_feedback.c
        previous: dict[tuple[str, str, str | None], set[tuple[float | None, bool]]] = {}
        for chunk in in_chunks(sorted({j.document_id for j in judgements})):
            rows = connection.execute(
                sa.select(
                    feedback.query, feedback.document_id, feedback.user_id, feedback.rating, feedback.relevant
                ).where(feedback.document_id.in_(chunk))
            )
            for row in rows:
                previous.setdefault((row.query, row.document_id, row.user_id), set()).add(
                    (row.rating, bool(row.relevant))
                )
        changed = 0
        for judgement in judgements:
            before = previous.get((normalise_query(judgement.query), judgement.document_id, judgement.user))
            if before and _outcome(judgement) not in before:
                changed += 1
        return changed
