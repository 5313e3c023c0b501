"""The dedup task: score pairs, check a new insight against every stored one, record a reviewer's decision."""

from __future__ import annotations

import threading
from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from fine_tuning_assets.api.dependencies import AdminDep, Services, ServicesDep
from fine_tuning_assets.api.schemas import (
    ClusterOut,
    DecisionIn,
    InsightCheckIn,
    InsightCheckOut,
    PairBatchIn,
    PairBatchOut,
    PairIn,
    PairPrediction,
)
from fine_tuning_assets.tasks.dedup import TASK
from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex, check_insight
from fine_tuning_assets.tasks.dedup.records import MergeCluster
from fine_tuning_assets.tasks.dedup.serving import serve_pairs
from fine_tuning_assets.tasks.dedup.store import FeedbackStore

router = APIRouter(tags=["dedup"])
_index_lock = threading.Lock()


def insight_index(services: Services) -> InsightIndex:
    """The index of every stored insight, opened (and synced) on first use."""
    with _index_lock:
        if services.insight_index is None:
            services.insight_index = InsightIndex.open(
                FeedbackStore(services.engine),
                services.settings.home / "serving" / "indexes",
                base_model=services.settings.base_model,
            )
            services.insight_index_state = "ready"
        return services.insight_index


def _predictions(services: Services, pairs: list[PairIn]) -> list[PairPrediction]:
    served = serve_pairs(
        services.models.get(TASK),
        [(p.text_a, p.text_b) for p in pairs],
        engine=services.engine,
        insight_ids=[(p.insight_a_id, p.insight_b_id) for p in pairs],
    )
    return [PairPrediction(**asdict(s)) for s in served]


@router.post("/api/dedup/predict", response_model=PairPrediction)
def predict_pair(body: PairIn, services: ServicesDep) -> PairPrediction:
    """Should these two statements merge? The active model's label, band and probability (logged)."""
    return _predictions(services, [body])[0]


@router.post("/api/dedup/predict/batch", response_model=PairBatchOut)
def predict_pairs(body: PairBatchIn, services: ServicesDep) -> PairBatchOut:
    """Score up to 1,000 pairs together (one model call per batch; each prediction logged)."""
    predictions = _predictions(services, body.pairs)
    first = predictions[0]
    return PairBatchOut(
        predictions=predictions,
        model=first.model,
        model_version_id=first.model_version_id,
        fallback_reason=first.fallback_reason,
    )


@router.post("/api/insights/check", response_model=InsightCheckOut)
def check_new_insight(body: InsightCheckIn, services: ServicesDep, _actor: AdminDep) -> InsightCheckOut:
    """Does a new insight duplicate one already stored? Candidates from the vector index of every insight,
    scored by the active pair model. With ``save`` (default) the insight is stored and, when the model is
    unsure, a pending cluster is created for review (``cluster_priority`` high in the review band)."""
    check = check_insight(
        body.text,
        store=FeedbackStore(services.engine),
        index=insight_index(services),
        loaded=services.models.get(TASK),
        engine=services.engine,
        insight_id=body.insight_id,
        save=body.save,
        k=body.k,
    )
    fields = {k: v for k, v in asdict(check).items() if k != "indexed"}
    return InsightCheckOut(**fields)


def _cluster_out(cluster: MergeCluster) -> ClusterOut:
    return ClusterOut(
        id=cluster.id,
        status=cluster.status,
        reviewer=cluster.reviewer,
        decided_at=cluster.decided_at,
        priority=cluster.priority,
        members=[asdict(m) for m in cluster.members],
    )


@router.get("/api/dedup/clusters/{cluster_id}", response_model=ClusterOut)
def get_cluster(cluster_id: str, services: ServicesDep) -> ClusterOut:
    """A merge cluster, pending or decided."""
    cluster = FeedbackStore(services.engine).get_cluster(cluster_id)
    if cluster is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no cluster {cluster_id!r}")
    return _cluster_out(cluster)


@router.post("/api/dedup/clusters/{cluster_id}/decision", response_model=ClusterOut)
def record_decision(cluster_id: str, body: DecisionIn, services: ServicesDep, _actor: AdminDep) -> ClusterOut:
    """Record a reviewer's decision on a pending cluster: approved (with the members that merge, at least two)
    or rejected. The prediction log's entries for its pairs get the decision as their outcome."""
    decided = FeedbackStore(services.engine).record_decision(
        cluster_id, status=body.status, reviewer=body.reviewer, selected_insight_ids=body.selected_insight_ids
    )
    return _cluster_out(decided)
