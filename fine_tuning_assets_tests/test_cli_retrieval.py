"""The retrieval task through the CLI as a user runs it: answer-selection rows (question,label,answer) imported
as ratings, the chain materialized, a second file of the same shape evaluated, queries ranked."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from fine_tuning_assets.tasks.retrieval.demo import generate_demo_retrieval
from fine_tuning_assets_tests.cli_helpers import run

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def write_answer_selection(path: Path, rows: list[tuple[str, int, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["question", "label", "answer"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A checkout with two answer-selection files cut from the demo help center by query (A to learn from,
    B held out), the way such data is shared: the document text inline in every row."""
    folder = tmp_path_factory.mktemp("checkout")
    shutil.copy(PROJECT_ROOT / "dagster.yaml", folder / "dagster.yaml")
    batch = generate_demo_retrieval()
    text = {d.id: f"{d.title}. {d.text}" for d in batch.documents}
    files: dict[str, list[tuple[str, int, str]]] = {"a": [], "b": []}
    for j in batch.judgements:
        side = "b" if int(hashlib.sha256(j.query.encode()).hexdigest(), 16) % 4 == 0 else "a"
        files[side].append((j.query, int(j.relevant), text[j.document_id]))
    write_answer_selection(folder / "answers_a.csv", files["a"])
    write_answer_selection(folder / "answers_b.csv", files["b"])
    return folder


def fta(project: Path, *args: str):
    return run(project, *args, home=project / ".fta")


ANSWER_OPTIONS = ("--query-field", "question", "--document-field", "answer")


def test_rank_without_a_model_falls_back_to_the_base_embedding_and_says_so(project):
    done = fta(project, "import", "documents", str(project / "missing.jsonl"))
    assert done.returncode == 1 and "missing.jsonl" in done.stderr
    done = fta(project, "rank", "export a notebook")
    assert done.returncode == 1 and "holds no documents" in done.stderr


# About 70-170 s (a materialize, an evaluate, three `fta rank` model loads, an ONNX export): `pytest -m slow`.
# The fast suite materializes retrieval through `fta demo --task retrieval` (conftest.py) and covers the
# import, evaluation and ranking in process (test_retrieval_*.py).
@pytest.mark.slow
def test_answer_selection_import_materialize_evaluate_and_rank(project):
    done = fta(project, "import", "retrieval-feedback", "answers_a.csv", *ANSWER_OPTIONS)
    assert done.returncode == 0, done.stderr
    assert "imported answers_a.csv" in done.stdout and "ratings" in done.stdout
    again = fta(project, "import", "retrieval-feedback", "answers_a.csv", *ANSWER_OPTIONS)
    assert again.returncode == 0 and "nothing new" in again.stdout

    fallback = fta(project, "rank", "how do I export a notebook as PDF", "--json")
    assert fallback.returncode == 4, fallback.stderr
    assert json.loads(fallback.stdout)["fallback_reason"] == "no retrieval model is active"

    materialized = fta(
        project, "materialize", "--task", "retrieval", "--epochs", "1", "--max-train-minutes", "0.5"
    )
    assert materialized.returncode in (0, 3), materialized.stdout + materialized.stderr
    out = materialized.stdout
    for step in (
        "retrieval_feedback",
        "retrieval_training_set",
        "retrieval_candidate_model",
        "retrieval_evaluation",
    ):
        assert step in out
    assert "held-out queries" in out and "bm25: BM25" in out and "base: base embedding" in out
    assert "promotion gate PASSED" in out or "promotion gate REFUSED" in out

    counts_before = fta(project, "models", "list", "--task", "retrieval").stdout
    report = project / "evaluation.json"
    evaluated = fta(
        project, "evaluate", "retrieval", "answers_b.csv", *ANSWER_OPTIONS, "--output", str(report)
    )
    assert evaluated.returncode == 0, evaluated.stderr
    data = json.loads(report.read_text())
    roles = {m["role"] for m in data["models"]}
    assert {"base", "bm25"} <= roles and data["queries"] > 10
    assert data["ranked"] == "each query's rated candidates"
    assert all(0 <= m["metrics"]["ndcg@10"] <= 1 for m in data["models"])
    assert fta(project, "models", "list", "--task", "retrieval").stdout == counts_before

    ranked = fta(project, "rank", "how do I export a notebook as PDF", "--json", "--allow-fallback")
    assert ranked.returncode == 0, ranked.stderr
    answer = json.loads(ranked.stdout)
    assert len(answer["results"]) == 10
    if "promotion gate PASSED" in out:
        assert answer["fallback_reason"] is None and answer["model"].startswith("retrieval v1")

    exported = fta(project, "models", "export-onnx", "1", "--output", str(project / "onnx"))
    assert exported.returncode == 0, exported.stderr
    assert (
        "bi_encoder (bi-encoder)" in exported.stdout
        and "scores agree with the torch model" in exported.stdout
    )
    assert (project / "onnx" / "bi_encoder" / "model.onnx").is_file()

    if "promotion gate PASSED" in out:
        # A damaged active version (a component gone) is served by the base embedding, and said so.
        version_dir = next((project / ".fta" / "artifacts" / "models" / "retrieval").iterdir())
        (version_dir / "bi_encoder").rename(project / "bi_encoder_aside")
        damaged = fta(project, "rank", "how do I export a notebook as PDF", "--json")
        (project / "bi_encoder_aside").rename(version_dir / "bi_encoder")
        assert damaged.returncode == 4, damaged.stderr
        assert "cannot be loaded" in json.loads(damaged.stdout)["fallback_reason"]


def test_a_malformed_ratings_file_is_refused_with_line_numbers_and_writes_nothing(project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("question,label,answer\nhow to sync,1,Sync your notes.\n,1,Empty question.\nx,maybe,y\n")
    before = fta(project, "models", "list").stdout
    done = fta(project, "import", "retrieval-feedback", str(bad), *ANSWER_OPTIONS)
    assert done.returncode == 1
    assert "bad.csv:3" in done.stderr and "bad.csv:4" in done.stderr
    assert fta(project, "models", "list").stdout == before
