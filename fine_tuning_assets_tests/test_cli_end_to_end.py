"""The CLI as the README tells a user to run it: `fta demo` from the project folder, then the everyday commands.

The project folder is a temporary copy holding dagster.yaml (what `fta` needs from a checkout); the feedback
store and artifacts live under FTA_HOME inside it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

from conftest import FTA, fta

# `project` (a temporary checkout) and `demo` (`fta demo` run in it once) are session fixtures in conftest.py:
# the HTTP server tests (test_api_server.py) serve a copy of the same trained models.


def test_demo_seeds_runs_the_chain_and_compares_with_the_base_model(project, demo):
    out = demo.stdout
    assert "seeded the feedback store" in out
    assert "held-out human decisions" in out
    assert (
        "candidate: dedup v1 (id 1) · " in out
        and "(chosen)" in out
        and "base: base all-MiniLM-L6-v2 cosine" in out
    )
    assert "fine-tuned vs base: average precision" in out
    assert "promotion gate PASSED" in out or "promotion gate REFUSED" in out
    for step in ("dedup_feedback", "dedup_training_set", "dedup_candidate_model", "dedup_evaluation"):
        assert step in out
    assert "dagster dev" in out
    assert (project / ".fta" / "dagster" / "storage").is_dir(), "runs are recorded for the Dagster UI"


def test_demo_reports_the_share_decided_without_a_human_and_the_band_checks(project, demo):
    out = demo.stdout
    assert "decision bands (is each band safe on held-out decisions):" in out
    assert "decided without a human: " in out and "keep-sep cov" in out


def test_review_queue_lists_label_issues_first_then_pending_pairs_by_informativeness(project, demo):
    out = fta(project, "review-queue", "--limit", "5").stdout
    assert out.startswith("review queue: ") and "pending pairs ordered by what a decision would teach" in out
    queue = json.loads(fta(project, "review-queue", "--limit", "0", "--json").stdout)
    kinds = [item["kind"] for item in queue]
    assert kinds == sorted(kinds)  # "label_issue" before "pending"
    pending = [item for item in queue if item["kind"] == "pending"]
    assert pending and all(0.0 <= item["probability"] <= 1.0 for item in pending)
    scores = [item["informativeness"] for item in pending]
    assert scores == sorted(scores, reverse=True)
    if "active" in fta(project, "models", "list").stdout:
        # The demo plants contradicting decisions: the active model's training set lists them first.
        assert kinds[0] == "label_issue" and any("conflicting decisions" in item["why"] for item in queue)


def test_models_list_and_show(project, demo):
    listing = fta(project, "models", "list").stdout
    assert "dedup" in listing and ("active" in listing or "failed" in listing)
    shown = fta(project, "models", "show", "1").stdout
    assert '"dataset_version": "ds-' in shown and "audit trail:" in shown and "training" in shown


def test_predict_merge_names_its_model_or_says_it_falls_back(project, demo):
    result = fta(
        project,
        "predict-merge",
        "--json",
        "Vitamin D lowers fracture risk.",
        "Vitamin D reduces fractures.",
        check=False,
    )
    answer = json.loads(result.stdout)
    assert answer["band"] in ("auto_merge", "review_high_priority", "needs_review", "keep_separate")
    assert 0.0 <= answer["probability"] <= 1.0
    active = "active" in fta(project, "models", "list").stdout
    assert (answer["fallback_reason"] is None) == active
    # A fallback answer is visible in the exit code, not only in the JSON.
    assert result.returncode == (0 if active else 4)


def test_predict_merge_scores_a_file_of_pairs_in_one_load(project, demo):
    pairs = project / "to_score.csv"
    pairs.write_text(
        "sentence1,sentence2,score\n"
        '"Vitamin D at 2,000 IU daily lowers fracture risk.","Taking 2,000 IU of vitamin D a day reduces fractures.",5\n'
        '"Statins lower LDL cholesterol by about 30%.","Statins raise the risk of muscle pain.",\n'
        '"Aspirin lowers heart attack risk.","Aspirin lowers heart attack risk.",\n'
    )
    options = ["--text-a-column", "sentence1", "--text-b-column", "sentence2", "--label-column", "score"]
    active = "active" in fta(project, "models", "list").stdout
    outputs = {}
    for name in ("scored.csv", "scored.jsonl"):
        done = fta(
            project,
            "predict-merge",
            "--file",
            str(pairs),
            *options,
            "--output",
            str(project / name),
            check=False,
        )
        assert done.returncode == (0 if active else 4), done.stderr
        assert f"scoring 3 pairs from {pairs}" in done.stderr and "3/3" in done.stderr  # the progress bar
        assert f"wrote 3 predictions to {project / name}" in done.stderr
        outputs[name] = (project / name).read_text()
    rows = list(csv.DictReader(io.StringIO(outputs["scored.csv"])))
    records = [json.loads(line) for line in outputs["scored.jsonl"].splitlines()]
    assert [r["line"] for r in records] == [2, 3, 4] and [r["line"] for r in rows] == ["2", "3", "4"]
    assert list(rows[0]) == [
        "line",
        "text_a",
        "text_b",
        "probability",
        "band",
        "model",
        "model_version_id",
        "fallback_reason",
    ]
    for row, record in zip(rows, records, strict=True):
        assert abs(float(row["probability"]) - record["probability"]) < 1e-9 and row["band"] == record["band"]
        assert record["band"] in ("auto_merge", "review_high_priority", "needs_review")
        assert (record["fallback_reason"] is None) == active and (
            record["model_version_id"] is not None
        ) == active

    # All or nothing: one bad row and no output is written.
    bad = project / "bad_to_score.csv"
    bad.write_text(pairs.read_text() + '"A statement with no partner.",,\n')
    failed = fta(
        project,
        "predict-merge",
        "--file",
        str(bad),
        *options,
        "--output",
        str(project / "none.csv"),
        check=False,
    )
    assert failed.returncode == 1 and f"{bad}:5: sentence2 is empty" in failed.stderr
    assert not (project / "none.csv").exists()


def test_evaluate_pairs_scores_the_active_base_and_given_models_on_an_external_file(project, demo):
    before = json.loads(fta(project, "counts", "--json").stdout)
    external = project / "external.csv"
    external.write_text(
        "question one,question two,verdict\n"
        '"Vitamin D at 2,000 IU daily lowers fracture risk.","Taking 2,000 IU of vitamin D a day reduces fractures.",dup\n'
        '"Vitamin D at 2,000 IU daily lowers fracture risk.","Vitamin D at 4,000 IU daily lowers fracture risk.",different\n'
        '"Statins lower LDL cholesterol by about 30%.","Statin therapy cuts LDL cholesterol by roughly 30%.",dup\n'
        '"Statins lower LDL cholesterol by about 30%.","Statins raise the risk of muscle pain.",different\n'
        '"Aspirin lowers heart attack risk.","Aspirin lowers heart attack risk.",dup\n'
    )
    output = project / "external-report.json"
    result = fta(
        project,
        "evaluate",
        "pairs",
        str(external),
        "--text-a-column",
        "question one",
        "--text-b-column",
        "question two",
        "--label-column",
        "verdict",
        "--positive",
        "dup",
        "--negative",
        "different",
        "--model-version",
        "1",
        "--output",
        str(output),
    )
    out = result.stdout
    assert "evaluating on 4 labelled pairs (2 merges)" in out and "same text; not imported" in out
    assert "AP" in out and "auto-merge prec" in out and f"report written to {output}" in out
    assert "keep-sep cov" in out and "no human" in out
    report = json.loads(output.read_text())
    roles = [m["role"] for m in report["models"]]
    assert "base" in roles and ("active" in roles or "version 1" in roles)
    assert report["pairs"] == 4 and report["labels"] == [1, 0, 1, 0]
    for model in report["models"]:
        assert 0.0 <= model["metrics"]["average_precision"] <= 1.0 and len(model["probabilities"]) == 4
    base = next(m for m in report["models"] if m["role"] == "base")
    assert base["bands"]["auto_merge"] == 1.0 and base["metrics"]["auto_merge_coverage"] == 0.0
    assert base["bands"]["keep_separate"] is None and base["metrics"]["decided_without_human"] == 0.0
    for model in report["models"]:
        m = model["metrics"]
        assert m["decided_without_human"] == m["auto_merge_coverage"] + m["keep_separate_coverage"]
    # Nothing was imported: evaluation reads the file, it does not store decisions.
    assert json.loads(fta(project, "counts", "--json").stdout) == before

    bad = fta(project, "evaluate", "pairs", str(external), "--label-column", "nope", check=False)
    assert bad.returncode == 1 and "nope" in bad.stderr


def test_a_malformed_import_is_rejected_with_line_numbers_and_writes_nothing(project, demo):
    before = json.loads(fta(project, "counts", "--json").stdout)
    bad = project / "bad_pairs.csv"
    bad.write_text(
        "text_a,text_b,label\nfine one,fine two,1\n,missing text,0\nleft only,,1\nok,also ok,maybe\n"
    )
    result = fta(project, "import", "pairs", str(bad), check=False)
    assert result.returncode == 1
    assert (
        "bad_pairs.csv:3" in result.stderr
        and "bad_pairs.csv:4" in result.stderr
        and "bad_pairs.csv:5" in result.stderr
    )
    assert json.loads(fta(project, "counts", "--json").stdout) == before


def test_import_a_labelled_pairs_file_and_export_training_data(project, demo):
    pairs = project / "pairs.csv"
    rows = ["sentence1,sentence2,score"]
    for i in range(30):
        rows.append(
            f'"Drug {i} lowers blood pressure in adults.","In adults, drug {i} reduces blood pressure.",4.6'
        )
        rows.append(f'"Drug {i} lowers blood pressure in adults.","Drug {i} raises the risk of gout.",1.2')
    pairs.write_text("\n".join(rows) + "\n")
    options = ["--text-a-column", "sentence1", "--text-b-column", "sentence2", "--label-column", "score"]
    result = fta(project, "import", "pairs", str(pairs), *options, "--positive", "score>=4")
    assert "60 new, 0 changed, 0 already present" in result.stdout
    again = fta(project, "import", "pairs", str(pairs), *options, "--positive", "score>=4")
    assert f"nothing new in {pairs}: all 60 clusters are already in the feedback store" in again.stdout
    out = project / "train.jsonl"
    exported = fta(
        project,
        "export",
        "training-data",
        "--format",
        "openai_jsonl",
        "--split",
        "train",
        "--output",
        str(out),
        "--stats",
    )
    assert f"to {out}" in exported.stdout and '"by_origin"' in exported.stdout
    first = json.loads(out.read_text().splitlines()[0])
    assert first["messages"][2]["content"] in ("MERGE", "DON'T MERGE")


def test_an_unreachable_database_is_a_clear_error(project):
    env_url = "postgresql+psycopg2://nobody@127.0.0.1:1/nothing"
    completed = subprocess.run(
        [FTA, "counts"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "FTA_DATABASE_URL": env_url},
    )
    assert completed.returncode == 1
    assert (
        "cannot connect to the database at postgresql+psycopg2://nobody@127.0.0.1:1/nothing"
        in completed.stderr
    )
