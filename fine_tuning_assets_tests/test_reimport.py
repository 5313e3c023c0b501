"""Importing the same decisions again changes nothing, whatever the order, the extra rows or the format."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from fine_tuning_assets.tasks.dedup.imports import parse_cluster_rows, parse_labelled_pairs
from fine_tuning_assets.tasks.dedup.records import MAX_LISTED_PROBLEMS, DecisionBatch
from fine_tuning_assets.tasks.dedup.store import FeedbackStore, FeedbackStoreError
from fine_tuning_assets_tests.conftest import cluster, insight


def pair_rows(n: int, *, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [
        (f"Drug {i} lowers blood pressure in adults.", f"Drug {i} reduces blood pressure.", rng.choice("01"))
        for i in range(n)
    ]


def write_csv(path: Path, rows) -> Path:  # noqa: ANN001
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text_a", "text_b", "label"])
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows) -> Path:  # noqa: ANN001
    path.write_text("".join(json.dumps({"text_a": a, "text_b": b, "label": y}) + "\n" for a, b, y in rows))
    return path


def import_pairs(store: FeedbackStore, path: Path, **options):  # noqa: ANN003
    return store.add_decisions(parse_labelled_pairs(path, **options), kind="import:pairs", source=str(path))


def test_a_reordered_re_export_with_a_new_first_row_stores_only_the_new_row(store, tmp_path):
    rows = pair_rows(30)
    first = import_pairs(store, write_csv(tmp_path / "decisions.csv", rows))
    assert first.new_cluster_count == 30 and first.already_present == () and first.changed == ()
    # The same decisions re-exported: one new row on top, the rest shuffled, the texts swapped in some rows.
    shuffled = random.Random(1).sample(rows, len(rows))
    swapped = [(b, a, y) if i % 3 == 0 else (a, b, y) for i, (a, b, y) in enumerate(shuffled)]
    new_row = ("Statins lower LDL cholesterol.", "Statin therapy cuts LDL.", "1")
    again = import_pairs(store, write_csv(tmp_path / "again.csv", [new_row, *swapped]))
    assert (again.new_cluster_count, len(again.already_present), again.changed) == (1, 30, ())
    assert store.counts()["clusters"] == 31
    # As JSON Lines, with rows appended at the end: only the appended rows are new.
    appended = [*rows, ("Aspirin thins the blood.", "Aspirin is an anticoagulant.", "0")]
    as_jsonl = import_pairs(store, write_jsonl(tmp_path / "decisions.jsonl", appended))
    assert (as_jsonl.new_cluster_count, len(as_jsonl.already_present)) == (1, 30)
    assert store.counts()["clusters"] == 32


def test_re_importing_the_same_content_writes_nothing(store, tmp_path):
    path = write_csv(tmp_path / "decisions.csv", pair_rows(10))
    import_pairs(store, path)
    batches_before = store.counts()
    again = import_pairs(store, path)
    assert again.batch_id is None and again.new_cluster_count == 0 and len(again.already_present) == 10
    assert store.counts() == batches_before
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM import_batches").scalar() == 1


def test_a_pair_decided_otherwise_by_the_same_reviewer_is_a_changed_decision(store, tmp_path):
    rows = pair_rows(5)
    import_pairs(store, write_csv(tmp_path / "first.csv", rows), reviewer="ana")
    flipped = [(a, b, "0" if y == "1" else "1") if i == 2 else (a, b, y) for i, (a, b, y) in enumerate(rows)]
    summary = import_pairs(store, write_csv(tmp_path / "second.csv", flipped), reviewer="ana")
    assert summary.new_cluster_count == 1 and len(summary.changed) == 1 and len(summary.already_present) == 4
    # Another reviewer's decisions on the same pairs are new decisions, not changes.
    other = import_pairs(store, write_csv(tmp_path / "third.csv", rows), reviewer="bo")
    assert other.new_cluster_count == 5 and other.changed == ()
    assert store.counts()["clusters"] == 11


def test_duplicate_rows_in_one_file_are_stored_once_and_reported(store, tmp_path):
    rows = pair_rows(4)
    path = write_csv(tmp_path / "d.csv", [*rows, rows[1], (rows[3][1], rows[3][0], rows[3][2])])
    batch = parse_labelled_pairs(path)
    assert len(batch.clusters) == 4
    assert batch.duplicates == (
        f"{path}:6: the same decision as line 3; stored once",
        f"{path}:7: the same decision as line 5; stored once",
    )


def test_a_given_decision_time_is_part_of_the_identity_but_the_file_time_is_not(store, tmp_path):
    path = tmp_path / "timed.csv"
    path.write_text(
        "text_a,text_b,label,decided_at\n"
        "A cat sits.,A cat is sitting.,1,2026-01-05T10:00:00\n"
        "A cat sits.,A cat is sitting.,1,2026-02-05T10:00:00\n"
        "A dog barks.,A dog is barking.,1,\n"
    )
    batch = parse_labelled_pairs(path)
    assert len(batch.clusters) == 3 and batch.duplicates == ()
    assert batch.clusters[0].decided_at.isoformat() == "2026-01-05T10:00:00+00:00"
    store.add_decisions(batch, kind="test", source="timed")
    path.touch()  # a later modification time does not make the untimed row a new decision
    assert import_pairs(store, path).batch_id is None


def test_cluster_files_identical_again_are_already_present_and_a_changed_cluster_is_an_error(store, tmp_path):
    header = "cluster_id,status,reviewer,decided_at,insight_id,statement,similarity,selected\n"
    rows = (
        "c1,approved,ana,2026-01-05T10:00:00,i1,Coffee raises alertness.,0.9,yes\n"
        "c1,approved,ana,2026-01-05T10:00:00,i2,Caffeine makes you alert.,0.9,yes\n"
        "c2,pending,,,i3,Sleep helps memory.,0.7,\n"
        "c2,pending,,,i4,Rest improves recall.,0.7,\n"
    )
    path = tmp_path / "clusters.csv"
    path.write_text(header + rows)
    store.add_decisions(parse_cluster_rows(path), kind="test", source="clusters")
    store.record_decision("c2", status="rejected", reviewer="bo")
    again = store.add_decisions(parse_cluster_rows(path), kind="test", source="clusters")
    assert again.batch_id is None and again.already_present == ("c1", "c2")

    changed = tmp_path / "changed.csv"
    changed.write_text(header + rows.replace("approved,ana", "approved,eve"))
    with pytest.raises(FeedbackStoreError) as raised:
        store.add_decisions(parse_cluster_rows(changed), kind="test", source="changed.csv")
    assert (
        "cluster 'c1' already exists in the store with other content (reviewer 'ana' in the store, 'eve' here)"
        in str(raised.value)
    )


def test_a_refused_batch_lists_the_first_50_problems_and_counts_the_rest(store):
    bad = DecisionBatch(
        insights=(insight(1), insight(2)),
        clusters=tuple(
            cluster(f"c{n}", "approved", [("i1", True), ("i2", False)])
            for n in range(MAX_LISTED_PROBLEMS + 7)
        ),
    )
    with pytest.raises(FeedbackStoreError) as raised:
        store.add_decisions(bad, kind="test", source="bad.csv")
    message = str(raised.value)
    assert message.startswith(f"bad.csv: {MAX_LISTED_PROBLEMS + 7} problem(s), nothing was written")
    assert message.count("needs at least 2 selected members") == MAX_LISTED_PROBLEMS
    assert message.endswith("... and 7 more")
    assert store.counts()["clusters"] == 0


def test_20k_decisions_imported_twice_reordered_and_as_jsonl_stay_20k(store, tmp_path):
    rows = pair_rows(20_000)
    first = import_pairs(store, write_csv(tmp_path / "decisions.csv", rows))
    assert first.new_cluster_count == 20_000
    reordered = random.Random(7).sample(rows, len(rows))
    again = import_pairs(store, write_jsonl(tmp_path / "decisions.jsonl", reordered))
    assert again.batch_id is None and len(again.already_present) == 20_000
    assert store.counts()["clusters"] == 20_000
