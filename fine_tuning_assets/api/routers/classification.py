"""The classification tasks' predictions: triage app reviews, score content chunks (each logged)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from fine_tuning_assets.api.dependencies import ServicesDep
from fine_tuning_assets.api.schemas import ClassificationsOut, SignalsIn, TriageIn
from fine_tuning_assets.classifiers.serving import serve_texts
from fine_tuning_assets.tasks.signals.task import SIGNALS
from fine_tuning_assets.tasks.triage.task import TRIAGE, review_tags

router = APIRouter(prefix="/api", tags=["classification"])


def _answer(services: ServicesDep, task, texts, tags) -> ClassificationsOut:  # noqa: ANN001
    loaded = services.models.get(task.name)
    served = serve_texts(loaded, texts, tags, task=task, engine=services.engine)
    return ClassificationsOut(predictions=[asdict(s) for s in served])


@router.post("/triage/predict", response_model=ClassificationsOut)
def predict_triage(body: TriageIn, services: ServicesDep) -> ClassificationsOut:
    """Triage reviews (category, urgency, topic) with the active triage model; each field says whether its
    probability clears the field's confidence threshold (applied without a human) or needs review."""
    return _answer(
        services,
        TRIAGE,
        [r.text for r in body.reviews],
        [review_tags(r.rating) for r in body.reviews],
    )


@router.post("/signals/score", response_model=ClassificationsOut)
def score_chunks(body: SignalsIn, services: ServicesDep) -> ClassificationsOut:
    """The probability that readers save each chunk, by the active signals model (sort by it to surface)."""
    return _answer(services, SIGNALS, [c.text for c in body.chunks], [() for _ in body.chunks])
