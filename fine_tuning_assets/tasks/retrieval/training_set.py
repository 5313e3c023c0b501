"""Ratings of retrieved documents → a versioned retrieval training set, split by query.

Each distinct query (case and white space normalised) is one group: its split follows from a hash of it
(:func:`~fine_tuning_assets.core.splits.hash_split`), so no query is on two sides and later ratings never move
an earlier query. A (query, document) pair rated more than once keeps its latest rating; pairs rated both ways
are reported as conflicts. For training, every (query, relevant document) gives a tuple ``(anchor, positive,
negative)``: the negative is a document people rated irrelevant for that query when there is one, otherwise a
hard negative mined with sentence-transformers ``mine_hard_negatives`` from the base model's top candidates,
with a relative margin so that an unrated near-positive is not taken as a negative. The archive gives free
positives — each titled document's title → its text — in the train split only. The corpus (every document)
is saved with the set, so the evaluation ranks the same documents the set was cut with.

Example:
    >>> normalised_query("  How do I  EXPORT notes? ")
    'how do i export notes?'
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from fine_tuning_assets.core.artifacts import ArtifactError, ArtifactStore, verify, write_jsonl
from fine_tuning_assets.core.splits import SPLITS, check_fractions, hash_split
from fine_tuning_assets.core.task import TaskDataError
from fine_tuning_assets.tasks.retrieval.ranking import Corpus, document_text
from fine_tuning_assets.tasks.retrieval.records import normalise_query

#: Negatives mined for (anchor, positives) rows: ``mine(anchors, positives, corpus) -> negative or None``.
NegativeMiner = Callable[[Sequence[str], Sequence[str], Sequence[str]], list[str | None]]

RELEVANCE_PROMPT = (
    "You judge search results for a help center. Answer 'relevant' when the document answers the query, "
    "otherwise 'not relevant'."
)


class RetrievalTrainingSetError(TaskDataError):
    """The ratings cannot make a usable retrieval training set; the message says what is missing."""


@dataclass(frozen=True)
class TrainingSetConfig:
    """How ratings become a retrieval training set.

    Attributes:
        validation_fraction: share of queries held out to choose the recipe and stop fine-tuning early (0.15).
        test_fraction: share of queries held out for the evaluation (0.25).
        seed: makes the split repeatable (13).
        archive_pairs: add each titled document's title → text as a positive pair to train (True).
        mining_range_max: hard negatives are mined from the base model's top this many documents (30).
        mining_relative_margin: a mined negative must score at most (1 - margin) × the positive's
            similarity, so that near-positives nobody rated are not taken as negatives (0.05).
        min_queries_with_positive: fewer queries with a relevant document than this fails the build
            (FINETUNE_MIN_EXAMPLES, from the environment, not run config).
    """

    from_settings: ClassVar[tuple[str, ...]] = ("min_queries_with_positive",)

    validation_fraction: float = 0.15
    test_fraction: float = 0.25
    seed: int = 13
    archive_pairs: bool = True
    mining_range_max: int = 30
    mining_relative_margin: float = 0.05
    min_queries_with_positive: int = 10

    def __post_init__(self) -> None:
        check_fractions(validation_fraction=self.validation_fraction, test_fraction=self.test_fraction)
        if self.mining_range_max < 1:
            raise ValueError("mining_range_max must be at least 1")
        if not 0 <= self.mining_relative_margin < 1:
            raise ValueError("mining_relative_margin must be in [0, 1)")


@dataclass(frozen=True)
class RatedQuery:
    """One query's ratings after conflicts are resolved: gains of relevant documents, and the irrelevant."""

    query: str  # as first written
    key: str  # normalised: the group the split follows
    split: str
    relevant: dict[str, float]  # document id -> gain (> 0)
    irrelevant: tuple[str, ...]


@dataclass(frozen=True)
class RatingConflict:
    query: str
    document_id: str
    ratings: tuple[bool, ...]  # relevant flags, oldest first
    resolved_relevant: bool


@dataclass(frozen=True)
class TrainingTuple:
    anchor: str
    positive: str
    negative: str | None
    score: float  # the positive's gain
    split: str
    origin: str  # "rated" or "archive"
    negative_origin: str | None  # "rated_irrelevant", "mined" or None


