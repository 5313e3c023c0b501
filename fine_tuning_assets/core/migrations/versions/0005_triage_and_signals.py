"""The triage and signals tasks: corrections of an AI's triage of app reviews, and readers' actions on chunks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The tables of ``fine_tuning_assets/tasks/triage/tables.py`` and ``fine_tuning_assets/tasks/signals/tables.py``,
written out in full (never imports the live table definitions).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_id", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("app", sa.String(length=200), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("original_category", sa.String(length=200), nullable=True),
        sa.Column("original_urgency", sa.String(length=200), nullable=True),
        sa.Column("original_topic", sa.String(length=200), nullable=True),
        sa.Column("original_summary", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("urgency", sa.String(length=200), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("corrected_by", sa.String(length=200), nullable=True),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batches.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_triage_corrections_fingerprint"),
    )
    op.create_index("ix_triage_corrections_recorded_at", "triage_corrections", ["recorded_at"])
    op.create_index("ix_triage_corrections_review_id", "triage_corrections", ["review_id"])
    op.create_table(
        "chunk_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chunk_id", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("relevance_score", sa.Float(), nullable=True),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("action IN ('saved', 'snipped', 'skipped')", name="ck_chunk_actions_action"),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batches.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_chunk_actions_fingerprint"),
    )
    op.create_index("ix_chunk_actions_recorded_at", "chunk_actions", ["recorded_at"])
    op.create_index("ix_chunk_actions_chunk_id", "chunk_actions", ["chunk_id"])


def downgrade() -> None:
    op.drop_index("ix_chunk_actions_chunk_id", table_name="chunk_actions")
    op.drop_index("ix_chunk_actions_recorded_at", table_name="chunk_actions")
    op.drop_table("chunk_actions")
    op.drop_index("ix_triage_corrections_review_id", table_name="triage_corrections")
    op.drop_index("ix_triage_corrections_recorded_at", table_name="triage_corrections")
    op.drop_table("triage_corrections")
