"""Find decisions that are probably wrong before a model learns from them.

Three kinds of label issue, each naming the pair and why:

* ``conflicting_decisions`` -- two decisions disagree about the same two insights (one merged them, a later
  one kept them apart, or the other way round); the training set keeps the latest.
* ``transitive_contradiction`` -- the decisions merge A with B and B with C (a chain of merges) but keep A and
  C separate: at least one of them is wrong, since merging is transitive.
* ``suspected_mislabel`` -- confident learning (cleanlab's :func:`cleanlab.filter.find_label_issues`) on
  out-of-fold probabilities of a model that never saw the pair: the probability is strongly against the
  human's label.

Example:
    >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
    >>> def pair(a, b, label):
    ...     return PairExample(a, b, f"text {a}", f"text {b}", label, "approved_selected", "c1", None, None)
    >>> issues = find_transitive_contradictions([pair("a", "b", 1), pair("b", "c", 1), pair("a", "c", 0)])
    >>> [(i.kind, i.insight_a_id, i.insight_b_id, i.evidence) for i in issues]
    [('transitive_contradiction', 'a', 'c', 'a = b = c merged, but a ≠ c kept separate')]
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fine_tuning_assets.tasks.dedup.examples import PairConflict, PairExample

CONFLICTING_DECISIONS = "conflicting_decisions"
TRANSITIVE_CONTRADICTION = "transitive_contradiction"
SUSPECTED_MISLABEL = "suspected_mislabel"
#: Issue kinds, in the order a reviewer should look at them.
ISSUE_KINDS: tuple[str, ...] = (CONFLICTING_DECISIONS, TRANSITIVE_CONTRADICTION, SUSPECTED_MISLABEL)


@dataclass(frozen=True)
class LabelIssue:
    """A decided pair whose label is suspect: the label the training set uses, and why it is suspect."""

    kind: str
    insight_a_id: str
    insight_b_id: str
    label: int
    evidence: str
    text_a: str = ""
    text_b: str = ""
    probability: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.insight_a_id, self.insight_b_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_conflicts(conflicts: Sequence[PairConflict], examples: Sequence[PairExample]) -> list[LabelIssue]:
    """The pairs that decisions labelled both ways (see :class:`~fine_tuning_assets.tasks.dedup.examples.PairConflict`)."""
    by_key = {e.key: e for e in examples}
    issues = []
    for conflict in conflicts:
        example = by_key.get((conflict.insight_a_id, conflict.insight_b_id))
        issues.append(
            LabelIssue(
                kind=CONFLICTING_DECISIONS,
                insight_a_id=conflict.insight_a_id,
                insight_b_id=conflict.insight_b_id,
                label=conflict.resolved_label,
                evidence=conflict.describe(),
                text_a=example.text_a if example else "",
                text_b=example.text_b if example else "",
            )
        )
    return issues


def _merge_path(graph: dict[str, set[str]], start: str, goal: str) -> list[str]:
    """The shortest chain of merge decisions from ``start`` to ``goal`` (breadth-first search)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for neighbour in sorted(graph[node]):
            if neighbour not in previous:
                previous[neighbour] = node
                queue.append(neighbour)
    path: list[str] = []
    node: str | None = goal
    while node is not None:
        path.append(node)
        node = previous.get(node)
    return path[::-1]


