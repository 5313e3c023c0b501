"""The dedup chain: merge decisions → training set → candidate model → evaluation → active model."""

# No `from __future__ import annotations` here: Dagster reads the `context` and config annotations at
# definition time and rejects string annotations.

import json
from dataclasses import asdict
from datetime import datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from fine_tuning_assets.core.artifacts import write_json_atomic
from fine_tuning_assets.core.database import as_utc
from fine_tuning_assets.core.fine_tuning import FineTuningConfig
from fine_tuning_assets.core.metrics import (
    band_report_markdown,
    metrics_markdown_table,
    png_markdown,
    precision_recall_plot_png,
)
from fine_tuning_assets.core.processes import RunOwner
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
from fine_tuning_assets.tasks.dedup.evaluation import METRIC_COLUMNS, EvaluationConfig, trade_off_plot_png
from fine_tuning_assets.tasks.dedup.label_issues import ISSUE_KINDS
from fine_tuning_assets.tasks.dedup.lifecycle import (
    LABEL_ISSUES_FILE,
    build_dedup_training_set,
    evaluate_dedup_candidate,
    find_training_set_label_issues,
    promote_if_allowed,
    train_dedup_candidate,
)
from fine_tuning_assets.tasks.dedup.model import RECIPES
from fine_tuning_assets.tasks.dedup.recipes import (
    DEFAULT_BI_ENCODER,
    DEFAULT_CROSS_ENCODER,
    DEFAULT_SETFIT,
    RecipeSearchConfig,
    RecipeSearchError,
)
from fine_tuning_assets.tasks.dedup.training_set import (
    SPLITS,
    TrainingSetConfig,
    TrainingSetError,
    class_shortfalls,
    find_leakage,
    load_training_set,
    save_training_set,
)

GROUP = "dedup"
TRAINING_TAGS = {"fta/step": "training"}


