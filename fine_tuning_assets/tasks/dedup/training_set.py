"""Build a versioned training set from a feedback snapshot: labelled pairs, a group-aware split, exports.

The split is group-aware: insights linked by any labelled pair, or sharing a statement up to case and white
space, form a group (connected component), and a whole group goes to one of train / validation / test, so
no insight, and no statement, appears on two sides. Sampled low-similarity pairs (easy negatives no human
judged) are added to the training split only: validation and test hold human decisions alone.

Example:
    >>> from fine_tuning_assets.tasks.dedup.demo import generate_demo_decisions
    >>> import numpy as np
    >>> lexical = lambda a, b: np.array([0.0 for _ in a])  # any pair similarity function
    >>> ts = build_training_set(generate_demo_decisions(), recorded_through=None,
    ...                         config=TrainingSetConfig(), similarity_fn=lexical)
    >>> sorted(ts.stats()["by_split"])
    ['test', 'train', 'validation']
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fine_tuning_assets.core.artifacts import ArtifactError, ArtifactStore, verify
from fine_tuning_assets.core.splits import SPLITS, check_fractions, hash_split
from fine_tuning_assets.core.task import TaskDataError
from fine_tuning_assets.tasks.dedup.examples import (
    PairConflict,
    PairDecision,
    PairExample,
    pair_examples_from_clusters,
    with_split,
)
from fine_tuning_assets.tasks.dedup.exports import write_export
from fine_tuning_assets.tasks.dedup.records import DecisionBatch

SimilarityFn = Callable[[Sequence[str], Sequence[str]], np.ndarray]


class TrainingSetError(TaskDataError):
    """The decisions cannot make a usable training set; the message says what is missing."""


@dataclass(frozen=True)
class TrainingSetConfig:
    """How decisions become a training set.

    Attributes:
        validation_fraction: share of pairs (by whole groups) held out for early stopping and thresholds
            (0.15).
        test_fraction: share of pairs (by whole groups) held out for the evaluation (0.2).
        seed: makes the split and the sampling repeatable (13).
        low_similarity_ratio: sampled easy negatives to add to train, per human-labelled train pair (0.25).
        max_low_similarity: base-model cosine under which a random pair counts as clearly unrelated (0.3).
        min_examples_per_class: fewer merge or keep-separate decisions than this fails the build
            (FINETUNE_MIN_EXAMPLES, from the environment, not run config).
    """

    #: Fields set from the environment (:class:`~fine_tuning_assets.core.task.TaskSettings`), not run config.
    from_settings: ClassVar[tuple[str, ...]] = ("min_examples_per_class",)

    validation_fraction: float = 0.15
    test_fraction: float = 0.2
    seed: int = 13
    low_similarity_ratio: float = 0.25
    max_low_similarity: float = 0.3
    min_examples_per_class: int = 10

    def __post_init__(self) -> None:
        check_fractions(validation_fraction=self.validation_fraction, test_fraction=self.test_fraction)
        if self.low_similarity_ratio < 0:
            raise ValueError("low_similarity_ratio cannot be negative")


@dataclass(frozen=True)
class TrainingSet:
    version: str
    created_at: datetime
    recorded_through: datetime | None
    examples: tuple[PairExample, ...]
    conflicts: tuple[PairConflict, ...]
    config: TrainingSetConfig
    low_similarity_requested: int = 0

    def split(self, name: str) -> list[PairExample]:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; splits are {', '.join(SPLITS)}")
        return [e for e in self.examples if e.split == name]

    def stats(self) -> dict[str, Any]:
        by_split = {
            name: {
                "total": len(rows),
                "merge": sum(e.label for e in rows),
                "dont_merge": sum(1 - e.label for e in rows),
            }
            for name in SPLITS
            for rows in [self.split(name)]
        }
        human = [e for e in self.examples if e.origin != "low_similarity_sample"]
        positives = sum(e.label for e in human)
        return {
            "total": len(self.examples),
            "human_labelled": len(human),
            "merge": positives,
            "dont_merge": len(human) - positives,
            "minority_share": round(min(positives, len(human) - positives) / len(human), 4) if human else 0.0,
            "by_split": by_split,
            "by_origin": dict(sorted(Counter(e.origin for e in self.examples).items())),
            "insights_by_split": {name: len({i for e in self.split(name) for i in e.key}) for name in SPLITS},
            "conflicts": len(self.conflicts),
            "low_similarity_requested": self.low_similarity_requested,
        }


def normalised_statement(text: str) -> str:
    """The form in which two statements count as the same text (case and white space folded)."""
    return " ".join(text.lower().split())


def _components(examples: Sequence[PairExample]) -> list[list[str]]:
    """Groups of insights linked by a labelled pair or by the same normalised statement."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_with_text: dict[str, str] = {}
    for e in examples:
        union(e.insight_a_id, e.insight_b_id)
        for insight_id, text in ((e.insight_a_id, e.text_a), (e.insight_b_id, e.text_b)):
            union(insight_id, first_with_text.setdefault(normalised_statement(text), insight_id))
    groups: dict[str, list[str]] = defaultdict(list)
    for node in sorted(parent):
        groups[find(node)].append(node)
    return [groups[root] for root in sorted(groups)]


