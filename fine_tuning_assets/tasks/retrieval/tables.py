"""The retrieval task's tables: the archive of documents and people's ratings of retrieved documents.

They live on the project's one :data:`~fine_tuning_assets.core.database.metadata` and arrive in a database
through the Alembic migrations in :mod:`fine_tuning_assets.core.migrations`.
"""

from __future__ import annotations

import sqlalchemy as sa

from fine_tuning_assets.core.database import metadata

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source", sa.String(500), nullable=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("extra_metadata", sa.JSON, nullable=False, default=dict),
    # sha256 of the content (title, text, source, published_at, metadata): the same document re-imported changes
    # nothing, a changed one is reported and updated.
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # When the store last recorded (created or changed) this document: part of the feedback watermark.
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_documents_recorded_at", "recorded_at"),
)

retrieval_feedback = sa.Table(
    "retrieval_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("document_id", sa.String(200), sa.ForeignKey("documents.id"), nullable=False),
    # A graded rating as given (e.g. 0-3, or Cranfield's 1-4 mapped by the import), or none for a flag.
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("relevant", sa.Boolean, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=True),
    # When the person rated (from the file, when given) and when the store recorded the row (watermark).
    sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    # sha256 of the rating's content (normalised query, document, rating, relevant, user, rated_at): identity.
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.UniqueConstraint("fingerprint", name="uq_retrieval_feedback_fingerprint"),
    sa.Index("ix_retrieval_feedback_recorded_at", "recorded_at"),
    sa.Index("ix_retrieval_feedback_document_id", "document_id"),
)
