"""The retrieval store: idempotent re-import, changed documents, conflicts, watermarks, both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from fine_tuning_assets.core.database import import_batches, metadata, open_database
from fine_tuning_assets.core.imports import MAX_LISTED_PROBLEMS
from fine_tuning_assets.tasks.retrieval.demo import (
    CONFLICT_COUNT,
    generate_demo_retrieval,
    write_demo_retrieval_files,
)
from fine_tuning_assets.tasks.retrieval.imports import read_documents, read_retrieval_feedback
from fine_tuning_assets.tasks.retrieval.records import Document, Judgement, RetrievalBatch
from fine_tuning_assets.tasks.retrieval.store import RetrievalStore, RetrievalStoreError
from fine_tuning_assets.tasks.retrieval.tables import documents, retrieval_feedback

T = datetime(2026, 3, 1, tzinfo=UTC)


def retrieval_store(url: str) -> RetrievalStore:
    # Until the Alembic migrations create the retrieval tables, the tests create them.
    engine = open_database(url)
    metadata.create_all(engine, tables=[documents, retrieval_feedback])
    return RetrievalStore(engine)


@pytest.fixture
def store(sqlite_url) -> RetrievalStore:
    return retrieval_store(sqlite_url)


def docs(*ids: str, text: str = "text of {}") -> tuple[Document, ...]:
    return tuple(Document(doc_id, f"title {doc_id}", text.format(doc_id)) for doc_id in ids)


def judge(
    query: str, doc_id: str, relevant: bool, user: str | None = "ana", rating: float | None = None
) -> Judgement:
    return Judgement(query, doc_id, rating, relevant, user)


def small_batch() -> RetrievalBatch:
    return RetrievalBatch(
        documents=docs("d1", "d2", "d3"),
        judgements=(
            judge("export a note", "d1", True),
            judge("export a note", "d2", False),
            judge("sync broken", "d3", False),
            judge("sync broken", "d2", True, user="bo", rating=2.0),
        ),
    )


def test_add_counts_new_then_already_present_and_writes_nothing_the_second_time(store):
    first = store.add(small_batch(), source="unit")
    assert (first.documents_new, first.judgements_new, first.batch_id) == (3, 4, 1)
    counts = store.counts()
    assert {
        k: counts[k] for k in ("documents", "judgements", "queries", "relevant", "queries_with_relevant")
    } == {
        "documents": 3,
        "judgements": 4,
        "queries": 2,
        "relevant": 2,
        "queries_with_relevant": 2,
    }
    watermark = store.latest_recorded_at()
    again = store.add(small_batch(), source="unit")
    assert again.batch_id is None and not again.wrote_anything
    assert (again.documents_already_present, again.judgements_already_present) == (3, 4)
    assert (again.documents_new, again.documents_changed, again.judgements_new, again.judgements_changed) == (
        0,
        0,
        0,
        0,
    )
    assert store.latest_recorded_at() == watermark and store.count_after(watermark) == 0
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(import_batches)).scalar_one() == 1


def test_a_changed_document_is_updated_and_recorded_again(store):
    store.add(small_batch(), source="unit")
    watermark = store.latest_recorded_at()
    changed = RetrievalBatch(documents=(Document("d2", "title d2", "a rewritten article"), *docs("d1", "d4")))
    report = store.add(changed, source="unit")
    assert (report.documents_new, report.documents_changed, report.documents_already_present) == (1, 1, 1)
    assert report.changed_document_ids == ("d2",)
    assert store.get_documents(["d2"])["d2"].text == "a rewritten article"
    assert store.count_after(watermark) == 2  # d2 (changed) and d4 (new)
    old_documents, _ = store.snapshot(recorded_through=watermark)
    assert {d.id for d in old_documents} == {"d1", "d2", "d3"}  # d2: judged before the watermark, so kept


def test_a_user_changing_their_mind_is_a_changed_judgement_and_a_conflict(store):
    store.add(small_batch(), source="unit")
    assert store.counts()["conflicting"] == 0
    report = store.add(RetrievalBatch(judgements=(judge("export  a note", "d2", True),)), source="unit")
    assert (report.judgements_new, report.judgements_changed) == (0, 1)
    other_user = store.add(
        RetrievalBatch(judgements=(judge("sync broken", "d3", True, user="cy"),)), source="unit"
    )
    assert (other_user.judgements_new, other_user.judgements_changed) == (1, 0)
    counts = store.counts()
    assert counts["conflicting"] == 2 and counts["judgements"] == 6 and counts["queries"] == 2
    # The same verdict again, at a recorded time: a new judgement (another fingerprint), not a change of mind.
    same_again = Judgement("export a note", "d1", None, True, "ana", rated_at=T)
    report = store.add(RetrievalBatch(judgements=(same_again,)), source="unit")
    assert (report.judgements_new, report.judgements_changed) == (1, 0)
    assert store.counts()["conflicting"] == 2


def test_a_judgement_of_an_unknown_document_refuses_the_whole_batch(store):
    store.add(small_batch(), source="unit")
    batch = RetrievalBatch(
        documents=docs("d5"),
        judgements=(judge("q", "d1", True), judge("q", "d5", True), judge("q", "nope", False)),
    )
    with pytest.raises(RetrievalStoreError) as raised:
        store.add(batch, source="late.csv")
    assert str(raised.value) == (
        "late.csv: 1 problem(s), nothing was written:\n"
        "  a judgement names document 'nope', which is neither in the batch nor in the store"
    )
    assert store.counts()["documents"] == 3 and store.counts()["judgements"] == 4


def test_a_refused_batch_lists_fifty_problems_and_counts_the_rest(store):
    batch = RetrievalBatch(
        judgements=tuple(judge("q", f"missing-{n}", True) for n in range(MAX_LISTED_PROBLEMS + 3))
    )
    with pytest.raises(RetrievalStoreError) as raised:
        store.add(batch, source="bad")
    assert str(raised.value).endswith("... and 3 more")
    with pytest.raises(RetrievalStoreError, match="nothing to import"):
        store.add(RetrievalBatch(), source="empty")


def test_snapshot_is_cut_at_the_watermark(store):
    store.add(small_batch(), source="first")
    watermark = store.latest_recorded_at()
    store.add(
        RetrievalBatch(documents=docs("d9"), judgements=(judge("new query", "d9", True),)), source="second"
    )
    assert store.count_after(watermark) == 2 and store.count_after(None) == 4 + 5  # documents + judgements
    old_documents, old_judgements = store.snapshot(recorded_through=watermark)
    assert [d.id for d in old_documents] == ["d1", "d2", "d3"]
    assert old_judgements == list(small_batch().judgements)
    all_documents, all_judgements = store.snapshot(recorded_through=None)
    assert len(all_documents) == 4 and all_judgements[-1] == judge("new query", "d9", True)


def test_demo_files_import_from_disk_and_reimport_changes_nothing(store, tmp_path):
    files = write_demo_retrieval_files(tmp_path)
    generated = generate_demo_retrieval()
    read_docs, read_feedback = read_documents(files.documents), read_retrieval_feedback(files.feedback)
    assert read_docs.documents == generated.documents and read_feedback.judgements == generated.judgements
    first = store.add(RetrievalBatch(read_docs.documents, read_feedback.judgements), source="demo")
    assert (first.documents_new, first.judgements_new) == (
        len(generated.documents),
        len(generated.judgements),
    )
    assert store.counts()["conflicting"] == CONFLICT_COUNT
    documents_only = store.add(read_documents(files.documents), source="demo")
    feedback_only = store.add(read_retrieval_feedback(files.feedback), source="demo")
    assert documents_only.batch_id is None and feedback_only.batch_id is None
    assert feedback_only.judgements_already_present == len(generated.judgements)


@pytest.mark.postgres
def test_the_store_on_postgresql(postgres_url):
    store = retrieval_store(postgres_url)
    batch = generate_demo_retrieval()
    report = store.add(batch, source="demo")
    assert report.documents_new == len(batch.documents) and report.judgements_new == len(batch.judgements)
    assert store.add(batch, source="demo").batch_id is None
    counts = store.counts()
    assert counts["conflicting"] == CONFLICT_COUNT and counts["judgements"] == len(batch.judgements)
    documents_back, judgements_back = store.snapshot(recorded_through=store.latest_recorded_at())
    assert documents_back == sorted(batch.documents, key=lambda d: d.id)
    assert judgements_back == list(batch.judgements)
    with pytest.raises(RetrievalStoreError, match="NUL character"):
        store.add(RetrievalBatch(documents=(Document("nul", None, "a\x00b"),)), source="nul")
    store.engine.dispose()
