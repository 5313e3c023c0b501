"""A labelled text, and the split every classification task shares: stratified by the primary field's label,
grouped (every example of a group on one side), stable (a group keeps its side when data is added).

Example:
    >>> examples = [TextExample(id=str(i), text=f"review {i}", labels={"category": "BUG" if i % 3 else "OTHER"})
    ...             for i in range(60)]
    >>> splits = assign_splits(examples, field="category", validation_fraction=0.2, test_fraction=0.2, seed=1)
    >>> sorted(Counter(splits.values()).items())
    [('test', 12), ('train', 36), ('validation', 12)]
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fine_tuning_assets.core.splits import SPLITS, check_fractions

__all__ = ["TextExample", "assign_splits", "class_balance", "merge_identical_texts"]


@dataclass(frozen=True)
class TextExample:
    """One text and what people decided about it.

    ``labels``: the human's label per field (a field may be absent). ``group``: examples that must stay on
    one side of the split (the app of a review, the podcast of a chunk). ``tags``: categorical side
    information the lexical features see as tokens (``"rating=1"``). ``reference``: what the system the
    people corrected said, per field (the original AI's triage). ``reference_score``: the score the
    surfacing system gave (signals). ``details``: shown in exports and reports (summary, votes, agreement).
    """

    id: str
    text: str
    labels: Mapping[str, str]
    group: str | None = None
    tags: tuple[str, ...] = ()
    reference: Mapping[str, str] = field(default_factory=dict)
    reference_score: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "labels": dict(self.labels),
            "group": self.group,
            "tags": list(self.tags),
            "reference": dict(self.reference),
            "reference_score": self.reference_score,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextExample:
        return cls(
            id=data["id"],
            text=data["text"],
            labels=dict(data["labels"]),
            group=data.get("group"),
            tags=tuple(data.get("tags", ())),
            reference=dict(data.get("reference") or {}),
            reference_score=data.get("reference_score"),
            details=dict(data.get("details") or {}),
        )


def assign_splits(
    examples: Sequence[TextExample],
    *,
    field: str,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[str, str]:
    """Example id → split. A group (``example.group``, else the example alone) goes to one split whole.

    Stratified: the groups of each class of ``field`` (a group's most common label) are ordered by a hash of
    their key and cut at the fractions, so every class is split in proportion (a class of 5 groups still
    gets one in test when ``5 * test_fraction >= 0.5``). The order of a group within its class depends only
    on its key and ``seed``, so most groups keep their split when examples are added; the evaluation
    leaves out any test example the active model trained on.
    """
    check_fractions(validation_fraction=validation_fraction, test_fraction=test_fraction)
    members: dict[str, list[TextExample]] = defaultdict(list)
    for example in examples:
        members[example.group or f"example:{example.id}"].append(example)
    by_class: dict[str, list[str]] = defaultdict(list)
    for key, group in members.items():
        counts = Counter(e.labels.get(field) for e in group if e.labels.get(field) is not None)
        label = min(counts, key=lambda lab: (-counts[lab], lab)) if counts else ""
        by_class[label].append(key)
    assignment: dict[str, str] = {}
    for label in sorted(by_class):
        keys = sorted(by_class[label], key=lambda k: _draw(k, seed))
        n = len(keys)
        n_test = int(round(n * test_fraction))
        n_validation = int(round(n * validation_fraction))
        if n >= 3:  # a class with three groups or more has one in each split
            n_test, n_validation = max(n_test, 1), max(n_validation, 1)
        for rank, key in enumerate(keys):
            split = "test" if rank < n_test else "validation" if rank < n_test + n_validation else "train"
            for example in members[key]:
                assignment[example.id] = split
    return assignment


def merge_identical_texts(examples: Sequence[TextExample]) -> tuple[list[TextExample], list[dict[str, Any]]]:
    """One example per text (up to case and white space): the first given is kept, so the same text can never
    be on two sides of the split. Returns the examples and, for each text given more than once, the ids
    merged and whether their labels disagreed."""
    first: dict[str, TextExample] = {}
    merged: dict[str, list[TextExample]] = defaultdict(list)
    for example in examples:
        key = " ".join(example.text.lower().split())
        if key in first:
            merged[key].append(example)
        else:
            first[key] = example
    report = [
        {
            "kept": first[key].id,
            "merged": ", ".join(e.id for e in others)[:200],
            "labels_disagree": any(dict(e.labels) != dict(first[key].labels) for e in others),
        }
        for key, others in merged.items()
    ]
    return list(first.values()), report


def _draw(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def class_balance(
    examples: Sequence[TextExample], splits: Mapping[str, str], *, field: str
) -> list[dict[str, Any]]:
    """One row per label of ``field``: its count in each split and its share of all examples."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for example in examples:
        label = example.labels.get(field)
        if label is not None:
            counts[label][splits[example.id]] += 1
    total = sum(sum(c.values()) for c in counts.values()) or 1
    return [
        {
            "label": label,
            **{split: counts[label][split] for split in SPLITS},
            "share": round(sum(counts[label].values()) / total, 4),
        }
        for label in sorted(counts, key=lambda lab: -sum(counts[lab].values()))
    ]