def _markdown(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_none_")


@asset(group_name=GROUP, kinds={"sql"})
def dedup_feedback(
    context: AssetExecutionContext, feedback_store: FeedbackStoreResource
) -> MaterializeResult:
    """A snapshot of the reviewers' merge decisions in the feedback store.

    Records the watermark (``recorded_through``) that the training set is built from, so a training set is
    reproducible from the exact decisions counted here.
    """
    store = feedback_store.get_store()
    counts = store.counts()
    watermark = store.latest_recorded_at()
    new_since = decisions_since_last_training(context.instance, store)
    table = pd.DataFrame(
        [{"what": key, "count": value} for key, value in counts.items() if key != "last_recorded_at"]
    )
    return MaterializeResult(
        metadata={
            "recorded_through": watermark.isoformat() if watermark else None,
            "insights": counts["insights"],
            "clusters_approved": counts["clusters_approved"],
            "clusters_rejected": counts["clusters_rejected"],
            "clusters_pending": counts["clusters_pending"],
            "decisions_since_last_training": new_since,
            "counts": _markdown(table),
        }
    )


class TrainingSetRunConfig(Config):
    validation_fraction: float = Field(0.15, description="Share of pairs (whole groups) for validation.")
    test_fraction: float = Field(0.2, description="Share of pairs (whole groups) held out for evaluation.")
    seed: int = Field(13, description="Seed of the group split and of negative sampling.")
    low_similarity_ratio: float = Field(
        0.25, description="Sampled easy negatives per human-labelled train pair."
    )
    max_low_similarity: float = Field(0.3, description="Base cosine under which a random pair is unrelated.")
    recorded_through: str | None = Field(
        None,
        description="Build from decisions recorded up to this ISO time instead of dedup_feedback's watermark.",
    )


TRAINING_SET_CHECKS = [
    AssetCheckSpec(
        "enough_examples_per_class",
        asset="dedup_training_set",
        blocking=True,
        description="FINETUNE_MIN_EXAMPLES human-labelled pairs of each class, and both classes in every split.",
    ),
    AssetCheckSpec(
        "no_leakage",
        asset="dedup_training_set",
        blocking=True,
        description="No insight or statement on two sides of the train/validation/test split.",
    ),
    AssetCheckSpec(
        "class_balance",
        asset="dedup_training_set",
        description="The minority class is at least 10% of the human-labelled pairs.",
    ),
    AssetCheckSpec(
        "no_conflicting_decisions",
        asset="dedup_training_set",
        description="Pairs labelled both ways by different decisions (resolved by the latest).",
    ),
    AssetCheckSpec(
        "no_label_issues",
        asset="dedup_training_set",
        description="Decisions that are probably wrong: conflicting decisions, transitive contradictions "
        "(A=B, B=C but A≠C) and suspected mislabels (confident learning on out-of-fold probabilities); "
        "offered first in `fta review-queue`.",
    ),
]


@asset(group_name=GROUP, deps=[dedup_feedback], check_specs=TRAINING_SET_CHECKS, kinds={"pandas"})
def dedup_training_set(
    context: AssetExecutionContext,
    config: TrainingSetRunConfig,
    feedback_store: FeedbackStoreResource,
    artifact_store: ArtifactStoreResource,
    finetuning: FineTuningSettingsResource,
) -> MaterializeResult:
    """Labelled pairs from the decisions, split by groups of linked insights, saved as a versioned dataset.

    Positives: selected members of approved clusters. Negatives: members of rejected clusters, selected vs
    deselected members of approved clusters, and sampled low-similarity pairs (train only). Exports: OpenAI
    chat JSONL, JSON records and CSV.
    """
    watermark_text = config.recorded_through or required_upstream_value(
        context, "dedup_feedback", "recorded_through"
    )
    if watermark_text is None:
        raise Failure("the feedback store has no decided clusters yet; import decisions first (`fta import`)")
    watermark = as_utc(datetime.fromisoformat(watermark_text))
    settings = TrainingSetConfig(
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
        low_similarity_ratio=config.low_similarity_ratio,
        max_low_similarity=config.max_low_similarity,
        min_examples_per_class=finetuning.min_examples_per_class,
    )
    try:
        training_set = build_dedup_training_set(
            feedback_store.get_store(),
            recorded_through=watermark,
            config=settings,
            base_model=finetuning.base_model,
        )
    except TrainingSetError as error:
        raise Failure(str(error)) from error
    path = save_training_set(training_set, artifact_store.get_store())
    stats = training_set.stats()
    context.log.info(f"training set {training_set.version}: {json.dumps(stats['by_split'])}")

    split_table = pd.DataFrame([{"split": name, **stats["by_split"][name]} for name in SPLITS])
    conflict_table = pd.DataFrame([{"pair": c.describe()} for c in training_set.conflicts])
    leakage = find_leakage(training_set.examples)
    too_small = class_shortfalls(
        training_set.examples, min_examples_per_class=finetuning.min_examples_per_class
    )
    check_results = [
        AssetCheckResult(
            check_name="enough_examples_per_class",
            passed=not too_small,
            metadata={
                "problems": "; ".join(too_small) or "none",
                "minimum_per_class": finetuning.min_examples_per_class,
            },
        ),
        AssetCheckResult(
            check_name="no_leakage",
            passed=not leakage,
            metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in leakage[:50]) or "none")},
        ),
        AssetCheckResult(
            check_name="class_balance",
            passed=stats["minority_share"] >= 0.1,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "minority_share": stats["minority_share"],
                "merge": stats["merge"],
                "dont_merge": stats["dont_merge"],
            },
        ),
        AssetCheckResult(
            check_name="no_conflicting_decisions",
            passed=not training_set.conflicts,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "conflicts": len(training_set.conflicts),
                "resolved_by": "latest decision",
                "pairs": _markdown(conflict_table),
            },
        ),
    ]
    issues, issues_note = find_training_set_label_issues(training_set, base_model=finetuning.base_model)
    write_json_atomic(
        path / LABEL_ISSUES_FILE,
        {
            "dataset_version": training_set.version,
            "note": issues_note,
            "issues": [i.to_dict() for i in issues],
        },
    )
    issue_table = pd.DataFrame(
        [
            {
                "kind": i.kind,
                "pair": f"{i.insight_a_id} ~ {i.insight_b_id}",
                "label used": "merge" if i.label else "keep separate",
                "why": i.evidence,
                "statements": f"{i.text_a[:60]} / {i.text_b[:60]}",
            }
            for i in issues
        ]
    )
    by_kind = {kind: sum(i.kind == kind for i in issues) for kind in ISSUE_KINDS}
    check_results.append(
        AssetCheckResult(
            check_name="no_label_issues",
            passed=not issues,
            severity=AssetCheckSeverity.WARN,
            metadata={
                **by_kind,
                "note": issues_note or "",
                "pairs": _markdown(issue_table),
            },
        )
    )
    exports = sorted(str(p.relative_to(path)) for p in (path / "exports").iterdir())
    return MaterializeResult(
        metadata={
            "dataset_version": training_set.version,
            "recorded_through": watermark.isoformat(),
            "path": MetadataValue.path(str(path)),
            "total_pairs": stats["total"],
            "merge_pairs": stats["merge"],
            "dont_merge_pairs": stats["dont_merge"],
            "conflicts": stats["conflicts"],
            "splits": _markdown(split_table),
            "by_origin": MetadataValue.json(stats["by_origin"]),
            "insights_by_split": MetadataValue.json(stats["insights_by_split"]),
            "exports": MetadataValue.md("\n".join(f"- `{path / e}`" for e in exports)),
            "config": MetadataValue.json(asdict(settings)),
        },
        check_results=check_results,
    )


