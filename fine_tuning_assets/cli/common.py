"""What every `fta` command shares: settings, the database, exit codes, errors, tables, running a job."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.config import ConfigurationError, Settings  # noqa: F401

EXIT_OK, EXIT_ERROR, EXIT_GATE_REFUSED, EXIT_FALLBACK = 0, 1, 3, 4


class CliError(Exception):
    """An error the CLI reports as one clear message (exit code 1)."""


def load_settings() -> Settings:
    return Settings.from_env()


def open_engine(settings: Settings):  # -> Engine
    from fine_tuning_assets.core.database import open_database

    return open_database(settings.database_url)


def open_registry(settings: Settings):
    from fine_tuning_assets.core.registry import ModelRegistry

    return ModelRegistry(open_engine(settings))


def check_writable(path: Path, *, what: str) -> None:
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


def add_model_version_option(parser: Any) -> None:
    """`fta evaluate …`'s ``--model-version ID`` (repeatable): versions evaluated beside the active one."""
    parser.add_argument(
        "--model-version",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="also evaluate this version",
    )


def evaluation_output(settings: Settings, output: str | None, *, name: str) -> Path:
    """Where `fta evaluate` writes its report: ``output``, else FTA_HOME/evaluations/<name>-<time>.json;
    checked writable before any work is done."""
    from datetime import UTC, datetime

    path = (
        Path(output)
        if output
        else settings.home / "evaluations" / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    )
    try:
        check_writable(path, what="the evaluation report")
    except CliError as error:
        hint = "" if output else "; pass --output with a file in a writable folder"
        raise CliError(f"{error}{hint}") from None
    return path


def require_writable_home(settings: Settings, *, command: str) -> None:
    """`fta demo` and `fta materialize` keep models and training sets under FTA_HOME: say so up front when it
    cannot be written, rather than failing in the middle of a run."""
    try:
        check_writable(settings.artifact_root / "write-check", what="artifacts")
    except CliError as error:
        raise CliError(
            f"FTA_HOME {settings.home} is not writable: {error}. fta {command} keeps its database, training "
            "sets and models there; set FTA_HOME to a writable folder"
        ) from None


def exit_for_fallback(fallback_reason: str | None, *, allow_fallback: bool, what: str) -> int:
    """EXIT_FALLBACK (4) with a message on stderr when the base model answered (``fallback_reason``) and
    ``--allow-fallback`` was not given; EXIT_OK otherwise. ``what``: what came from the fallback."""
    if fallback_reason and not allow_fallback:
        print(
            f"fta: {what} came from the base-model fallback ({fallback_reason}), not a trained model; pass "
            "--allow-fallback to accept it",
            file=sys.stderr,
        )
        return EXIT_FALLBACK
    return EXIT_OK


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return "–" if value is None else str(value)

    widths = [max(len(c), *(len(cell(r.get(c))) for r in rows)) if rows else len(c) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))


def count_noun(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def dagster_instance():  # -> DagsterInstance
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
    """Materialize a job of the project's Definitions in-process on the persistent Dagster instance (see
    :func:`fine_tuning_assets.defs.launch.execute_job`: the run is tagged with this process, so that if it
    dies `fta models reap` or the next training run can tell and report it failed)."""
    from fine_tuning_assets.definitions import build_definitions
    from fine_tuning_assets.defs.launch import LAUNCHED_BY_TAG, execute_job

    return execute_job(
        build_definitions(settings),
        instance,
        job_name=job_name,
        run_config=run_config,
        tags={LAUNCHED_BY_TAG: "cli"},
    )


def step_seconds(instance, run_id: str) -> dict[str, float]:  # noqa: ANN001
    """Seconds each step of a run took, from the Dagster instance's step stats."""
    return {
        stats.step_key: (stats.end_time or stats.start_time or 0.0) - (stats.start_time or 0.0)
        for stats in instance.get_run_step_stats(run_id)
    }


def print_run_summary(
    settings: Settings,
    instance,  # noqa: ANN001
    result,  # noqa: ANN001
    *,
    seconds: float,
    printers: Mapping[str, Callable[[Any], None]],
) -> int:
    """Steps and their times, failures, each evaluated version (printed by its task's ``printers[task]``)
    and the active model of each task the run touched; the exit code (3: a promotion gate refused)."""
    from dagster import DagsterEventType

    print(
        f"\nDagster run {result.run_id}: {'succeeded' if result.success else 'did not complete'} in {seconds:.0f}s"
    )
    steps = step_seconds(instance, result.run_id)
    for step, taken in steps.items():
        print(f"  {step:<30} {taken:7.1f}s")
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            print(f"\nstep {event.step_key} failed: {error.message.strip() if error else 'unknown error'}")
    registry = open_registry(settings)
    # The versions this run evaluated, by the ids their <task>_evaluation steps recorded.
    refused = False
    tasks = [name for name in printers if any(step.startswith(f"{name}_") for step in steps)]
    for event in result.get_asset_materialization_events():
        key = event.asset_key.path[-1]
        task = key.removesuffix("_evaluation")
        if key.endswith("_evaluation") and task in printers:
            evaluated = registry.get(int(event.materialization.metadata["candidate_version_id"].value))
            printers[task](evaluated)
            refused = refused or not evaluated.evaluation["gate"]["passed"]
    for task in tasks:
        active = registry.active(task)
        print(
            f"\nactive {task} model: {active.label if active else 'none (serving falls back to the base model)'}"
        )
    print(
        "\nOpen it in the Dagster UI:\n"
        f"  DAGSTER_HOME={os.environ.get('DAGSTER_HOME', Path.cwd())} .venv/bin/dagster dev\n"
        f"  then browse http://127.0.0.1:3000/asset-groups (group {', '.join(repr(t) for t in tasks)}) and the run above."
    )
    if not result.success:
        return EXIT_GATE_REFUSED if refused else EXIT_ERROR
    return EXIT_OK
