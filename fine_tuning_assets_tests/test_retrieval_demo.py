"""The retrieval demo: the Notely help center, its users' queries and the ratings, written by the project."""

from __future__ import annotations

import doctest
import time
from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from fine_tuning_assets.tasks.retrieval import demo
from fine_tuning_assets.tasks.retrieval.demo import (
    CONFLICT_COUNT,
    DEMO_RELEVANT_AT,
    generate_demo_retrieval,
    write_demo_retrieval_files,
)
from fine_tuning_assets.tasks.retrieval.records import batch_problems


def test_module_doctests_pass():
    assert doctest.testmod(demo).failed == 0


def test_the_demo_is_deterministic_fast_and_of_the_promised_size():
    started = time.perf_counter()
    batch = generate_demo_retrieval(seed=7)
    assert time.perf_counter() - started < 1.0
    assert batch == generate_demo_retrieval(seed=7) and batch != generate_demo_retrieval(seed=8)
    assert batch_problems(batch) == []
    assert 180 <= len(batch.documents) <= 220
    assert 18 <= len({d.metadata["area"] for d in batch.documents}) <= 25
    assert all(d.title and len(d.text.split(". ")) >= 2 for d in batch.documents)
    queries = {j.query for j in batch.judgements}
    assert 190 <= len(queries) <= 220
    assert 900 <= len(batch.judgements) <= 1200
    assert {j.relevant for j in batch.judgements} == {True, False}
    assert all(j.relevant == (j.rating >= DEMO_RELEVANT_AT) for j in batch.judgements)
    assert len({j.user for j in batch.judgements}) == 5


def test_every_query_has_a_right_article_near_misses_and_some_have_conflicts():
    batch = generate_demo_retrieval()
    documents = {d.id: d for d in batch.documents}
    relevant: dict[str, set[str]] = {}
    near_misses: dict[str, set[str]] = {}
    for judgement in batch.judgements:
        (relevant if judgement.relevant else near_misses).setdefault(judgement.query, set()).add(
            judgement.document_id
        )
    assert set(relevant) == {j.query for j in batch.judgements}
    assert sum(1 for q in relevant if len(near_misses.get(q, ())) >= 2) >= 0.95 * len(relevant)

    def describe(doc_id: str) -> tuple[str, str, str]:
        meta = documents[doc_id].metadata
        return meta["area"], meta["feature"], meta["platform"]

    same_feature_other_platform = same_area_other_feature = 0
    for query, right in relevant.items():
        right_kinds = {describe(d) for d in right}
        for miss in near_misses.get(query, ()) - right:
            area, feature, platform = describe(miss)
            if any(feature == f and platform != p for _, f, p in right_kinds):
                same_feature_other_platform += 1
            elif any(area == a and feature != f for a, f, _ in right_kinds):
                same_area_other_feature += 1
    assert same_feature_other_platform >= 100 and same_area_other_feature >= 300

    pairs = Counter((j.query, j.document_id) for j in batch.judgements)
    by_pair: dict[tuple[str, str], set[bool]] = {}
    for judgement in batch.judgements:
        by_pair.setdefault((judgement.query, judgement.document_id), set()).add(judgement.relevant)
    assert sum(1 for flags in by_pair.values() if flags == {True, False}) == CONFLICT_COUNT
    assert sum(1 for count in pairs.values() if count > 1) > CONFLICT_COUNT  # agreeing second opinions too


def test_queries_are_answerable_but_not_lexical_copies_of_the_articles():
    """TF-IDF (what a lexical retriever does) finds the right article first for only a minority of the
    queries, yet within its top 10 for about half: a fine-tune has something to learn."""
    batch = generate_demo_retrieval()
    ids = [d.id for d in batch.documents]
    titles = {d.title.lower() for d in batch.documents}
    texts = [f"{d.title} {d.text}" for d in batch.documents]
    relevant: dict[str, set[str]] = {}
    for judgement in batch.judgements:
        if judgement.relevant:
            relevant.setdefault(judgement.query, set()).add(judgement.document_id)
    queries = sorted(relevant)
    assert not titles & {q.lower() for q in queries}
    vectorizer = TfidfVectorizer().fit(texts)
    scores = (vectorizer.transform(queries) @ vectorizer.transform(texts).T).toarray()
    ranked = np.argsort(-scores, axis=1)
    top1 = np.mean([ids[row[0]] in relevant[q] for row, q in zip(ranked, queries, strict=True)])
    top10 = np.mean(
        [bool({ids[i] for i in row[:10]} & relevant[q]) for row, q in zip(ranked, queries, strict=True)]
    )
    assert 0.1 <= top1 <= 0.45 and 0.45 <= top10 <= 0.8, (top1, top10)


def test_files_are_written_whole_and_reproducible(tmp_path):
    first = write_demo_retrieval_files(tmp_path / "a")
    second = write_demo_retrieval_files(tmp_path / "b")
    assert first.documents.read_bytes() == second.documents.read_bytes()
    assert first.feedback.read_bytes() == second.feedback.read_bytes()
    assert first.feedback.read_text().splitlines()[0] == "query,document_id,label,user,rated_at"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "notely_documents.jsonl",
        "notely_feedback.csv",
    ]
