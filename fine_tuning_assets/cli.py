"""The ``fta`` command line: seed the demo, import decisions, run the chain, manage and use models.

Example:
    $ fta demo                      # seed demo decisions, run the dedup chain, print the evaluation
    $ fta import pairs pairs.csv --positive 'score>=4'
    $ fta predict-merge "Coffee raises alertness." "Caffeine makes people alert."
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.config import ConfigurationError, Settings
from fine_tuning_assets.tasks.dedup.records import list_problems

EXIT_OK, EXIT_ERROR, EXIT_GATE_REFUSED, EXIT_FALLBACK = 0, 1, 3, 4


class CliError(Exception):
    """An error the CLI reports as one clear message (exit code 1)."""


def _settings() -> Settings:
    return Settings.from_env()


def _engine(settings: Settings):  # -> Engine
    from fine_tuning_assets.core.database import open_database

    return open_database(settings.database_url)


def _store(settings: Settings):
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    return FeedbackStore(_engine(settings))


def _registry(settings: Settings):
    from fine_tuning_assets.core.registry import ModelRegistry

    return ModelRegistry(_engine(settings))


def _check_writable(path: Path, *, what: str) -> None:
    """Fail before any work is done when ``path`` (a file to write) cannot be created."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".fta-write-check-"):
            pass
    except OSError as error:
        raise CliError(
            f"cannot write {what} to {path}: {error.strerror} ({error.filename or folder})"
        ) from None


def _require_writable_home(settings: Settings, *, command: str) -> None:
    """`fta demo` and `fta materialize` keep models and training sets under FTA_HOME: say so up front when it
    cannot be written, rather than failing in the middle of a run."""
    try:
        _check_writable(settings.artifact_root / "write-check", what="artifacts")
    except CliError as error:
        raise CliError(
            f"FTA_HOME {settings.home} is not writable: {error}. fta {command} keeps its database, training "
            "sets and models there; set FTA_HOME to a writable folder"
        ) from None


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return "–" if value is None else str(value)

    widths = [max(len(c), *(len(cell(r.get(c))) for r in rows)) if rows else len(c) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))


# -- import / decide / counts ---------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.imports import parse_cluster_rows

    settings = _settings()
    path = Path(args.file)
    if args.shape == "clusters":
        batch = parse_cluster_rows(path, file_format=args.format)
    else:
        batch = _parse_pair_file(args, reviewer=args.reviewer)
    summary = _store(settings).add_decisions(batch, kind=f"import:{args.shape}", source=str(path.resolve()))
    for note in batch.skipped:
        print(f"skipped {note}")
    if batch.duplicates:
        print(
            f"{_count(len(batch.duplicates), 'duplicate row')} (the decision of an earlier row, stored once):"
        )
        print(list_problems(batch.duplicates))
    already = len(summary.already_present)
    duplicates = f"; {_count(len(batch.duplicates), 'duplicate row')} in the file" if batch.duplicates else ""
    if summary.batch_id is None:
        print(
            f"nothing new in {path}: all {_count(already, 'cluster')} are already in the feedback store"
            f"{duplicates}; nothing was written"
        )
        return EXIT_OK
    changed = len(summary.changed)
    print(
        f"imported {path}: {summary.new_cluster_count - changed} new, {changed} changed, {already} already "
        f"present (not stored again){duplicates}; {_count(summary.new_insight_count, 'new insight')}; "
        f"import batch {summary.batch_id}"
    )
    if changed:
        print(
            "changed: a new decision on insights the same reviewer had decided otherwise "
            "(stored; the training set follows the latest decision):"
        )
        statements = {i.id: i.statement for i in batch.insights}
        clusters = {c.id: c for c in batch.clusters}
        print(
            list_problems(
                [
                    f"{cluster_id} now {clusters[cluster_id].status}: "
                    + " / ".join(
                        repr(statements.get(m.insight_id, m.insight_id)) for m in clusters[cluster_id].members
                    )
                    for cluster_id in summary.changed
                ]
            )
        )
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _parse_pair_file(args: argparse.Namespace, *, reviewer: str = "import"):  # -> DecisionBatch
    from fine_tuning_assets.tasks.dedup.imports import parse_labelled_pairs

    return parse_labelled_pairs(
        Path(args.file),
        text_a_column=args.text_a_column,
        text_b_column=args.text_b_column,
        label_column=args.label_column,
        decided_at_column=args.decided_at_column,
        positive=args.positive,
        negative=args.negative,
        has_header=not args.no_header,
        column_names=args.columns.split(",") if args.columns else None,
        file_format=args.format,
        reviewer=reviewer,
    )


