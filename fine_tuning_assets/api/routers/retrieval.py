"""The retrieval task: rank the stored documents for a query, record a person's rating of a result."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from fine_tuning_assets.api.dependencies import AdminDep, ServicesDep
from fine_tuning_assets.api.schemas import ImportOut, RankIn, RankOut, RatingIn
from fine_tuning_assets.tasks.retrieval import TASK
from fine_tuning_assets.tasks.retrieval.records import Judgement, RetrievalBatch
from fine_tuning_assets.tasks.retrieval.serving import serve_rank
from fine_tuning_assets.tasks.retrieval.store import RetrievalStore

router = APIRouter(prefix="/api/retrieval", tags=["retrieval"])


@router.post("/rank", response_model=RankOut)
def rank(body: RankIn, services: ServicesDep) -> RankOut:
    """The top documents for a query by the active retrieval model (each returned result logged)."""
    loaded = services.models.get(TASK)
    with loaded.lock:
        [served] = serve_rank(loaded.predictor, [body.query], top_k=body.top_k, engine=services.engine)
    return RankOut(**asdict(served))


@router.post("/ratings", response_model=ImportOut)
def record_rating(body: RatingIn, services: ServicesDep, _actor: AdminDep) -> ImportOut:
    """Record a person's rating of a document for a query (feedback the next training run learns from; the
    prediction log's entries for that result get it as their outcome)."""
    report = RetrievalStore(services.engine).add(
        RetrievalBatch(
            documents=(),
            judgements=(
                Judgement(
                    query=body.query,
                    document_id=body.document_id,
                    rating=body.rating,
                    relevant=body.relevant,
                    user=body.user,
                ),
            ),
        ),
        source="api",
    )
    return ImportOut(
        new=report.judgements_new,
        already_present=report.judgements_already_present,
        changed=report.judgements_changed,
    )
