"""The ingestion-time check: is a new insight a duplicate of one already stored?

Candidates come from :class:`InsightIndex`, an approximate-nearest-neighbour index (usearch HNSW) over the
base model's embeddings of every insight in the feedback store. It syncs incrementally from the store (the
insights stored since its watermark, whoever stored them) and is rebuilt from scratch when the base model
changes. The active pair model then scores the new insight against the top candidates
(:func:`check_insight`): the answer is the best match, its probability and band. When the model is unsure —
the best match in the review band (priority ``high``) or below it but above ``review_floor`` (priority
``normal``) — the new insight and its likely matches become a pending cluster for a reviewer. A confident
answer (auto-merge, keep separate) creates none. :func:`cluster_all` runs the same candidates and scoring
over the whole store and proposes pending clusters.

Example (no model is active: the base model answers, and says so):
    >>> import tempfile
    >>> from fine_tuning_assets.core.database import open_database
    >>> from fine_tuning_assets.core.registry import ModelRegistry
    >>> from fine_tuning_assets.serving.model_cache import ModelCache
    >>> from fine_tuning_assets.tasks.dedup.records import DecisionBatch, Insight
    >>> from fine_tuning_assets.tasks.dedup.serving import load_predictor
    >>> engine = open_database("sqlite://")
    >>> store = FeedbackStore(engine)
    >>> _ = store.add_decisions(DecisionBatch((Insight("i1", "Coffee raises alertness."),
    ...                                        Insight("i2", "Statins lower LDL cholesterol.")), ()),
    ...                         kind="doctest", source="doctest")
    >>> registry = ModelRegistry(engine)
    >>> cache = ModelCache(active_version=lambda t: None, loaders={"dedup": lambda: load_predictor(registry, base_model=None)})
    >>> index = InsightIndex.open(store, tempfile.mkdtemp(), base_model=None)
    >>> check = check_insight("Caffeine makes people more alert.", store=store, index=index,
    ...                       loaded=cache.get("dedup"), engine=engine)
    >>> check.best_match.insight_id, check.fallback_reason
    ('i1', 'no dedup model is active')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.base_model import (
    BUNDLED_BASE_MODEL,
    load_sentence_transformer,
    resolve_base_model,
)
from fine_tuning_assets.core.imports import content_digest
from fine_tuning_assets.core.metrics import NEEDS_REVIEW, REVIEW_HIGH_PRIORITY
from fine_tuning_assets.serving.model_cache import Loaded
from fine_tuning_assets.serving.prediction_log import normalise_text
from fine_tuning_assets.serving.vector_index import VectorIndex, index_folder
from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
from fine_tuning_assets.tasks.dedup.serving import ServedPair, log_served_pairs, serve_pairs
from fine_tuning_assets.tasks.dedup.store import FeedbackStore

#: Candidates the pair model scores for each new insight. On the demo data a true duplicate (another insight
#: stating the same claim) is among the 20 nearest in 99.1% of cases, among the 10 nearest in 95.8%
#: (bench/serving.py).
DEFAULT_CANDIDATES = 20
#: Below the review band, a best match at or above this probability still asks a reviewer ("normal"
#: priority) when the serving bands have no keep-separate threshold (which is the floor when they do).
DEFAULT_REVIEW_FLOOR = 0.5
#: The most insights one proposed cluster holds.
MAX_CLUSTER_SIZE = 8
#: A growing index is written to disk at most this often while serving (and when the server stops); what was
#: not saved is synced again from the store when the index is next opened.
SAVE_EVERY_SECONDS = 300.0
ProgressFn = Callable[[str], None]


def insight_id_for(text: str) -> str:
    """The id an unnamed new insight gets: derived from its normalised text, so a re-sent insight is the same."""
    return f"ins-{content_digest(normalise_text(text), 20)}"


class InsightIndex:
    """Every stored insight's base embedding in a :class:`VectorIndex` under ``root`` (see module doc)."""

    def __init__(self, store: FeedbackStore, index: VectorIndex, encoder, *, base_model: str) -> None:  # noqa: ANN001
        self.store, self.index, self.encoder, self.base_model = store, index, encoder, base_model
        self._saved_at = time.monotonic()

    @classmethod
    def open(
        cls,
        store: FeedbackStore,
        root: str | Path,
        *,
        base_model: str | None,
        progress: ProgressFn | None = None,
    ) -> InsightIndex:
        """The index saved under ``root`` for ``base_model`` (a new one for a model it has not seen), brought
        up to date with the store."""
        name = base_model or BUNDLED_BASE_MODEL
        encoder = load_sentence_transformer(resolve_base_model(base_model))
        ndim = encoder.get_embedding_dimension()
        folder = index_folder(root, name="insights", encoder_name=name)
        opened = cls(store, VectorIndex.open(folder, encoder_name=name, ndim=ndim), encoder, base_model=name)
        opened.sync(
            full=True, progress=progress
        )  # whatever was stored since the index was last saved, by any process
        return opened

    def embed(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        return np.asarray(
            self.encoder.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def sync(self, *, progress: ProgressFn | None = None, batch_size: int = 2048, full: bool = False) -> int:
        """Add the insights stored since the index's watermark; with ``full`` (when the index is opened),
        every stored insight the index lacks, whenever it was stored. How many were added."""
        if full:
            ids, latest = self.store.insight_ids()
            missing = [i for i in ids if i not in self.index]
            found = self.store.insights(missing) if missing else {}
            rows = [found[i] for i in missing if i in found]
        else:
            watermark = datetime.fromisoformat(self.index.watermark) if self.index.watermark else None
            fetched = self.store.insights_created_since(watermark)
            # Past everything read: indexed now, or already (an insight a check added itself).
            latest = max((at for _, at in fetched), default=None)
            rows = [i for i, _ in fetched if i.id not in self.index]
        added = 0
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            added += self.index.add([i.id for i in chunk], self.embed([i.statement for i in chunk]))
            if progress:
                progress(f"indexed {start + len(chunk)} of {len(rows)} new insights")
        if latest is not None:
            current = datetime.fromisoformat(self.index.watermark) if self.index.watermark else None
            self.index.watermark = max(latest, current or latest).isoformat()
        self.save_if_due(force=added > 1000)
        return added

    def add(self, insight_id: str, vector: np.ndarray) -> None:
        self.index.add([insight_id], vector.reshape(1, -1))
        self.save_if_due()

    def save_if_due(self, *, force: bool = False) -> None:
        if self.index.unsaved and (force or time.monotonic() - self._saved_at >= SAVE_EVERY_SECONDS):
            self.save()

    def save(self) -> None:
        self.index.save()
        self._saved_at = time.monotonic()

    def candidates(
        self, vector: np.ndarray, *, k: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        return self.index.search(vector, k=k, exclude=exclude)


@dataclass(frozen=True)
class Match:
    """A stored insight compared with the new one: the base embedding's cosine and the pair model's answer."""

    insight_id: str
    statement: str
    similarity: float
    probability: float
    band: str
    label: str


@dataclass(frozen=True)
class InsightCheck:
    """The answer for one new insight (see :func:`check_insight`)."""

    insight_id: str
    stored: bool
    best_match: Match | None
    candidates: list[Match]
    cluster_id: str | None
    cluster_priority: str | None
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    prediction_id: int | None
    indexed: int = 0
    notes: list[str] = field(default_factory=list)


def review_priority(served: ServedPair, *, floor: float) -> str | None:
    """``"high"`` in the review band, ``"normal"`` below it down to ``floor``, else None (no review)."""
    if served.band == REVIEW_HIGH_PRIORITY:
        return "high"
    if served.band == NEEDS_REVIEW and served.probability >= floor:
        return "normal"
    return None


def _review_floor(loaded: Loaded, review_floor: float | None) -> float:
    if review_floor is not None:
        return review_floor
    keep_separate = loaded.predictor.bands.keep_separate
    return DEFAULT_REVIEW_FLOOR if keep_separate is None else keep_separate


def _score(
    loaded: Loaded, text: str, found: Sequence[tuple[str, float]], statements: dict[str, Insight]
) -> tuple[list[Match], list[ServedPair]]:
    found = [(i, s) for i, s in found if i in statements]
    served = serve_pairs(loaded, [(text, statements[i].statement) for i, _ in found], engine=None)
    matches = [
        Match(i, statements[i].statement, round(sim, 6), s.probability, s.band, s.label)
        for (i, sim), s in zip(found, served, strict=True)
    ]
    order = sorted(range(len(matches)), key=lambda j: -matches[j].probability)
    return [matches[j] for j in order], [served[j] for j in order]


def check_insight(
    text: str,
    *,
    store: FeedbackStore,
    index: InsightIndex,
    loaded: Loaded,
    engine: Engine | None,
    insight_id: str | None = None,
    save: bool = True,
    k: int = DEFAULT_CANDIDATES,
    review_floor: float | None = None,
) -> InsightCheck:
    """Check one new insight against every stored one (module doc). With ``save``, the insight is stored
    (``insight_id``, else an id derived from its text), added to the index and, when the model is unsure, put
    in a pending cluster with its likely matches; without, nothing is written but the prediction log.
    ValueError for an empty text or an id already stored with another statement."""
    started = time.perf_counter()
    if not text.strip():
        raise ValueError("the insight's text is empty")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    new_id = insight_id or insight_id_for(text)
    existing = store.insights([new_id]).get(new_id)
    if existing is not None and existing.statement != text:
        raise ValueError(f"insight {new_id!r} is already stored with another statement")
    indexed = index.sync()
    vector = index.embed([text])[0]
    found = index.candidates(vector, k=k, exclude=[new_id])
    matches, served = _score(loaded, text, found, store.insights(i for i, _ in found))
    predictor = loaded.predictor
    best, best_served = (matches[0], served[0]) if matches else (None, None)
    cluster_id = priority = None
    notes: list[str] = []
    if save and existing is None:
        floor = _review_floor(loaded, review_floor)
        priority = review_priority(best_served, floor=floor) if best_served else None
        clusters: tuple[MergeCluster, ...] = ()
        if priority is not None:
            members = [m for m, s in zip(matches, served, strict=True) if review_priority(s, floor=floor)]
            members = members[: MAX_CLUSTER_SIZE - 1]
            cluster_id = "check-" + content_digest(
                chr(31).join([new_id, *sorted(m.insight_id for m in members)]), 20
            )
            clusters = (
                MergeCluster(
                    id=cluster_id,
                    status="pending",
                    reviewer=None,
                    decided_at=None,
                    members=(
                        ClusterMember(new_id, None, False),
                        *(ClusterMember(m.insight_id, m.probability, False) for m in members),
                    ),
                    priority=priority,
                ),
            )
        store.add_decisions(
            DecisionBatch((Insight(new_id, text),), clusters),
            kind="ingestion-check",
            source=f"ingestion check by {predictor.model}",
        )
        index.add(new_id, vector)
    elif save:
        notes.append(f"insight {new_id!r} was already stored: nothing new was written")
    latency_ms = (time.perf_counter() - started) * 1000
    prediction_id = None
    if engine is not None and best is not None:
        [logged] = log_served_pairs(
            engine,
            [best_served],
            [(text, best.statement)],
            insight_ids=[(new_id, best.insight_id)],
            latency_ms=latency_ms,
        )
        prediction_id = logged.prediction_id
    return InsightCheck(
        insight_id=new_id,
        stored=save and existing is None,
        best_match=best,
        candidates=matches,
        cluster_id=cluster_id,
        cluster_priority=priority if cluster_id else None,
        model=predictor.model,
        model_version_id=predictor.model_version_id,
        fallback_reason=predictor.fallback_reason,
        latency_ms=latency_ms,
        prediction_id=prediction_id,
        indexed=indexed,
        notes=notes,
    )


@dataclass(frozen=True)
class ClusteringReport:
    insights: int
    pairs_scored: int
    clusters: list[MergeCluster]
    new_clusters: int
    model: str
    fallback_reason: str | None


def cluster_all(
    *,
    store: FeedbackStore,
    index: InsightIndex,
    loaded: Loaded,
    k: int = 5,
    review_floor: float | None = None,
    save: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ClusteringReport:
    """Propose pending clusters over the whole store: each insight's ``k`` nearest candidates are scored by the
    pair model (each pair once); pairs the model would send to a reviewer (:func:`review_priority`) join
    clusters, strongest first, up to :data:`MAX_CLUSTER_SIZE` insights each. A cluster is named by its
    members, so running it again adds only what is new. ``progress(done, total)`` follows the insights."""
    index.sync()
    everything = [i for i, _ in store.insights_created_since(None)]
    by_id = {i.id: i for i in everything}
    floor = _review_floor(loaded, review_floor)
    vectors = index.embed([i.statement for i in everything]) if everything else np.zeros((0, 1))
    pairs: dict[tuple[str, str], None] = {}
    for position, (insight, vector) in enumerate(zip(everything, vectors, strict=True)):
        for other, _similarity in index.candidates(vector, k=k, exclude=[insight.id]):
            if other in by_id:
                pairs[tuple(sorted((insight.id, other)))] = None
        if progress and (position + 1) % 500 == 0:
            progress(position + 1, len(everything))
    keys = list(pairs)
    served = serve_pairs(loaded, [(by_id[a].statement, by_id[b].statement) for a, b in keys], engine=None)
    edges = sorted(
        (
            (s.probability, a, b, review_priority(s, floor=floor))
            for (a, b), s in zip(keys, served, strict=True)
            if review_priority(s, floor=floor)
        ),
        reverse=True,
    )
    group: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    priority: dict[str, str] = {}
    for _p, a, b, edge_priority in edges:
        ga, gb = group.get(a, a), group.get(b, b)
        if ga == gb:
            continue
        ma, mb = members.get(ga, [ga]), members.get(gb, [gb])
        if len(ma) + len(mb) > MAX_CLUSTER_SIZE:
            continue
        members[ga] = ma + mb
        members.pop(gb, None)
        for insight_id in members[ga]:
            group[insight_id] = ga
        priority[ga] = (
            "high" if "high" in (priority.get(ga), priority.pop(gb, None), edge_priority) else "normal"
        )
    clusters = []
    for root, ids in members.items():
        ids = sorted(ids)
        cluster_id = f"auto-{content_digest(chr(31).join(ids), 20)}"
        clusters.append(
            MergeCluster(
                id=cluster_id,
                status="pending",
                reviewer=None,
                decided_at=None,
                members=tuple(ClusterMember(i, None, False) for i in ids),
                priority=priority[root],
            )
        )
    new = 0
    if save and clusters:
        summary = store.add_decisions(
            DecisionBatch((), tuple(clusters), ids_from_content=True),
            kind="cluster-all",
            source=f"fta cluster-all with {loaded.predictor.model}",
        )
        new = summary.new_cluster_count
    if progress:
        progress(len(everything), len(everything))
    return ClusteringReport(
        insights=len(everything),
        pairs_scored=len(keys),
        clusters=clusters,
        new_clusters=new,
        model=loaded.predictor.model,
        fallback_reason=loaded.predictor.fallback_reason,
    )