def cmd_decide(args: argparse.Namespace) -> int:
    cluster = _store(_settings()).record_decision(
        args.cluster_id,
        status="approved" if args.approve else "rejected",
        reviewer=args.reviewer,
        selected_insight_ids=args.select or [],
    )
    selected = [m.insight_id for m in cluster.members if m.selected]
    print(
        f"cluster {cluster.id}: {cluster.status} by {cluster.reviewer}; merged: {', '.join(selected) or 'none'}"
    )
    return EXIT_OK


def cmd_counts(args: argparse.Namespace) -> int:
    counts = _store(_settings()).counts()
    if args.json:
        print(json.dumps(counts, indent=2))
    else:
        for key, value in counts.items():
            print(f"{key:>20}: {value}")
    return EXIT_OK


# -- export ----------------------------------------------------------------------------------------------
def cmd_export_training_data(args: argparse.Namespace) -> int:
    from fine_tuning_assets.core.artifacts import ArtifactStore
    from fine_tuning_assets.tasks.dedup.exports import export_counts, write_export
    from fine_tuning_assets.tasks.dedup.task import build_dedup_training_set
    from fine_tuning_assets.tasks.dedup.training_set import (
        TrainingSetConfig,
        TrainingSetError,
        load_training_set,
    )

    settings = _settings()
    if args.dataset_version:
        training_set = load_training_set(ArtifactStore(settings.artifact_root), args.dataset_version)
        origin = f"training set {training_set.version}"
    else:
        store = _store(settings)
        watermark = store.latest_recorded_at()
        try:
            training_set = build_dedup_training_set(
                store,
                recorded_through=watermark,
                config=TrainingSetConfig(min_examples_per_class=settings.min_examples_per_class),
                base_model=settings.base_model,
            )
        except TrainingSetError as error:
            raise CliError(str(error)) from error
        origin = f"the feedback store's decisions recorded through {watermark:%Y-%m-%d %H:%M:%S}"
    examples = training_set.examples if args.split == "all" else training_set.split(args.split)
    extension = {"openai_jsonl": "jsonl", "json": "json", "csv": "csv"}[args.format]
    output = Path(args.output or f"dedup_training_data_{training_set.version}_{args.split}.{extension}")
    write_export(examples, output, export_format=args.format)
    print(f"wrote {len(examples)} pairs from {origin} to {output}")
    if args.stats:
        print(json.dumps({"dataset_version": training_set.version, **export_counts(examples)}, indent=2))
    return EXIT_OK


# -- running the chain -----------------------------------------------------------------------------------
def _dagster_instance():  # -> DagsterInstance
    from dagster import DagsterInstance

    if not os.environ.get("DAGSTER_HOME"):
        if not Path("dagster.yaml").is_file():
            raise CliError(
                "DAGSTER_HOME is not set and there is no dagster.yaml here: run fta from the project root, "
                "or set DAGSTER_HOME to the folder holding your dagster.yaml"
            )
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
    return DagsterInstance.get()


def run_chain(settings: Settings, instance, *, job_name: str, run_config: dict[str, Any] | None = None):  # noqa: ANN001
    """Materialize a job of the project's Definitions in-process on the persistent Dagster instance. The run
    is tagged with this process, so that if it dies (no daemon watches an in-process run) `fta models reap`
    or the next training run can tell and report it failed."""
    from fine_tuning_assets.definitions import build_definitions
    from fine_tuning_assets.defs.crash_recovery import in_process_run_tags

    job = build_definitions(settings).resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance, run_config=run_config or {}, raise_on_error=False, tags=in_process_run_tags()
    )


def _step_seconds(instance, run_id: str) -> dict[str, float]:  # noqa: ANN001
    """Seconds each step of a run took, from the Dagster instance's step stats."""
    return {
        stats.step_key: (stats.end_time or stats.start_time or 0.0) - (stats.start_time or 0.0)
        for stats in instance.get_run_step_stats(run_id)
    }


