"""Model versions: list, show, status per task, promote, roll back, live accuracy."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from fine_tuning_assets.api.dependencies import AdminDep, ServicesDep, known_task
from fine_tuning_assets.api.schemas import (
    MAX_ID,
    LiveAccuracyOut,
    ModelEventOut,
    ModelVersionDetail,
    ModelVersionOut,
    PromoteIn,
    RollbackIn,
    ServingOut,
    TaskModelStatus,
)
from fine_tuning_assets.serving.prediction_log import live_accuracy

router = APIRouter(prefix="/api/models", tags=["models"])
VersionId = Annotated[int, Path(ge=1, le=MAX_ID, description="a model version's id")]


@router.get("", response_model=list[ModelVersionOut])
def list_versions(services: ServicesDep, task: str | None = None) -> list[ModelVersionOut]:
    """Every model version (of one task with ``?task=``), newest first."""
    if task is not None:
        known_task(services, task)
    return [ModelVersionOut.of(v) for v in reversed(services.registry.versions(task))]


@router.get("/status", response_model=list[TaskModelStatus])
def model_status(services: ServicesDep) -> list[TaskModelStatus]:
    """The active version of each task and what this server has loaded to answer with."""
    loaded = services.models.loaded()
    now = time.monotonic()
    statuses = []
    for task in services.tasks:
        active = services.registry.active(task)
        entry = loaded.get(task)
        serving = (
            ServingOut(
                model=entry.predictor.model,
                model_version_id=entry.predictor.model_version_id,
                fallback_reason=entry.predictor.fallback_reason,
                loaded_seconds_ago=round(now - entry.loaded_at, 3),
                load_seconds=round(entry.load_seconds, 3),
                prediction_cache_size=len(entry.cache),
                prediction_cache_hits=entry.cache_hits,
            )
            if entry
            else None
        )
        statuses.append(
            TaskModelStatus(task=task, active=ModelVersionOut.of(active) if active else None, serving=serving)
        )
    return statuses


@router.get("/{version_id}", response_model=ModelVersionDetail)
def get_version(version_id: VersionId, services: ServicesDep) -> ModelVersionDetail:
    """One version with its evaluation and its audit trail."""
    version = services.registry.get(version_id)
    events = [
        ModelEventOut(
            event=e.event,
            from_state=e.from_state,
            to_state=e.to_state,
            actor=e.actor,
            reason=e.reason,
            created_at=e.created_at,
        )
        for e in services.registry.events(version_id=version.id)
    ]
    return ModelVersionDetail(**ModelVersionOut.of(version, full=True).model_dump(), events=events)


@router.post("/{version_id}/promote", response_model=ModelVersionOut)
def promote(
    version_id: VersionId, body: PromoteIn, services: ServicesDep, actor: AdminDep
) -> ModelVersionOut:
    """Make a staged version active. ``expected_active_id`` is the version you saw active: when another
    promotion or rollback changed it since, the answer is 409 and nothing changes."""
    version = services.registry.get(version_id)
    promoted = services.registry.promote(
        version.id, expected_active_id=body.expected_active_id, actor=actor, reason=body.reason
    )
    services.models.reload_soon(promoted.task)
    return ModelVersionOut.of(promoted)


@router.post("/{version_id}/rollback", response_model=ModelVersionOut)
def rollback(
    version_id: VersionId, body: RollbackIn, services: ServicesDep, actor: AdminDep
) -> ModelVersionOut:
    """Roll back ``version_id``, the active version: the previous one (or ``to_version_id``) is active again,
    and the rolled-back one is marked failed. Answers with the version now active."""
    bad = services.registry.get(version_id)
    active = services.registry.rollback(
        bad.task, expected_active_id=bad.id, to_version_id=body.to_version_id, actor=actor, reason=body.reason
    )
    services.models.reload_soon(active.task)
    return ModelVersionOut.of(active)


@router.get("/{version_id}/live", response_model=LiveAccuracyOut)
def live(
    version_id: VersionId, services: ServicesDep, limit: int = Query(default=20, ge=0, le=1000)
) -> LiveAccuracyOut:
    """How the version did on live traffic: its logged predictions whose item a human decided later."""
    version = services.registry.get(version_id)
    task = known_task(services, version.task)
    report = live_accuracy(
        services.engine,
        task=version.task,
        positive=task.positive_label,
        model_version_id=version.id,
        limit=limit,
    )
    return LiveAccuracyOut(**report.to_dict())
