"""Parsing and validating human decisions imported from CSV and JSON Lines files."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fine_tuning_assets.tasks.dedup.imports import (
    MAX_LISTED_ERRORS,
    DecisionImportError,
    RowError,
    parse_cluster_rows,
    parse_labelled_pairs,
    parse_positive_rule,
    read_records,
)
from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster

D = "2026-01-05T10:00:00"
HEADER = "cluster_id,status,reviewer,decided_at,insight_id,statement,similarity,selected"

GOOD_CSV = (
    "cluster_id,status,reviewer,decided_at,insight_id,statement,similarity,selected,confidence,source,topic\n"
    "c1,Approved,ana,2026-01-05T10:00:00,i1,Coffee raises alertness.,0.93,yes,0.8,pubmed,sleep\n"
    "c1,approved,ana,2026-01-05T10:00:00,i2,Caffeine makes you alert.,0.91,1,,,\n"
    "c1,approved,ana,2026-01-05T10:00:00,i3,Tea is green.,0.5,no,,,\n"
    "c2,REJECTED,bob,2026-01-05T11:00:00+01:00,i1,Coffee raises alertness.,,,,,\n"
    "c2,rejected,bob,2026-01-05T11:00:00+01:00,i4,Tea is green.,,false,,,\n"
    "c3,pending,,,i5,Sleep helps memory.,,,,,\n"
    "c3,pending,,,i6,Rest improves recall.,0.7,,,,\n"
)

EXPECTED = DecisionBatch(
    insights=(
        Insight("i1", "Coffee raises alertness.", {"confidence": 0.8, "source": "pubmed", "topic": "sleep"}),
        Insight("i2", "Caffeine makes you alert."),
        Insight("i3", "Tea is green."),
        Insight("i4", "Tea is green."),
        Insight("i5", "Sleep helps memory."),
        Insight("i6", "Rest improves recall."),
    ),
    clusters=(
        MergeCluster(
            "c1",
            "approved",
            "ana",
            datetime(2026, 1, 5, 10, tzinfo=UTC),
            (
                ClusterMember("i1", 0.93, True),
                ClusterMember("i2", 0.91, True),
                ClusterMember("i3", 0.5, False),
            ),
        ),
        MergeCluster(
            "c2",
            "rejected",
            "bob",
            datetime(2026, 1, 5, 10, tzinfo=UTC),
            (ClusterMember("i1", None, False), ClusterMember("i4", None, False)),
        ),
        MergeCluster(
            "c3", "pending", None, None, (ClusterMember("i5", None, False), ClusterMember("i6", 0.7, False))
        ),
    ),
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def import_errors(call, *args, **kwargs) -> DecisionImportError:
    with pytest.raises(DecisionImportError) as caught:
        call(*args, **kwargs)
    return caught.value


def lines_of(error: DecisionImportError) -> list[int]:
    return [row.line for row in error.errors]


def messages(error: DecisionImportError) -> str:
    return "\n".join(f"{row.line}: {row.message}" for row in error.errors)


def insight_id(text: str, prefix: str = "pair") -> str:
    return f"{prefix}-{hashlib.sha1(' '.join(text.split()).encode()).hexdigest()[:12]}"


# -- cluster-shaped rows: good files ------------------------------------------------------------------------
def test_cluster_csv_parses_to_the_expected_batch(tmp_path):
    batch = parse_cluster_rows(write(tmp_path, "clusters.csv", GOOD_CSV))
    assert batch == EXPECTED
    assert all(c.decided_at is None or c.decided_at.tzinfo is UTC for c in batch.clusters)


def _flat_jsonl_lines() -> list[dict]:
    header, *rows = GOOD_CSV.splitlines()
    names = header.split(",")
    objects = []
    for row in rows:
        obj = {name: value for name, value in zip(names, row.split(","), strict=True) if value != ""}
        if "similarity" in obj:
            obj["similarity"] = float(obj["similarity"])
        if "confidence" in obj:
            obj["confidence"] = float(obj["confidence"])
        objects.append(obj)
    return objects


def test_cluster_jsonl_flat_lines_parse_like_csv(tmp_path):
    text = "\n".join(json.dumps(obj) for obj in _flat_jsonl_lines()) + "\n"
    assert parse_cluster_rows(write(tmp_path, "clusters.jsonl", text)) == EXPECTED


def test_cluster_jsonl_nested_and_flat_lines_mixed(tmp_path):
    lines = [
        {
            "cluster_id": "c1",
            "status": "approved",
            "reviewer": "ana",
            "decided_at": "2026-01-05T10:00:00Z",
            "members": [
                {
                    "insight_id": "i1",
                    "statement": "Coffee raises alertness.",
                    "similarity": 0.93,
                    "selected": True,
                    "confidence": 0.8,
                    "source": "pubmed",
                    "topic": "sleep",
                },
                {
                    "insight_id": "i2",
                    "statement": "Caffeine makes you alert.",
                    "similarity": 0.91,
                    "selected": 1,
                },
                {"insight_id": "i3", "statement": "Tea is green.", "similarity": 0.5, "selected": False},
            ],
        },
        {
            "cluster_id": "c2",
            "status": "rejected",
            "reviewer": "bob",
            "decided_at": "2026-01-05T11:00:00+01:00",
            "members": [
                {"insight_id": "i1", "statement": "Coffee raises alertness."},
                {"insight_id": "i4", "statement": "Tea is green.", "selected": "false"},
            ],
        },
        {"cluster_id": "c3", "status": "pending", "insight_id": "i5", "statement": "Sleep helps memory."},
        {
            "cluster_id": "c3",
            "status": "pending",
            "insight_id": "i6",
            "statement": "Rest improves recall.",
            "similarity": 0.7,
            "decided_at": None,
        },
    ]
    text = "\n".join(json.dumps(obj) for obj in lines) + "\n\n"
    assert parse_cluster_rows(write(tmp_path, "clusters.json", text)) == EXPECTED


def test_same_statement_under_two_ids_is_allowed(tmp_path):
    text = f"{HEADER}\nc1,approved,ana,{D},a,Same text.,,true\nc1,approved,ana,{D},b,Same text.,,true\n"
    batch = parse_cluster_rows(write(tmp_path, "c.csv", text))
    assert [i.id for i in batch.insights] == ["a", "b"]


def test_file_format_overrides_the_extension(tmp_path):
    path = write(tmp_path, "clusters.txt", GOOD_CSV)
    assert parse_cluster_rows(path, file_format="csv") == EXPECTED
    error = import_errors(parse_cluster_rows, path)
    assert "file_format" in str(error)
    with pytest.raises(ValueError, match="unknown file_format"):
        parse_cluster_rows(path, file_format="xlsx")


# -- cluster-shaped rows: every rule ------------------------------------------------------------------------
OK_ROW = f"c9,approved,ana,{D},z1,Zeta one.,,true\nc9,approved,ana,{D},z2,Zeta two.,,true\n"


@pytest.mark.parametrize(
    ("rows", "line", "fragment"),
    [
        (f",approved,ana,{D},i1,A,,true\n", 2, "cluster_id is missing"),
        (f"c1,,ana,{D},i1,A,,true\n", 2, "status is missing"),
        (f"c1,merged,ana,{D},i1,A,,true\n", 2, "status 'merged' is not one of pending, approved, rejected"),
        (f"c1,approved,,{D},i1,A,,true\nc1,approved,,{D},i2,B,,true\n", 2, "reviewer is required"),
        ("c1,rejected,ana,,i1,A,,\nc1,rejected,ana,,i2,B,,\n", 3, "decided_at is required"),
        (f"c1,pending,,{D},i1,A,,\nc1,pending,,{D},i2,B,,\n", 2, "decided_at must be empty for a pending"),
        (f"c1,approved,ana,yesterday,i1,A,,true\nc1,approved,ana,{D},i2,B,,true\n", 2, "not an ISO-8601"),
        (f"c1,approved,ana,{D},,A,,true\n", 2, "insight_id is missing"),
        (f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,{D},i2,   ,,true\n", 3, "statement is empty"),
        (
            f"c1,approved,ana,{D},i1,A,high,true\nc1,approved,ana,{D},i2,B,,true\n",
            2,
            "similarity 'high' is not",
        ),
        (f"c1,approved,ana,{D},i1,A,1.2,true\nc1,approved,ana,{D},i2,B,,true\n", 2, "not between 0 and 1"),
        (f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,{D},i2,B,,\n", 3, "selected is required"),
        (f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,{D},i2,B,,maybe\n", 3, "selected 'maybe'"),
        (
            f"c1,rejected,ana,{D},i1,A,,\nc1,rejected,ana,{D},i2,B,,yes\n",
            3,
            "selected must be false or empty",
        ),
        ("c1,pending,,,i1,A,,1\nc1,pending,,,i2,B,,\n", 2, "selected must be false or empty for a pending"),
        # cross-row rules
        (
            f"c1,approved,ana,{D},i1,A,,true\nc1,rejected,ana,{D},i2,B,,\n",
            3,
            "has status 'rejected' here but",
        ),
        (f"c1,approved,ana,{D},i1,A,,true\nc1,approved,bob,{D},i2,B,,true\n", 3, "has reviewer 'bob' here"),
        (
            f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,2026-01-06,i2,B,,true\n",
            3,
            "has decided_at 2026-01-06T00:00:00+00:00 here but 2026-01-05T10:00:00+00:00 on line 2",
        ),
        (f"c1,approved,ana,{D},i1,A,,true\n", 2, "cluster 'c1' has 1 distinct member(s)"),
        (
            f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,{D},i2,B,,true\nc1,approved,ana,{D},i1,A,,true\n",
            4,
            "lists insight 'i1' twice (also on line 2)",
        ),
        (f"c1,approved,ana,{D},i1,A,,true\nc2,approved,ana,{D},i1,Not A,,true\n", 3, "has statement 'Not A'"),
        (f"c1,approved,ana,{D},i1,A,,true\nc1,approved,ana,{D},i2,B,,false\n", 2, "has 1 selected member(s)"),
    ],
)
def test_each_cluster_rule_is_a_row_error_with_its_line(tmp_path, rows, line, fragment):
    path = write(tmp_path, "c.csv", f"{HEADER}\n{rows}{OK_ROW}")
    error = import_errors(parse_cluster_rows, path)
    assert any(row.line == line and fragment in row.message for row in error.errors), messages(error)


def test_metadata_rules(tmp_path):
    header = HEADER + ",confidence,evidence_type"
    rows = (
        f"c1,approved,ana,{D},i1,A,,true,0.9,rct\n"
        f"c1,approved,ana,{D},i2,B,,true,sure,\n"
        f"c2,approved,ana,{D},i1,A,,true,0.5,\n"
        f"c2,approved,ana,{D},i3,C,,true,,{'x' * 101}\n"
    )
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.csv", f"{header}\n{rows}"))
    assert [(row.line, row.message) for row in error.errors] == [
        (3, "confidence 'sure' is not a number"),
        (4, "insight 'i1' has confidence 0.5 but 0.9 on line 2"),
        (5, "evidence_type is longer than 100 characters"),
    ]


def test_metadata_left_empty_on_one_row_merges(tmp_path):
    header = HEADER + ",confidence,evidence_type"
    rows = f"c1,approved,ana,{D},i1,A,,true,0.9,\nc1,approved,ana,{D},i2,B,,true,,\n"
    rows += f"c2,rejected,ana,{D},i1,A,,,,rct\nc2,rejected,ana,{D},i2,B,,,,\n"
    batch = parse_cluster_rows(write(tmp_path, "c.csv", f"{header}\n{rows}"))
    assert batch.insights[0].metadata == {"confidence": 0.9, "evidence_type": "rct"}


def test_nested_member_errors_name_the_member(tmp_path):
    line = {
        "cluster_id": "c1",
        "status": "approved",
        "reviewer": "ana",
        "decided_at": D,
        "members": [
            {"insight_id": "i1", "statement": "A", "selected": True},
            {"insight_id": "i2", "statement": "B", "selected": True, "similarity": 7},
            {"insight_id": "i3", "statement": "C", "status": "rejected"},
            "i4",
        ],
    }
    bad_members = {"cluster_id": "c2", "status": "pending", "members": "i1,i2"}
    text = json.dumps(line) + "\n" + json.dumps(bad_members) + "\n"
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.jsonl", text))
    assert [(row.line, row.message) for row in error.errors] == [
        (1, "members[3]: status belongs on the cluster, not on a member"),
        (1, "members[4]: expected a JSON object, got a string"),
        (1, "members[2]: similarity 7 is not between 0 and 1"),
        (2, "members must be a list, got a string"),
    ]


def test_several_bad_rows_are_all_reported_in_one_error(tmp_path):
    rows = (
        f"c1,approved,ana,{D},i1,A,,true\n"
        f"c1,approved,ana,{D},i2,B,2,true\n"  # line 3
        f"c2,rejected,ana,{D},i3,C,,\n"
        f"c2,rejected,ana,{D},i4,D,,yes\n"  # line 5
        f"c3,pending,,,i5,E,,\n"
        f"c3,pending,,,i6,,,\n"  # line 7
    )
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.csv", f"{HEADER}\n{rows}"))
    assert lines_of(error) == [3, 5, 7]
    text = str(error)
    assert "3 problems on 3 line(s); nothing was imported" in text
    for line in (3, 5, 7):
        assert f"c.csv:{line}: " in text


def test_missing_columns_is_one_error_listing_missing_and_found(tmp_path):
    text = "cluster_id,status,text,selected\nc1,pending,A,\nc1,pending,B,\n"
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.csv", text))
    assert error.errors == [
        RowError(
            1,
            "missing required columns insight_id, statement; "
            "found columns: cluster_id, status, text, selected",
        )
    ]


def test_decided_clusters_need_reviewer_and_decided_at_columns(tmp_path):
    text = "cluster_id,status,insight_id,statement\nc1,rejected,i1,A\nc1,rejected,i2,B\n"
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.csv", text))
    assert len(error.errors) == 1
    assert error.errors[0].line == 1
    assert "missing required columns reviewer, decided_at" in error.errors[0].message
    pending = "cluster_id,status,insight_id,statement\nc1,pending,i1,A\nc1,pending,i2,B\n"
    assert len(parse_cluster_rows(write(tmp_path, "p.csv", pending)).clusters) == 1


# -- files that are not importable --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.csv", "", "contains no rows"),
        ("blank.csv", "\r\n  \n", "contains no rows"),
        ("header.csv", HEADER + "\r\n", "contains no rows (only a header line)"),
        ("empty.jsonl", "\n\n", "contains no rows"),
    ],
)
def test_empty_files_are_errors(tmp_path, name, content, fragment):
    error = import_errors(parse_cluster_rows, write(tmp_path, name, content))
    assert error.errors[0].line == 0
    assert fragment in str(error)
    assert str(error).startswith(str(tmp_path / name))


def test_not_utf8_is_an_error_with_its_line(tmp_path):
    content = (f"{HEADER}\nc1,pending,,,i1,Caf\xe9,,\n").encode("latin-1")
    error = import_errors(parse_cluster_rows, write(tmp_path, "c.csv", content))
    assert error.errors[0].line == 2
    assert "not UTF-8" in error.errors[0].message


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, "c.csv", b"\xef\xbb\xbf" + GOOD_CSV.encode())
    assert parse_cluster_rows(path) == EXPECTED


def test_structural_errors_are_reported_together(tmp_path):
    jsonl = '{"cluster_id": "c1"\n[1, 2]\n{"a": 1, "a": 2}\n'
    error = import_errors(read_records, write(tmp_path, "r.jsonl", jsonl))
    assert lines_of(error) == [1, 2, 3]
    assert "invalid JSON" in error.errors[0].message
    assert "expected a JSON object, got a list" in error.errors[1].message
    assert "repeats key(s) a" in error.errors[2].message
    csv_text = 'a,b\n1,2,3\n"x\nmore",y\n4\n"unterminated,5\n'
    error = import_errors(read_records, write(tmp_path, "r.csv", csv_text))
    assert [(row.line, row.message.split(" but")[0]) for row in error.errors] == [
        (2, "the row has 3 fields"),
        (5, "the row has 1 fields"),
        (6, "malformed CSV: unexpected end of data"),
    ]


def test_json_array_file_gets_a_hint(tmp_path):
    error = import_errors(read_records, write(tmp_path, "r.json", '[\n{"a": 1}\n]\n'))
    assert "one JSON object per line" in error.errors[0].message


def test_read_records_yields_start_lines_and_skips_blank_lines(tmp_path):
    text = ',a, b \r\n0,"multi\r\nline",x\r\n\r\n1,plain,"with, comma"\r\n'
    records = list(read_records(write(tmp_path, "r.csv", text)))
    assert records == [(2, {"a": "multi\r\nline", "b": "x"}), (5, {"a": "plain", "b": "with, comma"})]
    renamed = list(read_records(tmp_path / "r.csv", column_names=["i", "x", "y"]))
    assert renamed[0] == (2, {"i": "0", "x": "multi\r\nline", "y": "x"})
    with pytest.raises(ValueError, match="needs column_names"):
        read_records(tmp_path / "r.csv", has_header=False)
    with pytest.raises(ValueError, match="only applies to CSV"):
        read_records(write(tmp_path, "r.jsonl", '{"a": 1}\n'), column_names=["a"])


def test_error_list_is_capped(tmp_path):
    rows = "".join(f"a{n},,1\n" for n in range(MAX_LISTED_ERRORS + 10))
    error = import_errors(parse_labelled_pairs, write(tmp_path, "p.csv", f"text_a,text_b,label\n{rows}"))
    assert len(error.errors) == MAX_LISTED_ERRORS + 10
    text = str(error)
    assert text.count("text_b is empty") == MAX_LISTED_ERRORS
    assert text.endswith("... and 10 more")


# -- labelled pairs -----------------------------------------------------------------------------------------
def test_error_message_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pairs.csv", "text_a,text_b,label\nA cat.,A dog.,1\nA cow.,A pig.,maybe\n")
    error = import_errors(parse_labelled_pairs, "pairs.csv", positive=">=0.5")
    assert str(error) == "pairs.csv:3: label 'maybe' is not a number"
    assert error.path == Path("pairs.csv")
    assert error.errors == [RowError(3, "label 'maybe' is not a number")]


def test_labelled_pairs_with_header(tmp_path):
    text = "text_a,text_b,label,extra\nA cat sits.,A cat is sitting.,1,x\nA cat sits.,Dogs bark.,0,y\n"
    when = datetime(2026, 2, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    batch = parse_labelled_pairs(write(tmp_path, "p.csv", text), decided_at=when, reviewer="ana")
    cat, sitting, dogs = (insight_id(t) for t in ("A cat sits.", "A cat is sitting.", "Dogs bark."))
    assert batch.insights == (
        Insight(cat, "A cat sits."),
        Insight(sitting, "A cat is sitting."),
        Insight(dogs, "Dogs bark."),
    )
    approved, rejected = batch.clusters
    assert approved.status == "approved"
    assert approved.members == (ClusterMember(cat, None, True), ClusterMember(sitting, None, True))
    assert rejected.status == "rejected"
    assert rejected.members == (ClusterMember(cat, None, False), ClusterMember(dogs, None, False))
    assert {c.reviewer for c in batch.clusters} == {"ana"}
    assert {c.decided_at for c in batch.clusters} == {datetime(2026, 2, 1, 10, tzinfo=UTC)}
    assert approved.id.startswith("pair-") and len(approved.id) == len("pair-") + 16
    assert approved.id != rejected.id


def test_headerless_sts_b_with_score_rule(tmp_path):
    text = (
        "A plane is taking off.,An air plane is taking off.,5.000\n"
        "A man is playing a flute.,A man is playing a bamboo flute.,3.800\n"
        "A man is slicing a tomato.,A man is slicing a bun.,4\n"
    )
    batch = parse_labelled_pairs(
        write(tmp_path, "sts.csv", text),
        has_header=False,
        column_names=["text_a", "text_b", "label"],
        positive="score>=4",
    )
    assert [c.status for c in batch.clusters] == ["approved", "rejected", "approved"]
    assert len(batch.insights) == 6


def test_quoted_fields_with_commas_newlines_and_crlf(tmp_path):
    text = (
        "label,text_a,text_b\r\n"
        '1,"Coffee, tea and cocoa contain caffeine.","Caffeine is in coffee, tea, cocoa."\r\n'
        '0,"A statement\r\nover two lines.","Something ""else""."\r\n'
        '2,"Bad label row.","Another text."\r\n'
    )
    path = write(tmp_path, "p.csv", text)
    error = import_errors(parse_labelled_pairs, path)
    assert error.errors == [RowError(5, "label '2' is neither positive (1) nor negative (0, false, no)")]
    path.write_bytes(path.read_bytes().replace(b'\r\n2,"Bad', b'\r\n1,"Bad'))
    batch = parse_labelled_pairs(path)
    statements = [i.statement for i in batch.insights]
    assert statements[:2] == ["Coffee, tea and cocoa contain caffeine.", "Caffeine is in coffee, tea, cocoa."]
    assert "A statement over two lines." in statements
    assert 'Something "else".' in statements
    assert [c.status for c in batch.clusters] == ["approved", "rejected", "approved"]


def test_value_list_rules(tmp_path):
    text = "q1,q2,is_dup\nA,B,Duplicate\nC,D,YES\nE,F,distinct\nG,H,no\nI,J,1.0\n"
    path = write(tmp_path, "p.csv", text)
    kwargs = {"text_a_column": "q1", "text_b_column": "q2", "label_column": "is_dup"}
    error = import_errors(parse_labelled_pairs, path, positive="duplicate,yes,1", **kwargs)
    assert error.errors == [
        RowError(4, "label 'distinct' is neither positive (duplicate, yes, 1) nor negative (0, false, no)")
    ]
    batch = parse_labelled_pairs(path, positive="duplicate,yes,1", negative="distinct,no", **kwargs)
    assert [c.status for c in batch.clusters] == ["approved", "approved", "rejected", "rejected", "approved"]
    anything = parse_labelled_pairs(path, positive="DUPLICATE", negative="*", **kwargs)
    assert [c.status for c in anything.clusters] == ["approved"] + ["rejected"] * 4


def test_unknown_label_with_default_rule_is_an_error(tmp_path):
    text = "text_a,text_b,label\nA,B,1\nC,D,maybe\nE,F,0\nG,H,true\nI,J,FALSE\n"
    error = import_errors(parse_labelled_pairs, write(tmp_path, "p.csv", text))
    # "true" is not in the positive list "1": an error too, never a silent negative
    assert error.errors == [
        RowError(3, "label 'maybe' is neither positive (1) nor negative (0, false, no)"),
        RowError(5, "label 'true' is neither positive (1) nor negative (0, false, no)"),
    ]


def test_pair_row_errors(tmp_path):
    text = (
        "text_a,text_b,label\n"
        "A,B,1\n"
        ",B,1\n"  # 3: empty text_a
        "Same  text.,Same text.,0\n"  # 4: identical after normalisation
        "C,D,\n"  # 5: missing label
        "E,F,high\n"  # 6: not a number
    )
    error = import_errors(parse_labelled_pairs, write(tmp_path, "p.csv", text), positive=">3")
    assert error.errors == [
        RowError(3, "text_a is empty"),
        RowError(5, "the label (label) is missing"),
        RowError(6, "label 'high' is not a number"),
    ]


def test_a_pair_of_identical_texts_is_skipped_and_listed(tmp_path):
    path = write(tmp_path, "p.csv", "text_a,text_b,label\nA,B,5\nSame  text.,Same text.,5\nC,D,1\n")
    batch = parse_labelled_pairs(path, positive=">3")
    assert len(batch.clusters) == 2
    assert batch.skipped == (f"{path}:3: text_a and text_b are the same text; not imported",)


def test_labelled_pairs_from_jsonl(tmp_path):
    lines = [
        {"text_a": "A", "text_b": "B", "label": 1},
        {"text_a": "A", "text_b": "C", "label": False},
        {"text_a": "A", "text_b": "D"},
        {"text_a": 5, "text_b": "D", "label": 1},
    ]
    path = write(tmp_path, "p.jsonl", "\n".join(json.dumps(line) for line in lines))
    error = import_errors(parse_labelled_pairs, path)
    assert error.errors == [
        RowError(3, "the label (label) is missing"),
        RowError(4, "text_a must be a string, got a number"),
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines[:2]))
    assert [c.status for c in parse_labelled_pairs(path).clusters] == ["approved", "rejected"]


def test_repeated_sentences_are_one_insight_and_ids_are_deterministic(tmp_path):
    text = (
        "text_a,text_b,label\n"
        "Coffee  wakes you up.,Coffee makes you alert.,1\n"
        "Coffee wakes you up. ,Tea is calming.,0\n"
        "Tea is calming.,Coffee makes you alert.,0\n"
    )
    path = write(tmp_path, "p.csv", text)
    first = parse_labelled_pairs(path, id_prefix="sts")
    assert [i.statement for i in first.insights] == [
        "Coffee wakes you up.",
        "Coffee makes you alert.",
        "Tea is calming.",
    ]
    assert [i.id for i in first.insights] == [insight_id(i.statement, "sts") for i in first.insights]
    assert first.clusters[0].members[0].insight_id == first.clusters[1].members[0].insight_id
    copy = write(tmp_path, "copy.csv", text)
    os.utime(copy, (0, 0))
    second = parse_labelled_pairs(copy, id_prefix="sts")
    assert [i.id for i in second.insights] == [i.id for i in first.insights]
    assert [c.id for c in second.clusters] == [c.id for c in first.clusters]
    assert len({c.id for c in first.clusters}) == 3


def test_decided_at_defaults_to_the_file_modification_time(tmp_path):
    path = write(tmp_path, "p.csv", "text_a,text_b,label\nA,B,1\n")
    moment = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    (cluster,) = parse_labelled_pairs(path).clusters
    assert cluster.decided_at == moment
    assert cluster.reviewer == "import"
    naive = parse_labelled_pairs(path, decided_at=datetime(2026, 1, 1)).clusters[0].decided_at
    assert naive == datetime(2026, 1, 1, tzinfo=UTC)


def test_pairs_missing_columns_lists_them(tmp_path):
    path = write(tmp_path, "p.csv", "sentence1,sentence2,score\nA,B,1\n")
    error = import_errors(parse_labelled_pairs, path, label_column="score")
    assert error.errors == [
        RowError(1, "missing required columns text_a, text_b; found columns: sentence1, sentence2, score")
    ]
    headerless = import_errors(parse_labelled_pairs, path, has_header=False, column_names=["a", "b", "label"])
    assert headerless.errors[0].line == 0
    assert "missing required columns text_a, text_b" in str(headerless)


def test_pairs_empty_and_header_only(tmp_path):
    assert "contains no rows" in str(import_errors(parse_labelled_pairs, write(tmp_path, "e.csv", "")))
    header_only = import_errors(parse_labelled_pairs, write(tmp_path, "h.csv", "text_a,text_b,label\n"))
    assert "contains no rows (only a header line)" in str(header_only)


# -- positive-label rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "label", "expected"),
    [
        ("score>=4", "4", True),
        ("score >= 4", "3.99", False),
        (">=4", "5.0", True),
        (">3.5", "3.5", False),
        ("<=1", "1", True),
        ("< 0.5", "0.25", True),
        ("==1", "1.0", True),
        ("!=0", "0", False),
        ("!=0", "2", True),
        ("1", "1", True),
        ("1", " 1.0 ", True),
        ("1", "0", False),
        ("1", "FALSE", False),
        ("1,true,yes,duplicate,MERGE", "merge", True),
        ("1,true,yes,duplicate,MERGE", "True", True),
        ("1,true,yes,duplicate,MERGE", "No", False),
    ],
)
def test_positive_rules(rule, label, expected):
    assert parse_positive_rule(rule)(label) is expected


def test_rule_errors_for_unclassifiable_labels():
    with pytest.raises(ValueError, match="label 'maybe' is not a number"):
        parse_positive_rule(">=4")("maybe")
    with pytest.raises(ValueError, match="is neither positive"):
        parse_positive_rule("duplicate")("not_duplicate")
    assert parse_positive_rule("duplicate", negative="not_duplicate")("Not_Duplicate") is False
    assert parse_positive_rule("duplicate", negative="*")("whatever") is False


@pytest.mark.parametrize(
    "rule",
    ["", "   ", ">=", ">=four", "score=>4", "=4", ">=4,5", "1,,2", "1,>2", "score>>4", "4<=score", ">=nan"],
)
def test_bad_rule_strings_raise_value_error(rule):
    with pytest.raises(ValueError, match="rule"):
        parse_positive_rule(rule)


def test_bad_negative_options_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="only applies to a list of labels"):
        parse_positive_rule(">=4", negative="0")
    with pytest.raises(ValueError, match="both positive and negative"):
        parse_positive_rule("1,yes", negative="no,YES")
    assert parse_positive_rule("0")("0") is True  # the default negatives never overlap the positives
    with pytest.raises(ValueError, match="rule"):
        parse_labelled_pairs(tmp_path / "does-not-exist.csv", positive="score=>4")
