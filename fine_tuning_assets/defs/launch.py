"""Running a task's job on the persistent Dagster instance: in this process (``fta materialize``, ``fta
demo``), or in a new process that outlives the caller (the HTTP API's ``POST /api/runs``).

Either way the run executes in-process in the process that owns it, tagged with that process's host and id,
so that if it dies :mod:`fine_tuning_assets.defs.crash_recovery` can tell and settle what it left behind.
:func:`launch_job` checks the job and its run config first, picks the run id, starts
``python -m fine_tuning_assets.definitions`` (the code location, which calls :func:`main`) and returns the id
at once; :func:`run_status` follows the run. The callers pass the project's Definitions (``definitions.py``
builds them from the task list, above this module).

Example (a bad run config is refused before anything starts):
    >>> from fine_tuning_assets.core.config import Settings
    >>> from fine_tuning_assets.definitions import build_definitions
    >>> definitions = build_definitions(Settings.from_env({"FTA_HOME": "fta-doctest"}))
    >>> launch_job(definitions, job_name="dedup_chain", run_config={"ops": {"nope": {}}},
    ...            log_folder="fta-doctest/runs")
    Traceback (most recent call last):
    ...
    fine_tuning_assets.defs.launch.LaunchError: the run config of dedup_chain is not valid: ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterInvalidConfigError, Definitions, validate_run_config
from dagster._core.utils import make_new_run_id

from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.processes import process_is_running
from fine_tuning_assets.defs.crash_recovery import in_process_run_tags

#: The tag naming who asked for a run.
LAUNCHED_BY_TAG = "fta/launched_by"


class LaunchError(ValueError):
    """A job that does not exist, or a run config it does not accept: nothing was started."""


class InstanceUnavailableError(RuntimeError):
    """There is no Dagster instance to run on (DAGSTER_HOME is not set): nothing was started."""


def execute_job(
    definitions: Definitions,
    instance: DagsterInstance,
    *,
    job_name: str,
    run_config: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
):  # -> ExecuteInProcessResult
    """Execute a job of ``definitions`` in this process on ``instance`` (tagged with this process)."""
    return definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        run_config=dict(run_config or {}),
        raise_on_error=False,
        run_id=run_id,
        tags={**(tags or {}), **in_process_run_tags()},
    )


def launch_job(
    definitions: Definitions,
    *,
    job_name: str,
    run_config: Mapping[str, Any] | None,
    log_folder: str | Path,
    launched_by: str = "api",
) -> str:
    """Check ``job_name`` and ``run_config``, then start the run in a new process; its run id. The process's
    output goes to ``log_folder/<run id>.log``. LaunchError when the job or its config is not valid."""
    known = sorted(job.name for job in definitions.resolve_all_job_defs() if not job.name.startswith("__"))
    if job_name not in known:
        raise LaunchError(f"no job {job_name!r}; the jobs are {', '.join(known)}")
    try:
        validate_run_config(definitions.resolve_job_def(job_name), dict(run_config or {}))
    except DagsterInvalidConfigError as error:
        problems = "; ".join(e.message for e in error.errors) or str(error)
        raise LaunchError(f"the run config of {job_name} is not valid: {problems}") from None
    if not os.environ.get("DAGSTER_HOME"):
        raise InstanceUnavailableError(
            "DAGSTER_HOME is not set: there is no Dagster instance to run on (start `fta serve` from the "
            "project folder, or set DAGSTER_HOME to the folder holding dagster.yaml)"
        )
    run_id = make_new_run_id()
    folder = Path(log_folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{run_id}.log").open("wb") as log:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fine_tuning_assets.definitions",
                "--run-id",
                run_id,
                "--job",
                job_name,
                "--run-config",
                json.dumps(run_config or {}),
                "--launched-by",
                launched_by,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the run outlives the server that started it
            env=os.environ.copy(),
        )
    return run_id


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    job_name: str | None
    status: str
    start_time: float | None
    end_time: float | None
    message: str | None = None


def run_status(instance: DagsterInstance, run_id: str, *, log_folder: str | Path) -> RunStatus | None:
    """The run's Dagster status; ``STARTING`` while its process has not created the run yet; None when no
    such run was started here."""
    run = instance.get_run_by_id(run_id)
    if run is not None:
        record = instance.get_run_record_by_id(run_id)
        return RunStatus(
            run_id=run_id,
            job_name=run.job_name,
            status=run.status.value,
            start_time=record.start_time if record else None,
            end_time=record.end_time if record else None,
            message=None,
        )
    log = Path(log_folder) / f"{run_id}.log"
    if not log.is_file():
        return None
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    started = "FTA_LAUNCH_PID=" in tail
    if started and process_is_running(int(tail.split("FTA_LAUNCH_PID=")[1].split()[0])):
        return RunStatus(run_id, None, "STARTING", None, None, "the run's process is loading the project")
    if not started:
        return RunStatus(run_id, None, "STARTING", None, None, "the run's process is starting")
    return RunStatus(
        run_id, None, "FAILURE", None, None, f"the run's process ended before the run began: {tail}"
    )


def main(build: Callable[[Settings], Definitions], argv: list[str] | None = None) -> int:
    """The launched run's process: execute the run :func:`launch_job` named, with the Definitions ``build``
    makes from the environment's settings."""
    parser = argparse.ArgumentParser(description="execute a launched run (started by launch_job)")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--run-config", default="{}")
    parser.add_argument("--launched-by", default="api")
    args = parser.parse_args(argv)
    print(f"FTA_LAUNCH_PID={os.getpid()}", flush=True)
    result = execute_job(
        build(Settings.from_env()),
        DagsterInstance.get(),
        job_name=args.job,
        run_config=json.loads(args.run_config),
        run_id=args.run_id,
        tags={LAUNCHED_BY_TAG: args.launched_by},
    )
    print(f"run {result.run_id}: {'success' if result.success else 'failure'}", flush=True)
    return 0 if result.success else 1
