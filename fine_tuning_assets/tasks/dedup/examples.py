"""Turn merge decisions into labelled pairs, detecting and resolving conflicting decisions.

Pair rules (label 1 = the two insights should merge):

* approved cluster: every two *selected* members → 1 (``approved_selected``);
  a selected and a deselected member → 0 (``approved_deselected``); two deselected members say nothing.
* rejected cluster: every two members → 0 (``rejected_cluster``).

The same two insights can be judged by several clusters. Agreeing decisions collapse to one example; when
they disagree it is a :class:`PairConflict`, resolved by the latest decision (``decided_at``; on a tie, the
conservative "keep separate").

Example:
    >>> from datetime import datetime, timezone
    >>> from fine_tuning_assets.tasks.dedup.records import ClusterMember, Insight, MergeCluster
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> insights = {i: Insight(i, f"statement {i}") for i in ("a", "b", "c")}
    >>> cluster = MergeCluster("c1", "approved", "ana", t, (
    ...     ClusterMember("a", 0.9, True), ClusterMember("b", 0.8, True), ClusterMember("c", 0.7, False)))
    >>> examples, conflicts = pair_examples_from_clusters([cluster], insights)
    >>> [(e.insight_a_id, e.insight_b_id, e.label, e.origin) for e in examples]
    [('a', 'b', 1, 'approved_selected'), ('a', 'c', 0, 'approved_deselected'), ('b', 'c', 0, 'approved_deselected')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import combinations
from typing import Any

from fine_tuning_assets.tasks.dedup.records import Insight, MergeCluster


@dataclass(frozen=True)
class PairExample:
    """Two insights and whether they should merge (1) or stay separate (0)."""

    insight_a_id: str
    insight_b_id: str
    text_a: str
    text_b: str
    label: int
    origin: str
    cluster_id: str | None
    decided_at: datetime | None
    similarity: float | None
    metadata_a: dict[str, Any] = field(default_factory=dict)
    metadata_b: dict[str, Any] = field(default_factory=dict)
    split: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.insight_a_id, self.insight_b_id)

    def to_record(self) -> dict[str, Any]:
        return {
            "insight_a_id": self.insight_a_id,
            "insight_b_id": self.insight_b_id,
            "text_a": self.text_a,
            "text_b": self.text_b,
            "label": self.label,
            "origin": self.origin,
            "cluster_id": self.cluster_id,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "similarity": self.similarity,
            "metadata_a": self.metadata_a,
            "metadata_b": self.metadata_b,
            "split": self.split,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PairExample:
        decided_at = record.get("decided_at")
        return cls(
            insight_a_id=record["insight_a_id"],
            insight_b_id=record["insight_b_id"],
            text_a=record["text_a"],
            text_b=record["text_b"],
            label=int(record["label"]),
            origin=record["origin"],
            cluster_id=record.get("cluster_id"),
            decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
            similarity=record.get("similarity"),
            metadata_a=dict(record.get("metadata_a") or {}),
            metadata_b=dict(record.get("metadata_b") or {}),
            split=record.get("split", ""),
        )


@dataclass(frozen=True)
class PairDecision:
    cluster_id: str
    label: int
    reviewer: str | None
    decided_at: datetime | None


@dataclass(frozen=True)
class PairConflict:
    """Two insights that decisions labelled both ways, and the label the latest decision gives them."""

    insight_a_id: str
    insight_b_id: str
    decisions: tuple[PairDecision, ...]
    resolved_label: int

    def describe(self) -> str:
        parts = ", ".join(
            f"{d.cluster_id}={'merge' if d.label else 'keep separate'}"
            f" ({d.reviewer}, {d.decided_at:%Y-%m-%d})"
            for d in self.decisions
        )
        return (
            f"{self.insight_a_id} ~ {self.insight_b_id}: {parts} → "
            f"{'merge' if self.resolved_label else 'keep separate'}"
        )


def _pair_similarity(a: float | None, b: float | None) -> float | None:
    """A pair's proposer similarity: the lower of its two members' scores (None when either is unknown)."""
    if a is None or b is None:
        return None
    return min(a, b)


def _cluster_pairs(cluster: MergeCluster) -> Iterable[tuple[str, str, int, str, float | None]]:
    members = sorted(cluster.members, key=lambda m: m.insight_id)
    for first, second in combinations(members, 2):
        similarity = _pair_similarity(first.similarity, second.similarity)
        if cluster.status == "rejected":
            yield first.insight_id, second.insight_id, 0, "rejected_cluster", similarity
        elif cluster.status == "approved":
            if first.selected and second.selected:
                yield first.insight_id, second.insight_id, 1, "approved_selected", similarity
            elif first.selected or second.selected:
                yield first.insight_id, second.insight_id, 0, "approved_deselected", similarity


def _latest_first(decision: tuple[PairDecision, PairExample]) -> tuple:
    d = decision[0]
    # Latest decision wins; on a tie the negative (keep separate) wins, then the cluster id decides.
    return (d.decided_at is not None, d.decided_at or datetime.min, -d.label, d.cluster_id)


def pair_examples_from_clusters(
    clusters: Iterable[MergeCluster], insights: Mapping[str, Insight]
) -> tuple[list[PairExample], list[PairConflict]]:
    """Labelled pairs from decided clusters (one per pair of insights) and the conflicts found on the way.

    Pending clusters are ignored. Returned examples are sorted by pair key.
    """
    by_pair: dict[tuple[str, str], list[tuple[PairDecision, PairExample]]] = {}
    for cluster in clusters:
        if not cluster.is_decided:
            continue
        for a, b, label, origin, similarity in _cluster_pairs(cluster):
            example = PairExample(
                insight_a_id=a,
                insight_b_id=b,
                text_a=insights[a].statement,
                text_b=insights[b].statement,
                label=label,
                origin=origin,
                cluster_id=cluster.id,
                decided_at=cluster.decided_at,
                similarity=similarity,
                metadata_a=dict(insights[a].metadata),
                metadata_b=dict(insights[b].metadata),
            )
            decision = PairDecision(cluster.id, label, cluster.reviewer, cluster.decided_at)
            by_pair.setdefault((a, b), []).append((decision, example))

    examples: list[PairExample] = []
    conflicts: list[PairConflict] = []
    for key in sorted(by_pair):
        decisions = sorted(by_pair[key], key=_latest_first)
        winner = decisions[-1][1]
        if len({d.label for d, _ in decisions}) > 1:
            conflicts.append(
                PairConflict(
                    insight_a_id=key[0],
                    insight_b_id=key[1],
                    decisions=tuple(d for d, _ in decisions),
                    resolved_label=winner.label,
                )
            )
        examples.append(winner)
    return examples, conflicts


def with_split(examples: Iterable[PairExample], split_of: Mapping[str, str]) -> list[PairExample]:
    """Examples labelled with the split of their insights (both insights are in the same split)."""
    return [replace(e, split=split_of[e.insight_a_id]) for e in examples]


#: The labels of a pair decision in the prediction log: what the pair model predicts and a reviewer decides.
MERGE, SEPARATE = "merge", "separate"


def pair_outcomes(clusters: Iterable[MergeCluster], statements: Mapping[str, str]) -> dict[str, str]:
    """What decided clusters say about each pair, keyed as the prediction log keys pairs
    (:func:`~fine_tuning_assets.serving.prediction_log.item_key` of the two statements): ``"merge"`` or
    ``"separate"``, the latest decision winning. ``statements`` maps the members' insight ids to their text.

    Example:
        >>> from datetime import datetime, timezone
        >>> from fine_tuning_assets.tasks.dedup.records import ClusterMember
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> c = MergeCluster("c1", "approved", "ana", t, (ClusterMember("a", None, True), ClusterMember("b", None, True)))
        >>> list(pair_outcomes([c], {"a": "Coffee wakes.", "b": "Caffeine wakes."}).values())
        ['merge']
    """
    from fine_tuning_assets.serving.prediction_log import item_key

    decided = sorted(
        (c for c in clusters if c.is_decided), key=lambda c: (c.decided_at or datetime.min, c.id)
    )
    outcomes: dict[str, str] = {}
    for cluster in decided:
        for a, b, label, _origin, _similarity in _cluster_pairs(cluster):
            outcomes[item_key(statements[a], statements[b])] = MERGE if label == 1 else SEPARATE
    return outcomes
