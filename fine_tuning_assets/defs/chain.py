"""The chain every task becomes: ``<task>_feedback → <task>_training_set → <task>_candidate_model →
<task>_evaluation → <task>_active_model``, with the task's asset checks, in an asset group named after it.

The steps pass explicit ids down the chain (the feedback watermark, the training-set version, the model
version id) through their materialization metadata; each also takes that id as run config. The task object
(:class:`fine_tuning_assets.core.task.Task`) does the work and says what to show; this module only turns it
into Dagster assets, checks and metadata.
"""

# No `from __future__ import annotations` here: Dagster reads the `context` and resource annotations at
# definition time and rejects string annotations.

from datetime import datetime
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    Field,
    MaterializeResult,
    MetadataValue,
    Noneable,
    asset,
)

from fine_tuning_assets.core.database import as_utc
from fine_tuning_assets.core.lifecycle import (
    evaluate_candidate,
    promote_if_allowed,
    settings_dict,
    train_candidate,
)
from fine_tuning_assets.core.processes import RunOwner
from fine_tuning_assets.core.task import CheckOutcome, FilePath, JsonData, Markdown, Task, TaskDataError
from fine_tuning_assets.defs.crash_recovery import reap_abandoned_work
from fine_tuning_assets.defs.materializations import (
    decisions_since_last_training,
    required_upstream_value,
    upstream_metadata,
)
from fine_tuning_assets.defs.resources import (
    ArtifactStoreResource,
    FeedbackStoreResource,
    FineTuningSettingsResource,
    ModelRegistryResource,
)
from fine_tuning_assets.defs.run_config import config_shape, settings_from_config

#: Tags of the training step, so a deployment can route it (and the `model_training` pool limits it).
TRAINING_TAGS = {"fta/step": "training"}


def metadata_value(value: Any) -> Any:
    """A task's plain metadata value as Dagster shows it."""
    if isinstance(value, Markdown):
        return MetadataValue.md(value.text)
    if isinstance(value, JsonData):
        return MetadataValue.json(value.value)
    if isinstance(value, FilePath):
        return MetadataValue.path(value.path)
    return value


def metadata(values: dict[str, Any]) -> dict[str, Any]:
    return {key: metadata_value(value) for key, value in values.items()}


def check_result(outcome: CheckOutcome) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.WARN if outcome.severity == "warn" else AssetCheckSeverity.ERROR,
        metadata=metadata(outcome.metadata),
    )


def markdown_table(frame: pd.DataFrame, *, floatfmt: str = "g") -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False, floatfmt=floatfmt) if len(frame) else "_none_")


def _settings(cls: type, context: AssetExecutionContext, step: str) -> Any:
    try:
        return settings_from_config(cls, context.op_execution_context.op_config)
    except (TypeError, ValueError) as error:
        raise Failure(f"bad {step} config: {error}") from error


def _run_config(context: AssetExecutionContext) -> dict[str, Any]:
    return context.op_execution_context.op_config


