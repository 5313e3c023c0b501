"""The triage task's data side: reading corrections files, the store (labels, re-import, watermarks), the
demo reviews and the CLI's import and correct commands. Fast: no model is loaded."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from fine_tuning_assets.cli import triage as triage_cli
from fine_tuning_assets.core.database import import_batches, open_database
from fine_tuning_assets.core.imports import ImportFileError
from fine_tuning_assets.tasks.triage.demo import (
    _ASIDE,
    CATEGORIES,
    DEMO_APPS,
    TOPICS,
    URGENCIES,
    generate_demo_triage,
    original_accuracy,
    write_demo_file,
)
from fine_tuning_assets.tasks.triage.imports import read_triage_corrections
from fine_tuning_assets.tasks.triage.records import TriageBatch, TriageCorrection, batch_problems
from fine_tuning_assets.tasks.triage.store import TriageStore, TriageStoreError

T = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
HEADER = "review_id,text,app,rating,original_category,category,original_urgency,urgency,corrected_by\n"


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def refused(call, *args, **kwargs) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        call(*args, **kwargs)
    return caught.value


def by_line(error: ImportFileError) -> dict[int, str]:
    lines: dict[int, str] = {}
    for row in error.errors:
        lines[row.line] = f"{lines.get(row.line, '')}{row.message};"
    return lines


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """One migrated database for the module (migrating costs ~0.5 s); each test empties the table."""
    return open_database(f"sqlite:///{tmp_path_factory.mktemp('triage') / 'fta.sqlite'}")


@pytest.fixture
def store(engine) -> TriageStore:
    from fine_tuning_assets.tasks.triage.tables import triage_corrections

    with engine.begin() as connection:
        connection.execute(triage_corrections.delete())
        connection.execute(import_batches.delete())
    return TriageStore(engine)


def stored_rows(store: TriageStore) -> int:
    return int(store.counts()["corrections"])


def correction(
    review_id: str, category: str | None, original: str | None = None, **other
) -> TriageCorrection:
    return TriageCorrection(
        review_id,
        other.pop("text", f"text of {review_id}"),
        original={"category": original},
        corrected={"category": category, **other.pop("corrected", {})},
        **other,
    )


# -- reading files --------------------------------------------------------------------------------------------
def test_a_corrections_file_reads_both_sides_with_lines_and_label_sets(tmp_path):
    path = write(
        tmp_path,
        "corrections.csv",
        HEADER
        + "r1,Crashes at login since the update,Notely,1,PERFORMANCE, BUG ,high,high,ana\n"
        + "\n"
        + "r2,Please add a dark mode,Notely,4,USABILITY,FEATURE,?,low,\n",
    )
    batch = read_triage_corrections(path)
    first, second = batch.corrections
    assert batch.lines == [2, 4] and batch.duplicates == []
    assert first.corrected == {"category": "BUG", "urgency": "high", "topic": None, "summary": None}
    assert first.original["category"] == "PERFORMANCE" and first.rating == 1.0 and first.app == "Notely"
    assert (first.confirmed("category"), first.confirmed("urgency"), first.confirmed("topic")) == (
        False,
        True,
        None,
    )
    assert first.corrected_by == "ana" and second.corrected_by is None
    assert second.original["urgency"] is None and second.confirmed("urgency") is None  # "?" is not given
    assert batch.label_sets == {"category": {"BUG", "FEATURE"}, "urgency": {"high", "low"}, "topic": set()}


def test_a_bad_file_is_refused_whole_with_every_problem_and_its_line(tmp_path):
    path = write(
        tmp_path,
        "bad.csv",
        HEADER
        + "r1,Crashes at login,Notely,1,PERFORMANCE,BUG,high,high,ana\n"  # 2: fine
        + "r2,,Notely,2,BUG,BUG,low,low,ana\n"  # 3: no text
        + "r3,Slow sync,Notely,lots,BUG,PERFORMANCE,low,medium,ana\n"  # 4: rating not a number
        + "r4,Confusing menus,Notely,3,USABILITY,?,low,,ana\n"  # 5: nothing the person gave
        + "r1,Crashes at login,Notely,1,PERFORMANCE,FEATURE,high,high,ana\n"  # 6: r1 again, other content
        + ",No id here,Notely,3,OTHER,OTHER,low,low,ana\n"  # 7: no review id
        + f"r5,Fine,Notely,5,OTHER,{'X' * 201},low,low,ana\n"  # 8: label too long
        + "r6,Great,Notely,99,OTHER,OTHER,low,low,ana\n",  # 9: rating out of range
    )
    error = refused(read_triage_corrections, path)
    lines = by_line(error)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9]
    assert "text (text) is empty" in lines[3]
    assert "rating 'lots' is not a number" in lines[4]
    assert "no value of the person's triage" in lines[5]
    assert "review 'r1' has other content than on line 2 (category differ)" in lines[6]
    assert "review id (review_id) is missing" in lines[7]
    assert "longer than 200 characters" in lines[8]
    assert "rating 99 is outside 0 to 10" in lines[9]
    assert str(error).startswith(f"{path}: 7 problems on 7 line(s); nothing was imported")
    nul = write(tmp_path, "nul.csv", "text,category\nfine,BUG\nbad\x00text,BUG\n")
    assert "NUL character" in by_line(refused(read_triage_corrections, nul))[3]


def test_missing_columns_and_bad_arguments(tmp_path):
    no_text = write(tmp_path, "a.csv", "body,category\nhello,BUG\n")
    assert "missing required column text" in str(refused(read_triage_corrections, no_text))
    no_labels = write(tmp_path, "b.csv", "text,original_category\nhello,BUG\n")
    message = str(refused(read_triage_corrections, no_labels))
    assert "no column of the person's triage" in message and "field_names" in message
    with pytest.raises(ValueError, match="unknown field"):
        read_triage_corrections(no_text, field_names={"severity": "x"})
    with pytest.raises(ValueError, match="must differ"):
        read_triage_corrections(no_text, text_field="category")


def test_a_plain_labelled_file_without_original_columns_imports(tmp_path, store):
    path = write(tmp_path, "labelled.csv", "text,label\nKeeps crashing,BUG\nAdd   widgets,FEATURE\n")
    batch = read_triage_corrections(path, field_names={"category": "label"})
    assert [c.corrected["category"] for c in batch.corrections] == ["BUG", "FEATURE"]
    assert not any(c.has_original() for c in batch.corrections)
    ids = [c.review_id for c in batch.corrections]
    assert all(re.fullmatch(r"review-[0-9a-f]{16}", i) for i in ids)
    # Ids come from the (whitespace-normalised) text: the same in another file, order and spacing.
    other = write(tmp_path, "other.csv", "label,text\nFEATURE,Add widgets\nBUG,Keeps crashing\n")
    assert [
        c.review_id for c in read_triage_corrections(other, field_names={"category": "label"}).corrections
    ] == ids[::-1]
    report = store.add(batch, source="labelled")
    assert (report.new, report.confirmations, report.corrections) == (2, 0, 0)
    assert report.new_labels["category"] == ("BUG", "FEATURE")
    assert store.counts()["with_original"] == 0


def test_jsonl_labels_may_be_numbers_and_repeated_rows_are_stored_once(tmp_path, store):
    rows = [
        {
            "review_id": "r1",
            "text": "Slow",
            "category": "PERFORMANCE",
            "urgency": 2,
            "corrected_at": "2026-05-01T09:00:00",
        },
        {
            "review_id": "r1",
            "text": "Slow",
            "category": "PERFORMANCE",
            "urgency": 2,
            "corrected_at": "2026-05-01T09:00:00",
        },
    ]
    path = write(tmp_path, "c.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    batch = read_triage_corrections(path)
    assert len(batch.corrections) == 1 and batch.corrections[0].corrected["urgency"] == "2"
    assert batch.corrections[0].corrected_at == T  # naive = UTC
    assert batch.duplicates == [f"{path}:2: the same correction as line 1; stored once"]
    assert store.add(batch, source="jsonl").new == 1


# -- the store ------------------------------------------------------------------------------------------------
def test_reimporting_the_same_file_writes_nothing(tmp_path, store):
    path = write_demo_file(tmp_path / "demo.csv", n_reviews=60)
    first = store.add(read_triage_corrections(path), source="demo")
    assert (first.new, first.already_present, first.batch_id is not None) == (60, 0, True)
    watermark = store.latest_recorded_at()
    again = store.add(read_triage_corrections(path), source="demo")
    assert (again.new, again.already_present, again.batch_id, again.wrote_anything) == (0, 60, None, False)
    assert (again.confirmations, again.corrections) == (0, 0)
    assert store.latest_recorded_at() == watermark and store.count_after(watermark) == 0
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(import_batches)).scalar_one() == 1


def test_unknown_labels_are_refused_with_their_lines_unless_allowed(tmp_path, store):
    store.add(
        read_triage_corrections(write(tmp_path, "a.csv", HEADER + "r1,Crash,N,1,BUG,BUG,low,high,ana\n")),
        source="a",
    )
    assert store.label_sets() == {"category": ["BUG"], "urgency": ["high"], "topic": []}
    path = write(
        tmp_path,
        "b.csv",
        HEADER
        + "r2,Slow,N,2,WHATEVER,BUG,low,high,ana\n"  # the AI's label may be anything
        + "r3,Crashes,N,1,BUG,Bug,low,high,ana\n"
        + "r4,Add it,N,4,BUG,FEATURE,low,low,ana\n"
        + "r5,Crash again,N,1,BUG,Bug,low,high,ana\n",
    )
    batch = read_triage_corrections(path)
    with pytest.raises(TriageStoreError) as caught:
        store.add(batch, source="b")
    message = str(caught.value)
    assert "nothing was written" in message
    assert "category: unknown labels 'Bug' (lines 3, 5) (did you mean 'BUG'?), 'FEATURE' (line 4)" in message
    assert "urgency: unknown label 'low' (line 4)" in message
    assert "pass allow_new_labels=True (--allow-new-labels) to accept them" in message
    assert stored_rows(store) == 1
    report = store.add(batch, source="b", allow_new_labels=True)
    assert report.new == 4 and report.new_labels == {
        "category": ("Bug", "FEATURE"),
        "urgency": ("low",),
        "topic": (),
    }
    assert store.label_sets()["category"] == ["BUG", "Bug", "FEATURE"]
    # A field the store holds no label of is defined by the batch that first brings one.
    assert store.add(
        TriageBatch.of([correction("r9", "BUG", corrected={"topic": "login"})]), source="c"
    ).new_labels["topic"] == ("login",)


def test_confirmations_and_corrections_are_counted_per_field(store):
    batch = TriageBatch.of(
        [
            correction("r1", "BUG", "BUG", corrected={"urgency": "high", "summary": "Crash"}),
            TriageCorrection(
                "r2",
                "slow",
                original={"category": "BUG", "urgency": "high", "summary": "A bug"},
                corrected={"category": "PERFORMANCE", "urgency": "high", "summary": "Slowness"},
            ),
            correction("r3", "FEATURE"),  # no original: neither
        ]
    )
    report = store.add(batch, source="unit")
    assert report.confirmations_by_field == {"category": 1, "urgency": 1, "topic": 0, "summary": 0}
    assert report.corrections_by_field == {"category": 1, "urgency": 0, "topic": 0, "summary": 1}
    assert (report.confirmations, report.corrections) == (2, 2)
    counts = store.counts()
    assert counts["confirmations"] == report.confirmations_by_field
    assert counts["changed"] == report.corrections_by_field
    assert (counts["corrections"], counts["reviews"], counts["with_original"]) == (3, 3, 2)


def test_a_store_refusal_lists_every_problem_and_writes_nothing(store):
    bad = TriageBatch.of(
        [
            correction("r1", None, "BUG"),
            correction("r2", "BUG", text="nul\x00here"),
            correction("r3", "BUG", rating=float("nan")),
            correction("r4", "BUG", corrected_at=datetime(2026, 5, 1)),
        ],
        lines=[2, 3, 4, 5],
    )
    problems = batch_problems(bad)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5"]
    with pytest.raises(TriageStoreError, match="4 problem"):
        store.add(bad, source="unit")
    with pytest.raises(TriageStoreError, match="nothing to import"):
        store.add(TriageBatch.of([]), source="unit")
    assert stored_rows(store) == 0


def test_snapshot_respects_the_watermark_and_keeps_later_corrections(store):
    store.add(TriageBatch.of([correction("r1", "BUG", "BUG"), correction("r2", "OTHER")]), source="first")
    watermark = store.latest_recorded_at()
    later = correction("r1", "OTHER", "BUG", corrected_at=T)  # the same review, corrected again
    store.add(TriageBatch.of([later]), source="second")
    assert store.count_after(watermark) == 1 and store.count_after(None) == 3
    before = store.snapshot(recorded_through=watermark)
    assert [(c.review_id, c.corrected["category"]) for c in before] == [("r1", "BUG"), ("r2", "OTHER")]
    everything = store.snapshot(recorded_through=None)
    assert [c.corrected["category"] for c in everything] == ["BUG", "OTHER", "OTHER"]
    assert everything[-1] == later and everything[-1].recorded_at > watermark
    assert all(c.recorded_at is not None and c.recorded_at <= watermark for c in before)
    counts = store.counts()
    assert (counts["corrections"], counts["reviews"]) == (3, 2)
    assert counts["last_recorded_at"] == everything[-1].recorded_at.isoformat()


def test_record_correction_is_checked_like_an_import_and_names_who(store):
    store.add(TriageBatch.of([correction("r1", "BUG", "BUG")]), source="seed")
    report = store.record_correction(correction("r2", "BUG", "PERFORMANCE"), actor="maya")
    assert (report.new, report.corrections, report.confirmations) == (1, 1, 0)
    [recorded] = [c for c in store.snapshot(recorded_through=None) if c.review_id == "r2"]
    assert recorded.corrected_by == "maya" and recorded.corrected_at is not None
    with pytest.raises(TriageStoreError, match="unknown label 'bug'"):
        store.record_correction(correction("r3", "bug"), actor="maya")
    with pytest.raises(TriageStoreError, match="actor"):
        store.record_correction(correction("r3", "BUG"), actor=" ")
    assert stored_rows(store) == 2


# -- the demo ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> TriageBatch:
    return generate_demo_triage()


def test_the_demo_is_deterministic(demo):
    assert generate_demo_triage() == demo
    assert generate_demo_triage(seed=8) != demo
    assert generate_demo_triage(n_reviews=50).corrections == demo.corrections[:50]


def test_the_demo_has_the_promised_shape(demo):
    corrections = demo.corrections
    assert len(corrections) == 900 and len({c.review_id for c in corrections}) == 900
    assert batch_problems(demo) == []
    categories = Counter(c.corrected["category"] for c in corrections)
    assert set(categories) == set(CATEGORIES) and set(demo.label_sets["topic"]) == set(TOPICS)
    assert set(demo.label_sets["urgency"]) == set(URGENCIES)
    assert categories.most_common(1)[0][0] == "BUG" and categories["BUG"] > 0.2 * len(corrections)
    assert categories["SECURITY"] < 0.08 * len(corrections)  # imbalanced, as real reviews are
    assert {c.app for c in corrections} == {app.name for app in DEMO_APPS}
    assert len({c.text for c in corrections}) >= 600
    # The original AI: right about the category ~75% of the time, urgency and topic ~70%.
    assert 0.70 <= original_accuracy(corrections, "category") <= 0.80
    assert 0.62 <= original_accuracy(corrections, "urgency") <= 0.78
    assert 0.62 <= original_accuracy(corrections, "topic") <= 0.78
    short = [c for c in corrections if len(c.text.split()) <= 4]
    longer = [c for c in corrections if len(c.text.split()) > 4]
    assert (
        len(short) > 50
        and original_accuracy(short, "category") < original_accuracy(longer, "category") - 0.05
    )
    # A mixed review (a second, shorter complaint) is often filed by the AI under its second complaint.
    asides = [aside for texts in _ASIDE.values() for aside in texts]
    mixed = [c for c in corrections if any(a in c.text or a.lower() in c.text for a in asides)]
    rest = [c for c in corrections if not any(a in c.text or a.lower() in c.text for a in asides)]
    assert (
        len(mixed) > 50 and original_accuracy(mixed, "category") < original_accuracy(rest, "category") - 0.1
    )
    # Star ratings go with the category.
    mean = {
        k: sum(c.rating for c in corrections if c.corrected["category"] == k) / n
        for k, n in categories.items()
    }
    assert mean["SECURITY"] < mean["BUG"] < mean["PERFORMANCE"] < mean["FEATURE"]
    # Summaries: edited on some reviews, always when the AI got the category wrong.
    edited = [c.confirmed("summary") is False for c in corrections]
    assert 0.3 < sum(edited) / len(edited) < 0.8
    assert all(c.confirmed("summary") is False for c in corrections if c.confirmed("category") is False)
    times = [c.corrected_at for c in corrections]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_the_demo_has_near_duplicates_within_an_app(demo):
    def words(text: str) -> frozenset[str]:
        return frozenset(re.findall(r"[a-z0-9']+", text.lower()))

    by_app: dict[str, list[frozenset[str]]] = defaultdict(list)
    for c in demo.corrections:
        if len(c.text.split()) > 6:
            by_app[c.app].append(words(c.text))
    near = 0
    for texts in by_app.values():
        for i, a in enumerate(texts):
            near += any(len(a & b) / len(a | b) >= 0.85 for b in texts[:i])
    assert near >= 60


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_demo_file_reads_back_as_the_demo(tmp_path, fmt):
    path = write_demo_file(tmp_path / f"demo.{fmt}", n_reviews=120, format=fmt)
    assert read_triage_corrections(path).corrections == generate_demo_triage(n_reviews=120).corrections


# -- the CLI -------------------------------------------------------------------------------------------------
@pytest.fixture
def fta(tmp_path, monkeypatch, store, capsys):
    """Run a triage command through its own parser, with FTA_HOME at the module's database."""
    monkeypatch.setenv("FTA_DATABASE_URL", str(store.engine.url))
    monkeypatch.setenv("FTA_HOME", str(tmp_path / ".fta"))
    parser = argparse.ArgumentParser(prog="fta")
    commands = parser.add_subparsers(dest="command", required=True)
    imports = commands.add_parser("import").add_subparsers(dest="shape", required=True)
    evaluations = commands.add_parser("evaluate").add_subparsers(dest="what", required=True)
    triage_cli.add_commands(commands, imports, evaluations)

    def run(*argv: str) -> str:
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
        return capsys.readouterr().out

    return run


