"""An index on ``insights.created_at``: the ingestion check's vector index syncs the insights stored after its
watermark on every check, which without it is a scan of the whole table (150 ms at a million insights).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_insights_created_at", "insights", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_insights_created_at", table_name="insights")
