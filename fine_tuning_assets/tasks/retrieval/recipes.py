"""The retrieval recipe search: untrained hybrid, fine-tuned bi-encoder, fine-tuned hybrid, reranker.

Every recipe is judged by nDCG@10 on the validation queries (queries the fine-tunes never trained on) and
the best is chosen:

``base-hybrid``
    BM25 and the base embedding, z-scored and mixed with the weight that does best on validation (the grid
    includes 0 and 1: the embedding alone, BM25 alone). No training: the model to beat.
``bi-encoder``
    the base bi-encoder fine-tuned with ``MultipleNegativesRankingLoss`` on (query, relevant document, hard
    negative) tuples and the archive's title → text pairs (in-batch negatives; batches without duplicate
    texts), early-stopped on the validation tuples' loss.
``hybrid``
    the fine-tuned embedding mixed with BM25, weight tuned on validation.
``cross-encoder-reranker`` (off by default)
    a cross-encoder fine-tuned with binary cross-entropy on the same tuples (relevant 1, negative 0),
    reranking the top documents of the best first-stage recipe.

All fine-tuning shares one wall-clock budget (``max_train_minutes``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.core import bi_encoder_training, cross_encoder_training
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, ProgressFn, TrainingResult
from fine_tuning_assets.core.task import TaskDataError
from fine_tuning_assets.tasks.retrieval.model import (
    BASE_EMBEDDING,
    FINE_TUNED_EMBEDDING,
    RERANKER,
    Ranker,
    RecipeSpec,
    RetrievalModelSpec,
)
from fine_tuning_assets.tasks.retrieval.ranking import Corpus, mean_metrics, ranking_metrics
from fine_tuning_assets.tasks.retrieval.training_set import RetrievalTrainingSet, TrainingTuple

BASE_HYBRID = "base-hybrid"
BI_ENCODER = "bi-encoder"
HYBRID = "hybrid"
CROSS_ENCODER_RERANKER = "cross-encoder-reranker"
RECIPES = (BASE_HYBRID, BI_ENCODER, HYBRID, CROSS_ENCODER_RERANKER)
DEFAULT_RECIPES = (BASE_HYBRID, BI_ENCODER, HYBRID)

DEFAULT_BI_ENCODER = FineTuningConfig(
    epochs=1, batch_size=32, learning_rate=5e-5, max_seq_length=256, early_stopping_patience=2
)
DEFAULT_RERANKER = FineTuningConfig(epochs=1, batch_size=16, learning_rate=5e-5, max_seq_length=256)
FUSION_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0, 1, 11))


class RecipeSearchError(TaskDataError):
    """The training set cannot support the recipe search; the message says why."""


@dataclass(frozen=True)
class RecipeSearchConfig:
    """What the retrieval recipe search tries.

    Attributes:
        recipes: recipes to compare (``base-hybrid``, ``bi-encoder``, ``hybrid`` by default;
            ``cross-encoder-reranker`` on request).
        bi_encoder: hyperparameters of the MultipleNegativesRankingLoss fine-tune.
        reranker: hyperparameters of the cross-encoder reranker fine-tune.
        rerank_top_k: documents per query the reranker re-scores (20).
        max_train_minutes: wall-clock budget of all fine-tuning together (30).
        seed: seed of the random negatives filled in where mining found none (42).
    """

    recipes: tuple[str, ...] = DEFAULT_RECIPES
    bi_encoder: FineTuningConfig = DEFAULT_BI_ENCODER
    reranker: FineTuningConfig = DEFAULT_RERANKER
    rerank_top_k: int = 20
    max_train_minutes: float = 30.0
    seed: int = 42

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipes", tuple(self.recipes))
        unknown = [r for r in self.recipes if r not in RECIPES]
        if unknown or not self.recipes:
            raise ValueError(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}")
        if self.max_train_minutes <= 0 or self.rerank_top_k < 1:
            raise ValueError("max_train_minutes must be positive and rerank_top_k at least 1")


@dataclass
class RecipeSearchResult:
    spec: RetrievalModelSpec
    training: dict[str, TrainingResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def metrics(self) -> dict[str, Any]:
        return {
            "selected_recipe": self.spec.selected_recipe,
            "recipes": {
                name: {"description": s.describe(), "bm25_weight": s.bm25_weight, **s.validation}
                for name, s in self.spec.recipes.items()
            },
            "training": {name: result.metrics() for name, result in self.training.items()},
            "skipped": self.skipped,
            "embedding_dimension": self.spec.embedding_dimension,
            "search_seconds": round(self.seconds, 1),
        }


def tuples_dataset(tuples: Sequence[TrainingTuple], corpus_texts: Sequence[str], *, seed: int):  # -> Dataset
    """(anchor, positive, negative) columns; a tuple without a negative gets a random other document."""
    from datasets import Dataset

    if len(set(corpus_texts)) < 2:
        raise RecipeSearchError("the corpus needs at least two different documents to train a ranking")
    rng = random.Random(seed)
    negatives = []
    for t in tuples:
        negative = t.negative
        while negative is None or negative == t.positive:
            negative = corpus_texts[rng.randrange(len(corpus_texts))]
        negatives.append(negative)
    return Dataset.from_dict(
        {
            "anchor": [t.anchor for t in tuples],
            "positive": [t.positive for t in tuples],
            "negative": negatives,
        }
    )


def labelled_pairs_dataset(tuples: Sequence[TrainingTuple]):  # -> Dataset
    """(query, document, label) rows for a reranker: positives 1, negatives 0."""
    from datasets import Dataset

    rows = [(t.anchor, t.positive, 1.0) for t in tuples] + [
        (t.anchor, t.negative, 0.0) for t in tuples if t.negative is not None
    ]
    return Dataset.from_dict(
        {"query": [r[0] for r in rows], "document": [r[1] for r in rows], "label": [r[2] for r in rows]}
    )


def tune_fusion_weight(
    bm25: np.ndarray, dense: np.ndarray, qrels: Sequence[dict[str, float]], corpus: Corpus
) -> tuple[float, dict[str, float]]:
    """The BM25 weight of the z-mix with the best mean nDCG@10 on these queries (ties: less BM25)."""
    from fine_tuning_assets.tasks.retrieval.ranking import fuse

    best: tuple[float, float, dict[str, float]] | None = None
    for weight in FUSION_WEIGHTS:
        metrics = mean_metrics(ranking_metrics(fuse(bm25, dense, weight=weight), qrels, corpus))
        if best is None or metrics["ndcg@10"] > best[1]:
            best = (weight, metrics["ndcg@10"], metrics)
    assert best is not None
    return best[0], best[2]


def search_recipes(
    training_set: RetrievalTrainingSet,
    *,
    base_model: str | None,
    config: RecipeSearchConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
) -> RecipeSearchResult:
    """Train and compare the recipes on the validation queries; write ``retrieval_model.json`` and the
    fine-tuned components into ``output_dir``."""
    say = progress or (lambda _message: None)
    output_dir = Path(output_dir)
    started = time.monotonic()
    deadline = started + config.max_train_minutes * 60
    validation = [q for q in training_set.split_queries("validation") if q.relevant]
    train_tuples = training_set.split_tuples("train")
    validation_tuples = training_set.split_tuples("validation")
    if not validation or not train_tuples:
        raise RecipeSearchError(
            f"the recipe search needs validation queries with a relevant document ({len(validation)}) and "
            f"training tuples ({len(train_tuples)})"
        )
    queries = [q.query for q in validation]
    qrels = [q.relevant for q in validation]
    corpus = training_set.corpus
    ranker = Ranker(corpus, directory=output_dir, base_model=base_model, progress=say)
    bm25 = ranker.bm25.scores(queries)
    base_dense = ranker.dense(BASE_EMBEDDING).scores(queries)
    recipes: dict[str, RecipeSpec] = {}
    training: dict[str, TrainingResult] = {}
    skipped: dict[str, str] = {}

    weight, metrics = tune_fusion_weight(bm25, base_dense, qrels, corpus)
    recipes[BASE_HYBRID] = RecipeSpec(BASE_EMBEDDING, weight, validation=metrics)
    say(f"{BASE_HYBRID}: BM25 weight {weight:g}, validation nDCG@10 {metrics['ndcg@10']:.4f}")

    fine_tuned = [r for r in (BI_ENCODER, HYBRID) if r in config.recipes]
    if fine_tuned:
        share = max(deadline - time.monotonic(), 1.0) / (2 if CROSS_ENCODER_RERANKER in config.recipes else 1)
        training[BI_ENCODER] = bi_encoder_training.train_bi_encoder(
            tuples_dataset(train_tuples, corpus.texts, seed=config.seed),
            tuples_dataset(validation_tuples, corpus.texts, seed=config.seed) if validation_tuples else None,
            loss=_multiple_negatives_ranking_loss,
            base_model=base_model,
            config=config.bi_encoder,
            output_dir=output_dir / FINE_TUNED_EMBEDDING,
            progress=say,
            deadline=time.monotonic() + share,
            arguments={"batch_sampler": _no_duplicates()},
        )
        dense = ranker.dense(FINE_TUNED_EMBEDDING).scores(queries)
        if BI_ENCODER in config.recipes:
            metrics = mean_metrics(ranking_metrics(dense, qrels, corpus))
            recipes[BI_ENCODER] = RecipeSpec(FINE_TUNED_EMBEDDING, 0.0, validation=metrics)
            say(f"{BI_ENCODER}: validation nDCG@10 {metrics['ndcg@10']:.4f}")
        if HYBRID in config.recipes:
            weight, metrics = tune_fusion_weight(bm25, dense, qrels, corpus)
            recipes[HYBRID] = RecipeSpec(FINE_TUNED_EMBEDDING, weight, validation=metrics)
            say(f"{HYBRID}: BM25 weight {weight:g}, validation nDCG@10 {metrics['ndcg@10']:.4f}")
    if CROSS_ENCODER_RERANKER in config.recipes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            skipped[CROSS_ENCODER_RERANKER] = "the training budget was used up before it started"
        else:
            training[CROSS_ENCODER_RERANKER] = cross_encoder_training.train_cross_encoder(
                labelled_pairs_dataset(train_tuples),
                labelled_pairs_dataset(validation_tuples) if validation_tuples else None,
                base_model=base_model,
                config=config.reranker,
                output_dir=output_dir / RERANKER,
                progress=say,
                deadline=time.monotonic() + remaining,
            )
            first_name = max(recipes, key=lambda name: recipes[name].validation["ndcg@10"])
            first = recipes[first_name]
            spec = RecipeSpec(first.embedding, first.bm25_weight, RERANKER, config.rerank_top_k)
            metrics = mean_metrics(ranking_metrics(ranker.scores(queries, spec), qrels, corpus))
            recipes[CROSS_ENCODER_RERANKER] = RecipeSpec(
                first.embedding, first.bm25_weight, RERANKER, config.rerank_top_k, validation=metrics
            )
            say(f"{CROSS_ENCODER_RERANKER} over {first_name}: validation nDCG@10 {metrics['ndcg@10']:.4f}")
    # The best validation nDCG@10; a tie goes to the earlier (simpler, cheaper) recipe.
    selected = max(recipes, key=lambda name: (recipes[name].validation["ndcg@10"], -RECIPES.index(name)))
    spec = RetrievalModelSpec(
        selected_recipe=selected,
        recipes=recipes,
        base_model=base_model,
        embedding_dimension=ranker.dense(recipes[selected].embedding).dimension,
    )
    spec.save(output_dir)
    say(f"chose {selected}: {recipes[selected].describe()}")
    return RecipeSearchResult(spec, training, skipped, time.monotonic() - started)


def _multiple_negatives_ranking_loss(model: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model)


def _no_duplicates() -> Any:
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    return BatchSamplers.NO_DUPLICATES
