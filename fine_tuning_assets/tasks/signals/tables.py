"""The signals task's table: what readers did with the content chunks a system surfaced to them.

One row per action of one user on one chunk: ``saved``, ``snipped`` (both positive) or ``skipped``
(negative), with the chunk's content, its context (episode, podcast, speaker, ...) and the scores the
surfacing system gave it. The table lives on the project's one
:data:`~fine_tuning_assets.core.database.metadata` and arrives in a database through Alembic revision 0005.
"""

from __future__ import annotations

import sqlalchemy as sa

from fine_tuning_assets.core.database import metadata

#: The actions a reader can take on a chunk, and which of them say "worth surfacing".
ACTIONS: tuple[str, ...] = ("saved", "snipped", "skipped")
POSITIVE_ACTIONS: frozenset[str] = frozenset({"saved", "snipped"})

chunk_actions = sa.Table(
    "chunk_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chunk_id", sa.String(200), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("action", sa.String(16), nullable=False),
    # Where the chunk comes from: {"podcast": ..., "episode": ..., "speaker": ..., ...} (JSON object).
    sa.Column("context", sa.JSON, nullable=False, default=dict),
    # The surfacing system's own scores, when the file gives them (the reference the model must beat).
    sa.Column("relevance_score", sa.Float, nullable=True),
    sa.Column("quality_score", sa.Float, nullable=True),
    sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.CheckConstraint("action IN ('saved', 'snipped', 'skipped')", name="ck_chunk_actions_action"),
    sa.UniqueConstraint("fingerprint", name="uq_chunk_actions_fingerprint"),
    sa.Index("ix_chunk_actions_recorded_at", "recorded_at"),
    sa.Index("ix_chunk_actions_chunk_id", "chunk_id"),
)
