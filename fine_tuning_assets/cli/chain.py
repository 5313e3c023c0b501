"""`fta demo` and `fta materialize`: run a task's chain on the persistent Dagster instance; `fta export
training-data`: a task's training data as files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_GATE_REFUSED,
    EXIT_OK,
    CliError,
    dagster_instance,
    load_settings,
    open_engine,
    print_run_summary,
    require_writable_home,
    run_chain,
)


def chain_run_config(
    args: argparse.Namespace, task_name: str, *, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run config of the task's candidate step from the training options: ``--epochs`` sets every fine-tune
    of the task's recipe search, ``--max-train-minutes`` and ``--recipes`` the search itself; ``defaults``
    (the demo's smaller search) come first."""
    import dataclasses

    from fine_tuning_assets.core.fine_tuning import FineTuningConfig
    from fine_tuning_assets.tasks import task_named

    task = task_named(task_name)
    candidate: dict[str, Any] = dict(defaults or {})
    if args.epochs is not None:
        for spec in dataclasses.fields(task.candidate_config):
            if isinstance(spec.default, FineTuningConfig):
                candidate[spec.name] = {"epochs": args.epochs}
    if args.max_train_minutes is not None:
        candidate["max_train_minutes"] = args.max_train_minutes
    if args.recipes:
        candidate["recipes"] = [r.strip() for r in args.recipes.split(",") if r.strip()]
    return {"ops": {f"{task.name}_candidate_model": {"config": candidate}}} if candidate else {}


def job_of(args: argparse.Namespace) -> tuple[str, str]:
    """The job to run and its task: ``--job`` as given, else ``--task``'s whole chain (default dedup)."""
    from fine_tuning_assets.tasks import TASKS

    if args.job:
        for task in TASKS:
            if args.job in (f"{task.name}_chain", f"{task.name}_data_prep"):
                return args.job, task.name
        jobs = [f"{t.name}_{kind}" for t in TASKS for kind in ("chain", "data_prep")]
        raise CliError(f"no job {args.job!r}; the jobs are {', '.join(jobs)}")
    return f"{args.task}_chain", args.task


def cmd_materialize(args: argparse.Namespace) -> int:
    settings = load_settings()
    job, task = job_of(args)
    require_writable_home(settings, command="materialize")
    started = time.perf_counter()
    instance = dagster_instance()
    result = run_chain(settings, instance, job_name=job, run_config=chain_run_config(args, task))
    return print_run_summary(
        settings, instance, result, seconds=time.perf_counter() - started, printers=evaluation_printers()
    )


