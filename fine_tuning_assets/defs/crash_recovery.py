"""Clearing what a crashed run left behind: versions stuck in training, runs stuck in STARTED, staging
folders in the artifact store.

A run killed with ``kill -9`` (or by the out-of-memory killer, or a reboot) cannot clean up after itself:
its model version stays ``training`` (or ``evaluating``), the Dagster run stays ``STARTED`` and the folder
it was writing stays in the artifact store. :func:`reap_abandoned_work` finds them and settles them; it
runs at the start of every training step and as ``fta models reap``.

Who is dead:

* a Dagster run executed in-process by ``fta`` (``fta demo``/``fta materialize``: no daemon watches those)
  carries its host and process id as tags; when that process is gone, the run is reported failed to the
  instance. Runs launched by the daemon or the webserver are Dagster's to judge (run monitoring,
  ``dagster.yaml``);
* a version in flight is abandoned when its Dagster run was found dead above, or has finished while the
  version was in training (or in evaluation, unless the run succeeded: a run of the candidate step alone
  leaves its version for a later evaluation), or, for a version in ``training``, when the process that
  registered it, on this host, is gone (that process alone would move it on). A version whose owner runs
  on another host is left to that host's runs;
* a staging folder is removed when it is older than every run still in progress and every version still
  in flight (a write in progress has one too, created after its run started and its version registered).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.processes import RunOwner, process_is_running, this_host
from fine_tuning_assets.core.registry import ModelRegistry, ModelVersion

RUN_HOST_TAG = "fta/host"
RUN_PID_TAG = "fta/pid"

#: Runs that may be working (a run queued or not started yet has written nothing).
_RUNNING = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
_FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def in_process_run_tags() -> dict[str, str]:
    """Tags for a run this process executes itself (``execute_in_process``): its host and process id, so a
    crash of this process can be told from a run still going."""
    owner = RunOwner.of_this_process(None)
    return {RUN_HOST_TAG: owner.host, RUN_PID_TAG: str(owner.pid)}


@dataclass
class ReapReport:
    """What :func:`reap_abandoned_work` settled (or, in a dry run, would settle)."""

    dry_run: bool
    failed_runs: list[tuple[str, str]] = field(default_factory=list)
    failed_versions: list[tuple[str, str]] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.failed_runs or self.failed_versions or self.removed)

    def lines(self) -> list[str]:
        mark, remove = ("would mark", "would remove") if self.dry_run else ("marked", "removed")
        return [
            *(f"Dagster run {run_id}: {mark} failed: {why}" for run_id, why in self.failed_runs),
            *(f"{label}: {mark} failed: {why}" for label, why in self.failed_versions),
            *(f"{remove} the staging folder {path} (left by an interrupted write)" for path in self.removed),
            *(f"left alone: {note}" for note in self.left_alone),
        ]


def _dead_run(run: DagsterRun, started: float | None) -> str | None:
    """Why an in-progress run executed in-process by ``fta`` is dead (its process is gone), else None."""
    host, pid = run.tags.get(RUN_HOST_TAG), run.tags.get(RUN_PID_TAG)
    if host != this_host() or not (pid or "").isdigit():
        return None
    started_by = datetime.fromtimestamp(started, UTC) if started else None
    if process_is_running(int(pid), started_by=started_by):
        return None
    return f"its process {pid} on {host} is gone (killed or crashed) while the run was in progress"


def _abandoned(
    instance: DagsterInstance, version: ModelVersion, dead_runs: dict[str, str]
) -> tuple[str | None, str | None]:
    """(why the version is abandoned, None) or (None, why it is left alone) or (None, None): alive."""
    owner = version.owner
    if owner is None:
        return (
            None,
            f"{version.label} is {version.state} but has no recorded owner (registered before owners were kept)",
        )
    if owner.run_id in dead_runs:
        return f"its Dagster run {owner.run_id} died: {dead_runs[owner.run_id]}", None
    run = instance.get_run_by_id(owner.run_id) if owner.run_id else None
    if run is not None and run.status in _FINISHED:
        # A run that succeeded may leave a version in evaluation on purpose (a later run evaluates it by id).
        if version.state == "training" or run.status != DagsterRunStatus.SUCCESS:
            return (
                f"its Dagster run {owner.run_id} ended ({run.status.value}) while it was {version.state}",
                None,
            )
        return None, None
    if not owner.is_on_this_host:
        return None, f"{version.label} is {version.state}, owned by {owner} on another host"
    # Only the process that registered a version in training moves it on; a version in evaluation belongs to
    # its run (another step may evaluate it), which is alive as far as Dagster knows, unless it is unknown.
    if (version.state == "training" or run is None) and not process_is_running(
        owner.pid, started_by=version.created_at
    ):
        return f"the process that was working on it ({owner}) is gone (killed or crashed)", None
    return None, None


def reap_abandoned_work(
    instance: DagsterInstance,
    registry: ModelRegistry,
    artifacts: ArtifactStore,
    *,
    actor: str,
    dry_run: bool = False,
) -> ReapReport:
    """Report dead in-process runs failed, mark abandoned versions failed (with the reason, in the audit
    trail), and remove staging folders older than every run still in progress and every version still in
    flight. ``dry_run`` changes nothing and says what it would do."""
    report = ReapReport(dry_run=dry_run)
    dead_runs: dict[str, str] = {}
    live_since: list[float] = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=_RUNNING)):
        run = record.dagster_run
        started = record.start_time or record.create_timestamp.timestamp()
        why = _dead_run(run, started)
        if why is None:
            live_since.append(started)
            continue
        dead_runs[run.run_id] = why
        report.failed_runs.append((run.run_id, why))
        if not dry_run:
            instance.report_run_failed(run, f"marked failed by {actor}: {why}")
    for version in registry.in_flight():
        why, note = _abandoned(instance, version, dead_runs)
        if note:
            report.left_alone.append(note)
        if why is None:  # alive (or not ours to judge): its staging folder, if any, is newer than it
            live_since.append(version.created_at.timestamp())
            continue
        if dry_run or registry.fail_abandoned(
            version.id, expected_state=version.state, actor=actor, reason=f"abandoned: {why}"
        ):
            report.failed_versions.append((version.label, why))
    for path in artifacts.staging_leftovers(older_than=min(live_since, default=time.time())):
        if not dry_run:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        report.removed.append(path)
    return report
