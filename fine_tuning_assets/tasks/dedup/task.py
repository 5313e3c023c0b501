"""The dedup task: reviewers' merge decisions → a calibrated pair model with decision bands.

:data:`DEDUP` is the task object ``defs/`` turns into the Dagster chain (``dedup_feedback →
dedup_training_set → dedup_candidate_model → dedup_evaluation → dedup_active_model``); every step's work is
here, the registry side in :mod:`fine_tuning_assets.core.lifecycle`.

Example:
    >>> DEDUP.name, [check.name for check in DEDUP.evaluation_checks]
    ('dedup', ['promotion_gate', 'decision_bands_hold'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fine_tuning_assets.core.artifacts import ArtifactStore, write_json_atomic
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL, ModelLoadError
from fine_tuning_assets.core.metrics import (
    band_report_markdown,
    metrics_markdown_table,
    png_markdown,
    precision_recall_plot_png,
)
from fine_tuning_assets.core.registry import ModelVersion
from fine_tuning_assets.core.task import (
    BuiltTrainingSet,
    CheckOutcome,
    CheckSpec,
    Evaluation,
    JsonData,
    Markdown,
    ProgressFn,
    StepReport,
    TaskDataError,
    TaskSettings,
    TrainedModel,
    TrainingDataExport,
)
from fine_tuning_assets.tasks.dedup.evaluation import (
    METRIC_COLUMNS,
    EvaluationConfig,
    evaluate_dedup_models,
    trade_off_plot_png,
)
from fine_tuning_assets.tasks.dedup.label_issues import ISSUE_KINDS, LabelIssue, find_label_issues_in
from fine_tuning_assets.tasks.dedup.model import load_version_model, serving_bands
from fine_tuning_assets.tasks.dedup.recipes import (
    CROSS_VALIDATION,
    RecipeSearchConfig,
    RecipeSearchError,
    choose_regime,
    cross_validate_recipes,
    search_recipes,
    stacker_out_of_fold,
)
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets.tasks.dedup.training_set import (
    SPLITS,
    TrainingSet,
    TrainingSetConfig,
    build_training_set,
    class_shortfalls,
    find_leakage,
    load_training_set,
    save_training_set,
    split_groups,
)

LABEL_ISSUES_FILE = "label_issues.json"


def build_dedup_training_set(
    store: FeedbackStore,
    *,
    recorded_through: datetime | None,
    config: TrainingSetConfig,
    base_model: str | None,
) -> TrainingSet:
    """The training set of the decisions recorded up to ``recorded_through``; the base model (for sampling
    low-similarity negatives) is loaded only when sampling is on."""
    scorer: list[BaseCosineScorer] = []

    def similarity(texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
        if not scorer:
            scorer.append(BaseCosineScorer(base_model))
        return scorer[0].similarities(list(zip(texts_a, texts_b, strict=True)))

    return build_training_set(
        store.snapshot(recorded_through=recorded_through).decisions,
        recorded_through=recorded_through,
        config=config,
        similarity_fn=similarity,
    )


def find_training_set_label_issues(
    training_set: TrainingSet, *, base_model: str | None
) -> tuple[list[LabelIssue], str | None]:
    """The training set's label issues (:mod:`fine_tuning_assets.tasks.dedup.label_issues`), with out-of-fold
    probabilities of the small-data stacker for suspected mislabels; the note says why those were not
    computed, if so."""
    human = [e for e in training_set.examples if e.origin != "low_similarity_sample"]
    note = None
    try:
        probabilities = stacker_out_of_fold(human, split_groups(human), base=BaseCosineScorer(base_model))
    except RecipeSearchError as error:
        probabilities, note = None, f"suspected mislabels not searched: {error}"
    issues = find_label_issues_in(
        training_set.examples, training_set.conflicts, out_of_fold_probabilities=probabilities
    )
    return issues, note


def _training_set_checks(
    training_set: TrainingSet, *, min_examples: int, issues: list[LabelIssue], issues_note: str | None
) -> list[CheckOutcome]:
    stats = training_set.stats()
    leakage = find_leakage(training_set.examples)
    too_small = class_shortfalls(training_set.examples, min_examples_per_class=min_examples)
    conflicts = pd.DataFrame([{"pair": c.describe()} for c in training_set.conflicts])
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
    return [
        CheckOutcome(
            "enough_examples_per_class",
            passed=not too_small,
            metadata={"problems": "; ".join(too_small) or "none", "minimum_per_class": min_examples},
        ),
        CheckOutcome(
            "no_leakage",
            passed=not leakage,
            metadata={"problems": Markdown("\n".join(f"- {p}" for p in leakage[:50]) or "none")},
        ),
        CheckOutcome(
            "class_balance",
            passed=stats["minority_share"] >= 0.1,
            severity="warn",
            metadata={
                "minority_share": stats["minority_share"],
                "merge": stats["merge"],
                "dont_merge": stats["dont_merge"],
            },
        ),
        CheckOutcome(
            "no_conflicting_decisions",
            passed=not training_set.conflicts,
            severity="warn",
            metadata={
                "conflicts": len(training_set.conflicts),
                "resolved_by": "latest decision",
                "pairs": Markdown.table(conflicts),
            },
        ),
        CheckOutcome(
            "no_label_issues",
            passed=not issues,
            severity="warn",
            metadata={
                **{kind: sum(i.kind == kind for i in issues) for kind in ISSUE_KINDS},
                "note": issues_note or "",
                "pairs": Markdown.table(issue_table),
            },
        ),
    ]


class DedupTask:
    """See the module docstring."""

    name = "dedup"
    positive_label = "merge"  # the prediction log's label for a pair the model would merge
    description = "reviewers' decisions on proposed merges of near-duplicate insights"
    model_kind = "pair-model"
    training_set_config = TrainingSetConfig
    candidate_config = RecipeSearchConfig
    evaluation_config = EvaluationConfig
    training_set_checks = (
        CheckSpec(
            "enough_examples_per_class",
            "FINETUNE_MIN_EXAMPLES human-labelled pairs of each class, and both classes in every split.",
            blocking=True,
        ),
        CheckSpec(
            "no_leakage",
            "No insight or statement on two sides of the train/validation/test split.",
            blocking=True,
        ),
        CheckSpec("class_balance", "The minority class is at least 10% of the human-labelled pairs."),
        CheckSpec(
            "no_conflicting_decisions",
            "Pairs labelled both ways by different decisions (resolved by the latest).",
        ),
        CheckSpec(
            "no_label_issues",
            "Decisions that are probably wrong: conflicting decisions, transitive contradictions "
            "(A=B, B=C but A≠C) and suspected mislabels (confident learning on out-of-fold probabilities); "
            "offered first in `fta review-queue`.",
        ),
    )
    evaluation_checks = (
        CheckSpec(
            "promotion_gate",
            "Is the model better: the candidate beats the active (or base) model at the bootstrap lower "
            "bound and is not worse than the base model on held-out decisions.",
            blocking=True,
        ),
        CheckSpec(
            "decision_bands_hold",
            "Is each band safe: the auto-merge band holds its precision and the keep-separate band its "
            "duplicate share on held-out decisions; a band that misses is switched off for serving.",
        ),
    )
    kinds = {
        "feedback": frozenset({"sql"}),
        "training_set": frozenset({"pandas"}),
        "candidate_model": frozenset({"pytorch", "sentence_transformers"}),
        "evaluation": frozenset({"sklearn"}),
    }

    # -- feedback -------------------------------------------------------------------------------------
    def feedback_counts(self, engine: Any) -> dict[str, int]:
        return {k: v for k, v in FeedbackStore(engine).counts().items() if k != "last_recorded_at"}

    def latest_recorded_at(self, engine: Any) -> datetime | None:
        return FeedbackStore(engine).latest_recorded_at()

    def count_decisions_after(self, engine: Any, watermark: datetime | None) -> int:
        return FeedbackStore(engine).count_decisions_recorded_after(watermark)

    # -- training set ---------------------------------------------------------------------------------
    def build_training_set(
        self,
        engine: Any,
        artifacts: ArtifactStore,
        *,
        recorded_through: datetime | None,
        config: TrainingSetConfig,
        settings: TaskSettings,
        progress: ProgressFn,
    ) -> BuiltTrainingSet:
        """Labelled pairs from the decisions, split by groups of linked insights, saved as a versioned dataset.

        Positives: selected members of approved clusters. Negatives: members of rejected clusters, selected vs
        deselected members of approved clusters, and sampled low-similarity pairs (train only). Exports:
        OpenAI chat JSONL, JSON records and CSV."""
        if recorded_through is None:
            raise TaskDataError(
                "the feedback store has no decided clusters yet; import decisions first (`fta import`)"
            )
        config = replace(config, min_examples_per_class=settings.min_examples)
        training_set = build_dedup_training_set(
            FeedbackStore(engine),
            recorded_through=recorded_through,
            config=config,
            base_model=settings.base_model,
        )
        path = save_training_set(training_set, artifacts)
        stats = training_set.stats()
        progress(f"training set {training_set.version}: {json.dumps(stats['by_split'])}")
        issues, issues_note = find_training_set_label_issues(training_set, base_model=settings.base_model)
        write_json_atomic(
            path / LABEL_ISSUES_FILE,
            {
                "dataset_version": training_set.version,
                "note": issues_note,
                "issues": [i.to_dict() for i in issues],
            },
        )
        exports = sorted(str(p.relative_to(path)) for p in (path / "exports").iterdir())
        split_table = pd.DataFrame([{"split": name, **stats["by_split"][name]} for name in SPLITS])
        report = StepReport(
            metadata={
                "total_pairs": stats["total"],
                "merge_pairs": stats["merge"],
                "dont_merge_pairs": stats["dont_merge"],
                "conflicts": stats["conflicts"],
                "splits": Markdown.table(split_table),
                "by_origin": JsonData(stats["by_origin"]),
                "insights_by_split": JsonData(stats["insights_by_split"]),
                "exports": Markdown("\n".join(f"- `{path / e}`" for e in exports)),
            },
            checks=_training_set_checks(
                training_set, min_examples=settings.min_examples, issues=issues, issues_note=issues_note
            ),
        )
        return BuiltTrainingSet(training_set.version, path, training_set.recorded_through, report)

    def load_training_set(self, artifacts: ArtifactStore, version: str) -> TrainingSet:
        return load_training_set(artifacts, version)

    # -- candidate ------------------------------------------------------------------------------------
    def train(
        self,
        training_set: TrainingSet,
        *,
        config: RecipeSearchConfig,
        settings: TaskSettings,
        output_dir: Path,
        progress: ProgressFn,
    ) -> TrainedModel:
        """Candidate recipes trained on the training set and compared on validation (small data: by
        cross-validation over every decided pair): a contrastively fine-tuned bi-encoder, a cross-encoder
        and a stacker over base, lexical and fine-tuned scores. The chosen one is calibrated."""
        human = [e for e in training_set.examples if e.origin != "low_similarity_sample"]
        test_pairs = sum(e.split == "test" for e in human)
        regime = choose_regime(test_pairs, config=config)
        progress(
            f"{regime.replace('_', ' ')} regime: {test_pairs} human-labelled test pairs "
            f"(cross-validation below {config.fixed_split_min_test_pairs})"
        )
        if regime == CROSS_VALIDATION:
            result = cross_validate_recipes(
                human,
                split_groups(human),
                base_model=settings.base_model,
                config=config,
                output_dir=output_dir,
                progress=progress,
            )
        else:
            result = search_recipes(
                training_set.split("train"),
                training_set.split("validation"),
                base_model=settings.base_model,
                config=config,
                output_dir=output_dir,
                progress=progress,
            )
        (output_dir / "training_history.json").write_text(
            json.dumps(result.history, indent=2, default=str) + "\n", encoding="utf-8"
        )
        metrics = {**result.metrics(), "regime": regime}
        chosen = result.recipes[result.selected_recipe]
        training = metrics["training"]
        recipe_table = pd.DataFrame(
            [
                {
                    "recipe": name + (" (chosen)" if name == metrics["selected_recipe"] else ""),
                    "validation AP (out of fold)": summary["validation_average_precision"],
                    "validation Brier": summary["validation_brier_score"],
                    "calibration": summary["calibration"] or "logistic regression",
                    "train seconds": training.get(name, {}).get("train_seconds"),
                    "pairs/s": training.get(name, {}).get("examples_per_second"),
                    "epochs": training.get(name, {}).get("epochs_completed"),
                    "stopped by time budget": training.get(name, {}).get("stopped_by_time_budget"),
                }
                for name, summary in metrics["recipes"].items()
            ]
        )
        return TrainedModel(
            summary=f"recipe search ({regime.replace('_', ' ')}) chose {result.selected_recipe} in "
            f"{result.seconds:.0f}s (validation average precision {chosen.validation_average_precision:.4f})",
            metrics=metrics,
            report=StepReport(
                metadata={
                    "selected_recipe": metrics["selected_recipe"],
                    "regime": regime,
                    "recipes": Markdown.table(recipe_table),
                    "skipped_recipes": JsonData(metrics["skipped"]),
                    "train_pairs": len(training_set.split("train")),
                    "validation_pairs": metrics["validation_pairs"],
                    "search_seconds": metrics["search_seconds"],
                }
            ),
        )

    # -- evaluation -----------------------------------------------------------------------------------
    def evaluate(
        self,
        version: ModelVersion,
        *,
        active: ModelVersion | None,
        artifacts: ArtifactStore,
        config: EvaluationConfig,
        progress: ProgressFn,
    ) -> Evaluation:
        """The candidate's chosen recipe, its other recipes, the active and the base model side by side on the
        same held-out human decisions, with decision bands and the promotion gate."""
        training_set = load_training_set(artifacts, version.dataset_version)
        base = BaseCosineScorer(None if version.base_model == BUNDLED_BASE_MODEL else version.base_model)
        candidate = load_version_model(version, name=version.label, all_recipes=True, base=base)
        active_scorer = active_bands = active_error = None
        seen_by_active: frozenset[str] = frozenset()
        if active is not None:
            try:
                active_model = load_version_model(active, name=active.label, base=base)
            except ModelLoadError as error:
                # Serving falls back to the base model when the active one cannot load, so the base is then
                # the model to beat; the report says so.
                active_error = str(error)
            else:
                active_scorer = active_model.scorer(
                    active_model.selected_recipe, name=f"{active_model.name} · {active_model.selected_recipe}"
                )
                active_bands = serving_bands(active)
                # Compare on decisions the active model neither trained nor was tuned on.
                seen = load_training_set(artifacts, active.dataset_version)
                seen_by_active = frozenset(
                    i for split in ("train", "validation") for e in seen.split(split) for i in e.key
                )
        report = evaluate_dedup_models(
            training_set,
            candidate=candidate,
            active=active_scorer,
            active_bands=active_bands,
            base=base,
            config=config,
            seen_by_active=seen_by_active,
        )
        report["active_load_error"] = active_error
        for reason in (*report["gate"]["reasons"], *report["band_checks"]["reasons"]):
            progress(reason)
        switched = report["band_checks"]["switched_off"]
        return Evaluation(
            report=report,
            summary={k: v for k, v in report.items() if k not in ("test_labels", "test_probabilities")},
            note=f"; served with the {', '.join(switched)} band switched off (missed its target)"
            if switched
            else "",
        )

    def describe_evaluation(self, report: Mapping[str, Any]) -> StepReport:
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
        gate, band_checks = report["gate"], report["band_checks"]
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
        reasons = Markdown("\n".join(f"- {r}" for r in gate["reasons"]))
        band_reasons = Markdown("\n".join(f"- {r}" for r in band_checks["reasons"]))
        return StepReport(
            metadata={
                "dataset_version": report["dataset_version"],
                "gate_passed": gate["passed"],
                "test_pairs": report["test_pairs"],
                "selected_recipe": report["selected_recipe"],
                "candidate_average_precision": candidate["average_precision"],
                "base_average_precision": models["base"]["metrics"]["average_precision"],
                "improvement_over_" + gate["reference"]: gate["improvement"],
                "improvement_lower_bound": gate["improvement_lower_bound"],
                "metrics": Markdown(table),
                "regime": report["regime"],
                "decided_without_human": decided["share"],
                "auto_merged_share": decided["auto_merged"],
                "kept_separate_share": decided["kept_separate"],
                "bands_switched_off": ", ".join(band_checks["switched_off"]) or "none",
                "serving_bands": JsonData(report["serving_bands"]),
                "band_checks": band_reasons,
                "candidate_bands": Markdown(band_report_markdown(models["candidate"]["band_report"])),
                "trade_off": Markdown(
                    trade_off_table.to_markdown(index=False, floatfmt=".3f")
                    + "\n\n"
                    + png_markdown(trade_off_plot, alt="share decided without a human vs allowed error rate")
                ),
                "precision_recall": Markdown(png_markdown(plot, alt="precision-recall curves")),
                "gate": reasons,
            },
            checks=[
                CheckOutcome(
                    "promotion_gate",
                    passed=gate["passed"],
                    metadata={
                        "reference": gate["reference"],
                        "improvement": gate["improvement"],
                        "improvement_lower_bound": gate["improvement_lower_bound"],
                        "reasons": reasons,
                    },
                ),
                CheckOutcome(
                    "decision_bands_hold",
                    passed=not band_checks["switched_off"],
                    severity="warn",
                    metadata={
                        "switched_off": ", ".join(band_checks["switched_off"]) or "none",
                        "decided_without_human": decided["share"],
                        "reasons": band_reasons,
                    },
                ),
            ],
        )

    def export_training_data(
        self,
        engine: Any,
        artifacts: ArtifactStore,
        *,
        dataset_version: str | None,
        split: str,
        settings: TaskSettings,
    ) -> TrainingDataExport:
        """Labelled pairs of a saved training set or, without ``dataset_version``, of the decisions in the
        store now (split as the chain would split them, nothing saved)."""
        from fine_tuning_assets.tasks.dedup.exports import export_counts, json_record, openai_chat_record

        if split != "all" and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use all or one of {', '.join(SPLITS)}")
        if dataset_version:
            training_set = load_training_set(artifacts, dataset_version)
            origin = f"training set {training_set.version}"
        else:
            store = FeedbackStore(engine)
            watermark = store.latest_recorded_at()
            if watermark is None:
                raise TaskDataError("the feedback store holds no decisions yet: import some first")
            training_set = build_dedup_training_set(
                store,
                recorded_through=watermark,
                config=TrainingSetConfig(min_examples_per_class=settings.min_examples),
                base_model=settings.base_model,
            )
            origin = f"the feedback store's decisions recorded through {watermark.isoformat()}"
        examples = training_set.examples if split == "all" else training_set.split(split)
        return TrainingDataExport(
            dataset_version=training_set.version if dataset_version else None,
            origin=origin,
            openai_chat=[openai_chat_record(e) for e in examples],
            records=[json_record(e) for e in examples],
            stats={"dataset_version": training_set.version, **export_counts(examples)},
        )

    def load_predictor(self, registry: Any, engine: Any, *, base_model: str | None) -> Any:
        from fine_tuning_assets.tasks.dedup.serving import load_predictor

        return load_predictor(registry, base_model=base_model)

    def onnx_components(self, directory: Path) -> dict[str, tuple[Path, str]]:
        from fine_tuning_assets.tasks.dedup.model import BI_ENCODER_DIR, CROSS_ENCODER_DIR

        found = {BI_ENCODER_DIR: "bi-encoder", CROSS_ENCODER_DIR: "cross-encoder"}
        return {name: (directory / name, kind) for name, kind in found.items() if (directory / name).is_dir()}


DEDUP = DedupTask()
