"""The registry side of every task's chain: train and register a candidate, evaluate it, promote it.

Each step takes explicit ids (a training set version, a model version id) and records what it did in the
registry's audit trail; the task (:class:`~fine_tuning_assets.core.task.Task`) does the task's own work.
Dagster assets and the CLI both call these; nothing here imports Dagster.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.artifacts import ArtifactStore, write_json_atomic
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL
from fine_tuning_assets.core.processes import RunOwner
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion
from fine_tuning_assets.core.task import ProgressFn, Task, TaskSettings, TrainedModel, TrainingSetInfo

EVALUATION_FILE = "evaluation.json"


def settings_dict(config: Any) -> dict[str, Any]:
    """A settings dataclass as JSON-ready data."""
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)


def model_path(task: str, version: ModelVersion) -> str:
    """Where a version's artifact lives in the artifact store."""
    return f"models/{task}/v{version.version}-id{version.id}"


def train_candidate(
    task: Task,
    training_set: TrainingSetInfo,
    *,
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    config: Any,
    settings: TaskSettings,
    actor: str,
    progress: ProgressFn | None = None,
    owner: RunOwner | None = None,
) -> tuple[ModelVersion, TrainedModel]:
    """Register a version (``training``, owned by ``owner``: the run and this process), let the task train
    into a temporary folder that is moved into place with a manifest, and move the version to
    ``evaluating``; on any error the version is marked ``failed`` with the error as the reason (a crash that
    kills the process is settled by the reaper)."""
    say = progress or (lambda _message: None)
    base_name = settings.base_model or BUNDLED_BASE_MODEL
    version = registry.register(
        task=task.name,
        model_kind=task.model_kind,
        base_model=base_name,
        dataset_version=training_set.version,
        config=settings_dict(config),
        actor=actor,
        reason=f"training on training set {training_set.version}",
        owner=owner,
    )
    try:
        trained: dict[str, TrainedModel] = {}

        def write(directory: Path) -> None:
            trained["model"] = task.train(
                training_set, config=config, settings=settings, output_dir=directory, progress=say
            )

        path = artifacts.write_directory(
            model_path(task.name, version),
            write,
            manifest={
                "kind": task.model_kind,
                "task": task.name,
                "model_version_id": version.id,
                "version": version.version,
                "base_model": base_name,
                "dataset_version": training_set.version,
                "config": settings_dict(config),
            },
        )
        result = trained["model"]
        version = registry.transition(
            version.id,
            "evaluating",
            actor=actor,
            reason=result.summary,
            artifact_path=str(path),
            training_metrics=result.metrics,
        )
        return version, result
    except BaseException as error:
        registry.transition(version.id, "failed", actor=actor, reason=f"training failed: {error!r}"[:2000])
        raise


@dataclass(frozen=True)
class EvaluationOutcome:
    version: ModelVersion
    report: dict[str, Any]
    report_path: Path
    active_version_id: int | None


def evaluate_candidate(
    task: Task,
    version_id: int,
    *,
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    config: Any,
    actor: str,
    progress: ProgressFn | None = None,
) -> EvaluationOutcome:
    """Evaluate an ``evaluating`` version against the active one (if any) and the base model; write the
    report beside the model; move the version to ``staged`` (the gate passed) or ``failed``."""
    version = registry.get(version_id)
    if version.task != task.name:
        raise ValueError(f"{version.label} is a {version.task} model, not a {task.name} model")
    if version.state != "evaluating":
        raise ValueError(f"{version.label} is {version.state}; only a version in 'evaluating' is evaluated")
    active = registry.active(task.name)
    try:
        evaluation = task.evaluate(
            version,
            active=active,
            artifacts=artifacts,
            config=config,
            progress=progress or (lambda _message: None),
        )
    except Exception as error:
        registry.transition(version.id, "failed", actor=actor, reason=f"evaluation failed: {error!r}"[:2000])
        raise
    ids = {"candidate_version_id": version.id, "active_version_id": active.id if active else None}
    report = {**evaluation.report, **ids}
    report_path = write_json_atomic(Path(version.artifact_path) / EVALUATION_FILE, report)
    gate = report["gate"]
    updated = registry.transition(
        version.id,
        "staged" if gate["passed"] else "failed",
        actor=actor,
        reason=("promotion gate passed: " if gate["passed"] else "promotion gate refused: ")
        + "; ".join(gate["reasons"])
        + evaluation.note,
        evaluation={**evaluation.summary, **ids},
    )
    return EvaluationOutcome(
        version=updated, report=report, report_path=report_path, active_version_id=ids["active_version_id"]
    )


@dataclass(frozen=True)
class PromotionOutcome:
    action: str  # "promoted" or "kept"
    reason: str
    active: ModelVersion | None


def promote_if_allowed(
    version_id: int,
    *,
    registry: ModelRegistry,
    expected_active_id: int | None,
    auto_promote: bool,
    actor: str,
) -> PromotionOutcome:
    """Promote a ``staged`` version when auto-promotion is on; otherwise keep the active one and say why."""
    version = registry.get(version_id)
    current = registry.active(version.task)
    if version.state != "staged":
        return PromotionOutcome(
            "kept",
            f"{version.label} is {version.state}, not staged: it did not pass the promotion gate",
            current,
        )
    if not auto_promote:
        return PromotionOutcome(
            "kept",
            f"{version.label} passed the gate but FINETUNE_AUTO_PROMOTE is off; promote it with "
            f"`fta models promote {version.id}`",
            current,
        )
    gate = version.evaluation.get("gate", {})
    promoted = registry.promote(
        version.id,
        expected_active_id=expected_active_id,
        actor=actor,
        reason="automatic promotion after the gate passed: " + "; ".join(gate.get("reasons", [])),
    )
    return PromotionOutcome("promoted", f"{promoted.label} is now active", promoted)
