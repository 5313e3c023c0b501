"""Everything a Dagster instance recorded about a run, as text, to search for a leaked secret.

Dagster compresses snapshots (zlib) before storing them, so a plain grep of the database files would miss a
secret in a run's config snapshot: every stored value is read from its table and decompressed when it is
compressed. Compute logs and any other file under the instance's folder are read as they are.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dagster import DagsterInstance
from dagster._serdes import serialize_value


def _as_text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        try:
            value = zlib.decompress(value)
        except zlib.error:
            pass
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _rows_text(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    for row in rows:
        for value in row:
            yield _as_text(value)


def sqlite_files_text(root: Path) -> str:
    """Every value of every table of every SQLite file under ``root``, and every other file's content."""
    texts = []
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        data = path.read_bytes()
        if not data.startswith(b"SQLite format 3\x00"):
            texts.append(_as_text(data))
            continue
        with sqlite3.connect(path) as connection:
            tables = [
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                texts.extend(_rows_text(connection.execute(f'SELECT * FROM "{table}"')))
    return "\n".join(texts)


def postgres_tables_text(url: str) -> str:
    """Every value of every table of the PostgreSQL database at ``url`` (all schemas but the catalogs)."""
    engine = sa.create_engine(url)
    texts = []
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                sa.text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_type = 'BASE TABLE' "
                    "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            ).all()
            for schema, table in tables:
                texts.extend(_rows_text(connection.execute(sa.text(f'SELECT * FROM "{schema}"."{table}"'))))
    finally:
        engine.dispose()
    return "\n".join(texts)


def event_log_text(instance: DagsterInstance, run_id: str) -> str:
    return "\n".join(serialize_value(entry) for entry in instance.all_logs(run_id))


RESOURCES_QUERY = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results {
        name
        configFields { name description defaultValueAsJson }
        configuredValues { key value type }
      }
    }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId runConfigYaml tags { key value } }
  }
}
"""


def graphql_answers(instance: DagsterInstance, definitions_file: Path, run_id: str) -> str:
    """What the Dagster UI's GraphQL API answers about the resources (their config, as the resource pages
    show it) and about the run (its config and tags), for the Definitions in ``definitions_file``."""
    import json

    from dagster._core.test_utils import in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_graphql.test.utils import execute_dagster_graphql, infer_repository_selector

    origin = LoadableTargetOrigin(python_file=str(definitions_file), attribute="defs")
    with in_process_test_workspace(instance, origin) as context:
        resources = execute_dagster_graphql(
            context, RESOURCES_QUERY, {"selector": infer_repository_selector(context)}
        )
        run = execute_dagster_graphql(context, RUN_QUERY, {"runId": run_id})
    assert not resources.errors and not run.errors, (resources.errors, run.errors)
    return json.dumps(resources.data) + "\n" + json.dumps(run.data)
