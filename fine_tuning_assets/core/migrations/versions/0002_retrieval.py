"""The retrieval task: the archive of documents and people's ratings of retrieved documents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The tables of ``fine_tuning_assets/tasks/retrieval/tables.py``, as autogenerate wrote them.

Written out in full (never imports the live table definitions), so this revision creates the same schema
however the tables are defined later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extra_metadata", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batches.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_documents_recorded_at", "documents", ["recorded_at"])
    op.create_table(
        "retrieval_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("document_id", sa.String(length=200), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batches.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_retrieval_feedback_fingerprint"),
    )
    op.create_index("ix_retrieval_feedback_recorded_at", "retrieval_feedback", ["recorded_at"])
    op.create_index("ix_retrieval_feedback_document_id", "retrieval_feedback", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_retrieval_feedback_document_id", table_name="retrieval_feedback")
    op.drop_index("ix_retrieval_feedback_recorded_at", table_name="retrieval_feedback")
    op.drop_table("retrieval_feedback")
    op.drop_index("ix_documents_recorded_at", table_name="documents")
    op.drop_table("documents")
