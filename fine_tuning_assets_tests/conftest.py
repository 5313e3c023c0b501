from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.cli_helpers import FTA, command_environment, run_in_process

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def fta(
    project: Path, *args: str, check: bool = True, own_process: bool = False, **env: str
) -> subprocess.CompletedProcess:
    """`fta args` run from the project folder ``project`` (FTA_HOME=project/.fta), in this process (see
    cli_helpers.py) or, with ``own_process``, as a user runs it: in a process of its own."""
    environ = command_environment(project / ".fta", **env)
    if own_process:
        completed = subprocess.run(
            [FTA, *args], cwd=project, env=environ, capture_output=True, text=True, timeout=900
        )
    else:
        completed = run_in_process(project, args, environ)
    if check and completed.returncode != 0:
        raise AssertionError(
            f"fta {' '.join(args)} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
        )
    return completed


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Path:
    """A temporary project folder holding dagster.yaml (what `fta` needs from a checkout)."""
    folder = tmp_path_factory.mktemp("checkout")
    shutil.copy(PROJECT_ROOT / "dagster.yaml", folder / "dagster.yaml")
    return folder


@pytest.fixture(scope="session")
def demo(project) -> subprocess.CompletedProcess:
    """`fta demo` run once in ``project`` for every task, as a user runs it one task at a time, with short
    training: trained, active models to use. The classification tasks try their recipes without a fine-tune
    (the fine-tunes themselves are tested in test_classifiers.py); the output is every run's, in order."""
    short = ("--epochs", "1", "--max-train-minutes", "3")
    cheap = ("--recipes", "tfidf-lr,embedding-lr,stack")
    runs = [
        # 1.5 minutes of dedup fine-tuning: the stacker still beats the base model and is promoted.
        fta(
            project,
            "demo",
            "--task",
            "dedup",
            "--epochs",
            "1",
            "--max-train-minutes",
            "1.5",
            own_process=True,
        ),
        fta(project, "demo", "--task", "retrieval", *short, own_process=True),
        fta(project, "demo", "--task", "triage", *cheap, *short, own_process=True),
        fta(project, "demo", "--task", "signals", *cheap, *short, own_process=True),
    ]
    return subprocess.CompletedProcess(
        runs[0].args, 0, "".join(r.stdout for r in runs), "".join(r.stderr for r in runs)
    )


@pytest.fixture(autouse=True)
def _no_database_url_from_the_shell(monkeypatch) -> None:
    """The resources read FTA_DATABASE_URL at run time: a value in the developer's shell must not leak into
    a test; tests that want a database URL set it with monkeypatch."""
    monkeypatch.delenv("FTA_DATABASE_URL", raising=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'fta.sqlite'}"


@pytest.fixture
def store(sqlite_url) -> FeedbackStore:
    return FeedbackStore(open_database(sqlite_url))


@pytest.fixture
def registry(sqlite_url) -> ModelRegistry:
    return ModelRegistry(open_database(sqlite_url))


def _server_url() -> str:
    return os.environ.get(
        "FTA_TEST_POSTGRES_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards.

    Uses FTA_TEST_POSTGRES_URL's server when set (CI creates it); otherwise the local server. When no server
    answers the test is skipped, unless FTA_REQUIRE_POSTGRES=1 (CI), where it fails.
    """
    base = os.environ.get("FTA_TEST_POSTGRES_URL") or _server_url()
    admin_url = sa.engine.make_url(base).set(database="postgres")
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        if os.environ.get("FTA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (FTA_REQUIRE_POSTGRES=1) but not reachable: {error.orig}")
        pytest.skip(f"PostgreSQL not reachable at {admin_url.render_as_string()}: {error.orig}")
    name = f"fta_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def insight(i: int | str, text: str | None = None, **metadata) -> Insight:
    return Insight(f"i{i}", text or f"statement number {i}", metadata)


def cluster(
    cid: str, status: str, members: list[tuple[str, bool]], *, day: int = 0, reviewer: str = "ana"
) -> MergeCluster:
    decided = status != "pending"
    return MergeCluster(
        id=cid,
        status=status,
        reviewer=reviewer if decided else None,
        decided_at=T0 + timedelta(days=day) if decided else None,
        members=tuple(ClusterMember(m, 0.9, s) for m, s in members),
    )


def small_batch() -> DecisionBatch:
    insights = tuple(insight(i) for i in range(1, 7))
    clusters = (
        cluster("c1", "approved", [("i1", True), ("i2", True), ("i3", False)]),
        cluster("c2", "rejected", [("i4", False), ("i5", False)], day=1),
        cluster("c3", "pending", [("i5", False), ("i6", False)]),
    )
    return DecisionBatch(insights, clusters)
