"""A run killed with `kill -9` while training leaves nothing stuck: the version, the Dagster run and the
staging folder are settled by `fta models reap` or by the next training run.

The chain runs through the CLI in a subprocess, as a user runs it, and is killed for real in the middle of a
fine-tune (a tiny training set with many epochs, so it is surely still training when the kill comes).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.chain_helpers import tiny_demo

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FTA = str(Path(sys.executable).with_name("fta"))


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder (dagster.yaml, the decisions of the tiny demo in FTA_HOME) to run `fta` in."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", folder / "dagster.yaml")
    FeedbackStore(open_database(f"sqlite:///{folder / '.fta' / 'fta.sqlite'}")).add_decisions(
        tiny_demo(), kind="test", source="tiny demo"
    )
    monkeypatch.chdir(folder)  # dagster.yaml's storage paths are relative to the project folder
    return folder


def env_for(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    return {**env, "FTA_HOME": str(project / ".fta"), "FINETUNE_MIN_EXAMPLES": "5"}


def fta(project: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [FTA, *args], cwd=project, env=env_for(project), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, (
        f"fta {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


def staging_folders(project: Path) -> list[Path]:
    return sorted((project / ".fta" / "artifacts").rglob(".*.tmp-*"))


def kill_while_training(project: Path) -> tuple[int, str]:
    """Start `fta materialize` with a fine-tune far longer than the test, wait until the version is in
    training and its staging folder exists, and kill -9 the process. Returns (version id, run id)."""
    process = subprocess.Popen(
        [FTA, "materialize", "--recipes", "bi-encoder", "--epochs", "500", "--max-train-minutes", "60"],
        cwd=project,
        env=env_for(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    registry = ModelRegistry(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}"))
    deadline = time.monotonic() + 600
    try:
        while True:
            assert process.poll() is None, "fta materialize ended before it could be killed"
            assert time.monotonic() < deadline, "the fine-tune never started"
            training = [v for v in registry.versions() if v.state == "training"]
            if training and staging_folders(project):
                break
            time.sleep(0.5)
        time.sleep(2)  # well into the fine-tune
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    [version] = training
    return version.id, version.owner.run_id


# About 60 s (a chain killed mid fine-tune, then a whole training run): `pytest -m slow`. The fast suite kills
# a training process and has `fta models reap` settle it (test_fta_models_reap_fails_a_version_whose_...).
@pytest.mark.slow
def test_a_run_killed_while_fine_tuning_is_settled_by_the_next_training_run(project):
    version_id, run_id = kill_while_training(project)
    registry = ModelRegistry(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}"))
    # What the crash left behind.
    assert registry.get(version_id).state == "training"
    assert DagsterInstance.from_config(str(project)).get_run_by_id(run_id).status == DagsterRunStatus.STARTED
    [staging] = staging_folders(project)

    dry = fta(project, "models", "reap", "--dry-run").stdout
    assert (
        f"Dagster run {run_id}: would mark failed: its process" in dry
        and "is gone (killed or crashed)" in dry
    )
    assert f"dedup v1 (id {version_id}): would mark failed: its Dagster run {run_id} died" in dry
    assert f"would remove the staging folder {staging}" in dry and "dry run: nothing was changed" in dry
    assert registry.get(version_id).state == "training" and staging.exists()

    out = fta(project, "materialize", "--recipes", "stacker").stdout
    assert registry.get(version_id).state == "failed"
    reaped = registry.events(version_id=version_id)[-1]
    assert (reaped.event, reaped.from_state, reaped.to_state) == ("reap", "training", "failed")
    assert reaped.reason.startswith(f"abandoned: its Dagster run {run_id} died: its process")
    assert reaped.actor.startswith("dagster run ") and run_id not in reaped.actor
    assert DagsterInstance.from_config(str(project)).get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
    assert staging_folders(project) == []
    # The new run went on to train and evaluate its own version.
    assert registry.versions()[-1].id != version_id and registry.versions()[-1].state != "training"
    assert "dedup_candidate_model" in out
    assert "nothing to reap" in fta(project, "models", "reap").stdout


OWNER_SCRIPT = """
import sys, time
from fine_tuning_assets.core.artifacts import ArtifactStore
from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.processes import RunOwner
from fine_tuning_assets.core.registry import ModelRegistry

home = sys.argv[1]
registry = ModelRegistry(open_database(f"sqlite:///{home}/fta.sqlite"))
version = registry.register(task="dedup", model_kind="pair-model", base_model="b", dataset_version="ds-x",
                            config={}, actor="worker", owner=RunOwner.of_this_process(run_id=None))

def write(folder):
    (folder / "weights.bin").write_bytes(b"half")
    print(version.id, flush=True)
    time.sleep(600)

ArtifactStore(f"{home}/artifacts").write_directory(f"models/dedup/v{version.version}-id{version.id}", write,
                                                   manifest={})
"""


def test_fta_models_reap_fails_a_version_whose_training_process_was_killed(project):
    worker = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(project / ".fta")], stdout=subprocess.PIPE, text=True
    )
    try:
        version_id = int(worker.stdout.readline())
    finally:
        worker.kill()  # SIGKILL: no cleanup runs
        worker.wait()
    registry = ModelRegistry(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}"))
    assert registry.get(version_id).state == "training" and len(staging_folders(project)) == 1

    out = fta(project, "models", "reap").stdout
    assert (
        f"dedup v1 (id {version_id}): marked failed: the process that was working on it "
        f"(process {worker.pid} on " in out
    )
    assert "removed the staging folder" in out
    assert registry.get(version_id).state == "failed" and staging_folders(project) == []
    assert registry.events(version_id=version_id)[-1].reason.startswith(
        "abandoned: the process that was working"
    )
    assert "nothing to reap" in fta(project, "models", "reap").stdout


def test_a_live_training_process_is_left_alone(project):
    worker = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(project / ".fta")], stdout=subprocess.PIPE, text=True
    )
    try:
        version_id = int(worker.stdout.readline())
        out = fta(project, "models", "reap").stdout
        assert "nothing to reap" in out
        registry = ModelRegistry(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}"))
        assert registry.get(version_id).state == "training" and len(staging_folders(project)) == 1
    finally:
        worker.kill()
        worker.wait()