class FineTuneRunConfig(Config):
    """Hyperparameters of one fine-tune; a field left unset takes the recipe's documented default."""

    epochs: int | None = Field(
        None, description="Passes over the training pairs (bi-encoder 2, cross-encoder 2)."
    )
    batch_size: int | None = Field(None, description="Pairs per optimisation step (32, 16).")
    learning_rate: float | None = Field(
        None, description="Peak AdamW learning rate after warmup (2e-5, 1e-4)."
    )
    warmup_ratio: float | None = Field(None, description="Share of steps spent warming up (0.1).")
    weight_decay: float | None = Field(None, description="AdamW weight decay (0.01).")
    max_seq_length: int | None = Field(
        None, description="Tokens per input; longer inputs are truncated (128)."
    )
    early_stopping_patience: int | None = Field(
        None, description="Validation passes without improvement before stopping (2)."
    )
    evaluations_per_epoch: int | None = Field(None, description="Validation passes per epoch (2).")
    seed: int | None = Field(None, description="Training seed (42).")

    def resolve(self, defaults: FineTuningConfig) -> FineTuningConfig:
        overrides = {k: v for k, v in self.model_dump().items() if v is not None}
        return FineTuningConfig(**{**asdict(defaults), **overrides})


class CandidateModelConfig(Config):
    recipes: list[str] = Field(
        list(RECIPES), description="Recipes to train and compare: bi-encoder, cross-encoder, stacker."
    )
    max_train_minutes: float = Field(
        30.0, description="Wall-clock budget of all fine-tuning; a recipe stops with its best weights so far."
    )
    calibration: str = Field(
        "auto", description="auto (lower cross-validated Brier score), platt or isotonic."
    )
    cross_validation_folds: int = Field(5, description="Folds of the cross-fitting on validation.")
    stacker_regularization: float = Field(1.0, description="Inverse L2 strength C of the stacker.")
    cross_validation_repeats: int = Field(
        3, description="Repeats of the group-wise k-fold cross-validation in the small-data regime."
    )
    fixed_split_min_test_pairs: int = Field(
        300,
        description="Below this many human-labelled test pairs in the fixed split, recipes are chosen and "
        "evaluated by cross-validation over every decided pair (the small-data regime).",
    )
    setfit: FineTuneRunConfig = Field(
        default_factory=FineTuneRunConfig,
        description="SetFit-style bi-encoder of the small-data regime (1 epoch, batch 16, 2e-5).",
    )
    bi_encoder: FineTuneRunConfig = Field(
        default_factory=FineTuneRunConfig,
        description="Contrastive (OnlineContrastiveLoss) bi-encoder fine-tune.",
    )
    cross_encoder: FineTuneRunConfig = Field(
        default_factory=FineTuneRunConfig,
        description="Binary cross-entropy cross-encoder fine-tune.",
    )
    dataset_version: str | None = Field(
        None, description="Train on this training set instead of the upstream one."
    )

    def to_search_config(self) -> RecipeSearchConfig:
        return RecipeSearchConfig(
            recipes=tuple(self.recipes),
            bi_encoder=self.bi_encoder.resolve(DEFAULT_BI_ENCODER),
            cross_encoder=self.cross_encoder.resolve(DEFAULT_CROSS_ENCODER),
            max_train_minutes=self.max_train_minutes,
            calibration=self.calibration,
            cross_validation_folds=self.cross_validation_folds,
            stacker_regularization=self.stacker_regularization,
            cross_validation_repeats=self.cross_validation_repeats,
            fixed_split_min_test_pairs=self.fixed_split_min_test_pairs,
            setfit=self.setfit.resolve(DEFAULT_SETFIT),
        )


