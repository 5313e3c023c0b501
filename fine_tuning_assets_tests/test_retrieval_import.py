"""Reading the retrieval task's documents and judgements from CSV, JSON Lines and BEIR folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fine_tuning_assets.core.imports import MAX_LISTED_PROBLEMS, ImportFileError, read_records
from fine_tuning_assets.tasks.dedup.imports import DecisionImportError
from fine_tuning_assets.tasks.retrieval.imports import read_beir, read_documents, read_retrieval_feedback
from fine_tuning_assets.tasks.retrieval.records import Document, Judgement, RetrievalBatch, batch_problems


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
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


# -- shared machinery -------------------------------------------------------------------------------------
def test_dedup_and_retrieval_raise_the_same_import_error(tmp_path):
    assert DecisionImportError is ImportFileError
    path = write(tmp_path, "docs.csv", "id,text\n")
    error = refused(read_documents, path)
    assert str(error) == f"{path}: contains no rows (only a header line)"


def test_tab_separated_rows_keep_their_line_numbers(tmp_path):
    path = write(tmp_path, "q.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n\nq2\td2\t0\n")
    assert list(read_records(path, file_format="csv", delimiter="\t")) == [
        (2, {"query-id": "q1", "corpus-id": "d1", "score": "1"}),
        (4, {"query-id": "q2", "corpus-id": "d2", "score": "0"}),
    ]
    with pytest.raises(ValueError, match="delimiter only applies to CSV"):
        read_records(write(tmp_path, "x.jsonl", "{}\n"), delimiter="\t")


# -- documents --------------------------------------------------------------------------------------------
def test_documents_from_csv_with_metadata_and_published_at(tmp_path):
    path = write(
        tmp_path,
        "docs.csv",
        "id,title,text,source,published_at,area\n"
        'kb-1,Export as PDF,"Open the note, choose Export.",help,2026-01-05T10:00:00,export\n'
        "kb-2,,Sync runs every minute.,,,\n",
    )
    batch = read_documents(path)
    assert batch.documents == (
        Document(
            "kb-1",
            "Export as PDF",
            "Open the note, choose Export.",
            source="help",
            published_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
            metadata={"area": "export"},
        ),
        Document("kb-2", None, "Sync runs every minute."),
    )
    assert batch.judgements == () and batch.duplicates == ()


def test_beir_corpus_jsonl_is_read_with_its_underscore_id_and_nested_metadata(tmp_path):
    path = write(
        tmp_path,
        "corpus.jsonl",
        json.dumps({"_id": "d1", "title": "", "text": "Experimental flow.", "metadata": {"year": 1962}})
        + "\n",
    )
    assert read_documents(path).documents == (
        Document("d1", None, "Experimental flow.", metadata={"year": 1962}),
    )


def test_document_errors_are_listed_by_line_and_nothing_is_returned(tmp_path):
    long_id = "x" * 201
    path = write(
        tmp_path,
        "docs.csv",
        "id,title,text,published_at\n"
        "kb-1,A,first text,\n"  # 2: fine
        ",B,no id,\n"  # 3
        "kb-3,C,   ,\n"  # 4: empty text
        f"{long_id},D,too long an id,\n"  # 5
        "kb-1,A,other text for kb-1,\n"  # 6: same id, other content
        "kb-7,E,text,last tuesday\n"  # 7
        "kb-1,A,first text,\n",  # 8: a duplicate row, not an error
    )
    error = refused(read_documents, path)
    lines = by_line(error)
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert "the document id (id) is missing" in lines[3]
    assert "the document text (text) is empty" in lines[4]
    assert "id is longer than 200 characters" in lines[5]
    assert "document 'kb-1' has other content than on line 2" in lines[6]
    assert "published_at 'last tuesday' is not an ISO-8601 datetime" in lines[7]
    assert str(error).startswith(f"{path}: 5 problems on 5 line(s); nothing was imported")


def test_a_repeated_document_row_is_stored_once_and_reported(tmp_path):
    path = write(tmp_path, "docs.csv", "id,text\nkb-1,one\nkb-2,two\nkb-1,one\n")
    batch = read_documents(path)
    assert [d.id for d in batch.documents] == ["kb-1", "kb-2"]
    assert batch.duplicates == (f"{path}:4: the same document as line 2; stored once",)


def test_missing_columns_and_nul_characters(tmp_path):
    error = refused(read_documents, write(tmp_path, "docs.csv", "key,body\n1,x\n"))
    assert [(e.line, e.message) for e in error.errors] == [
        (1, "missing required columns id, text; found columns: key, body")
    ]
    error = refused(read_documents, write(tmp_path, "nul.csv", "id,text\nkb-1,a\x00b\n"))
    assert "line 2" in str(error.errors[0]) and "NUL character" in error.errors[0].message


def test_more_than_fifty_problems_are_counted_not_listed(tmp_path):
    rows = "".join(f"kb-{n},\n" for n in range(MAX_LISTED_PROBLEMS + 5))
    error = refused(read_documents, write(tmp_path, "docs.csv", "id,text\n" + rows))
    assert len(error.errors) == MAX_LISTED_PROBLEMS + 5
    assert str(error).endswith("... and 5 more")


# -- judgements -------------------------------------------------------------------------------------------
def test_flags_and_graded_ratings(tmp_path):
    path = write(
        tmp_path,
        "feedback.csv",
        "query,document_id,label,user,rated_at\n"
        "export  a note,kb-1,relevant,ana,2026-02-01T09:00:00\n"
        "export a note,kb-2,Irrelevant,ana,\n"
        "export a note,kb-3,yes,,\n"
        "export a note,kb-4,not relevant,,\n"
        "sync,kb-1,3,bo,\n"
        "sync,kb-2,1,bo,\n",
    )
    batch = read_retrieval_feedback(path, relevant_at=2)
    assert batch.judgements == (
        Judgement("export a note", "kb-1", None, True, "ana", datetime(2026, 2, 1, 9, tzinfo=UTC)),
        Judgement("export a note", "kb-2", None, False, "ana", None),
        Judgement("export a note", "kb-3", None, True, None, None),
        Judgement("export a note", "kb-4", None, False, None, None),
        Judgement("sync", "kb-1", 3.0, True, "bo", None),
        Judgement("sync", "kb-2", 1.0, False, "bo", None),
    )
    assert batch.documents == ()


def test_json_booleans_and_numbers_as_labels(tmp_path):
    lines = [
        {"query": "q", "document_id": "d1", "label": True},
        {"query": "q", "document_id": "d2", "label": 0},
        {"query": "q", "document_id": 7, "label": 1.5},
    ]
    path = write(tmp_path, "feedback.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    batch = read_retrieval_feedback(path, user="import")
    assert [(j.document_id, j.rating, j.relevant, j.user) for j in batch.judgements] == [
        ("d1", None, True, "import"),
        ("d2", 0.0, False, "import"),
        ("7", 1.5, True, "import"),
    ]


def test_judgement_errors_are_line_numbered(tmp_path):
    path = write(
        tmp_path,
        "feedback.csv",
        "query,document_id,label,rated_at\n"
        "q,kb-1,1,\n"  # 2: fine
        " ,kb-1,1,\n"  # 3: empty query
        "q,,1,\n"  # 4: no document
        "q,kb-2,maybe,\n"  # 5: unknown label
        "q,kb-3,,\n"  # 6: no label
        "q,kb-4,1,yesterday\n",  # 7: bad time
    )
    lines = by_line(refused(read_retrieval_feedback, path))
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert "the query (query) is empty" in lines[3]
    assert "the document id (document_id) is missing" in lines[4]
    assert "label 'maybe' is neither a number (a graded rating) nor a flag" in lines[5]
    assert "the label (label) is missing" in lines[6]
    assert "rated_at 'yesterday' is not an ISO-8601 datetime" in lines[7]


def test_a_repeated_judgement_row_is_listed_as_a_duplicate(tmp_path):
    path = write(tmp_path, "feedback.csv", "query,document_id,label\nq,kb-1,1\nq ,kb-1,1\nq,kb-1,0\n")
    batch = read_retrieval_feedback(path)
    assert [(j.rating, j.relevant) for j in batch.judgements] == [(1.0, True), (0.0, False)]
    assert batch.duplicates == (f"{path}:3: the same judgement as line 2; stored once",)


def test_inline_documents_get_ids_from_their_text(tmp_path):
    path = write(
        tmp_path,
        "answers.csv",
        "question,label,answer\n"
        "how are glacier caves formed?,0,A partly submerged glacier cave on Perito Moreno Glacier.\n"
        "how are glacier caves formed?,1,A glacier cave is a cave formed within the ice of a glacier.\n"
        "what is a glacier?,0,A  partly submerged glacier cave on Perito Moreno Glacier.\n",
    )
    batch = read_retrieval_feedback(path, query_field="question", document_field="answer")
    assert len(batch.documents) == 2  # the first and third answers are the same text (whitespace aside)
    first, second = batch.documents
    assert first.id.startswith("doc-") and len(first.id) == len("doc-") + 16 and first.title is None
    assert first.text == "A partly submerged glacier cave on Perito Moreno Glacier."
    assert [j.document_id for j in batch.judgements] == [first.id, second.id, first.id]
    again = read_retrieval_feedback(
        write(
            tmp_path,
            "again.csv",
            "question,label,answer\nq,1,A glacier cave is a cave formed within the ice of a glacier.\n",
        ),
        query_field="question",
        document_field="answer",
    )
    assert again.documents[0].id == second.id  # the same text, the same id, in any file


def test_inline_documents_with_given_ids_must_agree(tmp_path):
    path = write(
        tmp_path, "answers.csv", "query,document_id,label,answer\nq,a1,1,one text\nq2,a1,0,another text\n"
    )
    lines = by_line(refused(read_retrieval_feedback, path, document_field="answer"))
    assert "document 'a1' has text 'another text' here but 'one text' on line 2" in lines[3]


def test_feedback_arguments_are_checked_before_reading(tmp_path):
    path = write(tmp_path, "f.csv", "query,document_id,label\nq,d,1\n")
    with pytest.raises(ValueError, match="must differ"):
        read_retrieval_feedback(path, label_field="query")
    with pytest.raises(ValueError, match="relevant_at"):
        read_retrieval_feedback(path, relevant_at=float("nan"))
    error = refused(read_retrieval_feedback, path, document_field="answer")
    assert "missing required column answer" in str(error)


# -- BEIR -------------------------------------------------------------------------------------------------
def beir_folder(tmp_path: Path, *, qrels: dict[str, str] | None = None) -> Path:
    root = tmp_path / "beir"
    write(
        root,
        "corpus.jsonl",
        "".join(
            json.dumps({"_id": doc_id, "title": f"title {doc_id}", "text": f"text of {doc_id}"}) + "\n"
            for doc_id in ("d1", "d2", "d3")
        ),
    )
    write(root, "queries.jsonl", '{"_id": "q1", "text": "what  is d1"}\n{"_id": "q2", "text": "about d3"}\n')
    for name, content in (
        qrels or {"test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n"}
    ).items():
        write(root, f"qrels/{name}", content)
    return root


def test_beir_folder_reads_every_split_score_above_zero_is_relevant(tmp_path):
    root = beir_folder(
        tmp_path,
        qrels={
            "train.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n",
            "test.tsv": "query-id\tcorpus-id\tscore\nq2\td3\t1\nq1\td1\t2\n",
        },
    )
    batch = read_beir(root)
    assert [d.id for d in batch.documents] == ["d1", "d2", "d3"]
    assert set(batch.judgements) == {
        Judgement("what is d1", "d1", 2.0, True),
        Judgement("what is d1", "d2", 0.0, False),
        Judgement("about d3", "d3", 1.0, True),
    }
    # qrels files are read in name order: test.tsv first, so train.tsv repeats its judgement.
    assert batch.duplicates == (
        f"{root}/qrels/train.tsv:2: the same judgement as qrels/test.tsv:3; stored once",
    )


def test_beir_errors_name_the_file_and_line(tmp_path):
    root = beir_folder(
        tmp_path, qrels={"dev.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\nq1\td7\tx\n"}
    )
    error = refused(read_beir, root)
    assert error.path == root / "qrels" / "dev.tsv"
    lines = by_line(error)
    assert "query-id 'q9' is not in queries.jsonl" in lines[3]
    assert "corpus-id 'd7' is not in corpus.jsonl" in lines[4] and "score 'x' is not a number" in lines[4]

    bad_header = beir_folder(tmp_path / "h", qrels={"t.tsv": "q\tc\ts\nq1\td1\t1\n"})
    assert "expected query-id corpus-id score" in str(refused(read_beir, bad_header))
    (root / "queries.jsonl").unlink()
    assert "queries.jsonl missing" in str(refused(read_beir, root))


# -- records ----------------------------------------------------------------------------------------------
def test_batch_problems_catch_what_the_databases_would_store_differently():
    batch = RetrievalBatch(
        documents=(
            Document("kb-1", "t", "  "),
            Document("kb-2", "t", "a\x00b"),
            Document("kb-3", "t" * 10, "x"),
        ),
        judgements=(
            Judgement("q", "kb-3", None, True, user="u" * 201),
            Judgement("q", "kb-3", float("inf"), True),
            Judgement("q", "kb-3", None, True, rated_at=datetime(2026, 1, 1)),
            Judgement(" ", "kb-3", None, True),
        ),
    )
    problems = "\n".join(batch_problems(batch))
    assert "document 'kb-1': empty text" in problems
    assert "document 'kb-2': text contains a NUL character" in problems
    assert "user_id is longer than 200 characters" in problems
    assert "rating inf is not a finite number" in problems
    assert "rated_at has no time zone" in problems
    assert "empty query" in problems


def test_the_fingerprint_ignores_whitespace_in_the_query_and_nothing_else():
    base = Judgement("export a  note", "kb-1", 1.0, True, "ana")
    assert base.fingerprint == Judgement(" export a note ", "kb-1", 1.0, True, "ana").fingerprint
    for other in (
        Judgement("export a note", "kb-2", 1.0, True, "ana"),
        Judgement("export a note", "kb-1", 2.0, True, "ana"),
        Judgement("export a note", "kb-1", 1.0, False, "ana"),
        Judgement("export a note", "kb-1", 1.0, True, "bo"),
        Judgement("export a note", "kb-1", 1.0, True, "ana", datetime(2026, 1, 1, tzinfo=UTC)),
        Judgement("Export a note", "kb-1", 1.0, True, "ana"),
    ):
        assert other.fingerprint != base.fingerprint