def _print_run_summary(settings: Settings, instance, result, *, seconds: float) -> int:  # noqa: ANN001
    from dagster import DagsterEventType

    print(
        f"\nDagster run {result.run_id}: {'succeeded' if result.success else 'did not complete'} in {seconds:.0f}s"
    )
    for step, taken in _step_seconds(instance, result.run_id).items():
        print(f"  {step:<24} {taken:7.1f}s")
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            print(f"\nstep {event.step_key} failed: {error.message.strip() if error else 'unknown error'}")
    registry = _registry(settings)
    # The version this run evaluated, by the id its dedup_evaluation step recorded.
    evaluated = None
    for event in result.get_asset_materialization_events():
        if event.asset_key.path == ["dedup_evaluation"]:
            evaluated = registry.get(int(event.materialization.metadata["candidate_version_id"].value))
            _print_evaluation(evaluated)
    active = registry.active("dedup")
    print(
        f"\nactive dedup model: {active.label if active else 'none (decisions fall back to base similarity)'}"
    )
    print(
        "\nOpen it in the Dagster UI:\n"
        f"  DAGSTER_HOME={os.environ.get('DAGSTER_HOME', Path.cwd())} .venv/bin/dagster dev\n"
        "  then browse http://127.0.0.1:3000/asset-groups (group 'dedup') and the run above."
    )
    if not result.success:
        gate_refused = evaluated is not None and not evaluated.evaluation["gate"]["passed"]
        return EXIT_GATE_REFUSED if gate_refused else EXIT_ERROR
    return EXIT_OK