def evaluation_printers() -> dict[str, Any]:
    from fine_tuning_assets.cli import TASK_COMMANDS

    return {name: module.print_evaluation for name, module in TASK_COMMANDS.items()}


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed every task's demo data (into an empty store) and run every task's chain, one after the other."""
    from fine_tuning_assets.cli import TASK_COMMANDS

    settings = load_settings()
    require_writable_home(settings, command="demo")
    names = [args.task] if args.task else list(TASK_COMMANDS)
    for name in names:
        TASK_COMMANDS[name].seed_demo(settings)
    instance = dagster_instance()
    codes = []
    for name in names:
        started = time.perf_counter()
        print(
            f"\nmaterializing the {name} chain (feedback → training set → candidate → evaluation → active model)…"
        )
        demo_defaults = getattr(TASK_COMMANDS[name], "DEMO_CANDIDATE_CONFIG", None)
        result = run_chain(
            settings,
            instance,
            job_name=f"{name}_chain",
            run_config=chain_run_config(args, name, defaults=demo_defaults),
        )
        code = print_run_summary(
            settings, instance, result, seconds=time.perf_counter() - started, printers=evaluation_printers()
        )
        if code == EXIT_GATE_REFUSED:
            # In the demo a refused gate is an outcome to show, not an error: the chain did its job.
            print(
                f"\nthe {name} demo finished: the gate kept the candidate out of production, as it should when it "
                "does not win"
            )
            code = EXIT_OK
        codes.append(code)
    return max(codes)


def cmd_export_training_data(args: argparse.Namespace) -> int:
    """A task's training data (a saved training set, or built from the store now) as OpenAI chat JSONL, the
    task's JSON records, or those records as CSV (nested fields as dotted columns); written atomically."""
    import pandas as pd

    from fine_tuning_assets.core.artifacts import ArtifactStore, write_json_atomic, write_text_atomic
    from fine_tuning_assets.core.task import TaskDataError, TaskSettings
    from fine_tuning_assets.tasks import task_named

    settings = load_settings()
    task = task_named(args.task)
    try:
        export = task.export_training_data(
            open_engine(settings),
            ArtifactStore(settings.artifact_root),
            dataset_version=args.dataset_version,
            split=args.split,
            settings=TaskSettings(
                min_examples=settings.min_examples_per_class, base_model=settings.base_model
            ),
        )
    except TaskDataError as error:
        raise CliError(str(error)) from error
    records = export.in_format("openai_jsonl" if args.format == "openai_jsonl" else "json")
    extension = {"openai_jsonl": "jsonl", "json": "json", "csv": "csv"}[args.format]
    version = export.dataset_version or "now"
    output = Path(args.output or f"{task.name}_training_data_{version}_{args.split}.{extension}")
    if args.format == "openai_jsonl":
        write_text_atomic(
            output,
            lambda stream: stream.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        )
    elif args.format == "json":
        write_json_atomic(output, {"origin": export.origin, "stats": export.stats, "records": records})
    else:
        frame = pd.json_normalize(records)
        for column in frame.columns:  # lists stay JSON in their cell
            frame[column] = frame[column].map(lambda v: json.dumps(v) if isinstance(v, list | dict) else v)
        write_text_atomic(output, lambda stream: frame.to_csv(stream, index=False), newline="")
    print(f"wrote {len(records)} {task.name} examples from {export.origin} to {output}")
    if args.stats:
        print(json.dumps(export.stats, indent=2, default=str))
    return EXIT_OK


def add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, help="epochs of every fine-tune of the task's recipe search")
    p.add_argument(
        "--max-train-minutes", type=float, help="wall-clock budget of all fine-tuning (default 30)"
    )
    p.add_argument(
        "--recipes",
        help="comma-separated recipes to try (dedup: bi-encoder,cross-encoder,stacker; triage and signals: "
        "tfidf-lr,embedding-lr,setfit,stack,stack-setfit,finetune-lr,stack-finetune,blend-finetune,"
        "blend-setfit-finetune; retrieval: "
        "base-hybrid,bi-encoder,hybrid,cross-encoder-reranker)",
    )


def add_commands(commands: Any, *, tasks: list[str]) -> None:
    """`fta demo` and `fta materialize`."""
    demo = commands.add_parser(
        "demo", help="seed every task's demo data (if its store is empty) and run every task's chain"
    )
    demo.add_argument("--task", choices=tasks, help="only this task's demo (default: all)")
    add_training_options(demo)
    demo.set_defaults(handler=cmd_demo)

    run = commands.add_parser("materialize", help="run a task's chain on the decisions in the store")
    which = run.add_mutually_exclusive_group()
    which.add_argument(
        "--task", choices=tasks, default="dedup", help="run this task's whole chain (default dedup)"
    )
    which.add_argument("--job", help="a job by name: <task>_chain or <task>_data_prep (e.g. dedup_data_prep)")
    add_training_options(run)
    run.set_defaults(handler=cmd_materialize)

    export = commands.add_parser("export", help="export training data")
    exports = export.add_subparsers(dest="what", required=True)
    training = exports.add_parser(
        "training-data", help="a task's labelled examples as OpenAI chat JSONL, JSON records or CSV"
    )
    training.add_argument(
        "--task", choices=tasks, default="dedup", help="whose training data (default dedup)"
    )
    training.add_argument("--format", required=True, choices=["openai_jsonl", "json", "csv"])
    training.add_argument("--output", help="file to write (default: a name with the dataset version)")
    training.add_argument("--split", default="all", choices=["all", "train", "validation", "test"])
    training.add_argument(
        "--dataset-version", help="export a saved training set (default: build from the store now)"
    )
    training.add_argument("--stats", action="store_true", help="print counts by label, split and origin")
    training.set_defaults(handler=cmd_export_training_data)
