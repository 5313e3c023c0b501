"""The human decisions the dedup task learns from, as plain typed records.

A reviewer is shown a proposed *merge cluster* of near-duplicate insights. They approve it (selecting the
members that really express the same idea, deselecting the rest) or reject it (none of them merge).

Example:
    >>> from datetime import datetime, timezone
    >>> cluster = MergeCluster(
    ...     id="c1", status="approved", reviewer="ana",
    ...     decided_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...     members=(ClusterMember("i1", 0.93, True), ClusterMember("i2", 0.91, True)),
    ... )
    >>> cluster.is_decided
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fine_tuning_assets.core.imports import MAX_LISTED_PROBLEMS, list_problems

__all__ = [
    "CLUSTER_STATUSES",
    "DECIDED_STATUSES",
    "INSIGHT_METADATA_FIELDS",
    "MAX_LISTED_PROBLEMS",
    "ClusterMember",
    "ClusterStatus",
    "DecisionBatch",
    "Insight",
    "MergeCluster",
    "list_problems",
]

ClusterStatus = Literal["pending", "approved", "rejected"]
CLUSTER_STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")
DECIDED_STATUSES: tuple[str, ...] = ("approved", "rejected")

#: Insight metadata fields with their own columns in the feedback store.
INSIGHT_METADATA_FIELDS: tuple[str, ...] = ("confidence", "evidence_type", "source")


@dataclass(frozen=True)
class Insight:
    """A short statement (e.g. a medical claim extracted from a source)."""

    id: str
    statement: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterMember:
    """One insight proposed for a merge cluster.

    ``similarity`` is the score of the system that proposed the cluster (None when unknown);
    ``selected`` is the reviewer's choice: True when the member really belongs to the merge.
    """

    insight_id: str
    similarity: float | None
    selected: bool


@dataclass(frozen=True)
class MergeCluster:
    """A proposed merge and, once decided, the reviewer's decision."""

    id: str
    status: ClusterStatus
    reviewer: str | None
    decided_at: datetime | None
    members: tuple[ClusterMember, ...]
    #: How urgently a pending cluster wants a reviewer ("high" or "normal"; None when nobody said).
    priority: str | None = None

    @property
    def is_decided(self) -> bool:
        return self.status in DECIDED_STATUSES


@dataclass(frozen=True)
class DecisionBatch:
    """Insights and clusters that are written to the feedback store together (all or nothing).

    ``skipped`` lists input rows that were valid but carry no decision to store, each as
    ``"file:line: why"`` (e.g. a labelled pair whose two texts are the same statement); ``duplicates``
    lists rows that repeat a decision already on an earlier line of the same file (stored once).

    ``ids_from_content``: the cluster ids are derived from what identifies each decision (labelled pairs:
    the two statements, the label, the reviewer and the decision time when the file gives one), so a
    cluster whose id is already stored is the same decision, already present. Otherwise (cluster-shaped
    files name their own ids) a stored id is already present only when everything about it is identical.
    """

    insights: tuple[Insight, ...]
    clusters: tuple[MergeCluster, ...]
    skipped: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    ids_from_content: bool = False
