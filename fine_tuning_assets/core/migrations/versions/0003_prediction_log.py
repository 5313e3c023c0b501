"""Serving: the prediction log (``model_predictions``) and the priority of a pending merge cluster.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Written out in full (never imports the live table definitions), so this revision creates the same schema
however the tables are defined later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_predictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("prediction", sa.String(length=100), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("band", sa.String(length=40), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actual", sa.String(length=100), nullable=True),
        sa.Column("actual_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_source", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_predictions_item", "model_predictions", ["task", "item_key"])
    op.create_index("ix_model_predictions_version", "model_predictions", ["model_version_id", "id"])
    with op.batch_alter_table("merge_clusters") as batch:
        batch.add_column(sa.Column("priority", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merge_clusters") as batch:
        batch.drop_column("priority")
    op.drop_index("ix_model_predictions_version", table_name="model_predictions")
    op.drop_index("ix_model_predictions_item", table_name="model_predictions")
    op.drop_table("model_predictions")