def build_task_assets(task: Task) -> list[AssetsDefinition]:
    """The five assets of ``task``'s chain (see the module docstring)."""
    name = task.name
    keys = {step: f"{name}_{step}" for step in ("feedback", "training_set", "candidate_model", "evaluation")}

    @asset(
        name=keys["feedback"],
        group_name=name,
        kinds=set(task.kinds.get("feedback", ())),
        description=f"A snapshot of {task.description} in the feedback store: counts, and the watermark "
        "(`recorded_through`) the training set is built from, so it is reproducible from exactly these.",
    )
    def feedback(context: AssetExecutionContext, feedback_store: FeedbackStoreResource) -> MaterializeResult:
        engine = feedback_store.engine()
        counts = task.feedback_counts(engine)
        watermark = task.latest_recorded_at(engine)
        table = pd.DataFrame([{"what": key, "count": value} for key, value in counts.items()])
        return MaterializeResult(
            metadata={
                "recorded_through": watermark.isoformat() if watermark else None,
                **counts,
                "decisions_since_last_training": decisions_since_last_training(
                    context.instance, task, engine
                ),
                "counts": markdown_table(table),
            }
        )

    @asset(
        name=keys["training_set"],
        group_name=name,
        deps=[feedback],
        kinds=set(task.kinds.get("training_set", ())),
        check_specs=[
            AssetCheckSpec(c.name, asset=keys["training_set"], blocking=c.blocking, description=c.description)
            for c in task.training_set_checks
        ],
        config_schema=config_shape(
            task.training_set_config,
            extra={
                "recorded_through": Field(
                    Noneable(str),
                    default_value=None,
                    is_required=False,
                    description=f"Build from decisions recorded up to this ISO time instead of "
                    f"{keys['feedback']}'s watermark.",
                )
            },
        ),
        description=(task.build_training_set.__doc__ or "").strip() or None,
    )
    def training_set(
        context: AssetExecutionContext,
        feedback_store: FeedbackStoreResource,
        artifact_store: ArtifactStoreResource,
        finetuning: FineTuningSettingsResource,
    ) -> MaterializeResult:
        watermark_text = _run_config(context).get("recorded_through") or required_upstream_value(
            context, keys["feedback"], "recorded_through"
        )
        watermark = as_utc(datetime.fromisoformat(watermark_text)) if watermark_text else None
        config = _settings(task.training_set_config, context, "training set")
        try:
            built = task.build_training_set(
                feedback_store.engine(),
                artifact_store.get_store(),
                recorded_through=watermark,
                config=config,
                settings=finetuning.task_settings(),
                progress=context.log.info,
            )
        except TaskDataError as error:
            raise Failure(str(error)) from error
        return MaterializeResult(
            metadata={
                "dataset_version": built.version,
                "recorded_through": watermark.isoformat() if watermark else None,
                "path": MetadataValue.path(str(built.path)),
                **metadata(built.report.metadata),
                "config": MetadataValue.json(settings_dict(config)),
            },
            check_results=[check_result(c) for c in built.report.checks],
        )

    @asset(
        name=keys["candidate_model"],
        group_name=name,
        deps=[training_set],
        op_tags=TRAINING_TAGS,
        pool="model_training",
        kinds=set(task.kinds.get("candidate_model", ())),
        config_schema=config_shape(
            task.candidate_config,
            extra={
                "dataset_version": Field(
                    Noneable(str),
                    default_value=None,
                    is_required=False,
                    description="Train on this training set instead of the upstream one.",
                )
            },
        ),
        description=(task.train.__doc__ or "").strip() + " Registered as a new model version (state "
        "`evaluating`); the training set, configuration and metrics are in its metadata.",
    )
    def candidate_model(
        context: AssetExecutionContext,
        model_registry: ModelRegistryResource,
        artifact_store: ArtifactStoreResource,
        finetuning: FineTuningSettingsResource,
    ) -> MaterializeResult:
        if not finetuning.enabled:
            raise Failure("fine-tuning is switched off (FINETUNE_ENABLED=false)")
        dataset_version = _run_config(context).get("dataset_version") or required_upstream_value(
            context, keys["training_set"], "dataset_version"
        )
        artifacts = artifact_store.get_store()
        data = task.load_training_set(artifacts, dataset_version)
        config = _settings(task.candidate_config, context, "candidate model")
        registry = model_registry.get_registry()
        actor = f"dagster run {context.run_id}"
        # What an earlier crashed run left behind (a version stuck in training, a staging folder) is settled first.
        reaped = reap_abandoned_work(context.instance, registry, artifacts, actor=actor)
        for line in reaped.lines():
            context.log.warning(f"crash recovery: {line}")
        try:
            version, trained = train_candidate(
                task,
                data,
                registry=registry,
                artifacts=artifacts,
                config=config,
                settings=finetuning.task_settings(),
                actor=actor,
                progress=context.log.info,
                owner=RunOwner.of_this_process(context.run_id),
            )
        except TaskDataError as error:
            raise Failure(str(error)) from error
        return MaterializeResult(
            metadata={
                "model_version_id": version.id,
                "version": version.version,
                "state": version.state,
                "dataset_version": dataset_version,
                # The decisions this model learned from end here: the retraining sensor counts from it.
                "recorded_through": data.recorded_through.isoformat() if data.recorded_through else None,
                "path": MetadataValue.path(version.artifact_path),
                **metadata(trained.report.metadata),
                "config": MetadataValue.json(settings_dict(config)),
                "crash_recovery": MetadataValue.md(
                    "\n".join(f"- {line}" for line in reaped.lines()) or "nothing to settle"
                ),
            }
        )

    @asset(
        name=keys["evaluation"],
        group_name=name,
        deps=[candidate_model],
        kinds=set(task.kinds.get("evaluation", ())),
        check_specs=[
            AssetCheckSpec(c.name, asset=keys["evaluation"], blocking=c.blocking, description=c.description)
            for c in task.evaluation_checks
        ],
        config_schema=config_shape(
            task.evaluation_config,
            extra={
                "model_version_id": Field(
                    Noneable(int),
                    default_value=None,
                    is_required=False,
                    description="Evaluate this version instead of the upstream one.",
                )
            },
        ),
        description=(task.evaluate.__doc__ or "").strip() + " The report is written beside the model; the "
        "version becomes `staged` when the promotion gate passes, `failed` when it does not.",
    )
    def evaluation(
        context: AssetExecutionContext,
        model_registry: ModelRegistryResource,
        artifact_store: ArtifactStoreResource,
    ) -> MaterializeResult:
        version_id = _run_config(context).get("model_version_id") or required_upstream_value(
            context, keys["candidate_model"], "model_version_id"
        )
        config = _settings(task.evaluation_config, context, "evaluation")
        outcome = evaluate_candidate(
            task,
            int(version_id),
            registry=model_registry.get_registry(),
            artifacts=artifact_store.get_store(),
            config=config,
            actor=f"dagster run {context.run_id}",
            progress=context.log.info,
        )
        described = task.describe_evaluation(outcome.report)
        return MaterializeResult(
            metadata={
                "candidate_version_id": outcome.version.id,
                "active_version_id": outcome.active_version_id,
                **metadata(described.metadata),
                "report": MetadataValue.path(str(outcome.report_path)),
            },
            check_results=[check_result(c) for c in described.checks],
        )

    @asset(
        name=f"{name}_active_model",
        group_name=name,
        deps=[evaluation],
        description=f"The registry's active {name} version: the evaluated candidate when it passed the gate "
        "and FINETUNE_AUTO_PROMOTE allows, otherwise the version that was active (and why); the audit trail.",
    )
    def active_model(
        context: AssetExecutionContext,
        model_registry: ModelRegistryResource,
        finetuning: FineTuningSettingsResource,
    ) -> MaterializeResult:
        evaluated = upstream_metadata(context, keys["evaluation"])
        if evaluated is None:
            raise Failure(f"{keys['evaluation']} has not been materialized yet")
        registry = model_registry.get_registry()
        outcome = promote_if_allowed(
            int(evaluated["candidate_version_id"]),
            registry=registry,
            expected_active_id=evaluated["active_version_id"],
            auto_promote=finetuning.auto_promote,
            actor=f"dagster run {context.run_id}",
        )
        context.log.info(f"{outcome.action}: {outcome.reason}")
        audit = pd.DataFrame(
            [
                {
                    "when": f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                    "version id": e.model_version_id,
                    "from": e.from_state,
                    "to": e.to_state,
                    "by": e.actor,
                    "why": e.reason[:120],
                }
                for e in reversed(registry.events(task=name)[-10:])
            ]
        )
        active = outcome.active
        return MaterializeResult(
            metadata={
                "action": outcome.action,
                "reason": outcome.reason,
                "active_version_id": active.id if active else None,
                "active_version": active.version if active else None,
                "active_dataset_version": active.dataset_version if active else None,
                "audit_trail": markdown_table(audit),
            }
        )

    return [feedback, training_set, candidate_model, evaluation, active_model]