@dataclass(frozen=True)
class RetrievalTrainingSet:
    version: str
    created_at: datetime
    recorded_through: datetime | None
    config: TrainingSetConfig
    documents: tuple[dict[str, Any], ...]  # id, title, text
    queries: tuple[RatedQuery, ...]
    tuples: tuple[TrainingTuple, ...]
    conflicts: tuple[RatingConflict, ...] = field(default=())

    @property
    def corpus(self) -> Corpus:
        return Corpus.of(self.documents)

    def split_queries(self, name: str) -> list[RatedQuery]:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; splits are {', '.join(SPLITS)}")
        return [q for q in self.queries if q.split == name]

    def split_tuples(self, name: str) -> list[TrainingTuple]:
        return [t for t in self.tuples if t.split == name]

    def stats(self) -> dict[str, Any]:
        by_split = {
            name: {
                "queries": len(self.split_queries(name)),
                "queries_with_relevant": sum(bool(q.relevant) for q in self.split_queries(name)),
                "relevant_ratings": sum(len(q.relevant) for q in self.split_queries(name)),
                "irrelevant_ratings": sum(len(q.irrelevant) for q in self.split_queries(name)),
                "training_tuples": len(self.split_tuples(name)) if name != "test" else 0,
            }
            for name in SPLITS
        }
        return {
            "documents": len(self.documents),
            "queries": len(self.queries),
            "queries_with_relevant": sum(bool(q.relevant) for q in self.queries),
            "conflicts": len(self.conflicts),
            "archive_pairs": sum(t.origin == "archive" for t in self.tuples),
            "negatives": {
                "rated_irrelevant": sum(t.negative_origin == "rated_irrelevant" for t in self.tuples),
                "mined": sum(t.negative_origin == "mined" for t in self.tuples),
                "none (in-batch only)": sum(t.negative_origin is None for t in self.tuples),
            },
            "by_split": by_split,
        }


def normalised_query(text: str) -> str:
    """A query's identity: the store's normalised query (white space collapsed), case-folded."""
    return normalise_query(text).casefold()


def gain_of(rating: float | None, relevant: bool) -> float:
    """A relevant document's gain: its graded rating when it has a positive one, else 1; irrelevant: 0."""
    if not relevant:
        return 0.0
    return float(rating) if rating is not None and rating > 0 else 1.0


def rated_queries(
    judgements: Sequence[Any], *, config: TrainingSetConfig
) -> tuple[list[RatedQuery], list[RatingConflict]]:
    """Group ratings by normalised query, keep each (query, document)'s latest rating (by ``rated_at`` when
    given, else the order recorded) and assign each query its split."""
    by_pair: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
    first_text: dict[str, str] = {}
    for order, judgement in enumerate(judgements):
        key = normalised_query(judgement.query)
        first_text.setdefault(key, normalise_query(judgement.query))
        by_pair[(key, judgement.document_id)].append((order, judgement))
    oldest = datetime.min.replace(tzinfo=UTC)
    relevant: dict[str, dict[str, float]] = defaultdict(dict)
    irrelevant: dict[str, list[str]] = defaultdict(list)
    conflicts = []
    for (key, document_id), rated in by_pair.items():
        rated.sort(key=lambda item: (item[1].rated_at or oldest, item[0]))
        latest = rated[-1][1]
        flags = tuple(bool(j.relevant) for _, j in rated)
        if len(set(flags)) > 1:
            conflicts.append(RatingConflict(first_text[key], document_id, flags, bool(latest.relevant)))
        if latest.relevant:
            relevant[key][document_id] = gain_of(latest.rating, True)
        else:
            irrelevant[key].append(document_id)
    queries = [
        RatedQuery(
            query=first_text[key],
            key=key,
            split=hash_split(
                key,
                validation_fraction=config.validation_fraction,
                test_fraction=config.test_fraction,
                seed=config.seed,
            ),
            relevant=dict(sorted(relevant.get(key, {}).items())),
            irrelevant=tuple(sorted(irrelevant.get(key, []))),
        )
        for key in sorted(first_text)
    ]
    return queries, sorted(conflicts, key=lambda c: (c.query, c.document_id))


def find_leakage(queries: Sequence[RatedQuery], tuples: Sequence[TrainingTuple]) -> list[str]:
    """Queries on two sides of the split, and held-out queries used as training anchors."""
    problems = []
    splits: dict[str, set[str]] = defaultdict(set)
    for q in queries:
        splits[q.key].add(q.split)
    problems += [f"query {key!r} is in {sorted(s)}" for key, s in splits.items() if len(s) > 1]
    held_out = {q.key for q in queries if q.split == "test"}
    problems += [
        f"test query {t.anchor!r} is a {t.split} training anchor"
        for t in tuples
        if t.origin == "rated" and normalised_query(t.anchor) in held_out
    ]
    problems += [
        f"archive pair {t.anchor!r} is in {t.split}"
        for t in tuples
        if t.origin == "archive" and t.split != "train"
    ]
    return problems