def _print_metrics_table(models: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """One row per model: its metrics and its auto-merge band (threshold, coverage, precision)."""
    rows = []
    for role, model in models:
        m = model["metrics"]
        rows.append(
            {
                "model": f"{role}: {model['name']}",
                "AP": m["average_precision"],
                "accuracy": m["accuracy"],
                "precision": m["precision"],
                "recall": m["recall"],
                "F1": m["f1"],
                "Brier": m["brier_score"],
                "auto-merge thr": model["bands"]["auto_merge"] if model["bands"] else None,
                "auto-merge cov": m["auto_merge_coverage"],
                "auto-merge prec": m["auto_merge_precision"],
                "keep-sep thr": (model["bands"] or {}).get("keep_separate"),
                "keep-sep cov": m.get("keep_separate_coverage"),
                "keep-sep dup": m.get("keep_separate_duplicate_share"),
                "no human": m.get("decided_without_human"),
            }
        )
    _print_table(rows, list(rows[0]))


def _print_evaluation(version) -> None:  # noqa: ANN001
    evaluation = version.evaluation
    print(
        f"\nEvaluation of {version.label} on {evaluation['test_pairs']} held-out human decisions "
        f"({evaluation['test_merge_pairs']} merges), training set {evaluation['dataset_version']}:"
    )
    _print_metrics_table([(role, model) for role, model in evaluation["models"].items()])
    candidate_ap = evaluation["models"]["candidate"]["metrics"]["average_precision"]
    base_ap = evaluation["models"]["base"]["metrics"]["average_precision"]
    print(
        f"\nfine-tuned vs base: average precision {candidate_ap:.3f} vs {base_ap:.3f} ({candidate_ap - base_ap:+.3f})"
    )
    gate = evaluation["gate"]
    print(f"promotion gate {'PASSED' if gate['passed'] else 'REFUSED'} (vs {gate['reference']}):")
    for reason in gate["reasons"]:
        print(f"  - {reason}")
    checks = evaluation.get("band_checks")
    if checks:
        print("decision bands (is each band safe on held-out decisions):")
        for reason in checks["reasons"]:
            print(f"  - {reason}")
        decided = evaluation["decided_without_human"]
        print(
            f"decided without a human: {decided['share']:.1%} of held-out pairs "
            f"(auto-merged {decided['auto_merged']:.1%}, kept separate {decided['kept_separate']:.1%}) at "
            f"auto-merge precision ≥ {decided['target_precision']} and ≤ {decided['max_duplicate_rate']:.0%} "
            f"duplicates kept separate ({evaluation.get('regime', 'fixed_split').replace('_', ' ')})"
        )


def _chain_run_config(args: argparse.Namespace) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if args.epochs is not None:
        candidate["bi_encoder"] = {"epochs": args.epochs}
        candidate["cross_encoder"] = {"epochs": args.epochs}
    if args.max_train_minutes is not None:
        candidate["max_train_minutes"] = args.max_train_minutes
    if args.recipes:
        candidate["recipes"] = [r.strip() for r in args.recipes.split(",") if r.strip()]
    return {"ops": {"dedup_candidate_model": {"config": candidate}}} if candidate else {}


def cmd_materialize(args: argparse.Namespace) -> int:
    settings = _settings()
    _require_writable_home(settings, command="materialize")
    started = time.perf_counter()
    instance = _dagster_instance()
    result = run_chain(settings, instance, job_name=args.job, run_config=_chain_run_config(args))
    return _print_run_summary(settings, instance, result, seconds=time.perf_counter() - started)


def cmd_demo(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.demo import generate_demo_decisions

    settings = _settings()
    _require_writable_home(settings, command="demo")
    store = _store(settings)
    counts = store.counts()
    if counts["clusters"]:
        print(
            f"the feedback store at {settings.home} already holds {counts['clusters']} clusters; "
            "using them as they are (delete that folder to start over)"
        )
    else:
        batch = generate_demo_decisions()
        summary = store.add_decisions(batch, kind="demo", source="fine_tuning_assets.tasks.dedup.demo")
        print(
            f"seeded the feedback store at {settings.home} with the demo: {summary.insight_count} insights, "
            f"{summary.cluster_count} clusters ({summary.decided_cluster_count} decided)"
        )
    started = time.perf_counter()
    print("materializing the dedup chain (feedback → training set → candidate → evaluation → active model)…")
    instance = _dagster_instance()
    result = run_chain(settings, instance, job_name="dedup_chain", run_config=_chain_run_config(args))
    code = _print_run_summary(settings, instance, result, seconds=time.perf_counter() - started)
    if code == EXIT_GATE_REFUSED:
        # In the demo a refused gate is an outcome to show, not an error: the chain did its job.
        print(
            "\nthe demo finished: the gate kept the candidate out of production, as it should when it does not win"
        )
        return EXIT_OK
    return code


# -- evaluate --------------------------------------------------------------------------------------------
def cmd_evaluate_pairs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from fine_tuning_assets.core.artifacts import write_json_atomic
    from fine_tuning_assets.tasks.dedup.external_evaluation import evaluate_labelled_pairs, labelled_pairs

    settings = _settings()
    path = Path(args.file)
    batch = _parse_pair_file(args)
    if args.output:
        output = Path(args.output)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = settings.home / "evaluations" / f"{path.stem}-{stamp}.json"
    try:
        _check_writable(output, what="the evaluation report")
    except CliError as error:
        hint = "" if args.output else "; pass --output with a file in a writable folder"
        raise CliError(f"{error}{hint}") from None
    for note in batch.skipped:
        print(f"skipped {note}")
    pairs, labels = labelled_pairs(batch)
    print(f"evaluating on {len(pairs)} labelled pairs ({int(labels.sum())} merges) from {path}")
    report = evaluate_labelled_pairs(
        pairs,
        labels,
        registry=_registry(settings),
        version_ids=args.model_version,
        base_model=settings.base_model,
    )
    report["file"] = str(path.resolve())
    report["skipped"] = list(batch.skipped)
    _print_metrics_table([(model["role"], model) for model in report["models"]])
    for model in report["models"]:
        if model["note"]:
            print(f"  {model['role']}: {model['note']}")
    if report["active_version_id"] is None:
        print("no dedup model is active: decisions fall back to the base model")
    write_json_atomic(output, report)
    print(f"\nreport written to {output}")
    return EXIT_OK


# -- models ----------------------------------------------------------------------------------------------
def _version_row(v) -> dict[str, Any]:  # noqa: ANN001
    candidate = v.evaluation.get("models", {}).get("candidate", {}).get("metrics", {})
    return {
        "id": v.id,
        "task": v.task,
        "version": v.version,
        "state": v.state,
        "dataset": v.dataset_version,
        "test AP": candidate.get("average_precision"),
        "created": f"{v.created_at:%Y-%m-%d %H:%M}",
    }


def cmd_models(args: argparse.Namespace) -> int:
    settings = _settings()
    registry = _registry(settings)
    if args.models_command == "reap":
        return _reap(settings, registry, dry_run=args.dry_run, actor=args.actor)
    if args.models_command == "list":
        rows = [_version_row(v) for v in registry.versions(args.task)]
        if not rows:
            print("no model versions yet: run `fta demo` or `fta materialize`")
            return EXIT_OK
        _print_table(rows, list(rows[0]))
    elif args.models_command == "show":
        version = registry.get(args.version_id)
        print(json.dumps({k: v for k, v in version.__dict__.items()}, indent=2, default=str))
        print("\naudit trail:")
        _print_table(
            [
                {
                    "when": f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                    "event": e.event,
                    "from": e.from_state,
                    "to": e.to_state,
                    "by": e.actor,
                    "why": e.reason,
                }
                for e in registry.events(version_id=version.id)
            ],
            ["when", "event", "from", "to", "by", "why"],
        )
    elif args.models_command == "promote":
        version = registry.get(args.version_id)
        current = registry.active(version.task)
        promoted = registry.promote(
            version.id,
            expected_active_id=current.id if current else None,
            actor=args.actor,
            reason=args.reason,
        )
        print(f"{promoted.label} is now active" + (f" (replacing {current.label})" if current else ""))
    elif args.models_command == "rollback":
        bad = registry.get(args.version_id)
        active = registry.rollback(
            bad.task, expected_active_id=bad.id, to_version_id=args.to, actor=args.actor, reason=args.reason
        )
        print(f"rolled back {bad.label}: {active.label} is active again; {bad.label} is marked failed")
    return EXIT_OK


def _reap(settings: Settings, registry, *, dry_run: bool, actor: str) -> int:  # noqa: ANN001
    from fine_tuning_assets.core.artifacts import ArtifactStore
    from fine_tuning_assets.defs.crash_recovery import reap_abandoned_work

    report = reap_abandoned_work(
        _dagster_instance(),
        registry,
        ArtifactStore(settings.artifact_root),
        actor=actor,
        dry_run=dry_run,
    )
    for line in report.lines():
        print(line)
    if not report.anything:
        print("nothing to reap: no run, model version or staging folder was abandoned by a crash")
    elif dry_run:
        print("(dry run: nothing was changed)")
    return EXIT_OK


def cmd_predict_merge(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.prediction import MergePredictor

    if (args.file is None) == (args.text_a is None or args.text_b is None) or (
        args.file is not None and args.text_a is not None
    ):
        raise CliError("give two statements, or --file with the pairs to score (not both)")
    if args.file is None and args.output:
        raise CliError("--output goes with --file; one pair's answer is printed")
    settings = _settings()
    pairs = _pairs_to_score(args) if args.file else None
    output_format = _output_format(Path(args.output)) if args.output else None
    predictor = MergePredictor.load(registry=_registry(settings), base_model=settings.base_model)
    if pairs is None:
        prediction = predictor.predict([(args.text_a, args.text_b)])[0]
        if args.json:
            print(json.dumps(_prediction_record(prediction)))
        else:
            if prediction.fallback_reason:
                print(f"FALLBACK to base similarity: {prediction.fallback_reason}")
            print(
                f"band: {prediction.band}  probability: {prediction.probability:.4f}  model: {prediction.model}"
            )
    else:
        _predict_file(predictor, pairs, args=args, output_format=output_format)
    if predictor.fallback_reason and not args.allow_fallback:
        print(
            f"fta: the decisions above came from the base-model fallback ({predictor.fallback_reason}), "
            "not a trained model; pass --allow-fallback to accept them",
            file=sys.stderr,
        )
        return EXIT_FALLBACK
    return EXIT_OK


def _prediction_record(prediction) -> dict[str, Any]:  # noqa: ANN001
    return {
        "band": prediction.band,
        "probability": prediction.probability,
        "model": prediction.model,
        "model_version_id": prediction.model_version_id,
        "fallback_reason": prediction.fallback_reason,
    }


PREDICTION_COLUMNS = (
    "line",
    "text_a",
    "text_b",
    "probability",
    "band",
    "model",
    "model_version_id",
    "fallback_reason",
)


def _pairs_to_score(args: argparse.Namespace) -> list[tuple[int, str, str]]:
    from fine_tuning_assets.tasks.dedup.imports import read_text_pairs

    return read_text_pairs(
        Path(args.file),
        text_a_column=args.text_a_column,
        text_b_column=args.text_b_column,
        has_header=not args.no_header,
        column_names=args.columns.split(",") if args.columns else None,
        file_format=args.format,
    )


def _output_format(output: Path) -> str:
    from fine_tuning_assets.tasks.dedup.imports import format_from_extension

    if output.is_dir():
        raise CliError(f"--output {output} is a folder; give a file name ending in .csv or .jsonl")
    file_format = format_from_extension(output)
    if file_format is None:
        raise CliError(f"--output {output}: cannot tell the format from the extension; use .csv or .jsonl")
    _check_writable(output, what="the predictions")
    return file_format


def _predict_file(predictor, pairs, *, args: argparse.Namespace, output_format: str | None) -> None:  # noqa: ANN001
    from tqdm import tqdm

    from fine_tuning_assets.core.artifacts import write_records_atomic

    print(
        f"scoring {len(pairs)} pairs from {args.file} with {predictor.model}"
        + (f" (FALLBACK: {predictor.fallback_reason})" if predictor.fallback_reason else ""),
        file=sys.stderr,
    )
    with tqdm(total=len(pairs), desc="scoring", unit="pair", file=sys.stderr) as bar:
        predictions = predictor.predict(
            [(a, b) for _, a, b in pairs], batch_size=args.batch_size, progress=bar.update
        )
    records = [
        {"line": line, "text_a": a, "text_b": b, **_prediction_record(prediction)}
        for (line, a, b), prediction in zip(pairs, predictions, strict=True)
    ]
    if args.output is None:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
        return
    write_records_atomic(Path(args.output), records, columns=PREDICTION_COLUMNS, file_format=output_format)
    bands = {
        band: sum(p.band == band for p in predictions) for band in dict.fromkeys(p.band for p in predictions)
    }
    print(
        f"wrote {len(records)} predictions to {args.output} ("
        + ", ".join(f"{band}: {count}" for band, count in bands.items())
        + ")",
        file=sys.stderr,
    )


def cmd_review_queue(args: argparse.Namespace) -> int:
    from fine_tuning_assets.core.artifacts import ArtifactStore
    from fine_tuning_assets.tasks.dedup.model import load_version_model
    from fine_tuning_assets.tasks.dedup.review_queue import build_review_queue, pending_pairs
    from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer
    from fine_tuning_assets.tasks.dedup.task import LABEL_ISSUES_FILE
    from fine_tuning_assets.tasks.dedup.training_set import dataset_path

    settings = _settings()
    registry = _registry(settings)
    pending = pending_pairs(_store(settings).pending())
    active = registry.active("dedup")
    texts = [(row[3], row[4]) for row in pending]
    recipe_probabilities: list = []
    if active is not None:
        model = load_version_model(active, name=active.label, all_recipes=True)
        by_recipe = model.predict_all(texts, model.recipes) if texts else {r: [] for r in model.recipes}
        probabilities = by_recipe[model.selected_recipe]
        recipe_probabilities = [by_recipe[r] for r in model.recipes if r != model.selected_recipe]
        scorer = f"{active.label} · {model.selected_recipe}"
    else:
        base = BaseCosineScorer(settings.base_model)
        probabilities = base.predict_proba(texts) if texts else []
        scorer = f"{base.name} (no dedup model is active: uncalibrated similarity)"
    dataset_version = args.dataset_version or (active.dataset_version if active else None)
    issues: list = []
    if dataset_version:
        issues_path = (
            ArtifactStore(settings.artifact_root).path(dataset_path(dataset_version)) / LABEL_ISSUES_FILE
        )
        if issues_path.is_file():
            issues = json.loads(issues_path.read_text(encoding="utf-8"))["issues"]
    queue = build_review_queue(
        pending, probabilities=probabilities, recipe_probabilities=recipe_probabilities, label_issues=issues
    )
    shown = queue[: args.limit] if args.limit else queue
    if args.json:
        print(json.dumps([item.to_dict() for item in shown], indent=2))
        return EXIT_OK
    print(
        f"review queue: {len(issues)} suspected label errors"
        + (f" (training set {dataset_version})" if dataset_version else "")
        + f", then {len(pending)} pending pairs ordered by what a decision would teach {scorer}"
    )
    _print_table(
        [
            {
                "#": rank,
                "kind": item.kind,
                "cluster": item.cluster_id,
                "pair": f"{item.insight_a_id} ~ {item.insight_b_id}",
                "P(merge)": item.probability,
                "why": item.why[:90],
            }
            for rank, item in enumerate(shown, 1)
        ],
        ["#", "kind", "cluster", "pair", "P(merge)", "why"],
    )
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fta", description="Turn human decisions into fine-tuned models.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_training_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--epochs", type=int, help="epochs of both fine-tunes (default: 2 each)")
        p.add_argument(
            "--max-train-minutes", type=float, help="wall-clock budget of all fine-tuning (default 30)"
        )
        p.add_argument(
            "--recipes",
            help="comma-separated recipes to try (default: bi-encoder,cross-encoder,stacker)",
        )

    def add_pair_file_options(p: argparse.ArgumentParser, *, file_option: bool = False) -> None:
        if file_option:
            p.add_argument("--file", help="CSV or JSONL file of pairs to score; a label column is ignored")
        else:
            p.add_argument("file")
        p.add_argument("--format", choices=["csv", "jsonl"], help="file format (default: from the extension)")
        p.add_argument("--text-a-column", default="text_a")
        p.add_argument("--text-b-column", default="text_b")
        p.add_argument("--label-column", default="label")
        p.add_argument(
            "--decided-at-column",
            default="decided_at",
            help="column with each decision's ISO time, when the file has it (default: decided_at)",
        )
        p.add_argument(
            "--positive", default="1", help="positive-label rule: 'score>=4', '>0.5', or values '1,yes'"
        )
        p.add_argument(
            "--negative", help="negative label values for a value-list rule ('*' = any other value)"
        )
        p.add_argument("--no-header", action="store_true", help="the file has no header row (give --columns)")
        p.add_argument("--columns", help="comma-separated column names, for files without a header")

    demo = commands.add_parser(
        "demo", help="seed the demo decisions (if the store is empty) and run the dedup chain"
    )
    add_training_options(demo)
    demo.set_defaults(handler=cmd_demo)

    run = commands.add_parser(
        "materialize", help="run a job of the dedup chain on the decisions in the store"
    )
    run.add_argument("--job", default="dedup_chain", choices=["dedup_chain", "dedup_data_prep"])
    add_training_options(run)
    run.set_defaults(handler=cmd_materialize)

    imp = commands.add_parser("import", help="import decisions from a CSV or JSONL file (all or nothing)")
    shapes = imp.add_subparsers(dest="shape", required=True)
    clusters = shapes.add_parser("clusters", help="cluster-shaped rows: one row per cluster member")
    clusters.add_argument("file")
    clusters.add_argument(
        "--format", choices=["csv", "jsonl"], help="file format (default: from the extension)"
    )
    clusters.set_defaults(handler=cmd_import)
    pairs = shapes.add_parser("pairs", help="labelled pairs text_a,text_b,label as other tools export them")
    add_pair_file_options(pairs)
    pairs.add_argument("--reviewer", default="import", help="reviewer recorded for these decisions")
    pairs.set_defaults(handler=cmd_import)

    decide = commands.add_parser("decide", help="record a reviewer's decision on a pending cluster")
    decide.add_argument("cluster_id")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true")
    verdict.add_argument("--reject", action="store_true")
    decide.add_argument("--reviewer", required=True)
    decide.add_argument(
        "--select", nargs="+", metavar="INSIGHT_ID", help="members that merge (with --approve)"
    )
    decide.set_defaults(handler=cmd_decide)

    counts = commands.add_parser("counts", help="show counts of insights and decisions in the feedback store")
    counts.add_argument("--json", action="store_true")
    counts.set_defaults(handler=cmd_counts)

    export = commands.add_parser("export", help="export training data")
    exports = export.add_subparsers(dest="what", required=True)
    training = exports.add_parser("training-data", help="labelled pairs as OpenAI chat JSONL, JSON or CSV")
    training.add_argument("--format", required=True, choices=["openai_jsonl", "json", "csv"])
    training.add_argument("--output", help="file to write (default: a name with the dataset version)")
    training.add_argument("--split", default="all", choices=["all", "train", "validation", "test"])
    training.add_argument(
        "--dataset-version", help="export a saved training set (default: build from the store now)"
    )
    training.add_argument("--stats", action="store_true", help="print counts by label, split and origin")
    training.set_defaults(handler=cmd_export_training_data)

    models = commands.add_parser("models", help="list, show, promote and roll back model versions")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list")
    listing.add_argument("--task", default=None)
    show = model_commands.add_parser("show")
    show.add_argument("version_id", type=int)
    promote = model_commands.add_parser("promote", help="make a staged version active")
    promote.add_argument("version_id", type=int)
    promote.add_argument("--reason", default="promoted by hand")
    promote.add_argument("--actor", default=os.environ.get("USER", "cli"))
    rollback = model_commands.add_parser(
        "rollback", help="roll back the active version: re-activate the previous (or a given) version"
    )
    rollback.add_argument(
        "version_id",
        type=int,
        help="the active version to roll back; refused (nothing changes) if another version is active by then",
    )
    rollback.add_argument(
        "--to", type=int, help="version id to re-activate (default: the previously active one)"
    )
    rollback.add_argument("--reason", required=True)
    rollback.add_argument("--actor", default=os.environ.get("USER", "cli"))
    reap = model_commands.add_parser(
        "reap",
        help="settle what crashed runs left: mark versions stuck in training/evaluating and their dead "
        "in-process Dagster runs failed, remove stale staging folders",
    )
    reap.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    reap.add_argument("--actor", default=os.environ.get("USER", "cli"))
    models.set_defaults(handler=cmd_models)

    evaluate = commands.add_parser("evaluate", help="evaluate models on an external labelled file")
    evaluations = evaluate.add_subparsers(dest="what", required=True)
    evaluate_pairs = evaluations.add_parser(
        "pairs", help="score labelled pairs with the active model, the base model and given versions"
    )
    add_pair_file_options(evaluate_pairs)
    evaluate_pairs.add_argument(
        "--model-version",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="also evaluate this version",
    )
    evaluate_pairs.add_argument(
        "--output", help="JSON report to write (default: FTA_HOME/evaluations/<file>-<time>.json)"
    )
    evaluate_pairs.set_defaults(handler=cmd_evaluate_pairs)

    queue = commands.add_parser(
        "review-queue",
        help="suspected label errors, then pending pairs ordered by how much a decision would teach the model",
    )
    queue.add_argument("--limit", type=int, default=30, help="rows to show (0: all)")
    queue.add_argument(
        "--dataset-version", help="training set whose label issues to list (default: the active model's)"
    )
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(handler=cmd_review_queue)

    predict = commands.add_parser(
        "predict-merge",
        help="band and probability for two statements, or for every pair of a file (--file)",
    )
    predict.add_argument("text_a", nargs="?")
    predict.add_argument("text_b", nargs="?")
    predict.add_argument("--json", action="store_true", help="print one pair's answer as JSON")
    predict.add_argument(
        "--allow-fallback",
        action="store_true",
        help=f"exit 0 when no trained model can serve and the base model answers (default: exit {EXIT_FALLBACK})",
    )
    add_pair_file_options(predict, file_option=True)
    predict.add_argument(
        "--output",
        help="with --file: write the predictions here (.csv or .jsonl; default: JSON Lines on stdout)",
    )
    predict.add_argument("--batch-size", type=int, default=256, help="pairs scored together (default 256)")
    predict.set_defaults(handler=cmd_predict_merge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from fine_tuning_assets.core.artifacts import ArtifactError
    from fine_tuning_assets.core.base_model import ModelLoadError
    from fine_tuning_assets.core.database import DatabaseUnavailableError
    from fine_tuning_assets.core.registry import RegistryError
    from fine_tuning_assets.tasks.dedup.imports import DecisionImportError
    from fine_tuning_assets.tasks.dedup.store import FeedbackStoreError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (
        CliError,
        ConfigurationError,
        DecisionImportError,
        FeedbackStoreError,
        RegistryError,
        DatabaseUnavailableError,
        ModelLoadError,
        ArtifactError,
        ValueError,
    ) as error:
        print(f"fta: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # a file or folder that cannot be read or written: say which and why
        where = f": {error.filename}" if error.filename else ""
        print(f"fta: error: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_ERROR
    except (
        SQLAlchemyError
    ) as error:  # a database error no check above foresaw: the message, never a traceback
        detail = getattr(error, "orig", None) or error
        print(f"fta: error: the database refused the operation: {detail}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
