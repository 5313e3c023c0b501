"""`fta demo` and `fta materialize`: run a task's chain on the persistent Dagster instance."""

from __future__ import annotations

import argparse
import time
from typing import Any

from fine_tuning_assets.cli.common import (
    EXIT_GATE_REFUSED,
    EXIT_OK,
    CliError,
    dagster_instance,
    load_settings,
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


def add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, help="epochs of every fine-tune of the task's recipe search")
    p.add_argument(
        "--max-train-minutes", type=float, help="wall-clock budget of all fine-tuning (default 30)"
    )
    p.add_argument(
        "--recipes",
        help="comma-separated recipes to try (dedup: bi-encoder,cross-encoder,stacker; triage and signals: "
        "tfidf-lr,embedding-lr,setfit,stack,stack-setfit,finetune-lr,stack-finetune; retrieval: "
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
