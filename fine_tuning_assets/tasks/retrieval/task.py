"""The retrieval task: people's ratings of retrieved documents and the archive → a better ranking for a RAG
system (a fine-tuned embedding, fused with BM25, optionally reranked).

:data:`RETRIEVAL` is the task object ``defs/`` turns into the Dagster chain (``retrieval_feedback →
retrieval_training_set → retrieval_candidate_model → retrieval_evaluation → retrieval_active_model``).

Example:
    >>> RETRIEVAL.name, [check.name for check in RETRIEVAL.evaluation_checks]
    ('retrieval', ['promotion_gate'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL, ModelLoadError
from fine_tuning_assets.core.metrics import png_markdown
from fine_tuning_assets.core.registry import ModelVersion
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
from fine_tuning_assets.tasks.retrieval.evaluation import (
    EvaluationConfig,
    evaluate_retrieval_models,
    per_query_plot_png,
)
from fine_tuning_assets.tasks.retrieval.model import Ranker
from fine_tuning_assets.tasks.retrieval.ranking import METRICS
from fine_tuning_assets.tasks.retrieval.recipes import RecipeSearchConfig, search_recipes
from fine_tuning_assets.tasks.retrieval.store import RetrievalStore
from fine_tuning_assets.tasks.retrieval.training_set import (
    RetrievalTrainingSet,
    TrainingSetConfig,
    build_training_set,
    find_leakage,
    load_training_set,
    mine_hard_negatives_with,
    save_training_set,
)


def _base_model_or_none(name: str) -> str | None:
    return None if name == BUNDLED_BASE_MODEL else name


def build_from_store(
    engine: Any,
    *,
    recorded_through: datetime,
    config: TrainingSetConfig,
    settings: TaskSettings,
    progress: ProgressFn | None = None,
) -> RetrievalTrainingSet:
    """The training set of the store's documents and ratings up to ``recorded_through`` (not saved)."""
    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

    config = replace(config, min_queries_with_positive=settings.min_examples)
    documents, judgements = RetrievalStore(engine).snapshot(recorded_through=recorded_through)
    model = load_sentence_transformer(resolve_base_model(settings.base_model))
    return build_training_set(
        documents,
        judgements,
        recorded_through=recorded_through,
        config=config,
        mine=mine_hard_negatives_with(
            model, range_max=config.mining_range_max, relative_margin=config.mining_relative_margin
        ),
        progress=progress,
    )