@asset(
    group_name=GROUP,
    deps=[dedup_training_set],
    op_tags=TRAINING_TAGS,
    pool="model_training",
    kinds={"pytorch", "sentence_transformers"},
)
def dedup_candidate_model(
    context: AssetExecutionContext,
    config: CandidateModelConfig,
    model_registry: ModelRegistryResource,
    artifact_store: ArtifactStoreResource,
    finetuning: FineTuningSettingsResource,
) -> MaterializeResult:
    """Candidate recipes trained on the training set and compared on validation: a contrastively
    fine-tuned bi-encoder, a cross-encoder and a stacker over base, lexical and fine-tuned scores. The
    chosen one is calibrated and registered as a new version (state ``evaluating``)."""
    if not finetuning.enabled:
        raise Failure("fine-tuning is switched off (FINETUNE_ENABLED=false)")
    dataset_version = config.dataset_version or required_upstream_value(
        context, "dedup_training_set", "dataset_version"
    )
    artifacts = artifact_store.get_store()
    training_set = load_training_set(artifacts, dataset_version)
    try:
        search = config.to_search_config()
    except ValueError as error:
        raise Failure(f"bad candidate model config: {error}") from error
    registry = model_registry.get_registry()
    actor = f"dagster run {context.run_id}"
    # What an earlier crashed run left behind (a version stuck in training, a staging folder) is settled first.
    reaped = reap_abandoned_work(context.instance, registry, artifacts, actor=actor)
    for line in reaped.lines():
        context.log.warning(f"crash recovery: {line}")
    try:
        version = train_dedup_candidate(
            training_set,
            registry=registry,
            artifacts=artifacts,
            config=search,
            base_model=finetuning.base_model,
            actor=actor,
            progress=context.log.info,
            owner=RunOwner.of_this_process(context.run_id),
        )
    except RecipeSearchError as error:
        raise Failure(str(error)) from error
    metrics = version.training_metrics
    training = metrics["training"]
    recipe_table = pd.DataFrame(
        [
            {
                "recipe": name + (" (chosen)" if name == metrics["selected_recipe"] else ""),
                "validation AP (out of fold)": summary["validation_average_precision"],
                "validation Brier": summary["validation_brier_score"],
                "calibration": summary["calibration"] or "logistic regression",
                "train seconds": training.get(name, {}).get("train_seconds"),
                "pairs/s": training.get(name, {}).get("pairs_per_second"),
                "epochs": training.get(name, {}).get("epochs_completed"),
                "stopped by time budget": training.get(name, {}).get("stopped_by_time_budget"),
            }
            for name, summary in metrics["recipes"].items()
        ]
    )
    return MaterializeResult(
        metadata={
            "model_version_id": version.id,
            "version": version.version,
            "state": version.state,
            "selected_recipe": metrics["selected_recipe"],
            "dataset_version": dataset_version,
            # The decisions this model learned from end here: the retraining sensor counts from it.
            "recorded_through": training_set.recorded_through.isoformat()
            if training_set.recorded_through
            else None,
            "path": MetadataValue.path(version.artifact_path),
            "recipes": _markdown(recipe_table),
            "skipped_recipes": MetadataValue.json(metrics["skipped"]),
            "train_pairs": len(training_set.split("train")),
            "validation_pairs": metrics["validation_pairs"],
            "search_seconds": metrics["search_seconds"],
            "config": MetadataValue.json(search.to_dict()),
            "crash_recovery": MetadataValue.md(
                "\n".join(f"- {line}" for line in reaped.lines()) or "nothing to settle"
            ),
        }
    )