def mine_hard_negatives_with(model: Any, *, range_max: int, relative_margin: float) -> NegativeMiner:
    """A :data:`NegativeMiner` over sentence-transformers' ``mine_hard_negatives`` with ``model``."""

    def mine(anchors: Sequence[str], positives: Sequence[str], corpus: Sequence[str]) -> list[str | None]:
        from datasets import Dataset
        from sentence_transformers.util import mine_hard_negatives

        if not anchors:
            return []
        mined = mine_hard_negatives(
            Dataset.from_dict({"anchor": list(anchors), "positive": list(positives)}),
            model,
            corpus=list(corpus),
            range_max=min(range_max, len(corpus)),
            relative_margin=relative_margin,
            num_negatives=1,
            sampling_strategy="top",
            output_format="triplet",
            batch_size=32,
            verbose=False,
        )
        found = {(row["anchor"], row["positive"]): row["negative"] for row in mined}
        return [found.get((a, p)) for a, p in zip(anchors, positives, strict=True)]

    return mine


def build_training_set(
    documents: Sequence[Any],
    judgements: Sequence[Any],
    *,
    recorded_through: datetime | None,
    config: TrainingSetConfig,
    mine: NegativeMiner | None,
    created_at: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> RetrievalTrainingSet:
    """Split rated queries, resolve conflicts, build (anchor, positive, negative) tuples for train and
    validation; raises :class:`RetrievalTrainingSetError` when too few queries have a relevant document."""
    say = progress or (lambda _message: None)
    by_id = {d.id: d for d in documents}
    unknown = sorted({j.document_id for j in judgements} - by_id.keys())
    if unknown:
        raise RetrievalTrainingSetError(
            f"{len(unknown)} rated documents are not in the archive (first: {unknown[:5]})"
        )
    queries, conflicts = rated_queries(judgements, config=config)
    with_positive = {name: sum(bool(q.relevant) for q in queries if q.split == name) for name in SPLITS}
    if sum(with_positive.values()) < config.min_queries_with_positive:
        raise RetrievalTrainingSetError(
            f"not enough ratings to train: {sum(with_positive.values())} queries have a relevant document, "
            f"at least {config.min_queries_with_positive} are needed (FINETUNE_MIN_EXAMPLES)"
        )
    empty = [name for name, n in with_positive.items() if n == 0]
    if empty:
        raise RetrievalTrainingSetError(
            f"no query with a relevant document in the {' and '.join(empty)} split "
            f"({len(queries)} queries in all): rate more queries"
        )
    full_text = {d.id: document_text(d.title, d.text) for d in documents}
    tuples: list[TrainingTuple] = []
    to_mine: list[tuple[str, str, float, str]] = []
    for q in queries:
        if q.split == "test":
            continue
        for i, (document_id, gain) in enumerate(q.relevant.items()):
            if q.irrelevant:
                negative = full_text[q.irrelevant[i % len(q.irrelevant)]]
                tuples.append(
                    TrainingTuple(
                        q.query, full_text[document_id], negative, gain, q.split, "rated", "rated_irrelevant"
                    )
                )
            else:
                to_mine.append((q.query, full_text[document_id], gain, q.split))
    corpus_texts = list(full_text.values())
    if to_mine and mine is not None:
        say(f"mining hard negatives for {len(to_mine)} (query, relevant document) pairs")
        negatives = mine([a for a, *_ in to_mine], [p for _, p, *_ in to_mine], corpus_texts)
    else:
        negatives = [None] * len(to_mine)
    tuples += [
        TrainingTuple(a, p, n, gain, split, "rated", "mined" if n is not None else None)
        for (a, p, gain, split), n in zip(to_mine, negatives, strict=True)
    ]
    if config.archive_pairs:
        titled = [d for d in documents if d.title and d.title.strip() and d.text.strip()]
        texts_only = [d.text for d in documents]
        if titled and mine is not None:
            say(f"mining hard negatives for {len(titled)} archive title → text pairs")
            archive_negatives = mine([d.title for d in titled], [d.text for d in titled], texts_only)
        else:
            archive_negatives = [None] * len(titled)
        tuples += [
            TrainingTuple(
                d.title.strip(), d.text, n, 1.0, "train", "archive", "mined" if n is not None else None
            )
            for d, n in zip(titled, archive_negatives, strict=True)
        ]
    created_at = created_at or datetime.now(UTC)
    digest = hashlib.sha256()
    for item in (*[asdict(q) for q in queries], *[asdict(t) for t in tuples], sorted(by_id)):
        digest.update(json.dumps(item, sort_keys=True, default=str).encode())
    return RetrievalTrainingSet(
        version=f"ds-{created_at:%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}",
        created_at=created_at,
        recorded_through=recorded_through,
        config=config,
        documents=tuple({"id": d.id, "title": d.title, "text": d.text} for d in documents),
        queries=tuple(queries),
        tuples=tuple(tuples),
        conflicts=tuple(conflicts),
    )


# -- persistence and exports -------------------------------------------------------------------------------
def dataset_path(version: str) -> str:
    return f"datasets/retrieval/{version}"


def tuple_records(tuples: Sequence[TrainingTuple]) -> list[dict[str, Any]]:
    """The ``{query, pos, neg, score}`` records sentence-transformers and most IR tooling read."""
    return [
        {"query": t.anchor, "pos": [t.positive], "neg": [t.negative] if t.negative else [], "score": t.score}
        for t in tuples
    ]


def openai_chat_records(queries: Sequence[RatedQuery], full_text: dict[str, str]) -> list[dict[str, Any]]:
    """Relevance judgements as OpenAI chat fine-tuning examples (a system message naming the job, the query
    and document, the judgement as the assistant's answer)."""
    rows = []
    for q in queries:
        judged = [(d, True) for d in q.relevant] + [(d, False) for d in q.irrelevant]
        for document_id, is_relevant in judged:
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": RELEVANCE_PROMPT},
                        {
                            "role": "user",
                            "content": f"Query: {q.query}\n\nDocument:\n{full_text[document_id]}",
                        },
                        {"role": "assistant", "content": "relevant" if is_relevant else "not relevant"},
                    ]
                }
            )
    return rows


