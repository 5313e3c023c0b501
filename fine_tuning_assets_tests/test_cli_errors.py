"""Hostile but realistic input through the CLI, as a user types it: a clear message and exit code 1, never
a traceback, and nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.cli_helpers import FTA, refused, run
from fine_tuning_assets_tests.conftest import small_batch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PAIRS = "text_a,text_b,label\nA cat sits.,A cat is sitting.,1\nA dog barks.,Cats purr.,0\n"
LONG_NAME = "r" * 201


@pytest.fixture
def pairs_file(tmp_path) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS)
    return path


def test_a_read_only_home_on_import_names_the_database_and_the_cause(tmp_path, pairs_file):
    empty_home = tmp_path / "empty"
    empty_home.mkdir()
    refused(
        run(tmp_path, "import", "pairs", str(pairs_file), home=empty_home, read_only=empty_home),
        f"cannot create the database sqlite:///{empty_home}/fta.sqlite: the folder {empty_home} is not writable",
    )
    home = tmp_path / "home"
    FeedbackStore(open_database(f"sqlite:///{home}/fta.sqlite"))  # an existing, migrated store
    refused(
        run(tmp_path, "import", "pairs", str(pairs_file), home=home, read_only=home),
        f"the database sqlite:///{home}/fta.sqlite is read-only (attempt to write a readonly database)",
        "set FTA_HOME (or FTA_DATABASE_URL) to a writable place",
    )


def test_a_read_only_home_on_evaluate_says_where_the_report_cannot_go(tmp_path, pairs_file):
    home = tmp_path / "home"
    FeedbackStore(open_database(f"sqlite:///{home}/fta.sqlite"))
    refused(
        run(tmp_path, "evaluate", "pairs", str(pairs_file), home=home, read_only=home),
        f"cannot write the evaluation report to {home}/evaluations/pairs-",
        "Read-only file system" if os.geteuid() == 0 else "Permission denied",
        "pass --output with a file in a writable folder",
    )


def test_demo_on_a_read_only_home_names_the_real_cause(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    refused(
        run(tmp_path, "demo", home=home, read_only=home),
        f"FTA_HOME {home} is not writable: cannot write artifacts to {home}/artifacts/write-check",
        "set FTA_HOME to a writable folder",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://fta:s3cret@db/fta", "the database URL 'mysql://fta:***@db/fta' names 'mysql', which"),
        (
            "postgres://fta:s3cret@db/fta",
            "starts with postgres://; SQLAlchemy names PostgreSQL postgresql://",
        ),
        ("postgresql://fta:s3cret@db:port/fta", "'postgresql://fta:***@db:port/fta' cannot be parsed"),
        ("not a url", "the database URL 'not a url' cannot be parsed"),
        ("postgresql+asyncpg://fta:s3cret@db/fta", "No module named 'asyncpg'"),
    ],
)
def test_an_unsupported_or_malformed_database_url_is_named_without_its_password(tmp_path, url, message):
    stderr = refused(run(tmp_path, "counts", home=tmp_path / "home", FTA_DATABASE_URL=url), message)
    assert "s3cret" not in stderr


def test_fta_home_that_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    refused(run(tmp_path, "counts", home=home), f"FTA_HOME='{home}' is a file, not a folder")


def test_an_import_path_that_is_a_folder(tmp_path):
    folder = tmp_path / "decisions.csv"
    folder.mkdir()
    for shape in ("pairs", "clusters"):
        refused(
            run(tmp_path, "import", shape, str(folder), home=tmp_path / "home"),
            f"{folder}: is a folder, not a file",
        )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'fta.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_a_nul_byte_is_refused_alike_on_both_databases_with_its_line(tmp_path, database_url):
    store = FeedbackStore(open_database(database_url))
    store.add_decisions(small_batch(), kind="test", source="unit")
    before = store.counts()
    bad = tmp_path / "nul.csv"
    bad.write_text(PAIRS + "A c\x00at.,A dog.,1\n")
    refused(
        run(tmp_path, "import", "pairs", str(bad), home=tmp_path / "home", FTA_DATABASE_URL=database_url),
        f"{bad}:4: text_a contains a NUL character (\\x00), which the database cannot store",
    )
    assert store.counts() == before


def test_a_reviewer_name_longer_than_its_column_is_refused_alike_on_both_databases(
    tmp_path, pairs_file, database_url
):
    store = FeedbackStore(open_database(database_url))
    store.add_decisions(small_batch(), kind="test", source="unit")
    before = store.counts()
    env = {"FTA_DATABASE_URL": database_url}
    home = tmp_path / "home"
    refused(
        run(tmp_path, "import", "pairs", str(pairs_file), "--reviewer", LONG_NAME, home=home, **env),
        "reviewer must be a non-empty name of at most 200 characters (got 201 characters)",
    )
    refused(
        run(tmp_path, "decide", "c3", "--reject", "--reviewer", LONG_NAME, home=home, **env),
        "cluster 'c3': reviewer is longer than 200 characters (201)",
    )
    clusters = tmp_path / "clusters.jsonl"
    clusters.write_text(
        json.dumps(
            {
                "cluster_id": "c9",
                "status": "rejected",
                "reviewer": LONG_NAME,
                "decided_at": "2026-01-05T10:00:00",
                "members": [{"insight_id": "i1", "statement": "A."}, {"insight_id": "i2", "statement": "B."}],
            }
        )
        + "\n"
    )
    refused(
        run(tmp_path, "import", "clusters", str(clusters), home=home, **env),
        f"{clusters}:1: reviewer is longer than 200 characters",
    )
    assert store.counts() == before and store.get_cluster("c3").status == "pending"


def test_the_postgres_profile_run_as_the_readme_says_writes_nothing_into_the_checkout(
    tmp_path, postgres_url, pairs_file
):
    """README: export FTA_DATABASE_URL, DAGSTER_HOME=$PWD/deploy/postgres and DAGSTER_PG_*, then run fta
    from the project folder. Afterwards `git status` shows nothing new."""
    import sqlalchemy as sa

    checkout = tmp_path / "checkout"
    (checkout / "deploy" / "postgres").mkdir(parents=True)
    for name in (".gitignore", "dagster.yaml", "deploy/postgres/dagster.yaml", "deploy/postgres/.gitignore"):
        shutil.copy(PROJECT_ROOT / name, checkout / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=checkout, check=True)
    subprocess.run([*git, "add", "-A"], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-qm", "checkout"], cwd=checkout, check=True)
    url = sa.engine.make_url(postgres_url)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    environ.update(
        FTA_DATABASE_URL=postgres_url,
        DAGSTER_HOME=str(checkout / "deploy" / "postgres"),
        DAGSTER_PG_USERNAME=url.username or "",
        DAGSTER_PG_PASSWORD=url.password or "",
        DAGSTER_PG_HOST=url.host or "",
        DAGSTER_PG_DB=url.database or "",
        DAGSTER_PG_PORT=str(url.port or 5432),
        FINETUNE_MIN_EXAMPLES="1",
    )
    shutil.copy(pairs_file, checkout / "pairs.csv")
    subprocess.run([FTA, "import", "pairs", "pairs.csv"], cwd=checkout, env=environ, check=True)
    (checkout / "pairs.csv").unlink()
    done = subprocess.run(
        [FTA, "materialize", "--job", "dedup_data_prep"],
        cwd=checkout,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert "Dagster run" in done.stdout, done.stdout + done.stderr
    # The run is recorded in PostgreSQL and Dagster's local files went under ./.fta (git-ignored).
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1
    engine.dispose()
    assert list((checkout / ".fta" / "dagster" / "compute_logs").iterdir())
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    assert status.stdout == ""
