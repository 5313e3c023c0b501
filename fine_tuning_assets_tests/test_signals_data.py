"""The signals task's data side: reading chunk actions, the store, per-chunk examples, the demo and the CLI."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from fine_tuning_assets.cli import signals as signals_cli
from fine_tuning_assets.core.database import import_batches, open_database
from fine_tuning_assets.core.imports import ImportFileError
from fine_tuning_assets.tasks.signals.demo import (
    DEMO_PODCASTS,
    demo_users,
    generate_demo_signals,
    write_demo_file,
)
from fine_tuning_assets.tasks.signals.examples import agreement_report, chunk_examples
from fine_tuning_assets.tasks.signals.imports import read_chunk_actions
from fine_tuning_assets.tasks.signals.records import ChunkAction, ChunkBatch, batch_problems
from fine_tuning_assets.tasks.signals.store import SignalsStore, SignalsStoreError
from fine_tuning_assets.tasks.signals.tables import chunk_actions

T = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
TIP = "Batch your email twice a day."


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def by_line(error: ImportFileError) -> dict[int, str]:
    lines: dict[int, str] = {}
    for row in error.errors:
        lines[row.line] = lines.get(row.line, "") + row.message + ";"
    return lines


def act(chunk: str, action: str, user: str | None, minutes: int = 0, **kwargs) -> ChunkAction:
    content = kwargs.pop("content", f"text of {chunk}")
    return ChunkAction(
        chunk, content, action, user_id=user, acted_at=T + timedelta(minutes=minutes), **kwargs
    )


@pytest.fixture
def store(sqlite_url) -> SignalsStore:
    return SignalsStore(open_database(sqlite_url))


def table_rows(store: SignalsStore) -> tuple[int, int]:
    with store.engine.connect() as connection:
        actions = connection.execute(sa.select(sa.func.count()).select_from(chunk_actions)).scalar_one()
        batches = connection.execute(sa.select(sa.func.count()).select_from(import_batches)).scalar_one()
    return actions, batches


# -- reading files ----------------------------------------------------------------------------------------
def test_csv_with_default_columns_action_words_context_and_duplicates(tmp_path):
    path = write(
        tmp_path,
        "actions.csv",
        "chunk_id,content,user_id,action,podcast,episode,speaker,context,relevance_score,quality_score,acted_at\n"
        f'c1,"  Batch your   email\ntwice a day. ",ana,Save,Deep Work Radio,Ep 1,Tom,"{{""start"": 30}}",0.4,0.9,'
        "2026-05-01T09:00:00\n"
        f"c1,{TIP},bo,SKIP,Deep Work Radio,,,,0.4,,2026-05-01T10:00:00+02:00\n"
        f"c1,{TIP},bo,SKIP,Deep Work Radio,,,,0.4,,2026-05-01T10:00:00+02:00\n"
        "c2,Ha anyway.,,snipped,,,,,,,\n",
    )
    batch = read_chunk_actions(path)
    first, second, third = batch.actions
    assert first == ChunkAction(
        "c1",
        TIP,
        "saved",
        user_id="ana",
        context={"start": 30, "podcast": "Deep Work Radio", "episode": "Ep 1", "speaker": "Tom"},
        relevance_score=0.4,
        quality_score=0.9,
        acted_at=T,
    )
    assert (second.action, second.acted_at, second.context) == (
        "skipped",
        datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        {"podcast": "Deep Work Radio"},
    )
    assert (third.user_id, third.action, third.acted_at, third.context, third.positive) == (
        None,
        "snipped",
        None,
        {},
        True,
    )
    assert batch.duplicates == (f"{path}:5: the same action as line 4; stored once",)  # row 1 spans 2 lines
    assert batch.chunk_lines == {"c1": 2, "c2": 6}
    assert batch_problems(batch) == []


def test_jsonl_with_other_columns_own_action_words_and_ids_from_content(tmp_path):
    rows = [
        {
            "text": "Salt the steak a day ahead.",
            "reader": "ana",
            "what": "bookmark",
            "context": {"show": "KL"},
        },
        {"text": "Salt the  steak a day ahead.", "reader": "bo", "what": "pass", "show": "Kitchen Lab"},
    ]
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    batch = read_chunk_actions(
        path,
        content_field="text",
        user_field="reader",
        action_field="what",
        context_fields=("show",),
        action_words={"bookmark": "saved", "pass": "skipped"},
    )
    first, second = batch.actions
    assert (
        first.chunk_id == second.chunk_id
        and first.chunk_id.startswith("chunk-")
        and len(first.chunk_id) == 22
    )
    assert (first.action, first.context, second.action, second.context) == (
        "saved",
        {"show": "KL"},
        "skipped",
        {"show": "Kitchen Lab"},
    )
    with pytest.raises(ValueError, match="not one of saved, snipped, skipped"):
        read_chunk_actions(path, action_words={"bookmark": "liked"})
    with pytest.raises(ValueError, match="must differ"):
        read_chunk_actions(path, content_field="text", user_field="text")


def test_a_bad_file_is_refused_whole_with_every_problem_and_its_line(tmp_path, store):
    path = write(
        tmp_path,
        "bad.csv",
        "chunk_id,content,user_id,action,relevance_score,acted_at,context\n"
        "c1,Good text,ana,saved,0.5,2026-05-01,\n"  # 2: fine
        ",Some text,ana,saved,,,\n"  # 3: no chunk id
        "c2,,ana,liked,abc,yesterday,\n"  # 4: no content, unknown action, bad score, bad time
        "c1,Other text,bo,saved,,,\n"  # 5: another content for c1
        "c1,Good text,ana,saved,0.7,2026-05-01,\n"  # 6: the action of line 2 with another score
        'c3,Text,cy,skipped,,,"[1, 2]"\n'  # 7: context not an object
        "c4,Text,,,,,\n",  # 8: no action
    )
    with pytest.raises(ImportFileError) as caught:
        read_chunk_actions(path)
    lines = by_line(caught.value)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8]
    assert "chunk id (chunk_id) is missing" in lines[3]
    assert all(word in lines[4] for word in ("content (content) is empty", "'liked'", "'abc'", "'yesterday'"))
    assert "'Other text' here but 'Good text' on line 2" in lines[5]
    assert "as line 2, with other scores or context" in lines[6]
    assert "context must be a JSON object, got a list" in lines[7]
    assert "action (action) is missing" in lines[8]
    assert "nothing was imported" in str(caught.value)
    assert table_rows(store) == (0, 0)


def test_missing_columns_and_nul_characters_are_refused(tmp_path):
    with pytest.raises(ImportFileError, match="missing required column action"):
        read_chunk_actions(write(tmp_path, "a.csv", "chunk_id,content\nc1,text\n"))
    with pytest.raises(ImportFileError, match="NUL"):
        read_chunk_actions(write(tmp_path, "n.csv", "chunk_id,content,action\nc1,te\x00xt,saved\n"))


# -- the store ----------------------------------------------------------------------------------------------
def test_add_then_reimport_writes_nothing(tmp_path, store):
    path = write_demo_file(tmp_path / "demo.csv", n_chunks=40, n_users=5, seed=2)
    batch = read_chunk_actions(path)
    report = store.add(batch, source=str(path))
    assert (report.actions_new, report.actions_already_present, report.chunks_new, report.chunks) == (
        len(batch.actions),
        0,
        40,
        40,
    )
    counts = store.counts()
    assert (counts["actions"], counts["chunks"], counts["users"]) == (len(batch.actions), 40, 5)
    assert sum(counts["by_action"].values()) == len(batch.actions) and set(counts["by_action"]) == {
        "saved",
        "snipped",
        "skipped",
    }
    before, watermark = table_rows(store), store.latest_recorded_at()
    again = store.add(read_chunk_actions(path), source=str(path))
    assert not again.wrote_anything and (again.actions_new, again.actions_already_present) == (
        0,
        len(batch.actions),
    )
    assert (again.chunks_new, table_rows(store), store.latest_recorded_at()) == (0, before, watermark)
    assert counts["last_recorded_at"] == watermark.isoformat()


def test_another_content_under_a_stored_chunk_id_is_refused_naming_the_line(tmp_path, store):
    store.add(ChunkBatch(actions=(act("c1", "saved", "ana", content=TIP),)), source="first")
    path = write(
        tmp_path,
        "b.csv",
        f"chunk_id,content,action,user_id\nc9,New chunk,saved,bo\nc1,{TIP} Really.,saved,bo\n",
    )
    with pytest.raises(SignalsStoreError) as caught:
        store.add(read_chunk_actions(path), source=str(path))
    assert "chunk 'c1' (line 3) has content" in str(caught.value) and "nothing was written" in str(
        caught.value
    )
    assert table_rows(store) == (1, 1)
    # Whitespace is not content: the same text spaced otherwise is the same chunk.
    report = store.record_action(act("c1", "skipped", "bo", content="  Batch your email\n twice a day. "))
    assert report.actions_new == 1 and table_rows(store) == (2, 2)
    with pytest.raises(SignalsStoreError, match="chunk 'c1' has content"):
        store.record_action(act("c1", "skipped", "cy", content="Another text"))
    with pytest.raises(SignalsStoreError, match="not one of saved, snipped, skipped"):
        store.record_action(act("c2", "liked", "cy"))
    assert table_rows(store) == (2, 2)


def test_record_action_twice_writes_once(store):
    first = store.record_action(act("c1", "saved", "ana"), source="cli")
    second = store.record_action(act("c1", "saved", "ana"), source="cli")
    assert (
        first.actions_new,
        first.wrote_anything,
        second.actions_already_present,
        second.wrote_anything,
    ) == (
        1,
        True,
        1,
        False,
    )
    assert table_rows(store) == (1, 1)


def test_snapshot_respects_the_watermark(store):
    assert store.snapshot(recorded_through=None) == [] and store.latest_recorded_at() is None
    store.add(ChunkBatch(actions=(act("c1", "saved", "ana"), act("c2", "skipped", "ana"))), source="one")
    watermark = store.latest_recorded_at()
    store.add(ChunkBatch(actions=(act("c1", "skipped", "bo", 5, relevance_score=0.3),)), source="two")
    cut = store.snapshot(recorded_through=watermark)
    assert [(a.chunk_id, a.user_id) for a in cut] == [("c1", "ana"), ("c2", "ana")]
    assert all(a.recorded_at is not None and a.recorded_at <= watermark for a in cut)
    everything = store.snapshot(recorded_through=None)
    assert len(everything) == 3 and everything[-1].recorded_at > watermark
    assert everything[-1].relevance_score == 0.3 and everything[-1].acted_at == T + timedelta(minutes=5)
    assert (
        store.count_after(watermark),
        store.count_after(None),
        store.count_after(store.latest_recorded_at()),
    ) == (
        1,
        3,
        0,
    )


# -- examples -----------------------------------------------------------------------------------------------
def test_majority_label_ties_agreement_and_groups():
    actions = [
        act("a", "saved", "u1", context={"podcast": "P", "episode": "E1"}, relevance_score=0.1),
        act("a", "snipped", "u2", 1, relevance_score=0.8, quality_score=0.5),
        act("a", "skipped", "u3", 2),
        act("b", "saved", "u1", context={"episode": "E2"}),  # a tie: one for, one against
        act("b", "skipped", "u2"),
        act("c", "skipped", "u1"),
        act("c", "skipped", None, 1),  # anonymous actions are votes of their own
        act("c", "saved", None, 2),
        act("d", "saved", "u1"),
    ]
    a, b, c, d = chunk_examples(actions)
    assert (a.label, a.votes_positive, a.votes_negative, round(a.agreement, 3), a.group) == (
        1,
        2,
        1,
        0.667,
        "P",
    )
    assert (a.relevance_score, a.quality_score, a.context) == (0.8, 0.5, {"podcast": "P", "episode": "E1"})
    assert (b.label, b.tie, b.agreement, b.group) == (0, True, 0.5, "E2")
    assert (c.label, c.votes_positive, c.votes_negative, c.group) == (0, 1, 2, None)
    assert (d.label, d.agreement, d.votes) == (1, 1.0, 1)
    assert agreement_report([a, b, c, d]) == {
        "chunks": 4,
        "multi_user_chunks": 3,
        "mean_agreement": pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3),
        "unanimous": 0,
        "ties": 1,
        "share_positive": 0.5,
    }
    assert agreement_report([])["mean_agreement"] is None


def test_a_users_latest_action_counts_whatever_the_order_given():
    changed_mind = [act("a", "skipped", "u1", 60), act("a", "saved", "u1", 0), act("a", "saved", "u2", 10)]
    [example] = chunk_examples(changed_mind)
    assert (example.label, example.votes_positive, example.votes_negative) == (0, 1, 1)
    [example] = chunk_examples(list(reversed(changed_mind)))
    assert (example.votes_positive, example.votes_negative) == (1, 1)
    # Without acted_at, recorded_at orders the actions.
    untimed = [
        ChunkAction("a", "t", "saved", user_id="u1", recorded_at=T + timedelta(hours=1)),
        ChunkAction("a", "t", "skipped", user_id="u1", recorded_at=T),
    ]
    assert chunk_examples(untimed)[0].label == 1


# -- the demo -----------------------------------------------------------------------------------------------
def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def test_the_demo_is_deterministic_and_has_the_promised_properties():
    batch = generate_demo_signals()
    assert batch == generate_demo_signals() and batch != generate_demo_signals(seed=12)
    assert batch_problems(batch) == [] and len(batch.chunk_ids()) == 500
    assert {a.user_id for a in batch.actions} <= set(demo_users(12))
    assert {a.context["podcast"] for a in batch.actions} == {show.name for show in DEMO_PODCASTS}
    assert len({a.context["episode"] for a in batch.actions}) >= 40
    assert len({a.context["speaker"] for a in batch.actions}) >= 20
    assert all(a.relevance_score is not None and 0 <= a.relevance_score <= 1 for a in batch.actions)

    examples = chunk_examples(batch.actions)
    report = agreement_report(examples)
    assert 0.3 <= report["share_positive"] <= 0.55
    assert report["multi_user_chunks"] >= 300 and report["ties"] > 0
    assert 0.8 <= report["mean_agreement"] <= 0.92  # listeners disagree ~15% of the time
    assert len({e.content for e in examples}) >= 400
    # Some listeners changed their minds: two opposite actions on one chunk, the later one counts.
    history: dict[tuple[str, str], list[ChunkAction]] = {}
    for action in batch.actions:
        history.setdefault((action.chunk_id, action.user_id), []).append(action)
    changed = [acts for acts in history.values() if len({a.positive for a in acts}) == 2]
    assert len(changed) >= 20

    labels = np.array([e.label for e in examples])
    relevance = average_precision(labels, np.array([e.relevance_score for e in examples]))
    assert labels.mean() + 0.05 < relevance < 0.65  # weakly informative: a model can beat it


def test_the_demo_is_learnable_from_words_better_than_the_relevance_score():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    examples = chunk_examples(generate_demo_signals().actions)
    held_out = {"Founder Notes", "Kitchen Lab"}  # whole shows held out, as a grouped split does
    train = [e for e in examples if e.group not in held_out]
    test = [e for e in examples if e.group in held_out]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=4, max_iter=2000).fit(
        vectorizer.fit_transform([e.content for e in train]), [e.label for e in train]
    )
    scores = model.predict_proba(vectorizer.transform([e.content for e in test]))[:, 1]
    labels = np.array([e.label for e in test])
    learned = average_precision(labels, scores)
    reference = average_precision(labels, np.array([e.relevance_score for e in test]))
    assert learned > reference + 0.1 and learned > labels.mean() + 0.2


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_the_demo_file_reads_back_as_the_demo(tmp_path, file_format):
    path = write_demo_file(
        tmp_path / f"demo.{file_format}", n_chunks=30, n_users=4, seed=5, file_format=file_format
    )
    assert read_chunk_actions(path).actions == generate_demo_signals(n_chunks=30, n_users=4, seed=5).actions


# -- the command line ---------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, sqlite_url, monkeypatch):
    monkeypatch.setenv("FTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FTA_DATABASE_URL", sqlite_url)
    parser = argparse.ArgumentParser(prog="fta")
    commands = parser.add_subparsers(dest="command", required=True)
    imports = commands.add_parser("import").add_subparsers(dest="shape", required=True)
    evaluations = commands.add_parser("evaluate").add_subparsers(dest="what", required=True)
    signals_cli.add_commands(commands, imports, evaluations)

    def run(*argv: str) -> int:
        args = parser.parse_args(argv)
        return args.handler(args)

    return run


def test_cli_imports_chunk_actions_with_an_agreement_summary_and_records_one_action(cli, tmp_path, capsys):
    path = write(
        tmp_path,
        "clips.csv",
        "clip,content,user_id,action,show\n"
        f"c1,{TIP},ana,saved,Deep Work Radio\nc1,{TIP},bo,skip,Deep Work Radio\nc2,Ha.,ana,skip,\n",
    )
    bad = write(tmp_path, "bad.csv", f"chunk_id,content,action\nc1,{TIP},saved\nc2,Ha.,liked\n")
    with pytest.raises(ImportFileError, match="bad.csv:3: action 'liked'"):
        cli("import", "chunk-actions", str(bad))
    assert SignalsStore(open_database(os.environ["FTA_DATABASE_URL"])).counts()["actions"] == 0
    assert (
        cli("import", "chunk-actions", str(path), "--chunk-id-field", "clip", "--context-field", "show") == 0
    )
    out = capsys.readouterr().out
    assert f"imported {path}: 3 actions new, 0 already present; 2 new chunks of 2; import batch 1" in out
    assert "2 chunks, 1 with several readers (mean agreement 0.50, 1 ties" in out and "0% labelled" in out
    cli("import", "chunk-actions", str(path), "--chunk-id-field", "clip")
    assert "nothing new" in capsys.readouterr().out

    argv = (
        "record-action",
        "c1",
        "--content",
        TIP,
        "--action",
        "saved",
        "--user",
        "cy",
        "--at",
        "2026-05-02",
    )
    assert cli(*argv) == 0 and "recorded: cy saved chunk 'c1'" in capsys.readouterr().out
    assert cli(*argv) == 0 and "already recorded" in capsys.readouterr().out
    with pytest.raises(signals_cli.errors()):
        cli("record-action", "c1", "--content", "Other text", "--action", "saved")
    store = SignalsStore(open_database(os.environ["FTA_DATABASE_URL"]))
    assert store.counts()["actions"] == 4
    examples = {e.chunk_id: e for e in chunk_examples(store.snapshot(recorded_through=None))}
    assert (examples["c1"].label, examples["c1"].context) == (1, {"show": "Deep Work Radio"})


def test_seed_demo_seeds_once(cli, capsys):
    from fine_tuning_assets.core.config import Settings

    settings = Settings.from_env()
    signals_cli.seed_demo(settings)
    assert "seeded the signals store" in capsys.readouterr().out
    signals_cli.seed_demo(settings)
    assert "already holds" in capsys.readouterr().out


def test_module_doctests_pass():
    import doctest

    from fine_tuning_assets.tasks.signals import demo, examples, imports, records, store

    for module in (records, imports, store, examples, demo):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.postgres
def test_the_store_on_postgresql(postgres_url, tmp_path):
    store = SignalsStore(open_database(postgres_url))
    batch = generate_demo_signals(n_chunks=30, n_users=4, seed=5)
    assert store.add(batch, source="demo").actions_new == len(batch.actions)
    assert not store.add(batch, source="demo").wrote_anything
    with pytest.raises(SignalsStoreError, match="chunk 'dwr-e01-c00' has content"):
        store.record_action(act("dwr-e01-c00", "saved", "ana", content="Another text"))
    watermark = store.latest_recorded_at()
    store.record_action(act("new", "saved", "ana", context={"podcast": "P"}))
    assert (
        len(store.snapshot(recorded_through=watermark)) == len(batch.actions)
        and store.count_after(watermark) == 1
    )
    assert store.snapshot(recorded_through=None)[-1].context == {"podcast": "P"}
    assert chunk_examples(store.snapshot(recorded_through=watermark)) == chunk_examples(batch.actions)