class EvaluationRunConfig(Config):
    target_precision: float = Field(
        0.99, description="Auto-merge precision the band is learned for and must hold on held-out decisions."
    )
    max_duplicate_rate: float = Field(
        0.01,
        description="Largest share of true duplicates in the keep-separate band (learned and checked alike).",
    )
    band_confidence: float = Field(
        0.9,
        description="One-sided confidence of the Clopper–Pearson bound each band threshold must meet on "
        "out-of-fold validation probabilities (higher: safer, fewer pairs decided without a human).",
    )
    min_kept_separate: int = Field(
        10, description="Validation pairs a learned keep-separate threshold must cover."
    )
    min_improvement: float = Field(
        0.01,
        description="Average-precision margin over the active (or base) model, at the bootstrap lower bound.",
    )
    improvement_confidence: float = Field(0.95, description="One-sided confidence of that lower bound.")
    review_threshold: float = Field(
        0.85, description="Probability from which a pair is a high-priority review."
    )
    min_auto_merged: int = Field(
        10, description="Validation pairs a learned auto-merge threshold must cover."
    )
    min_improvement_over_base: float = Field(
        0.0, description="Average-precision margin over the base model on the test split (0: never worse)."
    )
    model_version_id: int | None = Field(
        None, description="Evaluate this version instead of the upstream one."
    )


