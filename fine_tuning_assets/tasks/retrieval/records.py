"""What the retrieval task learns from, as plain typed records: an archive of documents (title → text) and
people's judgements of retrieved documents for their queries.

A *judgement* says whether one document answers one query: a flag (relevant or not) and, when the person
gave one, a graded rating (relevant when the rating reaches the import's threshold). Two judgements are the
same judgement when their :attr:`Judgement.fingerprint` is the same; two people (or one person at two times)
may disagree on a (query, document) pair, which the store counts as a conflict.

Example:
    >>> doc = Document("kb-1", "Export a notebook as PDF", "Open the notebook, choose Share, then Export.")
    >>> j = Judgement("how do I get my notes out as a pdf", "kb-1", rating=None, relevant=True, user="ana")
    >>> batch = RetrievalBatch(documents=(doc,), judgements=(j,))
    >>> batch_problems(batch)
    []
    >>> len(j.fingerprint)
    64
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fine_tuning_assets.core.database import text_problems
from fine_tuning_assets.core.imports import normalise_whitespace
from fine_tuning_assets.tasks.retrieval.tables import documents, retrieval_feedback

__all__ = [
    "Document",
    "Judgement",
    "RetrievalBatch",
    "batch_problems",
    "document_content_sha256",
    "normalise_query",
]


def normalise_query(query: str) -> str:
    """A query as the task identifies it: whitespace runs collapsed, ends stripped (case is kept: it is what
    the person typed, and a model sees it). Queries are stored in this form."""
    return normalise_whitespace(query)


@dataclass(frozen=True)
class Document:
    """One article of the archive. ``title`` may be None (a document created from an inline answer has
    none); ``published_at`` is aware UTC or None; ``metadata`` holds any other fields (JSON values)."""

    id: str
    title: str | None
    text: str
    source: str | None = None
    published_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """One person's judgement of one document for one query.

    ``rating`` is the graded rating as given (None for a plain flag); ``relevant`` is the flag, or whether
    the rating reached the import's threshold. ``user`` is who judged (None when unknown); ``rated_at`` when
    (aware UTC, None when unknown).
    """

    query: str
    document_id: str
    rating: float | None
    relevant: bool
    user: str | None = None
    rated_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """The judgement's identity: sha256 of the normalised query, the document id, the rating, the flag,
        the user and the rating time. Re-importing the same judgement (in any file, any order) gives the
        same fingerprint; a different rating of the same pair by the same person gives another one."""
        rated_at = self.rated_at.isoformat() if self.rated_at is not None else None
        rating = None if self.rating is None else float(self.rating)
        identity = [
            normalise_query(self.query),
            self.document_id,
            rating,
            bool(self.relevant),
            self.user,
            rated_at,
        ]
        return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RetrievalBatch:
    """Documents and judgements written to the store together (all or nothing).

    A judgement may name a document of this batch or one already in the store. ``duplicates`` lists input
    rows that repeat an earlier row of the same file (stored once), each as ``"file:line: why"``.
    """

    documents: tuple[Document, ...] = ()
    judgements: tuple[Judgement, ...] = ()
    duplicates: tuple[str, ...] = ()


def document_content_sha256(document: Document) -> str:
    """sha256 of everything a document holds except its id: a re-import with the same hash is the same
    document (already present); another hash under a stored id is a changed document."""
    published_at = document.published_at.isoformat() if document.published_at is not None else None
    content = [document.title, document.text, document.source, published_at, document.metadata]
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def batch_problems(batch: RetrievalBatch) -> list[str]:
    """Every reason the store would refuse the batch on its own (the store also checks that judged
    documents exist): empty texts, ids and queries; one id with two contents; a repeated judgement; a
    rating that is not a finite number; a naive datetime; and what the two databases would not store alike
    (a NUL character, a value longer than its column)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for document in batch.documents:
        what = f"document {document.id!r}"
        if not document.id.strip():
            problems.append("a document has an empty id")
        if not document.text.strip():
            problems.append(f"{what}: empty text")
        for name, moment in (("published_at", document.published_at),):
            if moment is not None and moment.tzinfo is None:
                problems.append(f"{what}: {name} has no time zone (use UTC)")
        problems += text_problems(
            documents,
            {"id": document.id, "title": document.title, "text": document.text, "source": document.source},
            what=what,
        )
        content = document_content_sha256(document)
        if seen.setdefault(document.id, content) != content:
            problems.append(f"{what}: two different contents in one batch")
    fingerprints: set[str] = set()
    for judgement in batch.judgements:
        what = f"judgement of {judgement.document_id!r} for {judgement.query[:60]!r}"
        if not judgement.query.strip():
            problems.append(f"judgement of {judgement.document_id!r}: empty query")
        if not judgement.document_id.strip():
            problems.append(f"{what}: empty document id")
        if judgement.rating is not None and not (
            isinstance(judgement.rating, int | float) and math.isfinite(judgement.rating)
        ):
            problems.append(f"{what}: rating {judgement.rating!r} is not a finite number")
        if not isinstance(judgement.relevant, bool):
            problems.append(f"{what}: relevant must be True or False, got {judgement.relevant!r}")
        if judgement.user is not None and not judgement.user.strip():
            problems.append(f"{what}: user is empty (use None when unknown)")
        if judgement.rated_at is not None and judgement.rated_at.tzinfo is None:
            problems.append(f"{what}: rated_at has no time zone (use UTC)")
        problems += text_problems(
            retrieval_feedback,
            {"query": judgement.query, "document_id": judgement.document_id, "user_id": judgement.user},
            what=what,
        )
        fingerprint = judgement.fingerprint
        if fingerprint in fingerprints:
            problems.append(f"{what}: the same judgement twice in one batch")
        fingerprints.add(fingerprint)
    return problems
