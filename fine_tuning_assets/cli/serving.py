"""Serving commands: `fta serve` (the HTTP API), `fta check-insight`, `fta cluster-all`,
`fta models live-accuracy` (added to `fta models`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_OK,
    CliError,
    exit_for_fallback,
    load_settings,
    open_engine,
    open_registry,
    print_table,
)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fine_tuning_assets.api.app import create_app

    settings = load_settings()
    if not os.environ.get("DAGSTER_HOME") and Path("dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())  # runs started through the API go to this instance
    if not os.environ.get("FTA_API_TOKEN"):
        print(
            "fta serve: FTA_API_TOKEN is not set: admin endpoints (runs, exports, promote, rollback, "
            "decisions, insight checks) will answer 403",
            file=sys.stderr,
        )
    app = create_app(settings, refresh_seconds=args.refresh_seconds)
    print(f"serving on http://{args.host}:{args.port} (OpenAPI: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return EXIT_OK


def _loaded_dedup(settings):  # noqa: ANN001, ANN202
    from fine_tuning_assets.serving.model_cache import ModelCache
    from fine_tuning_assets.tasks.dedup import TASK
    from fine_tuning_assets.tasks.dedup.serving import load_predictor

    registry = open_registry(settings)
    cache = ModelCache(
        active_version=lambda _task: None,
        loaders={TASK: lambda: load_predictor(registry, base_model=settings.base_model)},
    )
    return cache.get(TASK)


def _insight_index(settings, *, progress: bool):  # noqa: ANN001, ANN202
    from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    index = InsightIndex.open(
        FeedbackStore(open_engine(settings)),
        settings.home / "serving" / "indexes",
        base_model=settings.base_model,
        progress=(lambda message: print(message, file=sys.stderr)) if progress else None,
    )
    return index


def cmd_check_insight(args: argparse.Namespace) -> int:
    from fine_tuning_assets.tasks.dedup.ingestion import check_insight
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    settings = load_settings()
    engine = open_engine(settings)
    loaded = _loaded_dedup(settings)
    index = _insight_index(settings, progress=not args.json)
    check = check_insight(
        args.text,
        store=FeedbackStore(engine),
        index=index,
        loaded=loaded,
        engine=engine,
        insight_id=args.id,
        save=not args.dry_run,
        k=args.k,
    )
    index.save_if_due()  # a large build saved itself; one new insight is synced from the store next time
    if args.json:
        print(json.dumps(asdict(check), indent=2, default=str, ensure_ascii=False))
    else:
        if check.fallback_reason:
            print(f"FALLBACK to base similarity: {check.fallback_reason}")
        best = check.best_match
        if best is None:
            print("no stored insight to compare with")
        else:
            print(
                f"best match: {best.insight_id} ({best.statement!r})\n"
                f"  probability {best.probability:.4f}  band {best.band}  by {check.model}"
            )
        print(f"insight {check.insight_id}: {'stored' if check.stored else 'not stored'}")
        if check.cluster_id:
            print(
                f"pending cluster {check.cluster_id} created for review (priority {check.cluster_priority})"
            )
        for note in check.notes:
            print(note)
        print(f"checked against {len(index.index)} insights in {check.latency_ms:.0f} ms")
    return exit_for_fallback(
        check.fallback_reason, allow_fallback=args.allow_fallback, what="the answer above"
    )


def cmd_cluster_all(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fine_tuning_assets.tasks.dedup.ingestion import cluster_all
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    settings = load_settings()
    engine = open_engine(settings)
    loaded = _loaded_dedup(settings)
    index = _insight_index(settings, progress=True)
    bar = tqdm(desc="finding candidates", unit="insight", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    report = cluster_all(
        store=FeedbackStore(engine),
        index=index,
        loaded=loaded,
        k=args.k,
        save=not args.dry_run,
        progress=progress,
    )
    bar.close()
    index.save_if_due()
    if report.fallback_reason:
        print(f"FALLBACK to base similarity: {report.fallback_reason}")
    high = sum(c.priority == "high" for c in report.clusters)
    print(
        f"{report.insights} insights, {report.pairs_scored} candidate pairs scored by {report.model}: "
        f"{len(report.clusters)} proposed clusters ({high} high priority); "
        + (
            "none written (--dry-run)"
            if args.dry_run
            else f"{report.new_clusters} new pending clusters stored"
        )
    )
    return exit_for_fallback(
        report.fallback_reason, allow_fallback=args.allow_fallback, what="the clusters above"
    )


def cmd_live_accuracy(args: argparse.Namespace) -> int:
    from fine_tuning_assets.serving.prediction_log import live_accuracy, served_versions
    from fine_tuning_assets.tasks import TASKS

    settings = load_settings()
    engine = open_engine(settings)
    registry = open_registry(settings)
    tasks = {t.name: t for t in TASKS}
    if args.task and args.task not in tasks:
        raise CliError(f"no task {args.task!r}; the tasks are {', '.join(tasks)}")
    if args.version is not None:
        version = registry.get(args.version)
        wanted = [(version.task, version.id)]
    else:
        wanted = served_versions(engine, task=args.task)
    reports = [
        live_accuracy(
            engine,
            task=task,
            positive=tasks[task].positive_label,
            model_version_id=version_id,
            fallback=version_id is None,
            limit=args.limit,
        )
        for task, version_id in wanted
    ]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, default=str, ensure_ascii=False))
        return EXIT_OK
    if not reports:
        print("no predictions logged yet: they are logged when `fta serve` or `fta check-insight` answers")
        return EXIT_OK
    rows: list[dict[str, Any]] = [
        {
            "task": r.task,
            "model": registry.get(r.model_version_id).label if r.model_version_id else "base (fallback)",
            "predictions": r.predictions,
            "decided": r.with_outcome,
            "accuracy": r.accuracy,
            "precision": r.precision,
            "override rate": r.override_rate,
            "latency ms": r.mean_latency_ms,
        }
        for r in reports
    ]
    print_table(rows, list(rows[0]))
    for report in reports:
        if report.misclassifications:
            print(f"\nmost confident mistakes of {report.task} version {report.model_version_id or 'base'}:")
            print_table(
                [
                    {
                        "prediction": m.prediction,
                        "human": m.actual,
                        "probability": m.probability,
                        "inputs": json.dumps(m.inputs, ensure_ascii=False)[:100],
                    }
                    for m in report.misclassifications
                ],
                ["prediction", "human", "probability", "inputs"],
            )
    return EXIT_OK


def add_commands(commands: Any, model_commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve predictions and admin over HTTP (FastAPI; /docs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--refresh-seconds",
        type=float,
        default=1.0,
        help="how often the registry is checked for a promotion or rollback (default 1)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=cmd_serve)
    check = commands.add_parser(
        "check-insight",
        help="check a new insight against every stored one (vector index + the active pair model)",
    )
    check.add_argument("text")
    check.add_argument("--id", help="the insight's id (default: derived from its text)")
    check.add_argument("--k", type=int, default=20, help="candidates scored by the pair model (default 20)")
    check.add_argument(
        "--dry-run", action="store_true", help="store nothing (the prediction is still logged)"
    )
    check.add_argument("--json", action="store_true")
    check.add_argument(
        "--allow-fallback", action="store_true", help="exit 0 even when the base model answered"
    )
    check.set_defaults(handler=cmd_check_insight)
    cluster = commands.add_parser(
        "cluster-all", help="propose pending clusters over the whole store with the active pair model"
    )
    cluster.add_argument("--k", type=int, default=5, help="candidates per insight (default 5)")
    cluster.add_argument("--dry-run", action="store_true", help="say what would be proposed, store nothing")
    cluster.add_argument("--allow-fallback", action="store_true")
    cluster.set_defaults(handler=cmd_cluster_all)
    live = model_commands.add_parser(
        "live-accuracy", help="how each served model version did on the items humans decided later"
    )
    live.add_argument("--task", default=None)
    live.add_argument("--version", type=int, default=None, help="one model version id")
    live.add_argument("--limit", type=int, default=10, help="misclassifications listed per version")
    live.add_argument("--json", action="store_true")
    live.set_defaults(handler=cmd_live_accuracy)
