"""Reading the ids an upstream asset recorded in its latest materialization."""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, DagsterInstance, Failure


def latest_materialization_metadata(instance: DagsterInstance, asset: str) -> dict[str, Any] | None:
    """The metadata values of ``asset``'s latest materialization, or None when it was never materialized."""
    event = instance.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return None
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def required_upstream_value(instance: DagsterInstance, asset: str, key: str) -> Any:
    """A value an upstream asset recorded, failing clearly when it is missing."""
    metadata = latest_materialization_metadata(instance, asset)
    if metadata is None:
        raise Failure(f"{asset} has not been materialized yet; materialize it (or the whole chain) first")
    if key not in metadata:
        raise Failure(f"{asset}'s latest materialization did not record {key!r}; materialize it again")
    return metadata[key]