class RetrievalTask:
    """See the module docstring."""

    name = "retrieval"
    positive_label = "relevant"  # the prediction log's label for a result served in the top k
    description = "people's ratings of the documents a search returned for their queries, and the archive"
    model_kind = "retrieval-model"
    training_set_config = TrainingSetConfig
    candidate_config = RecipeSearchConfig
    evaluation_config = EvaluationConfig
    training_set_checks = (
        CheckSpec(
            "enough_queries_with_positive",
            "FINETUNE_MIN_EXAMPLES queries with a document rated relevant, and some in every split.",
            blocking=True,
        ),
        CheckSpec(
            "no_leakage",
            "No query on two sides of the split; archive pairs only in train.",
            blocking=True,
        ),
        CheckSpec(
            "no_conflicting_ratings",
            "(query, document) pairs rated both relevant and irrelevant (resolved by the latest rating).",
        ),
    )
    evaluation_checks = (
        CheckSpec(
            "promotion_gate",
            "The candidate's nDCG@10 beats the active model (or the base embedding) at the paired-bootstrap "
            "lower bound over held-out queries, and is not below the base embedding's.",
            blocking=True,
        ),
    )
    kinds = {
        "feedback": frozenset({"sql"}),
        "training_set": frozenset({"pandas"}),
        "candidate_model": frozenset({"pytorch", "sentence_transformers"}),
        "evaluation": frozenset({"sklearn"}),
    }

    # -- feedback -----------------------------------------------------------------------------------------
    def feedback_counts(self, engine: Any) -> dict[str, int]:
        return {k: v for k, v in RetrievalStore(engine).counts().items() if k != "last_recorded_at"}

    def latest_recorded_at(self, engine: Any) -> datetime | None:
        return RetrievalStore(engine).latest_recorded_at()

    def count_decisions_after(self, engine: Any, watermark: datetime | None) -> int:
        return RetrievalStore(engine).count_after(watermark)

    # -- training set -------------------------------------------------------------------------------------
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
        """Rated queries split by query; tuples of (query, relevant document, rated-irrelevant or mined hard
        negative) and the archive's title → text pairs; the corpus; exports ({query, pos, neg, score} JSONL
        and OpenAI chat JSONL)."""
        if recorded_through is None:
            raise TaskDataError(
                "the store has no retrieval ratings yet; import some first (`fta import retrieval-feedback`)"
            )
        training_set = build_from_store(
            engine, recorded_through=recorded_through, config=config, settings=settings, progress=progress
        )
        path = save_training_set(training_set, artifacts)
        stats = training_set.stats()
        progress(f"training set {training_set.version}: {json.dumps(stats['by_split'])}")
        leakage = find_leakage(training_set.queries, training_set.tuples)
        conflicts = pd.DataFrame(
            [
                {
                    "query": c.query,
                    "document": c.document_id,
                    "ratings (relevant?)": str(list(c.ratings)),
                    "kept": c.resolved_relevant,
                }
                for c in training_set.conflicts
            ]
        )
        exports = sorted(str(p.relative_to(path)) for p in (path / "exports").iterdir())
        examples = pd.DataFrame(
            [
                {
                    "query": t.anchor[:80],
                    "relevant": t.positive[:80],
                    "negative": (t.negative or "")[:80],
                    "negative from": t.negative_origin,
                }
                for t in training_set.split_tuples("train")[:8]
            ]
        )
        report = StepReport(
            metadata={
                "documents": stats["documents"],
                "queries": stats["queries"],
                "queries_with_relevant": stats["queries_with_relevant"],
                "archive_pairs": stats["archive_pairs"],
                "conflicts": stats["conflicts"],
                "splits": Markdown.table(
                    pd.DataFrame([{"split": name, **stats["by_split"][name]} for name in SPLITS])
                ),
                "negatives": JsonData(stats["negatives"]),
                "example_tuples": Markdown.table(examples),
                "exports": Markdown("\n".join(f"- `{path / e}`" for e in exports)),
            },
            checks=[
                CheckOutcome(
                    "enough_queries_with_positive",
                    passed=stats["queries_with_relevant"] >= settings.min_examples,
                    metadata={
                        "queries_with_relevant": stats["queries_with_relevant"],
                        "minimum": settings.min_examples,
                    },
                ),
                CheckOutcome(
                    "no_leakage",
                    passed=not leakage,
                    metadata={"problems": Markdown("\n".join(f"- {p}" for p in leakage[:50]) or "none")},
                ),
                CheckOutcome(
                    "no_conflicting_ratings",
                    passed=not training_set.conflicts,
                    severity="warn",
                    metadata={
                        "conflicts": len(training_set.conflicts),
                        "resolved_by": "latest rating",
                        "pairs": Markdown.table(conflicts),
                    },
                ),
            ],
        )
        return BuiltTrainingSet(training_set.version, path, training_set.recorded_through, report)

    def load_training_set(self, artifacts: ArtifactStore, version: str) -> RetrievalTrainingSet:
        return load_training_set(artifacts, version)

    # -- candidate ----------------------------------------------------------------------------------------
    def train(
        self,
        training_set: RetrievalTrainingSet,
        *,
        config: RecipeSearchConfig,
        settings: TaskSettings,
        output_dir: Path,
        progress: ProgressFn,
    ) -> TrainedModel:
        """The recipes (untrained hybrid, MNRL-fine-tuned bi-encoder, fine-tuned hybrid, optionally a
        reranker) compared on validation queries; the best by nDCG@10 is chosen."""
        result = search_recipes(
            training_set,
            base_model=settings.base_model,
            config=config,
            output_dir=output_dir,
            progress=progress,
        )
        (output_dir / "training_history.json").write_text(
            json.dumps({k: v.history for k, v in result.training.items()}, indent=2, default=str) + "\n",
            encoding="utf-8",
        )
        metrics = result.metrics()
        training = metrics["training"]
        trained_component = {
            "bi-encoder": "bi-encoder",
            "hybrid": "bi-encoder",
            "cross-encoder-reranker": "cross-encoder-reranker",
        }
        table = pd.DataFrame(
            [
                {
                    "recipe": name + (" (chosen)" if name == metrics["selected_recipe"] else ""),
                    "how it ranks": summary["description"],
                    **{f"validation {m}": summary.get(m) for m in METRICS},
                    "train seconds": training.get(trained_component.get(name, ""), {}).get("train_seconds"),
                }
                for name, summary in metrics["recipes"].items()
            ]
        )
        chosen = metrics["recipes"][metrics["selected_recipe"]]
        return TrainedModel(
            summary=f"recipe search chose {result.spec.selected_recipe} ({chosen['description']}) in "
            f"{result.seconds:.0f}s (validation nDCG@10 {chosen['ndcg@10']:.4f})",
            metrics=metrics,
            report=StepReport(
                metadata={
                    "selected_recipe": metrics["selected_recipe"],
                    "recipes": Markdown.table(table),
                    "training": JsonData(training),
                    "skipped_recipes": JsonData(metrics["skipped"]),
                    "train_tuples": len(training_set.split_tuples("train")),
                    "validation_queries": len(training_set.split_queries("validation")),
                    "embedding_dimension": metrics["embedding_dimension"],
                    "search_seconds": metrics["search_seconds"],
                }
            ),
        )

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(
        self,
        version: ModelVersion,
        *,
        active: ModelVersion | None,
        artifacts: ArtifactStore,
        config: EvaluationConfig,
        progress: ProgressFn,
    ) -> Evaluation:
        """The candidate (each recipe), the active model, the base embedding, BM25 and the untrained hybrids
        on the same held-out queries; the promotion gate and the re-index cost."""
        training_set = load_training_set(artifacts, version.dataset_version)
        base_model = _base_model_or_none(version.base_model)
        corpus = training_set.corpus
        candidate = Ranker.for_model(version.artifact_path, corpus, base_model=base_model, progress=progress)
        active_ranker, active_error = None, None
        if active is not None:
            try:
                active_ranker = Ranker.for_model(
                    active.artifact_path, corpus, base_model=_base_model_or_none(active.base_model)
                )
            except ModelLoadError as error:
                active_error = str(error)
        report = evaluate_retrieval_models(
            training_set,
            candidate=candidate,
            candidate_name=version.label,
            active=active_ranker,
            active_name=active.label if active is not None else None,
            base_model=base_model,
            config=config,
            progress=progress,
        )
        report["active_load_error"] = active_error
        for reason in report["gate"]["reasons"]:
            progress(reason)
        return Evaluation(
            report=report,
            summary={k: v for k, v in report.items() if k != "per_query"},
            note="; the document index must be re-embedded before serving it "
            f"(~{report['reindex']['estimated_seconds']:.0f}s for {report['reindex']['documents']} documents)"
            if report["reindex"]["needed"]
            else "",
        )

    def describe_evaluation(self, report: Mapping[str, Any]) -> StepReport:
        models = report["models"]
        table = pd.DataFrame(
            [{"model": f"{role}: {m['name']}", **m["metrics"]} for role, m in models.items()]
        )
        gate = report["gate"]
        candidate, base = models["candidate"]["metrics"], models["base"]["metrics"]
        plot = per_query_plot_png(report)
        return StepReport(
            metadata={
                "dataset_version": report["dataset_version"],
                "gate_passed": gate["passed"],
                "test_queries": report["test_queries"],
                "documents": report["documents"],
                "candidate_ndcg@10": candidate["ndcg@10"],
                "base_ndcg@10": base["ndcg@10"],
                "bm25_ndcg@10": models["bm25"]["metrics"]["ndcg@10"],
                "improvement_over_reference": gate["improvement"],
                "improvement_lower_bound": gate["improvement_lower_bound"],
                "selected_recipe": report["selected_recipe"],
                "metrics": Markdown.table(table),
                "per_query_ndcg": Markdown(png_markdown(plot, alt="per-query nDCG@10")),
                "gate_reasons": Markdown("\n".join(f"- {r}" for r in gate["reasons"])),
                "reindex": JsonData(report["reindex"]),
            },
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
                )
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
        """Rated queries as OpenAI chat examples and ``{query, pos, neg, score}`` tuples, of a saved training
        set or, without ``dataset_version``, of the ratings in the store now (nothing saved)."""
        from fine_tuning_assets.tasks.retrieval.training_set import (
            document_text,
            openai_chat_records,
            tuple_records,
        )

        if split != "all" and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use all or one of {', '.join(SPLITS)}")
        if dataset_version:
            training_set = load_training_set(artifacts, dataset_version)
            origin = f"training set {training_set.version}"
        else:
            watermark = RetrievalStore(engine).latest_recorded_at()
            if watermark is None:
                raise TaskDataError("the retrieval store holds no ratings yet: import some first")
            training_set = build_from_store(
                engine, recorded_through=watermark, config=TrainingSetConfig(), settings=settings
            )
            origin = f"the retrieval store's ratings recorded through {watermark.isoformat()}"
        names = list(SPLITS) if split == "all" else [split]
        full_text = {d["id"]: document_text(d["title"], d["text"]) for d in training_set.documents}
        return TrainingDataExport(
            dataset_version=training_set.version if dataset_version else None,
            origin=origin,
            openai_chat=[
                r for n in names for r in openai_chat_records(training_set.split_queries(n), full_text)
            ],
            records=[r for n in names if n != "test" for r in tuple_records(training_set.split_tuples(n))],
            stats={"dataset_version": training_set.version, **training_set.stats()},
        )

    def load_predictor(self, registry: Any, engine: Any, *, base_model: str | None) -> Any:
        from fine_tuning_assets.tasks.retrieval.serving import load_predictor

        return load_predictor(registry, RetrievalStore(engine), base_model=base_model)

    def onnx_components(self, directory: Path) -> dict[str, tuple[Path, str]]:
        from fine_tuning_assets.tasks.retrieval.model import FINE_TUNED_EMBEDDING, RERANKER

        found = {FINE_TUNED_EMBEDDING: "bi-encoder", RERANKER: "cross-encoder"}
        return {name: (directory / name, kind) for name, kind in found.items() if (directory / name).is_dir()}


RETRIEVAL = RetrievalTask()
