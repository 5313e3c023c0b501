"""The :class:`~fine_tuning_assets.core.task.Task` of every classification task, given what differs.

A classification task (``triage``, ``signals``) subclasses :class:`ClassificationTask` and says: its fields
(:class:`~fine_tuning_assets.classifiers.recipes.FieldSpec`; the first is the primary one, which stratifies
the split, drives the SetFit fine-tune and the promotion gate), how to read its examples from the store,
the zero-shot prompts of the base model, and how an example looks as an OpenAI chat fine-tuning example.
Everything else — the saved training set, the recipe search, the evaluation against the active model, the
base model and the system the people corrected, the gate, serving — is here, once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fine_tuning_assets.classifiers.evaluation import (
    band_coverage,
    bootstrap_label_metric_difference,
    check_band,
    confusion_matrix_png,
    field_metrics,
    ranking_metrics,
    zero_shot_probabilities,
)
from fine_tuning_assets.classifiers.examples import (
    TextExample,
    assign_splits,
    class_balance,
    merge_identical_texts,
)
from fine_tuning_assets.classifiers.model import TextClassifier, encode
from fine_tuning_assets.classifiers.recipes import (
    ClassifierSearchConfig,
    FieldSpec,
    describe_hyperparameters,
    search_classifier,
)
from fine_tuning_assets.core.artifacts import ArtifactError, ArtifactStore, verify, write_jsonl
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL, ModelLoadError
from fine_tuning_assets.core.imports import content_digest
from fine_tuning_assets.core.metrics import bootstrap_average_precision_difference, png_markdown
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion
from fine_tuning_assets.core.splits import SPLITS
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


@dataclass(frozen=True)
class ClassificationTrainingSetConfig:
    """How a classification task's training set is cut.

    Attributes:
        validation_fraction: share of groups held out to choose and calibrate the recipe (0.15).
        test_fraction: share of groups held out for the evaluation and the gate (0.2).
        min_examples_per_class: a label with fewer examples is left out of its field's training and
            evaluation, and listed (5).
        seed: seed of the split (13).
    """

    validation_fraction: float = 0.15
    test_fraction: float = 0.2
    min_examples_per_class: int = 5
    seed: int = 13


@dataclass(frozen=True)
class ClassificationEvaluationConfig:
    """How a candidate is judged.

    Attributes:
        bootstrap_resamples: resamples of the paired bootstrap behind the gate (1000).
        confidence: one-sided level of the gate's lower bound (0.95).
        min_improvement: how much the lower bound of the gain over the reference must exceed (0.0).
        ks: list lengths of precision@k and the save rate among the top k (binary primary fields).
    """

    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    min_improvement: float = 0.0
    ks: tuple[int, ...] = (10, 50)


@dataclass
class ClassificationTrainingSet:
    """A saved training set: the examples with their split, the label set per field, what was left out."""

    task: str
    version: str
    recorded_through: datetime | None
    config: ClassificationTrainingSetConfig
    examples: list[TextExample]
    splits: dict[str, str]
    label_sets: dict[str, list[str]]
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> list[TextExample]:
        return [e for e in self.examples if self.splits[e.id] == name]

    def stats(self) -> dict[str, Any]:
        by_split = Counter(self.splits.values())
        return {
            "examples": len(self.examples),
            "by_split": {name: by_split.get(name, 0) for name in SPLITS},
            "groups": len({e.group or e.id for e in self.examples}),
            "label_sets": self.label_sets,
            "left_out": self.left_out,
        }


def dataset_path(task: str, version: str) -> str:
    return f"datasets/{task}/{version}"


class ClassificationTask:
    """See the module docstring. Subclasses set the class attributes and the methods marked as theirs."""

    name: str
    description: str
    model_kind = "text-classifier"
    positive_label: str
    fields: tuple[FieldSpec, ...]
    #: What the people corrected, named in reports ("the original AI"), or None when the task has none.
    reference_name: str | None = None
    training_set_config = ClassificationTrainingSetConfig
    candidate_config = ClassifierSearchConfig
    evaluation_config = ClassificationEvaluationConfig
    kinds = {
        "feedback": frozenset({"sql"}),
        "training_set": frozenset({"pandas"}),
        "candidate_model": frozenset({"sklearn", "sentence_transformers"}),
        "evaluation": frozenset({"sklearn"}),
    }

    # -- what a subclass says ---------------------------------------------------------------------------
    def store(self, engine: Any) -> Any:
        """The task's store: ``counts()``, ``latest_recorded_at()``, ``count_after(watermark)``."""
        raise NotImplementedError

    def examples_from_store(
        self, engine: Any, *, recorded_through: datetime | None
    ) -> tuple[list[TextExample], dict[str, Any]]:
        """The examples of the decisions recorded through the watermark, and notes for the report."""
        raise NotImplementedError

    def zero_shot_prompts(self, field_name: str, labels: Sequence[str]) -> dict[str, str]:
        """Label → the text the base model compares a text with, for its zero-shot prediction."""
        raise NotImplementedError

    def openai_chat_example(self, example: TextExample) -> dict[str, Any]:
        """One example as an OpenAI chat fine-tuning record (``{"messages": [...]}``)."""
        raise NotImplementedError

    def known_labels(self, engine: Any) -> dict[str, list[str]]:
        """Field → the labels people have given, for the base model's zero-shot fallback."""
        return self.store(engine).label_sets()

    # -- checks -------------------------------------------------------------------------------------------
    @property
    def primary(self) -> FieldSpec:
        return self.fields[0]

    @property
    def training_set_checks(self) -> tuple[CheckSpec, ...]:
        return (
            CheckSpec(
                "enough_examples_per_class",
                f"FINETUNE_MIN_EXAMPLES examples, and at least two {self.primary.name} labels with "
                "min_examples_per_class examples, each in every split.",
                blocking=True,
            ),
            CheckSpec("no_leakage", "No group (and no text) on two sides of the split.", blocking=True),
            CheckSpec("class_balance", "The primary field's most common label is under 90% of the examples."),
            CheckSpec(
                "no_conflicting_decisions",
                "Items decided differently by different people or at different times (resolved as reported).",
            ),
        )

    @property
    def evaluation_checks(self) -> tuple[CheckSpec, ...]:
        metric = "average precision" if self.primary.selection_metric == "average_precision" else "macro-F1"
        return (
            CheckSpec(
                "promotion_gate",
                f"The candidate's {self.primary.name} {metric} beats the active model (or the stronger of the "
                f"base model{' and ' + self.reference_name if self.reference_name else ''}) at the "
                "paired-bootstrap lower bound on held-out examples, and is not below the base model's.",
                blocking=True,
            ),
            CheckSpec(
                "confidence_bands_hold",
                "Each field's confidence band reaches its target accuracy on held-out examples; a band that "
                "misses is switched off for serving (that field's predictions all go to a human).",
            ),
        )

    # -- feedback -------------------------------------------------------------------------------------------
    def feedback_counts(self, engine: Any) -> dict[str, int]:
        return {k: v for k, v in self.store(engine).counts().items() if isinstance(v, int)}

    def latest_recorded_at(self, engine: Any) -> datetime | None:
        return self.store(engine).latest_recorded_at()

    def count_decisions_after(self, engine: Any, watermark: datetime | None) -> int:
        return self.store(engine).count_after(watermark)

    # -- training set -------------------------------------------------------------------------------------
    def build(
        self,
        engine: Any,
        *,
        recorded_through: datetime | None,
        config: ClassificationTrainingSetConfig,
    ) -> ClassificationTrainingSet:
        """The training set of the store's decisions through the watermark (not saved)."""
        examples, notes = self.examples_from_store(engine, recorded_through=recorded_through)
        examples, merged = merge_identical_texts(examples)
        notes = {**notes, "identical_texts_merged": len(merged), "identical_texts": merged[:50]}
        examples, left_out = drop_rare_labels(
            examples, fields=[f.name for f in self.fields], minimum=config.min_examples_per_class
        )
        splits = assign_splits(
            examples,
            field=self.primary.name,
            validation_fraction=config.validation_fraction,
            test_fraction=config.test_fraction,
            seed=config.seed,
        )
        label_sets = {
            f.name: sorted({e.labels[f.name] for e in examples if e.labels.get(f.name) is not None})
            for f in self.fields
        }
        identity = json.dumps(
            [asdict(config), [e.to_dict() for e in examples]], sort_keys=True, ensure_ascii=False
        )
        version = f"{self.name}-{content_digest(identity)}"
        return ClassificationTrainingSet(
            self.name, version, recorded_through, config, examples, splits, label_sets, left_out, notes
        )

    def save(self, training_set: ClassificationTrainingSet, artifacts: ArtifactStore) -> Path:
        relative = dataset_path(self.name, training_set.version)
        if artifacts.path(relative).exists():  # the same decisions and settings: the same training set
            verify(artifacts.path(relative))
            return artifacts.path(relative)

        def write(directory: Path) -> None:
            write_jsonl(
                directory / "examples.jsonl",
                [{**e.to_dict(), "split": training_set.splits[e.id]} for e in training_set.examples],
            )
            for split in SPLITS:
                examples = training_set.split(split)
                write_jsonl(
                    directory / "exports" / f"openai_chat_{split}.jsonl",
                    [self.openai_chat_example(e) for e in examples],
                )
                write_jsonl(
                    directory / "exports" / f"records_{split}.jsonl",
                    [self.export_record(e) for e in examples],
                )

        return artifacts.write_directory(
            relative,
            write,
            manifest={
                "kind": f"{self.name}_training_set",
                "version": training_set.version,
                "recorded_through": training_set.recorded_through.isoformat()
                if training_set.recorded_through
                else None,
                "config": asdict(training_set.config),
                "label_sets": training_set.label_sets,
                "left_out": training_set.left_out,
                "notes": training_set.notes,
            },
        )

    def export_record(self, example: TextExample) -> dict[str, Any]:
        """The task's own JSON record of an example: text, labels, group, reference and details."""
        return {
            "id": example.id,
            "text": example.text,
            **{f.name: example.labels.get(f.name) for f in self.fields},
            "group": example.group,
            "reference": dict(example.reference),
            **dict(example.details),
        }

    def build_training_set(
        self,
        engine: Any,
        artifacts: ArtifactStore,
        *,
        recorded_through: datetime | None,
        config: ClassificationTrainingSetConfig,
        settings: TaskSettings,
        progress: ProgressFn,
    ) -> BuiltTrainingSet:
        """The decisions as labelled texts, one per item (the latest decision wins), split stratified by the
        primary field and grouped (by app or source when given); rare labels left out; class balance;
        exports (OpenAI chat JSONL with a JSON answer, and JSON records)."""
        if recorded_through is None:
            raise TaskDataError(f"the store has no {self.name} decisions yet; import some first")
        training_set = self.build(engine, recorded_through=recorded_through, config=config)
        path = self.save(training_set, artifacts)
        stats = training_set.stats()
        progress(f"training set {training_set.version}: {json.dumps(stats['by_split'])}")
        primary = self.primary.name
        balance = class_balance(training_set.examples, training_set.splits, field=primary)
        labelled = [e for e in training_set.examples if e.labels.get(primary) is not None]
        usable = [row for row in balance if all(row[s] > 0 for s in SPLITS)]
        enough = len(labelled) >= settings.min_examples and len(usable) >= 2
        leakage = find_leakage(training_set)
        top_share = max((row["share"] for row in balance), default=1.0)
        conflicts = training_set.notes.get("conflicts", [])
        exports = sorted(str(p.relative_to(path)) for p in (path / "exports").iterdir())
        metadata: dict[str, Any] = {
            "examples": stats["examples"],
            "groups": stats["groups"],
            "splits": Markdown.table(
                pd.DataFrame([{"split": s, "examples": stats["by_split"][s]} for s in SPLITS])
            ),
            f"{primary}_balance": Markdown.table(pd.DataFrame(balance)),
        }
        for spec in self.fields[1:]:
            metadata[f"{spec.name}_balance"] = Markdown.table(
                pd.DataFrame(class_balance(training_set.examples, training_set.splits, field=spec.name))
            )
        metadata.update(
            {
                "label_sets": JsonData(training_set.label_sets),
                "left_out_rare_labels": JsonData(training_set.left_out),
                "notes": JsonData({k: v for k, v in training_set.notes.items() if k != "conflicts"}),
                "example_rows": Markdown.table(
                    pd.DataFrame(
                        [
                            {k: str(v)[:80] for k, v in self.export_record(e).items()}
                            for e in training_set.split("train")[:8]
                        ]
                    )
                ),
                "exports": Markdown("\n".join(f"- `{path / e}`" for e in exports)),
            }
        )
        report = StepReport(
            metadata=metadata,
            checks=[
                CheckOutcome(
                    "enough_examples_per_class",
                    passed=enough,
                    metadata={
                        "labelled_examples": len(labelled),
                        "minimum": settings.min_examples,
                        "labels_in_every_split": len(usable),
                    },
                ),
                CheckOutcome(
                    "no_leakage",
                    passed=not leakage,
                    metadata={"problems": Markdown("\n".join(f"- {p}" for p in leakage[:50]) or "none")},
                ),
                CheckOutcome(
                    "class_balance",
                    passed=top_share < 0.9,
                    severity="warn",
                    metadata={"largest_share": top_share},
                ),
                CheckOutcome(
                    "no_conflicting_decisions",
                    passed=not conflicts,
                    severity="warn",
                    metadata={
                        "conflicts": len(conflicts),
                        "items": Markdown.table(pd.DataFrame(conflicts[:50])),
                    },
                ),
            ],
        )
        if not enough:
            progress(
                f"too few examples: {len(labelled)} labelled (minimum {settings.min_examples}), {len(usable)} "
                f"{primary} labels in every split (need 2)"
            )
        return BuiltTrainingSet(training_set.version, path, training_set.recorded_through, report)

    def load_training_set(self, artifacts: ArtifactStore, version: str) -> ClassificationTrainingSet:
        directory = artifacts.path(dataset_path(self.name, version))
        if not directory.exists():
            raise ArtifactError(f"{self.name} training set {version} not found under {directory}")
        manifest = verify(directory)
        rows = [
            json.loads(line)
            for line in (directory / "examples.jsonl").read_text(encoding="utf-8").splitlines()
            if line
        ]
        recorded = manifest.get("recorded_through")
        return ClassificationTrainingSet(
            task=self.name,
            version=manifest["version"],
            recorded_through=datetime.fromisoformat(recorded) if recorded else None,
            config=ClassificationTrainingSetConfig(**manifest["config"]),
            examples=[TextExample.from_dict(r) for r in rows],
            splits={r["id"]: r["split"] for r in rows},
            label_sets=manifest["label_sets"],
            left_out=manifest.get("left_out", {}),
            notes=manifest.get("notes", {}),
        )

    # -- candidate ----------------------------------------------------------------------------------------
    def train(
        self,
        training_set: ClassificationTrainingSet,
        *,
        config: ClassifierSearchConfig,
        settings: TaskSettings,
        output_dir: Path,
        progress: ProgressFn,
    ) -> TrainedModel:
        """Per field, the recipes (TF-IDF + logistic regression, frozen embedding + head, the SetFit-style and
        the classification fine-tune + head, stacks of lexical and embedding features, blends that pool
        the n-gram head with the fine-tuned ones), each with balanced and unweighted classes, compared on
        validation by calibrated log-loss; the best is calibrated and given a confidence threshold for the
        target accuracy."""
        result = search_classifier(
            training_set.split("train"),
            training_set.split("validation"),
            fields=self.fields,
            tune_field=self.primary.name,
            base_model=settings.base_model,
            config=config,
            output_dir=output_dir,
            progress=progress,
        )
        metrics = result.metrics()
        rows = []
        for name, summary in metrics["fields"].items():
            spec = next(f for f in self.fields if f.name == name)
            for recipe, values in summary["recipes"].items():
                rows.append(
                    {
                        "field": name,
                        "recipe": recipe + (" (chosen)" if recipe == summary["selected_recipe"] else ""),
                        f"validation {spec.selection_metric}": values.get(spec.selection_metric),
                        "validation log-loss": values.get("log_loss"),
                        "hyperparameters": describe_hyperparameters(values),
                    }
                )
        chosen = ", ".join(f"{n}: {s['selected_recipe']}" for n, s in metrics["fields"].items())
        # Does fine-tuning the embedding help, over the frozen one? (The signals team's question.)
        fine_tuning_helps = {}
        for name, summary in metrics["fields"].items():
            spec = next(f for f in self.fields if f.name == name)
            frozen = summary["recipes"].get("embedding-lr", {}).get(spec.selection_metric)
            for recipe in ("setfit", "finetune-lr"):
                tuned = summary["recipes"].get(recipe, {}).get(spec.selection_metric)
                if frozen is not None and tuned is not None:
                    fine_tuning_helps[f"{name}: {recipe} vs embedding-lr"] = round(tuned - frozen, 4)
        return TrainedModel(
            summary=f"recipe search chose {chosen} in {result.seconds:.0f}s",
            metrics=metrics,
            report=StepReport(
                metadata={
                    "selected_recipes": JsonData(
                        {n: s["selected_recipe"] for n, s in metrics["fields"].items()}
                    ),
                    "recipes": Markdown.table(pd.DataFrame(rows)),
                    "fine_tuned_vs_frozen_embedding": JsonData(fine_tuning_helps),
                    "confidence_thresholds": JsonData(
                        {n: s["confidence_threshold"] for n, s in metrics["fields"].items()}
                    ),
                    "training": JsonData(metrics["training"]),
                    "skipped_recipes": JsonData(metrics["skipped"]),
                    "train_examples": len(training_set.split("train")),
                    "validation_examples": len(training_set.split("validation")),
                    "search_seconds": metrics["search_seconds"],
                }
            ),
        )

    # -- evaluation ---------------------------------------------------------------------------------------
    def _labels_of(
        self, classifier: TextClassifier, examples: Sequence[TextExample]
    ) -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
        """Per field: the predicted labels, the probabilities and their label order."""
        probabilities = classifier.predict_proba([e.text for e in examples], [e.tags for e in examples])
        return {
            name: (
                [classifier.fields[name].head.labels[i] for i in np.argmax(p, axis=1)],
                p,
                list(classifier.fields[name].head.labels),
            )
            for name, p in probabilities.items()
        }

    def base_predictions(
        self, model: Any, examples: Sequence[TextExample], label_sets: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
        """The base model's zero-shot predictions per field: labels, probabilities and the label order."""
        out = {}
        for spec in self.fields:
            labels = list(label_sets.get(spec.name) or [])
            if len(labels) < 2:
                continue
            order, probabilities = zero_shot_probabilities(
                model, [e.text for e in examples], self.zero_shot_prompts(spec.name, labels)
            )
            out[spec.name] = ([order[i] for i in np.argmax(probabilities, axis=1)], probabilities, order)
        return out

    def evaluate(
        self,
        version: ModelVersion,
        *,
        active: ModelVersion | None,
        artifacts: ArtifactStore,
        config: ClassificationEvaluationConfig,
        progress: ProgressFn,
    ) -> Evaluation:
        """The candidate, the active model, the base model (zero-shot) and what the people corrected on the
        same held-out examples: per field accuracy, macro-F1, per-class precision and recall, confusion
        matrices, confidence-band coverage; for a binary field, average precision and precision@k; the gate."""
        from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

        training_set = self.load_training_set(artifacts, version.dataset_version)
        test = training_set.split("test")
        if not test:
            raise TaskDataError(f"training set {training_set.version} has no test examples")
        base_name = None if version.base_model == BUNDLED_BASE_MODEL else version.base_model
        base = load_sentence_transformer(resolve_base_model(base_name))
        candidate = TextClassifier.load(
            version.artifact_path, base_model=base_name, encoders={"embedding": base}
        )
        progress(f"scoring {len(test)} held-out examples with {version.label}")
        predictions = {"candidate": self._labels_of(candidate, test)}
        base_predictions = self.base_predictions(base, test, training_set.label_sets)
        active_error, active_unseen = None, None
        if active is not None:
            try:
                active_model = TextClassifier.load(
                    active.artifact_path, base_model=base_name, encoders={"embedding": base}
                )
                seen = self._seen_by(active, artifacts)
                active_unseen = [i for i, e in enumerate(test) if e.id not in seen]
                predictions["active"] = self._labels_of(active_model, test)
            except (ModelLoadError, ArtifactError, OSError, KeyError, ValueError) as error:
                active_error = str(error)
        fields_report: dict[str, Any] = {}
        for spec in self.fields:
            rows = [
                i
                for i, e in enumerate(test)
                if e.labels.get(spec.name) in set(training_set.label_sets.get(spec.name, []))
            ]
            if not rows or spec.name not in candidate.fields:
                continue
            truth = [test[i].labels[spec.name] for i in rows]
            labels = training_set.label_sets[spec.name]
            models: dict[str, Any] = {}
            cand_labels, cand_p, cand_order = predictions["candidate"][spec.name]
            models["candidate"] = self._model_entry(
                version.label,
                truth,
                [cand_labels[i] for i in rows],
                labels,
                spec,
                cand_p[rows],
                cand_order,
                test,
                rows,
                config,
            )
            if "active" in predictions and spec.name in predictions["active"]:
                a_labels, a_p, a_order = predictions["active"][spec.name]
                models["active"] = self._model_entry(
                    active.label,
                    truth,
                    [a_labels[i] for i in rows],
                    labels,
                    spec,
                    a_p[rows],
                    a_order,
                    test,
                    rows,
                    config,
                )
            if spec.name in base_predictions:
                b_labels, b_p, b_order = base_predictions[spec.name]
                models["base"] = self._model_entry(
                    f"base {version.base_model} zero-shot",
                    truth,
                    [b_labels[i] for i in rows],
                    labels,
                    spec,
                    b_p[rows],
                    b_order,
                    test,
                    rows,
                    config,
                )
            reference_rows = [j for j, i in enumerate(rows) if test[i].reference.get(spec.name) is not None]
            if self.reference_name and reference_rows:
                models["reference"] = {
                    "name": self.reference_name,
                    "rows": len(reference_rows),
                    **field_metrics(
                        [truth[j] for j in reference_rows],
                        [test[rows[j]].reference[spec.name] for j in reference_rows],
                        labels=labels,
                    ),
                }
            if self.reference_name and reference_rows and len(reference_rows) < len(rows):
                # Not every row has the reference: the candidate on the same rows, for a like-for-like row.
                models["candidate_on_reference_rows"] = {
                    "name": f"{version.label} (rows with {self.reference_name})",
                    **field_metrics(
                        [truth[j] for j in reference_rows],
                        [cand_labels[rows[j]] for j in reference_rows],
                        labels=labels,
                    ),
                }
            scored = [(i, test[i].reference_score) for i in rows if test[i].reference_score is not None]
            if spec.positive_label and scored:
                y = [test[i].labels[spec.name] == spec.positive_label for i, _ in scored]
                models["reference_score"] = {
                    "name": "the surfacing system's score",
                    "rows": len(scored),
                    **ranking_metrics(
                        y, [s for _, s in scored], ks=config.ks, **self._votes(test, [i for i, _ in scored])
                    ),
                }
            candidate_field = candidate.fields[spec.name]
            confidence = cand_p[rows].max(axis=1)
            band = band_coverage(
                truth,
                [cand_labels[i] for i in rows],
                confidence,
                threshold=candidate_field.confidence_threshold,
            )
            fields_report[spec.name] = {
                "labels": labels,
                "n": len(rows),
                "models": models,
                "band": check_band(band, target_accuracy=candidate.metadata.get("target_accuracy")),
                "recipe": candidate_field.recipe,
                "confusion": {"truth": truth, "predicted": [cand_labels[i] for i in rows]},
            }
        gate = self._gate(fields_report, test, predictions, base_predictions, active_unseen, config)
        for reason in gate["reasons"]:
            progress(reason)
        report = {
            "task": self.name,
            "dataset_version": training_set.version,
            "test_examples": len(test),
            "primary_field": self.primary.name,
            "primary_metric": self.primary.selection_metric,
            "fields": fields_report,
            "switched_off_bands": [n for n, f in fields_report.items() if not f["band"]["holds"]],
            "gate": gate,
            "active_load_error": active_error,
            "active_unseen_test_examples": len(active_unseen) if active_unseen is not None else None,
            "reference_name": self.reference_name,
        }
        return Evaluation(
            report=report,
            summary={k: v for k, v in report.items() if k != "fields"}
            | {
                "fields": {
                    n: {k: v for k, v in f.items() if k != "confusion"} for n, f in fields_report.items()
                }
            },
        )

    def evaluate_examples(
        self,
        examples: Sequence[TextExample],
        *,
        models: Sequence[tuple[str, str, TextClassifier]],
        base: Any,
        config: ClassificationEvaluationConfig | None = None,
    ) -> dict[str, Any]:
        """Every model (role, name, classifier), the base model (zero-shot over the labels the models
        know) and the reference on labelled ``examples`` that are not a training set (``fta evaluate``):
        per field, the metrics of each."""
        config = config or ClassificationEvaluationConfig()
        predictions = {role: (name, self._labels_of(model, examples)) for role, name, model in models}
        # The labels the models know, and the file's own: the base model's zero-shot chooses among them.
        label_sets: dict[str, list[str]] = {
            f.name: sorted({e.labels[f.name] for e in examples if e.labels.get(f.name) is not None})
            for f in self.fields
        }
        for _role, _name, model in models:
            for name, f in model.fields.items():
                label_sets[name] = sorted(set(label_sets.get(name, [])) | set(f.head.labels))
        base_predictions = self.base_predictions(base, examples, label_sets)
        fields: dict[str, Any] = {}
        for spec in self.fields:
            rows = [i for i, e in enumerate(examples) if e.labels.get(spec.name) is not None]
            if not rows:
                continue
            truth = [examples[i].labels[spec.name] for i in rows]
            labels = sorted(set(label_sets.get(spec.name, [])) | set(truth))
            entries: dict[str, Any] = {}
            sources = {**predictions, "base": ("base model zero-shot", base_predictions)}
            for role, (name, by_field) in sources.items():
                if spec.name in by_field:
                    predicted, p, order = by_field[spec.name]
                    entries[role] = self._model_entry(
                        name,
                        truth,
                        [predicted[i] for i in rows],
                        labels,
                        spec,
                        p[rows],
                        order,
                        examples,
                        rows,
                        config,
                    )
            with_reference = [i for i in rows if examples[i].reference.get(spec.name) is not None]
            if self.reference_name and with_reference:
                entries["reference"] = {
                    "name": self.reference_name,
                    "rows": len(with_reference),
                    **field_metrics(
                        [examples[i].labels[spec.name] for i in with_reference],
                        [examples[i].reference[spec.name] for i in with_reference],
                        labels=labels,
                    ),
                }
            scored = [i for i in rows if examples[i].reference_score is not None]
            if spec.positive_label and scored:
                entries["reference_score"] = {
                    "name": self.reference_name,
                    "rows": len(scored),
                    **ranking_metrics(
                        [examples[i].labels[spec.name] == spec.positive_label for i in scored],
                        [examples[i].reference_score for i in scored],
                        ks=config.ks,
                        **self._votes(examples, scored),
                    ),
                }
            fields[spec.name] = {"n": len(rows), "labels": labels, "models": entries}
        return {"examples": len(examples), "fields": fields}

    def _votes(self, examples: Sequence[TextExample], rows: Sequence[int]) -> dict[str, Any]:
        if all("votes_positive" in examples[i].details for i in rows):
            return {
                "votes_positive": [examples[i].details["votes_positive"] for i in rows],
                "votes_total": [
                    examples[i].details["votes_positive"] + examples[i].details["votes_negative"]
                    for i in rows
                ],
            }
        return {}

    def _model_entry(
        self, name, truth, predicted, labels, spec, probabilities, order, test, rows, config
    ) -> dict[str, Any]:
        entry = {"name": name, **field_metrics(truth, predicted, labels=labels)}
        if spec.positive_label and spec.positive_label in order:
            column = list(order).index(spec.positive_label)
            entry.update(
                ranking_metrics(
                    [t == spec.positive_label for t in truth],
                    probabilities[:, column],
                    ks=config.ks,
                    **self._votes(test, rows),
                )
            )
        return entry

    def _seen_by(self, active: ModelVersion, artifacts: ArtifactStore) -> set[str]:
        """The example ids the active model trained or was calibrated on (its training set's train and
        validation splits)."""
        trained_on = self.load_training_set(artifacts, active.dataset_version)
        return {e.id for e in trained_on.examples if trained_on.splits[e.id] != "test"}

    def _gate(
        self, fields_report, test, predictions, base_predictions, active_unseen, config
    ) -> dict[str, Any]:
        spec = self.primary
        metric = spec.selection_metric
        reasons: list[str] = []
        report = fields_report.get(spec.name)
        if report is None:
            return {
                "passed": False,
                "reasons": [f"no held-out {spec.name} labels to judge on"],
                "reference": None,
                "improvement": None,
                "improvement_lower_bound": None,
            }
        labels = set(report["labels"])
        rows = [i for i, e in enumerate(test) if e.labels.get(spec.name) in labels]
        cand_labels, cand_p, cand_order = predictions["candidate"][spec.name]

        def compare(
            reference_name: str,
            subset: list[int],
            reference_labels: Sequence[str] | None,
            reference_scores: Sequence[float] | None,
        ) -> dict[str, Any] | None:
            t = [test[i].labels[spec.name] for i in subset]
            if metric == "average_precision":
                if len({x == spec.positive_label for x in t}) < 2:
                    reasons.append(
                        f"{reference_name}: the {len(t)} rows hold one class only, no AP to compare"
                    )
                    return None
                column = cand_order.index(spec.positive_label)
                result = bootstrap_average_precision_difference(
                    [x == spec.positive_label for x in t],
                    cand_p[subset][:, column],
                    reference_scores,
                    resamples=config.bootstrap_resamples,
                    confidence=config.confidence,
                )
            else:
                result = bootstrap_label_metric_difference(
                    t,
                    [cand_labels[i] for i in subset],
                    reference_labels,
                    metric=metric,
                    resamples=config.bootstrap_resamples,
                    confidence=config.confidence,
                )
            return {"reference": reference_name, "rows": len(subset), **result}

        comparisons = []
        if "active" in predictions and active_unseen is not None:
            subset = [i for i in rows if i in set(active_unseen)]
            a_labels, a_p, a_order = predictions["active"][spec.name]
            if len(subset) >= 2:
                column = a_order.index(spec.positive_label) if spec.positive_label in a_order else None
                comparisons = [
                    c
                    for c in [
                        compare(
                            "the active model",
                            subset,
                            [a_labels[i] for i in subset],
                            a_p[subset][:, column] if column is not None else None,
                        )
                    ]
                    if c is not None
                ]
            else:
                reasons.append(
                    "every test example was seen by the active model: judged against the base model instead"
                )
        base_entry = None
        if spec.name in base_predictions:
            b_labels, b_p, b_order = base_predictions[spec.name]
            column = b_order.index(spec.positive_label) if spec.positive_label in b_order else None
            base_entry = compare(
                "the base model",
                rows,
                [b_labels[i] for i in rows],
                b_p[rows][:, column] if column is not None else None,
            )
        if not comparisons:
            candidates = [base_entry] if base_entry else []
            if self.reference_name:
                subset = [i for i in rows if test[i].reference.get(spec.name) is not None]
                if len(subset) >= 2 and metric != "average_precision":
                    candidates.append(
                        compare(
                            self.reference_name, subset, [test[i].reference[spec.name] for i in subset], None
                        )
                    )
                scored = [i for i in rows if test[i].reference_score is not None]
                if len(scored) >= 2 and metric == "average_precision":
                    candidates.append(
                        compare(self.reference_name, scored, None, [test[i].reference_score for i in scored])
                    )
            # The stronger reference is the one the candidate beats by the least.
            comparisons = sorted([c for c in candidates if c is not None], key=lambda c: c["difference"])[:1]
        if not comparisons:
            return {
                "passed": False,
                "reasons": ["nothing to compare the candidate with"],
                "reference": None,
                "improvement": None,
                "improvement_lower_bound": None,
            }
        chosen = comparisons[0]
        passed = chosen["lower"] > config.min_improvement
        reasons.append(
            f"{spec.name} {metric}: {chosen['difference']:+.4f} over {chosen['reference']} on {chosen['rows']} held-out "
            f"examples, at least {chosen['lower']:+.4f} with {config.confidence:.0%} confidence "
            + ("(passes)" if passed else f"(needs more than {config.min_improvement:+.4f})")
        )
        if base_entry is not None and base_entry["difference"] < 0:
            passed = False
            reasons.append(f"worse than the base model ({base_entry['difference']:+.4f} {metric})")
        return {
            "passed": bool(passed),
            "reasons": reasons,
            "reference": chosen["reference"],
            "improvement": chosen["difference"],
            "improvement_lower_bound": chosen["lower"],
            "comparisons": comparisons + ([base_entry] if base_entry and base_entry is not chosen else []),
        }

    def describe_evaluation(self, report: Mapping[str, Any]) -> StepReport:
        metadata: dict[str, Any] = {
            "dataset_version": report["dataset_version"],
            "gate_passed": report["gate"]["passed"],
            "test_examples": report["test_examples"],
        }
        band_rows = []
        for name, f in report["fields"].items():
            columns = [
                "accuracy",
                "macro_f1",
                "average_precision",
                "precision@10",
                "precision@50",
                "save_rate@10",
                "save_rate@50",
            ]
            table = pd.DataFrame(
                [
                    {
                        "model": f"{role}: {m['name']}",
                        "rows": m.get("rows", m.get("n")),
                        **{c: m.get(c) for c in columns if any(c in mm for mm in f["models"].values())},
                    }
                    for role, m in f["models"].items()
                ]
            )
            metadata[f"{name}_metrics"] = Markdown.table(table)
            candidate = f["models"]["candidate"]
            metadata[f"{name}_per_class"] = Markdown.table(pd.DataFrame(candidate["per_class"]))
            if "confusion" in f:
                png = confusion_matrix_png(
                    f["confusion"]["truth"],
                    f["confusion"]["predicted"],
                    labels=f["labels"],
                    title=f"{self.name} {name}: {candidate['name']}",
                )
                metadata[f"{name}_confusion_matrix"] = Markdown(
                    png_markdown(png, alt=f"{name} confusion matrix")
                )
            metadata[f"{name}_macro_f1"] = candidate["macro_f1"]
            metadata[f"{name}_accuracy"] = candidate["accuracy"]
            band_rows.append({"field": name, "recipe": f["recipe"], **f["band"]})
        metadata["confidence_bands"] = Markdown.table(pd.DataFrame(band_rows))
        switched_off = report.get("switched_off_bands", [])
        band_reasons = [_band_reason(name, f["band"]) for name, f in report["fields"].items()]
        metadata["bands_switched_off"] = ", ".join(switched_off) or "none"
        gate = report["gate"]
        metadata.update(
            {
                "improvement_over_reference": gate["improvement"],
                "improvement_lower_bound": gate["improvement_lower_bound"],
                "gate_reasons": Markdown("\n".join(f"- {r}" for r in gate["reasons"])),
            }
        )
        return StepReport(
            metadata=metadata,
            checks=[
                CheckOutcome(
                    "promotion_gate",
                    passed=gate["passed"],
                    metadata={
                        "reference": gate["reference"],
                        "improvement": gate["improvement"],
                        "improvement_lower_bound": gate["improvement_lower_bound"],
                        "reasons": Markdown("\n".join(f"- {r}" for r in gate["reasons"])),
                    },
                ),
                CheckOutcome(
                    "confidence_bands_hold",
                    passed=not switched_off,
                    severity="warn",
                    metadata={
                        "switched_off": ", ".join(switched_off) or "none",
                        "reasons": Markdown("\n".join(f"- {r}" for r in band_reasons)),
                    },
                ),
            ],
        )

    # -- exports and serving ------------------------------------------------------------------------------
    def export_training_data(
        self,
        engine: Any,
        artifacts: ArtifactStore,
        *,
        dataset_version: str | None,
        split: str,
        settings: TaskSettings,
    ) -> TrainingDataExport:
        """The examples as OpenAI chat fine-tuning records and JSON records, of a saved training set or,
        without ``dataset_version``, of the store's decisions now (nothing saved)."""
        if split != "all" and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use all or one of {', '.join(SPLITS)}")
        if dataset_version:
            training_set = self.load_training_set(artifacts, dataset_version)
            origin = f"training set {training_set.version}"
        else:
            watermark = self.latest_recorded_at(engine)
            if watermark is None:
                raise TaskDataError(f"the {self.name} store holds no decisions yet: import some first")
            training_set = self.build(
                engine, recorded_through=watermark, config=ClassificationTrainingSetConfig()
            )
            origin = f"the {self.name} store's decisions recorded through {watermark.isoformat()}"
        names = list(SPLITS) if split == "all" else [split]
        examples = [e for n in names for e in training_set.split(n)]
        return TrainingDataExport(
            dataset_version=training_set.version if dataset_version else None,
            origin=origin,
            openai_chat=[self.openai_chat_example(e) for e in examples],
            records=[self.export_record(e) for e in examples],
            stats={"dataset_version": training_set.version, **training_set.stats()},
        )

    def load_predictor(
        self, registry: ModelRegistry, engine: Any, *, base_model: str | None
    ) -> ClassifierPredictor:
        return ClassifierPredictor.load(self, registry, engine, base_model=base_model)

    def onnx_components(self, directory: Path) -> dict[str, tuple[Path, str]]:
        from fine_tuning_assets.classifiers.model import SAVED_ENCODERS

        return {
            folder: (directory / folder, "bi-encoder")
            for folder in SAVED_ENCODERS.values()
            if (directory / folder).is_dir()
        }


def switch_off_missed_bands(classifier: TextClassifier, evaluation: Mapping[str, Any]) -> TextClassifier:
    """The fields whose band missed its target accuracy on held-out examples (the version's evaluation,
    ``switched_off_bands``) lose their threshold: every prediction of theirs goes to a human."""
    for name in evaluation.get("switched_off_bands", []):
        if name in classifier.fields:
            classifier.fields[name].confidence_threshold = None
    return classifier


def _band_reason(field: str, band: Mapping[str, Any]) -> str:
    if band["threshold"] is None:
        return f"{field}: no band (no threshold reached the target accuracy on validation)"
    if band["accuracy_automatic"] is None:
        return f"{field}: the band is empty on the held-out examples: kept"
    verdict = "kept" if band["holds"] else "band SWITCHED OFF, every prediction goes to a human"
    return (
        f"{field}: accuracy {band['accuracy_automatic']:.4f} on the {band['automatic']} held-out examples above "
        f"{band['threshold']:.3f} (target {band['target_accuracy'] or 'not recorded'}): {verdict}"
    )


def drop_rare_labels(
    examples: Sequence[TextExample], *, fields: Sequence[str], minimum: int
) -> tuple[list[TextExample], dict[str, dict[str, int]]]:
    """Leave out, per field, the labels with fewer than ``minimum`` examples (the example keeps its other
    fields); examples left with no label at all are dropped. Returns the examples and field → label → count
    of what was left out."""
    from dataclasses import replace

    counts = {f: Counter(e.labels.get(f) for e in examples if e.labels.get(f) is not None) for f in fields}
    rare = {f: {lab: n for lab, n in c.items() if n < minimum} for f, c in counts.items()}
    kept = []
    for e in examples:
        labels = {f: lab for f, lab in e.labels.items() if lab not in rare.get(f, {})}
        if labels:
            kept.append(replace(e, labels=labels) if labels != dict(e.labels) else e)
    return kept, {f: r for f, r in rare.items() if r}


def find_leakage(training_set: ClassificationTrainingSet) -> list[str]:
    """Groups or identical texts on two sides of the split."""
    from fine_tuning_assets.core.imports import normalise_whitespace

    problems = []
    sides: dict[tuple[str, str], set[str]] = {}
    for e in training_set.examples:
        split = training_set.splits[e.id]
        if e.group:
            sides.setdefault(("group", e.group), set()).add(split)
        sides.setdefault(("text", normalise_whitespace(e.text).lower()), set()).add(split)
    for (kind, key), splits in sides.items():
        if len(splits) > 1:
            problems.append(f"{kind} {key[:80]!r} is in {', '.join(sorted(splits))}")
    return problems


@dataclass
class ClassifierPredictor:
    """What serving loads for a classification task: the active version's classifier, or the base model's
    zero-shot labels (never applied without a human) when no version is active or it cannot load."""

    task: ClassificationTask
    classifier: TextClassifier | None
    base: Any | None
    label_sets: dict[str, list[str]]
    model: str
    model_version_id: int | None
    fallback_reason: str | None
    #: field → the embeddings of its zero-shot prompts (the fallback encodes them once, not per request).
    prompt_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(
        cls, task: ClassificationTask, registry: ModelRegistry, engine: Any, *, base_model: str | None
    ) -> ClassifierPredictor:
        from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

        active = registry.active(task.name)
        reason = f"no {task.name} model is active"
        if active is not None:
            try:
                classifier = TextClassifier.load(active.artifact_path, base_model=base_model)
                switch_off_missed_bands(classifier, active.evaluation)
                return cls(task, classifier, None, {}, active.label, active.id, None)
            except (ModelLoadError, OSError, KeyError, ValueError) as error:
                reason = f"the active model {active.label} could not be loaded: {error}"
        base = load_sentence_transformer(resolve_base_model(base_model))
        label_sets = task.known_labels(engine) if engine is not None else {}
        missing = [f.name for f in task.fields if len(label_sets.get(f.name, [])) < 2]
        if missing:
            reason += f"; the store has no labels for {', '.join(missing)} to fall back on"
        return cls(
            task, None, base, label_sets, f"base {base_model or BUNDLED_BASE_MODEL} zero-shot", None, reason
        )

    def predict(
        self, texts: Sequence[str], tags: Sequence[Sequence[str]] | None = None
    ) -> list[dict[str, Any]]:
        """Per text, field → :class:`~fine_tuning_assets.classifiers.model.Prediction`."""
        from fine_tuning_assets.classifiers.model import Prediction

        if self.classifier is not None:
            return self.classifier.predict(texts, tags)
        out: list[dict[str, Any]] = [{} for _ in texts]
        for spec in self.task.fields:
            labels = self.label_sets.get(spec.name, [])
            if len(labels) < 2:
                continue
            prompts = self.task.zero_shot_prompts(spec.name, labels)
            if spec.name not in self.prompt_vectors:
                self.prompt_vectors[spec.name] = encode(self.base, [prompts[lab] for lab in prompts])
            order, probabilities = zero_shot_probabilities(
                self.base, texts, prompts, prompt_vectors=self.prompt_vectors[spec.name]
            )
            for row, values in enumerate(probabilities):
                best = int(np.argmax(values))
                out[row][spec.name] = Prediction(
                    spec.name,
                    order[best],
                    float(values[best]),
                    dict(zip(order, map(float, values), strict=True)),
                    False,
                    None,
                )
        return out
