"""The dedup model's lifecycle steps: train and register a candidate, evaluate it, promote it.

Each step takes explicit ids (a training set version, a model version id) and records what it did in the
registry's audit trail. Dagster assets and the CLI both call these; nothing here imports Dagster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.core.artifacts import ArtifactStore, write_json_atomic
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL, ModelLoadError
from fine_tuning_assets.core.fine_tuning import ProgressFn
from fine_tuning_assets.core.metrics import DecisionBands
from fine_tuning_assets.core.processes import RunOwner
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion
from fine_tuning_assets.tasks.dedup.evaluation import EvaluationConfig, evaluate_dedup_models
from fine_tuning_assets.tasks.dedup.label_issues import LabelIssue, find_label_issues_in
from fine_tuning_assets.tasks.dedup.model import PairModel
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
    TrainingSet,
    TrainingSetConfig,
    build_training_set,
    load_training_set,
    split_groups,
)

TASK = "dedup"
MODEL_KIND = "pair-model"
EVALUATION_FILE = "evaluation.json"
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
    """The training set's label issues (:mod:`fine_tuning_assets.tasks.dedup.label_issues`), with out-of-fold probabilities
    of the small-data stacker for suspected mislabels; the note says why those were not computed, if so."""
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


def train_dedup_candidate(
    training_set: TrainingSet,
    *,
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    config: RecipeSearchConfig,
    base_model: str | None,
    actor: str,
    progress: ProgressFn | None = None,
    owner: RunOwner | None = None,
) -> ModelVersion:
    """Register a version (``training``, owned by ``owner``: the run and this process), run the recipe
    search, save the model with a manifest, and move it to ``evaluating``; on any error the version is marked
    ``failed`` with the error as the reason (a crash that kills the process is settled by the reaper)."""
    base_name = base_model or BUNDLED_BASE_MODEL
    version = registry.register(
        task=TASK,
        model_kind=MODEL_KIND,
        base_model=base_name,
        dataset_version=training_set.version,
        config=config.to_dict(),
        actor=actor,
        reason=f"fine-tuning on training set {training_set.version}",
        owner=owner,
    )
    try:
        result_holder: dict[str, Any] = {}

        human = [e for e in training_set.examples if e.origin != "low_similarity_sample"]
        regime = choose_regime(sum(e.split == "test" for e in human), config=config)
        if progress:
            progress(
                f"{regime.replace('_', ' ')} regime: {sum(e.split == 'test' for e in human)} human-labelled test "
                f"pairs (cross-validation below {config.fixed_split_min_test_pairs})"
            )

        def write(directory: Path) -> None:
            if regime == CROSS_VALIDATION:
                result_holder["result"] = cross_validate_recipes(
                    human,
                    split_groups(human),
                    base_model=base_model,
                    config=config,
                    output_dir=directory,
                    progress=progress,
                )
            else:
                result_holder["result"] = search_recipes(
                    training_set.split("train"),
                    training_set.split("validation"),
                    base_model=base_model,
                    config=config,
                    output_dir=directory,
                    progress=progress,
                )
            (directory / "training_history.json").write_text(
                json.dumps(result_holder["result"].history, indent=2, default=str) + "\n", encoding="utf-8"
            )

        path = artifacts.write_directory(
            f"models/{TASK}/v{version.version}-id{version.id}",
            write,
            manifest={
                "kind": MODEL_KIND,
                "task": TASK,
                "model_version_id": version.id,
                "version": version.version,
                "base_model": base_name,
                "dataset_version": training_set.version,
                "config": config.to_dict(),
            },
        )
        result = result_holder["result"]
        return registry.transition(
            version.id,
            "evaluating",
            actor=actor,
            reason=f"recipe search ({regime.replace('_', ' ')}) chose {result.selected_recipe} in {result.seconds:.0f}s "
            f"(validation average precision {result.recipes[result.selected_recipe].validation_average_precision:.4f})",
            artifact_path=str(path),
            training_metrics={**result.metrics(), "regime": regime},
        )
    except BaseException as error:
        registry.transition(version.id, "failed", actor=actor, reason=f"training failed: {error!r}"[:2000])
        raise


def load_version_model(
    version: ModelVersion, *, name: str, all_recipes: bool = False, base: BaseCosineScorer | None = None
) -> PairModel:
    """Load a registered version's pair model (its chosen recipe, or every recipe); ModelLoadError when its
    files are missing or damaged. ``base`` is reused only when it is the base model this version was built on."""
    if not version.artifact_path:
        raise ModelLoadError(f"{version.label} has no saved model ({version.state})")
    same_base = base is not None and base.base_model == (version.base_model or BUNDLED_BASE_MODEL)
    return PairModel.load(
        version.artifact_path, name=name, base=base if same_base else None, all_recipes=all_recipes
    )


def serving_bands(version: ModelVersion) -> DecisionBands | None:
    """The decision bands an evaluated version serves with: learned when it was evaluated, less any band that
    missed its target on the held-out decisions (``serving_bands`` of the evaluation; versions evaluated
    before band checks serve their learned bands)."""
    bands = version.evaluation.get("serving_bands") or (
        version.evaluation.get("models", {}).get("candidate", {}).get("bands")
    )
    return DecisionBands(**bands) if bands else None


@dataclass(frozen=True)
class EvaluationOutcome:
    version: ModelVersion
    report: dict[str, Any]
    report_path: Path
    active_version_id: int | None


def evaluate_dedup_candidate(
    version_id: int,
    *,
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    config: EvaluationConfig,
    actor: str,
) -> EvaluationOutcome:
    """Evaluate an ``evaluating`` version against the active one (if any) and the base model on its training
    set's test split; write the report beside the model; move it to ``staged`` (gate passed) or ``failed``."""
    version = registry.get(version_id)
    if version.state != "evaluating":
        raise ValueError(f"{version.label} is {version.state}; only a version in 'evaluating' is evaluated")
    active_version = registry.active(TASK)
    try:
        training_set = load_training_set(artifacts, version.dataset_version)
        base = BaseCosineScorer(None if version.base_model == BUNDLED_BASE_MODEL else version.base_model)
        candidate = load_version_model(version, name=version.label, all_recipes=True, base=base)
        active_scorer = None
        active_bands = None
        active_error = None
        seen_by_active: frozenset[str] = frozenset()
        if active_version is not None:
            try:
                active_model = load_version_model(active_version, name=active_version.label, base=base)
            except ModelLoadError as error:
                # Serving falls back to the base model when the active one cannot load, so the base is then
                # the model to beat; the report says so.
                active_error = str(error)
            else:
                active_scorer = active_model.scorer(
                    active_model.selected_recipe, name=f"{active_model.name} · {active_model.selected_recipe}"
                )
                active_bands = serving_bands(active_version)
                # Compare on decisions the active model neither trained nor was tuned on.
                seen = load_training_set(artifacts, active_version.dataset_version)
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
    except Exception as error:
        registry.transition(version.id, "failed", actor=actor, reason=f"evaluation failed: {error!r}"[:2000])
        raise
    report["candidate_version_id"] = version.id
    report["active_version_id"] = active_version.id if active_version else None
    report["active_load_error"] = active_error
    report_path = write_json_atomic(Path(version.artifact_path) / EVALUATION_FILE, report)
    summary = {k: v for k, v in report.items() if k not in ("test_labels", "test_probabilities")}
    switched = report["band_checks"]["switched_off"]
    band_note = (
        f"; served with the {', '.join(switched)} band switched off (missed its target)" if switched else ""
    )
    gate = report["gate"]
    updated = registry.transition(
        version.id,
        "staged" if gate["passed"] else "failed",
        actor=actor,
        reason=("promotion gate passed: " if gate["passed"] else "promotion gate refused: ")
        + "; ".join(gate["reasons"])
        + band_note,
        evaluation=summary,
    )
    return EvaluationOutcome(
        version=updated,
        report=report,
        report_path=report_path,
        active_version_id=active_version.id if active_version else None,
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
