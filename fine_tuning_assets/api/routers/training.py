"""Training: export a task's training data, start a Dagster run of a task's job, follow it."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from fine_tuning_assets.api.dependencies import AdminDep, Services, ServicesDep, known_task
from fine_tuning_assets.api.schemas import RunIn, RunOut, TrainingDataOut, TrainingDataStats
from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.task import TaskSettings

router = APIRouter(tags=["training"])


@router.get(
    "/api/tasks/{task}/training-data",
    response_model=TrainingDataOut | TrainingDataStats,
    responses={200: {"content": {"application/jsonl": {}}}},
)
def export_training_data(
    task: str,
    services: ServicesDep,
    _actor: AdminDep,
    format: Literal["openai_jsonl", "json"] = "json",  # noqa: A002  (the query parameter's name)
    split: str = Query(default="all", max_length=20, description="all, train, validation or test"),
    dataset_version: str | None = Query(
        default=None, max_length=200, description="a saved training set; default: the store's decisions now"
    ),
    stats: bool = Query(default=False, description="only the counts, not the records"),
):
    """A task's training data: OpenAI chat fine-tuning JSONL (``format=openai_jsonl``, one example a line) or
    the task's own JSON records, of a saved training set or of the store now."""
    definition = known_task(services, task)
    export = definition.export_training_data(
        services.engine,
        ArtifactStore(services.settings.artifact_root),
        dataset_version=dataset_version,
        split=split,
        settings=TaskSettings(
            min_examples=services.settings.min_examples_per_class, base_model=services.settings.base_model
        ),
    )
    records = export.in_format(format)
    summary = TrainingDataStats(
        task=task,
        dataset_version=export.dataset_version,
        origin=export.origin,
        records=len(records),
        stats=export.stats,
    )
    if stats:
        return summary
    if format == "openai_jsonl":
        return StreamingResponse(
            (json.dumps(r, ensure_ascii=False) + "\n" for r in records),
            media_type="application/jsonl",
            headers={"X-FTA-Origin": export.origin.encode("ascii", "replace").decode()},
        )
    return TrainingDataOut(**summary.model_dump(), data=records)


def _instance(services: Services):  # -> DagsterInstance
    if services.dagster_instance is None:
        from dagster import DagsterInstance

        try:
            services.dagster_instance = DagsterInstance.get()
        except Exception as error:  # DAGSTER_HOME unset or its dagster.yaml broken
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the Dagster instance is not available: {str(error).strip().splitlines()[0]}",
            ) from None
    return services.dagster_instance


@router.post("/api/runs", response_model=RunOut, status_code=status.HTTP_202_ACCEPTED)
def start_run(body: RunIn, services: ServicesDep, actor: AdminDep) -> RunOut:
    """Start a task's job (``chain``: feedback → training set → candidate → evaluation → active model;
    ``data_prep``: feedback → training set) as a Dagster run in its own process; answers with the run id at
    once. The run shows in the Dagster UI like any other."""
    from fine_tuning_assets.definitions import build_definitions
    from fine_tuning_assets.defs.launch import launch_job

    known_task(services, body.task)
    run_id = launch_job(
        build_definitions(services.settings),
        job_name=f"{body.task}_{body.job}",
        run_config=body.run_config,
        log_folder=services.run_logs,
        launched_by=actor,
    )
    return RunOut(run_id=run_id, job_name=f"{body.task}_{body.job}", status="STARTING")


RUN_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@router.get("/api/runs/{run_id}", response_model=RunOut)
def get_run(
    run_id: Annotated[str, PathParam(pattern=RUN_ID_PATTERN, description="a Dagster run id (a UUID)")],
    services: ServicesDep,
) -> RunOut:
    """A run's status: Dagster's (QUEUED, STARTED, SUCCESS, FAILURE, …), or STARTING while its process loads."""
    from fine_tuning_assets.defs.launch import run_status

    found = run_status(_instance(services), run_id, log_folder=services.run_logs)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r}")
    return RunOut(**found.__dict__)