def save_training_set(training_set: RetrievalTrainingSet, store: ArtifactStore) -> Path:
    """Write the corpus, queries, tuples, conflicts and exports atomically (a temp folder moved into place)."""

    def write(directory: Path) -> None:
        write_jsonl(directory / "corpus.jsonl", list(training_set.documents))
        write_jsonl(directory / "queries.jsonl", [asdict(q) for q in training_set.queries])
        write_jsonl(directory / "tuples.jsonl", [asdict(t) for t in training_set.tuples])
        (directory / "conflicts.json").write_text(
            json.dumps([asdict(c) for c in training_set.conflicts], indent=2) + "\n", encoding="utf-8"
        )
        full_text = {d["id"]: document_text(d["title"], d["text"]) for d in training_set.documents}
        for name in ("train", "validation"):
            write_jsonl(
                directory / "exports" / f"tuples_{name}.jsonl", tuple_records(training_set.split_tuples(name))
            )
        for name in SPLITS:
            write_jsonl(
                directory / "exports" / f"openai_chat_{name}.jsonl",
                openai_chat_records(training_set.split_queries(name), full_text),
            )

    return store.write_directory(
        dataset_path(training_set.version),
        write,
        manifest={
            "kind": "retrieval_training_set",
            "version": training_set.version,
            "created_at": training_set.created_at.isoformat(),
            "recorded_through": training_set.recorded_through.isoformat()
            if training_set.recorded_through
            else None,
            "config": asdict(training_set.config),
            "stats": training_set.stats(),
        },
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def load_training_set(store: ArtifactStore, version: str) -> RetrievalTrainingSet:
    """The training set ``version`` as written by :func:`save_training_set` (verified against its manifest)."""
    directory = store.path(dataset_path(version))
    if not directory.exists():
        raise ArtifactError(f"retrieval training set {version} not found under {directory}")
    manifest = verify(directory)
    recorded = manifest.get("recorded_through")
    return RetrievalTrainingSet(
        version=manifest["version"],
        created_at=datetime.fromisoformat(manifest["created_at"]),
        recorded_through=datetime.fromisoformat(recorded) if recorded else None,
        config=TrainingSetConfig(**manifest["config"]),
        documents=tuple(_read_jsonl(directory / "corpus.jsonl")),
        queries=tuple(
            RatedQuery(**{**q, "irrelevant": tuple(q["irrelevant"])})
            for q in _read_jsonl(directory / "queries.jsonl")
        ),
        tuples=tuple(TrainingTuple(**t) for t in _read_jsonl(directory / "tuples.jsonl")),
        conflicts=tuple(
            RatingConflict(**{**c, "ratings": tuple(c["ratings"])})
            for c in json.loads((directory / "conflicts.json").read_text(encoding="utf-8"))
        ),
    )
