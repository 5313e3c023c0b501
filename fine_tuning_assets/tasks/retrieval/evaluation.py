"""Evaluate a retrieval candidate on held-out queries against the active model, the base embedding, BM25
and the untrained hybrid — and decide whether it may be promoted.

Every model ranks the same corpus (the training set's documents) for the same test queries; nDCG@10 is
primary, MRR@10, MAP and Recall@100 beside it. The gate: the candidate's nDCG@10 beats the reference (the
active model, or the base embedding the RAG system uses when none is active) at the lower bound of a
paired bootstrap over queries, and is not below the base embedding's. An embedding other than the deployed
one means the document index must be re-embedded: the report says so, with the cost measured here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fine_tuning_assets.core.metrics import bootstrap_mean_difference
from fine_tuning_assets.tasks.retrieval.model import (
    BASE_EMBEDDING,
    Ranker,
    RecipeSpec,
)
from fine_tuning_assets.tasks.retrieval.ranking import (
    METRICS,
    fuse,
    mean_metrics,
    ranking_metrics,
    reciprocal_rank_fusion,
)
from fine_tuning_assets.tasks.retrieval.training_set import RetrievalTrainingSet

BASE = "base embedding"
BM25 = "BM25"
RRF = "untrained hybrid (RRF: BM25 + base)"
UNTRAINED_HYBRID = "untrained hybrid (z-mix: BM25 + base)"


@dataclass(frozen=True)
class EvaluationConfig:
    """How a retrieval candidate is judged.

    Attributes:
        confidence: one-sided confidence of the bootstrap lower bound the gate trusts (0.95).
        bootstrap_resamples: paired bootstrap resamples over test queries (2000).
        min_improvement: the lower bound of the nDCG@10 gain over the reference must exceed this (0.0).
        deployed_embedding_dimension: dimension of the embeddings in the deployed document index (384, the
            base model's); a candidate with another dimension needs a new index, not only re-embedding.
    """

    confidence: float = 0.95
    bootstrap_resamples: int = 2000
    min_improvement: float = 0.0
    deployed_embedding_dimension: int = 384


def per_query_table(
    queries: list[str], per_query: Mapping[str, Mapping[str, list[float]]], roles: list[str]
) -> list[dict[str, Any]]:
    return [
        {"query": query, **{role: round(per_query[role]["ndcg@10"][i], 4) for role in roles}}
        for i, query in enumerate(queries)
    ]


def promotion_gate(
    candidate: list[float],
    *,
    reference: list[float],
    base: list[float],
    reference_name: str,
    config: EvaluationConfig,
) -> dict[str, Any]:
    """Is the candidate better? Per-query nDCG@10 of the candidate, the reference (the active model, or the
    base embedding) and the base embedding on the same held-out queries: the candidate passes when the
    paired-bootstrap lower bound of its gain over the reference exceeds ``min_improvement`` and its mean is
    not below the base embedding's.

    Example:
        >>> worse = promotion_gate([0.4, 0.5] * 20, reference=[0.6, 0.7] * 20, base=[0.6, 0.7] * 20,
        ...                        reference_name="base embedding", config=EvaluationConfig(bootstrap_resamples=200))
        >>> worse["passed"], worse["improvement"]
        (False, -0.2)
    """
    versus_reference = bootstrap_mean_difference(
        candidate, reference, resamples=config.bootstrap_resamples, confidence=config.confidence
    )
    versus_base = bootstrap_mean_difference(
        candidate, base, resamples=config.bootstrap_resamples, confidence=config.confidence
    )
    beats_reference = versus_reference["lower"] > config.min_improvement
    not_worse_than_base = versus_base["difference"] >= 0
    mean = float(np.mean(candidate))
    reasons = [
        f"nDCG@10 {mean:.4f} vs {reference_name} {float(np.mean(reference)):.4f}: "
        f"{versus_reference['difference']:+.4f}, at least {versus_reference['lower']:+.4f} with "
        f"{config.confidence:.0%} confidence over {len(candidate)} queries"
        + ("" if beats_reference else f" — not above {config.min_improvement:+.4f}: not proven better"),
        f"vs the base embedding: {versus_base['difference']:+.4f}"
        + ("" if not_worse_than_base else " — worse than the base embedding"),
    ]
    return {
        "passed": bool(beats_reference and not_worse_than_base),
        "reasons": reasons,
        "reference": reference_name,
        "metric": "ndcg@10",
        "improvement": round(versus_reference["difference"], 4),
        "improvement_lower_bound": round(versus_reference["lower"], 4),
        "versus_base": {k: round(v, 4) if isinstance(v, float) else v for k, v in versus_base.items()},
    }


def evaluate_retrieval_models(
    training_set: RetrievalTrainingSet,
    *,
    candidate: Ranker,
    candidate_name: str,
    active: Ranker | None,
    active_name: str | None,
    base_model: str | None,
    config: EvaluationConfig,
    progress: Any = None,
) -> dict[str, Any]:
    """The report: metrics of every model and recipe, per-query nDCG@10, the gate and the re-index cost."""
    say = progress or (lambda _message: None)
    test = [q for q in training_set.split_queries("test") if q.relevant]
    if len(test) < 2:
        raise ValueError(
            f"the test split has {len(test)} queries with a relevant document; at least 2 are needed"
        )
    queries = [q.query for q in test]
    qrels = [q.relevant for q in test]
    corpus = training_set.corpus
    spec = candidate.spec
    assert spec is not None
    say(f"ranking {len(corpus.ids)} documents for {len(test)} held-out queries")
    scores: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    scores["candidate"] = candidate.recipe_scores(queries)
    names["candidate"] = f"{candidate_name} · {spec.selected_recipe}"
    for recipe in spec.recipes:
        if recipe != spec.selected_recipe:
            scores[f"recipe: {recipe}"] = candidate.recipe_scores(queries, recipe)
            names[f"recipe: {recipe}"] = f"{candidate_name} · {recipe}"
    if active is not None:
        scores["active"] = active.recipe_scores(queries)
        names["active"] = active_name or "active"
    bm25 = candidate.bm25.scores(queries)
    base_dense = candidate.dense(BASE_EMBEDDING).scores(queries)
    scores["base"], names["base"] = base_dense, BASE
    scores["bm25"], names["bm25"] = bm25, BM25
    scores["rrf"], names["rrf"] = reciprocal_rank_fusion(bm25, base_dense), RRF
    base_hybrid = spec.recipes.get("base-hybrid")
    if base_hybrid is not None and spec.selected_recipe != "base-hybrid":
        scores["untrained_hybrid"] = fuse(bm25, base_dense, weight=base_hybrid.bm25_weight)
        names["untrained_hybrid"] = f"{UNTRAINED_HYBRID}, BM25 weight {base_hybrid.bm25_weight:g}"
    per_query = {role: ranking_metrics(matrix, qrels, corpus) for role, matrix in scores.items()}
    metrics = {role: mean_metrics(values) for role, values in per_query.items()}

    reference = "active" if active is not None else "base"
    gate = promotion_gate(
        per_query["candidate"]["ndcg@10"],
        reference=per_query[reference]["ndcg@10"],
        base=per_query["base"]["ndcg@10"],
        reference_name=names[reference],
        config=config,
    )
    reasons = gate["reasons"]
    selected: RecipeSpec = spec.recipes[spec.selected_recipe]
    deployed = (
        active.spec.recipes[active.spec.selected_recipe].embedding
        if active and active.spec
        else BASE_EMBEDDING
    )
    changes_embedding = selected.bm25_weight < 1 and (
        selected.embedding != BASE_EMBEDDING or (active is not None and deployed != BASE_EMBEDDING)
    )
    rate = candidate.dense(selected.embedding).documents_per_second if selected.bm25_weight < 1 else None
    reindex = {
        "needed": bool(changes_embedding),
        "embedding": selected.embedding,
        "embedding_dimension": spec.embedding_dimension,
        "deployed_embedding_dimension": config.deployed_embedding_dimension,
        "dimension_matches": spec.embedding_dimension == config.deployed_embedding_dimension,
        "documents": len(corpus.ids),
        "documents_per_second": round(rate, 1) if rate and np.isfinite(rate) else None,
        "estimated_seconds": round(len(corpus.ids) / rate, 1) if changes_embedding and rate else 0.0,
    }
    if not reindex["dimension_matches"]:
        reasons.append(
            f"the embedding has {spec.embedding_dimension} dimensions, the deployed index "
            f"{config.deployed_embedding_dimension}: a new index is needed before serving it"
        )
    return {
        "dataset_version": training_set.version,
        "test_queries": len(test),
        "documents": len(corpus.ids),
        "models": {role: {"name": names[role], "metrics": metrics[role]} for role in scores},
        "per_query": per_query_table(queries, per_query, list(scores)),
        "gate": gate,
        "reindex": reindex,
        "selected_recipe": spec.selected_recipe,
        "metric_names": list(METRICS),
        "config": {
            "confidence": config.confidence,
            "bootstrap_resamples": config.bootstrap_resamples,
            "min_improvement": config.min_improvement,
        },
    }


def per_query_plot_png(report: Mapping[str, Any]) -> bytes:
    """Per-query nDCG@10 of the candidate against the reference (one dot per held-out query)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    roles = list(report["models"])
    reference = "active" if "active" in roles else "base"
    x = np.array([row[reference] for row in report["per_query"]])
    y = np.array([row["candidate"] for row in report["per_query"]])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    axes[0].scatter(x, y, s=14, alpha=0.7)
    axes[0].plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes[0].set_xlabel(f"{report['models'][reference]['name']} nDCG@10")
    axes[0].set_ylabel("candidate nDCG@10")
    axes[0].set_title(f"{len(x)} held-out queries: above the line, the candidate ranks better", fontsize=9)
    names = [report["models"][r]["name"] for r in roles]
    values = [report["models"][r]["metrics"]["ndcg@10"] for r in roles]
    axes[1].barh(range(len(values)), values)
    axes[1].set_yticks(range(len(values)), [n[:42] for n in names], fontsize=7)
    axes[1].invert_yaxis()
    axes[1].set_xlabel("mean nDCG@10")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
