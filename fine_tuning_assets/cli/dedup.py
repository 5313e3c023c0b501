"""The dedup task's commands: import decisions, decide, counts, export, evaluate pairs, predict-merge, review-queue."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_FALLBACK,
    EXIT_OK,
    CliError,
    add_model_version_option,
    check_writable,
    count_noun,
    evaluation_output,
    exit_for_fallback,
    load_settings,
    open_engine,
    open_registry,
    print_table,
)
from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.tasks.dedup.records import list_problems


def errors() -> tuple[type[Exception], ...]:
    """The dedup task's errors the CLI reports as one clear message."""
    from fine_tuning_assets.tasks.dedup.imports import DecisionImportError
    from fine_tuning_assets.tasks.dedup.store import FeedbackStoreError

    return (DecisionImportError, FeedbackStoreError)


#: `fta demo`'s dedup search: every recipe inside a 2-minute fine-tuning budget (the task's default is 30), so
#: that the four demos fit in 10 minutes on 2 cores; `fta materialize` uses the full defaults.
DEMO_CANDIDATE_CONFIG = {"max_train_minutes": 2.0}


def seed_demo(settings: Settings) -> None:
    """Seed the feedback store with the demo decisions, unless it already holds clusters."""
    from fine_tuning_assets.tasks.dedup.demo import generate_demo_decisions

    store = _store(settings)
    counts = store.counts()
    if counts["clusters"]:
        print(
            f"the feedback store at {settings.home} already holds {counts['clusters']} clusters; "
            "using them as they are (delete that folder to start over)"
        )
        return
    batch = generate_demo_decisions()
    summary = store.add_decisions(batch, kind="demo", source="fine_tuning_assets.tasks.dedup.demo")
    print(
        f"seeded the feedback store at {settings.home} with the dedup demo: {summary.insight_count} insights, "
        f"{summary.cluster_count} clusters ({summary.decided_cluster_count} decided)"
    )


def _store(settings: Settings):
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    return FeedbackStore(open_engine(settings))


def cmd_import(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.imports import parse_cluster_rows

    settings = load_settings()
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
            f"{count_noun(len(batch.duplicates), 'duplicate row')} (the decision of an earlier row, stored once):"
        )
        print(list_problems(batch.duplicates))
    already = len(summary.already_present)
    duplicates = (
        f"; {count_noun(len(batch.duplicates), 'duplicate row')} in the file" if batch.duplicates else ""
    )
    if summary.batch_id is None:
        print(
            f"nothing new in {path}: all {count_noun(already, 'cluster')} are already in the feedback store"
            f"{duplicates}; nothing was written"
        )
        return EXIT_OK
    changed = len(summary.changed)
    print(
        f"imported {path}: {summary.new_cluster_count - changed} new, {changed} changed, {already} already "
        f"present (not stored again){duplicates}; {count_noun(summary.new_insight_count, 'new insight')}; "
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
    cluster = _store(load_settings()).record_decision(
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
    counts = _store(load_settings()).counts()
    if args.json:
        print(json.dumps(counts, indent=2))
    else:
        for key, value in counts.items():
            print(f"{key:>20}: {value}")
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
    print_table(rows, list(rows[0]))


def print_evaluation(version) -> None:  # noqa: ANN001
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


def cmd_evaluate_pairs(args: argparse.Namespace) -> int:

    from fine_tuning_assets.core.artifacts import write_json_atomic
    from fine_tuning_assets.tasks.dedup.external_evaluation import evaluate_labelled_pairs, labelled_pairs

    settings = load_settings()
    path = Path(args.file)
    batch = _parse_pair_file(args)
    output = evaluation_output(settings, args.output, name=path.stem)
    for note in batch.skipped:
        print(f"skipped {note}")
    pairs, labels = labelled_pairs(batch)
    print(f"evaluating on {len(pairs)} labelled pairs ({int(labels.sum())} merges) from {path}")
    report = evaluate_labelled_pairs(
        pairs,
        labels,
        registry=open_registry(settings),
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


def cmd_predict_merge(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.prediction import MergePredictor

    if (args.file is None) == (args.text_a is None or args.text_b is None) or (
        args.file is not None and args.text_a is not None
    ):
        raise CliError("give two statements, or --file with the pairs to score (not both)")
    if args.file is None and args.output:
        raise CliError("--output goes with --file; one pair's answer is printed")
    settings = load_settings()
    pairs = _pairs_to_score(args) if args.file else None
    output_format = _output_format(Path(args.output)) if args.output else None
    predictor = MergePredictor.load(registry=open_registry(settings), base_model=settings.base_model)
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
    return exit_for_fallback(
        predictor.fallback_reason, allow_fallback=args.allow_fallback, what="the decisions above"
    )


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
    check_writable(output, what="the predictions")
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

    settings = load_settings()
    registry = open_registry(settings)
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
    print_table(
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
    p.add_argument("--negative", help="negative label values for a value-list rule ('*' = any other value)")
    p.add_argument("--no-header", action="store_true", help="the file has no header row (give --columns)")
    p.add_argument("--columns", help="comma-separated column names, for files without a header")


def add_commands(commands: Any, imports: Any, evaluations: Any) -> None:
    """The dedup task's subcommands: `fta import clusters|pairs`, `decide`, `counts`,
    `evaluate pairs`, `review-queue`, `predict-merge`."""
    shapes = imports
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

    evaluate_pairs = evaluations.add_parser(
        "pairs", help="score labelled pairs with the active model, the base model and given versions"
    )
    add_pair_file_options(evaluate_pairs)
    add_model_version_option(evaluate_pairs)
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