def test_cli_imports_a_file_then_finds_nothing_new(tmp_path, fta):
    path = write(
        tmp_path,
        "c.csv",
        "id,body,original_label,label\nr1,Crashes at login,PERFORMANCE,BUG\nr2,Dark mode please,FEATURE,FEATURE\n",
    )
    options = ("--review-id-field", "id", "--text-field", "body", "--field", "category=label")
    out = fta("import", "triage-corrections", str(path), *options)
    assert re.search(
        rf"imported {re.escape(str(path))}: 2 new, 0 already present; 1 corrections, 1 confirmations; import batch \d+",
        out,
    )
    assert "new category labels: BUG, FEATURE" in out
    out = fta("import", "triage-corrections", str(path), *options)
    assert "nothing new" in out and "nothing was written" in out
    with pytest.raises(triage_cli.CliError, match="FIELD=COLUMN"):
        fta("import", "triage-corrections", str(path), "--field", "category")


def test_cli_records_one_correction(fta, store):
    out = fta(
        "correct-triage",
        "rv-1",
        "--text",
        "Crashes at login",
        "--category",
        "BUG",
        "--original-category",
        "PERFORMANCE",
        "--urgency",
        "high",
        "--original-urgency",
        "high",
        "--by",
        "maya",
    )
    assert (
        "recorded review rv-1: category 'PERFORMANCE' -> 'BUG' (corrected); urgency 'high' (confirmed)" in out
    )
    [recorded] = store.snapshot(recorded_through=None)
    assert recorded.corrected_by == "maya" and recorded.original["category"] == "PERFORMANCE"
    with pytest.raises(TriageStoreError, match="--allow-new-labels"):
        fta("correct-triage", "rv-2", "--text", "Add it", "--category", "FEATURE")
    assert "new category labels: FEATURE" in fta(
        "correct-triage", "rv-2", "--text", "Add it", "--category", "FEATURE", "--allow-new-labels"
    )


def test_seed_demo_fills_an_empty_store_once(fta, store, capsys):
    from fine_tuning_assets.core.config import Settings

    settings = Settings.from_env()
    triage_cli.seed_demo(settings)
    assert "seeded the triage store" in capsys.readouterr().out and stored_rows(store) == 900
    triage_cli.seed_demo(settings)
    assert "already holds 900 corrections" in capsys.readouterr().out