def find_transitive_contradictions(examples: Sequence[PairExample]) -> list[LabelIssue]:
    """Keep-separate decisions between two insights that a chain of merge decisions joins.

    Only human decisions count (sampled low-similarity pairs are left out). Each issue names the
    keep-separate pair and the chain of merges that contradicts it.
    """
    human = [e for e in examples if e.origin != "low_similarity_sample"]
    graph: dict[str, set[str]] = defaultdict(set)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in human:
        if e.label == 1:
            graph[e.insight_a_id].add(e.insight_b_id)
            graph[e.insight_b_id].add(e.insight_a_id)
            parent[find(e.insight_a_id)] = find(e.insight_b_id)
    issues = []
    for e in human:
        if e.label == 0 and e.insight_a_id in graph and e.insight_b_id in graph:
            if find(e.insight_a_id) == find(e.insight_b_id):
                chain = _merge_path(graph, e.insight_a_id, e.insight_b_id)
                issues.append(
                    LabelIssue(
                        kind=TRANSITIVE_CONTRADICTION,
                        insight_a_id=e.insight_a_id,
                        insight_b_id=e.insight_b_id,
                        label=0,
                        evidence=f"{' = '.join(chain)} merged, but {e.insight_a_id} ≠ {e.insight_b_id} kept separate",
                        text_a=e.text_a,
                        text_b=e.text_b,
                    )
                )
    return issues


def find_suspected_mislabels(
    examples: Sequence[PairExample],
    out_of_fold_probabilities: Sequence[float],
    *,
    min_confidence_against: float = 0.8,
) -> list[LabelIssue]:
    """Pairs whose out-of-fold probability is strongly against the human label, most suspect first: flagged by
    confident learning (cleanlab's ``find_label_issues``, pruned by noise rate) *and* given at least
    ``min_confidence_against`` probability of the other label (a weak model flags merely hard pairs otherwise).

    Example:
        >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
        >>> rows = [PairExample(f"a{i}", f"b{i}", "x", "y", i % 2, "approved_selected", None, None, None)
        ...         for i in range(40)]
        >>> p = [0.9 if i % 2 else 0.1 for i in range(40)]
        >>> p[4] = 0.97  # labelled "keep separate", the model is sure it is a merge
        >>> [(i.insight_a_id, i.label) for i in find_suspected_mislabels(rows, p)]
        [('a4', 0)]
    """
    from cleanlab.filter import find_label_issues

    labels = np.asarray([e.label for e in examples], dtype=int)
    p = np.clip(np.asarray(out_of_fold_probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    if p.size != labels.size:
        raise ValueError(f"{labels.size} examples but {p.size} probabilities")
    if len(set(labels.tolist())) < 2:
        return []
    ranked = find_label_issues(
        labels,
        np.column_stack([1 - p, p]),
        filter_by="prune_by_noise_rate",
        return_indices_ranked_by="self_confidence",
        # No worker processes: forking a process that already runs torch threads can deadlock the fork.
        n_jobs=1,
    )
    issues = []
    for index in ranked:
        e = examples[int(index)]
        if abs(p[index] - e.label) < min_confidence_against:
            continue
        issues.append(
            LabelIssue(
                kind=SUSPECTED_MISLABEL,
                insight_a_id=e.insight_a_id,
                insight_b_id=e.insight_b_id,
                label=e.label,
                evidence=f"decided {'merge' if e.label else 'keep separate'}, but a model that never saw it gives "
                f"P(merge) = {p[index]:.3f}",
                text_a=e.text_a,
                text_b=e.text_b,
                probability=round(float(p[index]), 4),
            )
        )
    return issues


def find_label_issues_in(
    examples: Sequence[PairExample],
    conflicts: Sequence[PairConflict],
    *,
    out_of_fold_probabilities: Sequence[float] | None,
) -> list[LabelIssue]:
    """Every label issue of a training set's human decisions: conflicts, transitive contradictions, then
    suspected mislabels (when out-of-fold probabilities of the human-labelled ``examples`` are given). A pair
    is listed once, under its first kind."""
    human = [e for e in examples if e.origin != "low_similarity_sample"]
    issues = [*find_conflicts(conflicts, human), *find_transitive_contradictions(human)]
    if out_of_fold_probabilities is not None:
        issues += find_suspected_mislabels(human, out_of_fold_probabilities)
    seen: set[tuple[str, str]] = set()
    unique = []
    for issue in issues:
        if issue.key not in seen:
            seen.add(issue.key)
            unique.append(issue)
    return unique