def split_groups(examples: Sequence[PairExample]) -> list[int]:
    """The group of each example: the index of its connected component of insights (linked by a labelled pair
    or the same statement), the unit the split and the cross-validation folds never cut.

    Example:
        >>> from fine_tuning_assets.tasks.dedup.examples import PairExample
        >>> def pair(a, b): return PairExample(a, b, f"text {a}", f"text {b}", 1, "approved_selected", None, None, None)
        >>> split_groups([pair("x", "y"), pair("y", "z"), pair("u", "v")])
        [1, 1, 0]
    """
    group_of: dict[str, int] = {}
    for index, nodes in enumerate(_components(examples)):
        for node in nodes:
            group_of[node] = index
    return [group_of[e.insight_a_id] for e in examples]


def assign_group_splits(
    examples: Sequence[PairExample], *, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Map each insight to a split so that linked insights share one, and each group keeps its split.

    A group's split follows from a hash of its first normalised statement (and ``seed``), not from the
    other groups, so later decisions do not move earlier groups: a retrained model is evaluated on test
    decisions the model it replaces never trained on (unless new decisions join two groups).
    """
    texts: dict[str, str] = {}
    for e in examples:
        texts[e.insight_a_id] = normalised_statement(e.text_a)
        texts[e.insight_b_id] = normalised_statement(e.text_b)
    split_of: dict[str, str] = {}
    for nodes in _components(examples):
        key = min(texts[node] for node in nodes)
        split = hash_split(
            key, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed
        )
        for node in nodes:
            split_of[node] = split
    return split_of


def find_leakage(examples: Sequence[PairExample]) -> list[str]:
    """Problems that let the evaluation see training data: insights or texts on two sides of the split."""
    problems = []
    splits_of_insight: dict[str, set[str]] = defaultdict(set)
    splits_of_text: dict[str, set[str]] = defaultdict(set)
    for e in examples:
        for insight_id, text in ((e.insight_a_id, e.text_a), (e.insight_b_id, e.text_b)):
            splits_of_insight[insight_id].add(e.split)
            splits_of_text[normalised_statement(text)].add(e.split)
    for insight_id, splits in sorted(splits_of_insight.items()):
        if len(splits) > 1:
            problems.append(f"insight {insight_id} is in {', '.join(sorted(splits))}")
    for text, splits in sorted(splits_of_text.items()):
        if len(splits) > 1 and "test" in splits:
            problems.append(f"the statement {text[:60]!r} is in {', '.join(sorted(splits))}")
    return problems


def sample_low_similarity_negatives(
    examples: Sequence[PairExample],
    *,
    count: int,
    max_similarity: float,
    similarity_fn: SimilarityFn,
    seed: int,
    split: str = "train",
) -> list[PairExample]:
    """Up to ``count`` random pairs of the split's insights, never labelled, with similarity below the cap."""
    if count <= 0:
        return []
    texts: dict[str, str] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for e in examples:
        texts[e.insight_a_id], texts[e.insight_b_id] = e.text_a, e.text_b
        metadata[e.insight_a_id], metadata[e.insight_b_id] = e.metadata_a, e.metadata_b
    ids = sorted(texts)
    if len(ids) < 2:
        return []
    seen = {e.key for e in examples}
    rng = random.Random(seed)
    sampled: list[PairExample] = []
    for _round in range(10):
        candidates = []
        for _ in range(count * 4):
            a, b = sorted(rng.sample(ids, 2))
            if (a, b) not in seen and texts[a] != texts[b]:
                seen.add((a, b))
                candidates.append((a, b))
        if not candidates:
            break
        scores = similarity_fn([texts[a] for a, _ in candidates], [texts[b] for _, b in candidates])
        for (a, b), score in zip(candidates, scores, strict=True):
            if score < max_similarity and len(sampled) < count:
                sampled.append(
                    PairExample(
                        insight_a_id=a,
                        insight_b_id=b,
                        text_a=texts[a],
                        text_b=texts[b],
                        label=0,
                        origin="low_similarity_sample",
                        cluster_id=None,
                        decided_at=None,
                        similarity=round(float(score), 4),
                        metadata_a=metadata[a],
                        metadata_b=metadata[b],
                        split=split,
                    )
                )
        if len(sampled) >= count:
            break
    return sampled


def class_shortfalls(examples: Sequence[PairExample], *, min_examples_per_class: int) -> list[str]:
    """Why human-labelled ``examples`` cannot train and evaluate a model: fewer than
    ``min_examples_per_class`` merge or keep-separate pairs, or a split without both (when split)."""
    human = [e for e in examples if e.origin != "low_similarity_sample"]
    positives = sum(e.label for e in human)
    problems = []
    if min(positives, len(human) - positives) < min_examples_per_class:
        problems.append(
            f"{positives} merge and {len(human) - positives} keep-separate pairs; at least "
            f"{min_examples_per_class} of each are needed (FINETUNE_MIN_EXAMPLES)"
        )
    for name in SPLITS:
        labels = {e.label for e in human if e.split == name}
        if any(e.split for e in human) and labels != {0, 1}:
            missing = "merge" if 1 not in labels else "keep-separate"
            problems.append(f"the {name} split has no {missing} pairs")
    return problems


def _content_hash(examples: Sequence[PairExample]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps(e.to_record(), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def build_training_set(
    decisions: DecisionBatch,
    *,
    recorded_through: datetime | None,
    config: TrainingSetConfig,
    similarity_fn: SimilarityFn,
    created_at: datetime | None = None,
) -> TrainingSet:
    """Labelled, split training data from decided clusters; raises :class:`TrainingSetError` when too small."""
    insights = {i.id: i for i in decisions.insights}
    examples, conflicts = pair_examples_from_clusters(decisions.clusters, insights)
    too_few = class_shortfalls(examples, min_examples_per_class=config.min_examples_per_class)
    if too_few:
        raise TrainingSetError(
            f"not enough decisions to train: {too_few[0]} "
            f"(from {sum(c.is_decided for c in decisions.clusters)} decided clusters)"
        )
    split_of = assign_group_splits(
        examples,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    examples = with_split(examples, split_of)
    unsplittable = class_shortfalls(examples, min_examples_per_class=config.min_examples_per_class)
    if unsplittable:
        raise TrainingSetError(
            f"{'; '.join(unsplittable)}: the decisions form too few independent groups "
            f"({len(_components(examples))} groups) "
            "to split; record more decisions"
        )
    train = [e for e in examples if e.split == "train"]
    requested = round(len(train) * config.low_similarity_ratio)
    sampled = sample_low_similarity_negatives(
        train,
        count=requested,
        max_similarity=config.max_low_similarity,
        similarity_fn=similarity_fn,
        seed=config.seed,
    )
    everything = sorted([*examples, *sampled], key=lambda e: (SPLITS.index(e.split), e.key))
    created_at = created_at or datetime.now(UTC)
    version = f"ds-{created_at:%Y%m%dT%H%M%S}-{_content_hash(everything)[:8]}"
    return TrainingSet(
        version=version,
        created_at=created_at,
        recorded_through=recorded_through,
        examples=tuple(everything),
        conflicts=tuple(conflicts),
        config=config,
        low_similarity_requested=requested,
    )


def dataset_path(version: str) -> str:
    return f"datasets/dedup/{version}"


def save_training_set(training_set: TrainingSet, store: ArtifactStore) -> Path:
    """Write the examples, conflicts and exports (OpenAI chat JSONL, JSON, CSV per split) atomically."""

    def write(directory: Path) -> None:
        with (directory / "examples.jsonl").open("w", encoding="utf-8") as stream:
            for example in training_set.examples:
                stream.write(json.dumps(example.to_record(), ensure_ascii=False) + "\n")
        conflicts = [
            {
                "insight_a_id": c.insight_a_id,
                "insight_b_id": c.insight_b_id,
                "resolved_label": c.resolved_label,
                "decisions": [{**asdict(d), "decided_at": str(d.decided_at)} for d in c.decisions],
            }
            for c in training_set.conflicts
        ]
        (directory / "conflicts.json").write_text(json.dumps(conflicts, indent=2) + "\n", encoding="utf-8")
        for name in SPLITS:
            rows = training_set.split(name)
            write_export(
                rows, directory / "exports" / f"openai_chat_{name}.jsonl", export_format="openai_jsonl"
            )
            write_export(rows, directory / "exports" / f"pairs_{name}.json", export_format="json")
        write_export(training_set.examples, directory / "exports" / "pairs.csv", export_format="csv")

    return store.write_directory(
        dataset_path(training_set.version),
        write,
        manifest={
            "kind": "dedup_training_set",
            "version": training_set.version,
            "created_at": training_set.created_at.isoformat(),
            "recorded_through": training_set.recorded_through.isoformat()
            if training_set.recorded_through
            else None,
            "config": asdict(training_set.config),
            "stats": training_set.stats(),
        },
    )


def load_training_set(store: ArtifactStore, version: str) -> TrainingSet:
    """The training set ``version`` as written by :func:`save_training_set` (verified against its manifest)."""
    directory = store.path(dataset_path(version))
    if not directory.exists():
        raise ArtifactError(f"training set {version} not found under {directory}")
    manifest = verify(directory)
    with (directory / "examples.jsonl").open(encoding="utf-8") as stream:
        examples = tuple(PairExample.from_record(json.loads(line)) for line in stream)
    conflicts = tuple(
        PairConflict(
            insight_a_id=c["insight_a_id"],
            insight_b_id=c["insight_b_id"],
            resolved_label=c["resolved_label"],
            decisions=tuple(
                PairDecision(
                    d["cluster_id"],
                    d["label"],
                    d["reviewer"],
                    None if d["decided_at"] == "None" else datetime.fromisoformat(d["decided_at"]),
                )
                for d in c["decisions"]
            ),
        )
        for c in json.loads((directory / "conflicts.json").read_text(encoding="utf-8"))
    )
    recorded = manifest.get("recorded_through")
    return TrainingSet(
        version=manifest["version"],
        created_at=datetime.fromisoformat(manifest["created_at"]),
        recorded_through=datetime.fromisoformat(recorded) if recorded else None,
        examples=examples,
        conflicts=conflicts,
        config=TrainingSetConfig(**manifest["config"]),
        low_similarity_requested=manifest["stats"].get("low_similarity_requested", 0),
    )
