"""The triage task's table: a support team's corrections of an AI's triage of app reviews.

Each row is one review as a person left it after checking the AI's triage: the AI's original category,
urgency, topic and summary (optional: a plain labelled file has none) beside the human's values. A field the
person left as the AI had it is a confirmation. The table lives on the project's one
:data:`~fine_tuning_assets.core.database.metadata` and arrives in a database through Alembic revision 0005.
"""

from __future__ import annotations

import sqlalchemy as sa

from fine_tuning_assets.core.database import metadata

triage_corrections = sa.Table(
    "triage_corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("app", sa.String(200), nullable=True),
    sa.Column("rating", sa.Float, nullable=True),
    # What the AI said (None: the file had no original triage, or not for this field).
    sa.Column("original_category", sa.String(200), nullable=True),
    sa.Column("original_urgency", sa.String(200), nullable=True),
    sa.Column("original_topic", sa.String(200), nullable=True),
    sa.Column("original_summary", sa.Text, nullable=True),
    # What the human settled on (None: the field was not triaged for this review).
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("urgency", sa.String(200), nullable=True),
    sa.Column("topic", sa.String(200), nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
    sa.Column("corrected_by", sa.String(200), nullable=True),
    # When the person corrected (from the file, when given) and when the store recorded the row (watermark).
    sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    # sha256 of the row's content: the same correction imported again is not stored twice.
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("import_batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=True),
    sa.UniqueConstraint("fingerprint", name="uq_triage_corrections_fingerprint"),
    sa.Index("ix_triage_corrections_recorded_at", "recorded_at"),
    sa.Index("ix_triage_corrections_review_id", "review_id"),
)