@asset(
    group_name=GROUP,
    deps=[dedup_candidate_model],
    kinds={"sklearn"},
    check_specs=[
        AssetCheckSpec(
            "promotion_gate",
            asset="dedup_evaluation",
            blocking=True,
            description="Is the model better: the candidate beats the active (or base) model at the "
            "bootstrap lower bound and is not worse than the base model on held-out decisions.",
        ),
        AssetCheckSpec(
            "decision_bands_hold",
            asset="dedup_evaluation",
            description="Is each band safe: the auto-merge band holds its precision and the keep-separate "
            "band its duplicate share on held-out decisions; a band that misses is switched off for serving.",
        ),
    ],
)
def dedup_evaluation(
    context: AssetExecutionContext,
    config: EvaluationRunConfig,
    model_registry: ModelRegistryResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """The candidate's chosen recipe, its other recipes, the active and the base model side by side on the
    same held-out human decisions, with decision bands; the promotion gate as a blocking check."""
    version_id = config.model_version_id or required_upstream_value(
        context, "dedup_candidate_model", "model_version_id"
    )
    outcome = evaluate_dedup_candidate(
        int(version_id),
        registry=model_registry.get_registry(),
        artifacts=artifact_store.get_store(),
        config=EvaluationConfig(
            target_precision=config.target_precision,
            min_improvement=config.min_improvement,
            improvement_confidence=config.improvement_confidence,
            review_threshold=config.review_threshold,
            min_auto_merged=config.min_auto_merged,
            min_improvement_over_base=config.min_improvement_over_base,
            max_duplicate_rate=config.max_duplicate_rate,
            band_confidence=config.band_confidence,
            min_kept_separate=config.min_kept_separate,
        ),
        actor=f"dagster run {context.run_id}",
    )
    report = outcome.report
    models = report["models"]
    table = metrics_markdown_table(
        {f"{role}: {m['name']}": m["metrics"] for role, m in models.items()}, columns=METRIC_COLUMNS
    )
    plot = precision_recall_plot_png(
        {
            f"{role}: {m['name']}": (report["test_labels"], report["test_probabilities"][role])
            for role, m in models.items()
        },
        title=f"Precision–recall on {report['test_pairs']} held-out decisions",
    )
    gate = report["gate"]
    for reason in gate["reasons"]:
        context.log.info(f"gate: {reason}")
    band_checks = report["band_checks"]
    for reason in band_checks["reasons"]:
        context.log.info(f"bands: {reason}")
    decided = report["decided_without_human"]
    trade_off_plot = trade_off_plot_png(
        report["trade_off"]["candidate"],
        configured=(report["config"]["target_precision"], report["config"]["max_duplicate_rate"]),
        title=f"Decided without a human ({report['test_pairs']} held-out decisions)",
    )
    trade_off_table = pd.DataFrame(
        [
            {
                "error rate allowed per band": p["error_rate"],
                "decided without a human": p["decided_without_human"],
                "auto-merged": p["auto_merged"],
                "kept separate": p["kept_separate"],
                "base: decided without a human": b["decided_without_human"],
            }
            for p, b in zip(report["trade_off"]["candidate"], report["trade_off"]["base"], strict=True)
        ]
    )
    candidate = models["candidate"]["metrics"]
    return MaterializeResult(
        metadata={
            "candidate_version_id": outcome.version.id,
            "active_version_id": outcome.active_version_id,
            "dataset_version": report["dataset_version"],
            "gate_passed": gate["passed"],
            "test_pairs": report["test_pairs"],
            "selected_recipe": report["selected_recipe"],
            "candidate_average_precision": candidate["average_precision"],
            "base_average_precision": models["base"]["metrics"]["average_precision"],
            "improvement_over_" + gate["reference"]: gate["improvement"],
            "improvement_lower_bound": gate["improvement_lower_bound"],
            "metrics": MetadataValue.md(table),
            "regime": report["regime"],
            "decided_without_human": decided["share"],
            "auto_merged_share": decided["auto_merged"],
            "kept_separate_share": decided["kept_separate"],
            "bands_switched_off": ", ".join(band_checks["switched_off"]) or "none",
            "serving_bands": MetadataValue.json(report["serving_bands"]),
            "band_checks": MetadataValue.md("\n".join(f"- {r}" for r in band_checks["reasons"])),
            "candidate_bands": MetadataValue.md(band_report_markdown(models["candidate"]["band_report"])),
            "trade_off": MetadataValue.md(
                trade_off_table.to_markdown(index=False, floatfmt=".3f")
                + "\n\n"
                + png_markdown(trade_off_plot, alt="share decided without a human vs allowed error rate")
            ),
            "precision_recall": MetadataValue.md(png_markdown(plot, alt="precision-recall curves")),
            "gate": MetadataValue.md("\n".join(f"- {r}" for r in gate["reasons"])),
            "report": MetadataValue.path(str(outcome.report_path)),
        },
        check_results=[
            AssetCheckResult(
                check_name="promotion_gate",
                passed=gate["passed"],
                metadata={
                    "reference": gate["reference"],
                    "improvement": gate["improvement"],
                    "improvement_lower_bound": gate["improvement_lower_bound"],
                    "reasons": MetadataValue.md("\n".join(f"- {r}" for r in gate["reasons"])),
                },
            ),
            AssetCheckResult(
                check_name="decision_bands_hold",
                passed=not band_checks["switched_off"],
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "switched_off": ", ".join(band_checks["switched_off"]) or "none",
                    "decided_without_human": decided["share"],
                    "reasons": MetadataValue.md("\n".join(f"- {r}" for r in band_checks["reasons"])),
                },
            ),
        ],
    )


@asset(group_name=GROUP, deps=[dedup_evaluation])
def dedup_active_model(
    context: AssetExecutionContext,
    model_registry: ModelRegistryResource,
    finetuning: FineTuningSettingsResource,
) -> MaterializeResult:
    """The registry's active dedup version: the evaluated candidate when it passed the gate and
    FINETUNE_AUTO_PROMOTE allows, otherwise the version that was active (and why)."""
    evaluation = upstream_metadata(context, "dedup_evaluation")
    if evaluation is None:
        raise Failure("dedup_evaluation has not been materialized yet")
    registry = model_registry.get_registry()
    outcome = promote_if_allowed(
        int(evaluation["candidate_version_id"]),
        registry=registry,
        expected_active_id=evaluation["active_version_id"],
        auto_promote=finetuning.auto_promote,
        actor=f"dagster run {context.run_id}",
    )
    context.log.info(f"{outcome.action}: {outcome.reason}")
    events = registry.events(task="dedup")[-10:]
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
            for e in reversed(events)
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
            "audit_trail": _markdown(audit),
        }
    )


DEDUP_ASSETS = [
    dedup_feedback,
    dedup_training_set,
    dedup_candidate_model,
    dedup_evaluation,
    dedup_active_model,
]
