"""Reading the ids an upstream asset recorded when it was materialized."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dagster import AssetExecutionContext, AssetKey, DagsterEventType, DagsterInstance, Failure
from sqlalchemy.engine import Engine

from fine_tuning_assets.core.database import as_utc
from fine_tuning_assets.core.task import Task


def latest_materialization_metadata(instance: DagsterInstance, asset: str) -> dict[str, Any] | None:
    """The metadata values of ``asset``'s latest materialization, or None when it was never materialized."""
    event = instance.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return None
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def upstream_metadata(context: AssetExecutionContext, asset: str) -> dict[str, Any] | None:
    """What ``asset`` recorded in this run; its latest materialization only when this run did not make it.

    Runs can overlap (a sensor, a schedule and a manual run), so a step must not pick up another run's ids.
    """
    key = AssetKey(asset)
    for entry in reversed(
        context.instance.all_logs(context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    ):
        materialization = entry.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            return {name: value.value for name, value in materialization.metadata.items()}
    return latest_materialization_metadata(context.instance, asset)


def required_upstream_value(context: AssetExecutionContext, asset: str, key: str) -> Any:
    """A value an upstream asset recorded (see :func:`upstream_metadata`), failing clearly when missing."""
    metadata = upstream_metadata(context, asset)
    if metadata is None:
        raise Failure(f"{asset} has not been materialized yet; materialize it (or the whole chain) first")
    if key not in metadata:
        raise Failure(f"{asset}'s materialization did not record {key!r}; materialize it again")
    return metadata[key]


def decisions_since_last_training(instance: DagsterInstance, task: Task, engine: Engine) -> int:
    """The task's decisions recorded after the watermark of the training set its latest candidate model
    trained on.

    Counting from the last *trained* model, not the last training set, means a weekly data-prep run (which
    rebuilds the training set without training) does not reset the count.
    """
    trained = latest_materialization_metadata(instance, f"{task.name}_candidate_model") or {}
    watermark = trained.get("recorded_through")
    return task.count_decisions_after(
        engine, as_utc(datetime.fromisoformat(watermark)) if watermark else None
    )
