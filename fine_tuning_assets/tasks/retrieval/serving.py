"""Serving the retrieval model: the active version's ranker over the stored documents, loaded once.

:class:`RetrievalPredictor` is what ``fta rank`` and ``POST /api/retrieval/rank`` use. It ranks with the
active version's selected recipe or, when no version is active or its files are missing or damaged, with the
base embedding, saying why (``fallback_reason``). It is stale once documents are added or changed (the
model cache then loads it again over the new corpus). :func:`serve_rank` logs every returned result, keyed
by the query and the document, so a person's later rating of that result is its outcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.artifacts import ArtifactError, verify
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL, ModelLoadError
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.serving.prediction_log import LoggedPrediction, log_predictions
from fine_tuning_assets.tasks.retrieval import TASK
from fine_tuning_assets.tasks.retrieval.model import Ranker
from fine_tuning_assets.tasks.retrieval.ranking import Corpus
from fine_tuning_assets.tasks.retrieval.store import RELEVANT, RetrievalStore, result_key


class NoDocumentsError(ValueError):
    """The retrieval store holds no documents to rank."""


@dataclass(frozen=True)
class RankedDocument:
    rank: int
    document_id: str
    score: float
    title: str


class RetrievalPredictor:
    """The ranker that answers now (see module doc); :meth:`load` it once, :meth:`rank` many queries."""

    def __init__(
        self,
        store: RetrievalStore,
        ranker: Ranker,
        *,
        titles: dict[str, str],
        model: str,
        model_version_id: int | None,
        fallback_reason: str | None,
        documents_version: tuple[int, str | None],
    ) -> None:
        self.store, self.ranker, self.titles = store, ranker, titles
        self.model, self.model_version_id, self.fallback_reason = model, model_version_id, fallback_reason
        self.documents_version = documents_version

    @classmethod
    def load(
        cls, registry: ModelRegistry, store: RetrievalStore, *, base_model: str | None
    ) -> RetrievalPredictor:
        """The active version's ranker over every stored document, or the base embedding's (NoDocumentsError
        when there are no documents). The indexes are built here, so a damaged component falls back now
        rather than failing a request."""
        version = store.documents_version()
        documents, _ = store.snapshot(recorded_through=None)
        if not documents:
            raise NoDocumentsError(
                "the retrieval store holds no documents: import some first (`fta import documents`)"
            )
        corpus = Corpus.of(documents)
        titles = {d.id: d.title or d.text[:60] for d in documents}
        active = registry.active(TASK)
        fallback_reason = None
        if active is None:
            fallback_reason = f"no {TASK} model is active"
        else:
            try:
                # A missing or damaged file of the version (its components load lazily) is a fallback too.
                verify(active.artifact_path or "")
                base = None if active.base_model == BUNDLED_BASE_MODEL else active.base_model
                ranker = Ranker.for_model(active.artifact_path, corpus, base_model=base)
                ranker.recipe_scores(["warm-up"])
            except (ModelLoadError, ArtifactError, OSError) as error:
                fallback_reason = f"the active model {active.label} cannot be loaded: {error}"
            else:
                return cls(
                    store,
                    ranker,
                    titles=titles,
                    model=f"{active.label} · {ranker.spec.selected_recipe}",
                    model_version_id=active.id,
                    fallback_reason=None,
                    documents_version=version,
                )
        ranker = Ranker(corpus, directory=None, base_model=base_model)
        ranker.recipe_scores(["warm-up"])
        return cls(
            store,
            ranker,
            titles=titles,
            model="base embedding",
            model_version_id=None,
            fallback_reason=fallback_reason,
            documents_version=version,
        )

    def is_stale(self) -> bool:
        return self.store.documents_version() != self.documents_version

    def rank(self, queries: Sequence[str], *, top_k: int) -> list[list[RankedDocument]]:
        """The ``top_k`` documents for each query, best first. ValueError for an empty query."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        for index, query in enumerate(queries):
            if not query.strip():
                raise ValueError(f"query {index + 1} is empty")
        scores = self.ranker.recipe_scores(list(queries))
        ids = self.ranker.corpus.ids
        results = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:top_k]
            results.append(
                [
                    RankedDocument(rank, ids[i], round(float(row[i]), 4), self.titles[ids[i]])
                    for rank, i in enumerate(top, 1)
                ]
            )
        return results


def load_predictor(
    registry: ModelRegistry, store: RetrievalStore, *, base_model: str | None
) -> RetrievalPredictor:
    """What the model cache loads for retrieval."""
    return RetrievalPredictor.load(registry, store, base_model=base_model)


@dataclass(frozen=True)
class ServedRanking:
    query: str
    results: list[RankedDocument]
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    latency_ms: float
    prediction_ids: list[int]


def serve_rank(
    predictor: RetrievalPredictor, queries: Sequence[str], *, top_k: int, engine: Engine | None
) -> list[ServedRanking]:
    """Rank ``queries`` with a loaded predictor and, with an ``engine``, log each returned result."""
    started = time.perf_counter()
    rankings = predictor.rank(queries, top_k=top_k)
    latency_ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
    logged: list[int] = []
    if engine is not None:
        logged = log_predictions(
            engine,
            [
                LoggedPrediction(
                    task=TASK,
                    model_version_id=predictor.model_version_id,
                    model=predictor.model,
                    item_key=result_key(query, result.document_id),
                    inputs={"query": query[:500], "document_id": result.document_id, "rank": result.rank},
                    prediction=RELEVANT,
                    probability=None,
                    score=result.score,
                    band=None,
                    automatic=False,
                    latency_ms=latency_ms,
                    fallback=predictor.fallback_reason is not None,
                )
                for query, results in zip(queries, rankings, strict=True)
                for result in results
            ],
        )
    served, position = [], 0
    for query, results in zip(queries, rankings, strict=True):
        served.append(
            ServedRanking(
                query=query,
                results=results,
                model=predictor.model,
                model_version_id=predictor.model_version_id,
                fallback_reason=predictor.fallback_reason,
                latency_ms=latency_ms,
                prediction_ids=logged[position : position + len(results)],
            )
        )
        position += len(results)
    return served
