"""The triage and signals commands as a user runs them, on the project `fta demo` trained (session fixtures in
conftest.py): the demo's four chains, predicting one text, evaluating a labelled file (nothing stored), and a
malformed import that writes nothing."""

from __future__ import annotations

import json

import pytest
from conftest import fta

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.signals.demo import write_demo_file as write_signals_file
from fine_tuning_assets.tasks.triage.demo import write_demo_file as write_triage_file


def _active(project, task: str):
    return ModelRegistry(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}")).active(task)


def test_the_demo_runs_the_triage_and_signals_chains_and_prints_their_evaluations(project, demo):
    out = demo.stdout
    for task in ("triage", "signals"):
        assert f"materializing the {task} chain" in out
        assert f"Evaluation of {task} v1 (id " in out
    assert "reference: the original AI" in out and "reference_score: the surfacing system's score" in out
    assert "confidence bands (applied without a human above the threshold):" in out


@pytest.mark.parametrize(
    ("task", "command"),
    [
        ("triage", ["predict-triage", "It crashes every time I open a note", "--rating", "1"]),
        ("signals", ["score-chunk", "Three concrete ways to cut your cloud bill in half"]),
    ],
)
def test_predicting_one_text_names_the_model_or_says_it_fell_back(project, demo, task, command):
    active = _active(project, task)
    strict = fta(project, *command, check=False)
    answer = fta(project, *command, "--json", "--allow-fallback")
    body = json.loads(answer.stdout)
    assert body["fields"] and all(0 <= f["probability"] <= 1 for f in body["fields"])
    if active is not None:
        assert strict.returncode == 0 and body["model"] == active.label and body["fallback_reason"] is None
    else:
        assert strict.returncode == 4 and "base-model fallback" in strict.stderr
        assert body["fallback_reason"] and all(f["band"] == "needs review" for f in body["fields"])


def test_evaluate_triage_and_signals_score_a_labelled_file_and_store_nothing(project, demo, tmp_path):
    before = fta(project, "models", "list").stdout
    triage_file = write_triage_file(tmp_path / "held_out.csv", n_reviews=60, seed=99)
    out = fta(project, "evaluate", "triage", str(triage_file), "--output", str(tmp_path / "t.json")).stdout
    assert "reference: the original AI" in out and "base: base model zero-shot" in out
    report = json.loads((tmp_path / "t.json").read_text())
    assert set(report["fields"]) == {"category", "urgency", "topic"}
    assert (
        report["fields"]["category"]["models"]["reference"]["rows"] == report["fields"]["category"]["n"] == 60
    )
    signals_file = write_signals_file(tmp_path / "chunks.jsonl", n_chunks=40, seed=99, file_format="jsonl")
    out = fta(project, "evaluate", "signals", str(signals_file), "--output", str(tmp_path / "s.json")).stdout
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["fields"]["action"]["models"]["reference_score"]["average_precision"] is not None
    assert "average_precision" in out
    assert fta(project, "models", "list").stdout == before


def test_export_training_data_writes_each_tasks_openai_chat_jsonl_and_csv(project, demo, tmp_path):
    out = tmp_path / "triage_train.jsonl"
    exported = fta(
        project,
        *("export", "training-data", "--task", "triage", "--format", "openai_jsonl", "--split", "train"),
        *("--output", str(out), "--stats"),
    )
    assert f"to {out}" in exported.stdout and '"by_split"' in exported.stdout
    system, _user, assistant = json.loads(out.read_text().splitlines()[0])["messages"]
    assert "triage" in system["content"] and set(json.loads(assistant["content"])) >= {"category", "urgency"}
    table = tmp_path / "signals.csv"
    fta(project, "export", "training-data", "--task", "signals", "--format", "csv", "--output", str(table))
    header = table.read_text().splitlines()[0].split(",")
    assert {"id", "text", "action"} <= set(header)


def test_a_malformed_corrections_file_is_rejected_with_line_numbers_and_writes_nothing(
    project, demo, tmp_path
):
    from fine_tuning_assets.tasks.triage.store import TriageStore

    store = TriageStore(open_database(f"sqlite:///{project / '.fta' / 'fta.sqlite'}"))
    before = store.counts()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "review_id,text,category\nr1,Crashes on start,BUG\nr2,,FEATURE\nr3,Slow,\n", encoding="utf-8"
    )
    result = fta(project, "import", "triage-corrections", str(bad), check=False)
    assert result.returncode == 1
    assert f"{bad}:3: the review text (text) is empty" in result.stderr and f"{bad}:4:" in result.stderr
    assert "nothing was imported" in result.stderr
    assert store.counts() == before


def test_the_recipes_option_names_every_classifier_recipe():
    """`--recipes` help is written out (building the parser imports no task): it must keep up with RECIPES."""
    from fine_tuning_assets.classifiers.recipes import RECIPES
    from fine_tuning_assets.cli import build_parser

    materialize = build_parser()._subparsers._group_actions[0].choices["materialize"]
    [option] = [a for a in materialize._actions if "--recipes" in a.option_strings]
    listed = option.help.split("triage and signals: ")[1].split(";")[0].split(",")
    assert listed == list(RECIPES)
