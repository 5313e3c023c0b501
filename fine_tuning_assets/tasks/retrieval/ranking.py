"""Scoring a corpus for a query: BM25, a dense embedding, and the two fused; the ranking metrics.

A :class:`Corpus` holds the documents once (ids and the text each ranker sees: title and text); a
:class:`Bm25Index` (``bm25s`` with an English Snowball stemmer) and a :class:`DenseIndex` (normalised
sentence-transformers embeddings) score every document for each query. Fusion (:func:`fuse`) mixes the two
per query after z-scoring each (so neither scale dominates): ``weight * z(BM25) + (1 - weight) * z(dense)``;
weight 1 is BM25 alone, 0 the embedding alone. :func:`ranking_metrics` gives nDCG@10, MRR@10, MAP and
Recall@100 per query (scikit-learn's ``ndcg_score`` and ``average_precision_score``).

Example:
    >>> corpus = Corpus(["a", "b", "c"], ["Export notes as PDF", "Sync notes across devices", "Reset password"])
    >>> bm25 = Bm25Index(corpus)
    >>> scores = bm25.scores(["export my notes"])
    >>> corpus.ids[int(scores[0].argmax())]
    'a'
    >>> metrics = ranking_metrics(scores, [{"a": 1.0}], corpus)
    >>> metrics["ndcg@10"][0], metrics["mrr@10"][0]
    (1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The metrics every retrieval evaluation reports, the first one primary.
METRICS = ("ndcg@10", "mrr@10", "map", "recall@100")


@dataclass(frozen=True)
class Corpus:
    """The documents a query is ranked against: ids and the text a ranker reads (title, then text)."""

    ids: list[str]
    texts: list[str]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ValueError(f"{len(self.ids)} document ids but {len(self.texts)} texts")
        if not self.ids:
            raise ValueError("the corpus is empty: import documents first (`fta import documents`)")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("document ids in a corpus must be unique")

    @classmethod
    def of(cls, documents: Sequence[Any]) -> Corpus:
        """From documents with ``id``, ``title`` and ``text`` attributes (or keys)."""

        def get(document: Any, name: str) -> Any:
            return document[name] if isinstance(document, Mapping) else getattr(document, name)

        return cls(
            [get(d, "id") for d in documents],
            [document_text(get(d, "title"), get(d, "text")) for d in documents],
        )

    def index_of(self) -> dict[str, int]:
        return {document_id: i for i, document_id in enumerate(self.ids)}


def document_text(title: str | None, text: str) -> str:
    """What a ranker reads of a document: its title (when it has one) and its text."""
    return f"{title.strip()}\n{text}" if title and title.strip() else text


class Bm25Index:
    """Okapi BM25 over a corpus (``bm25s``; English stop words and Snowball stemming)."""

    def __init__(self, corpus: Corpus, *, k1: float = 1.5, b: float = 0.75) -> None:
        import bm25s
        import Stemmer

        self.corpus = corpus
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        tokens = bm25s.tokenize(corpus.texts, stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._bm25.index(tokens, show_progress=False)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for each query: shape (queries, documents)."""
        import bm25s

        tokens = bm25s.tokenize(
            list(queries), stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        if not tokens:
            return np.zeros((0, len(self.corpus.ids)), dtype=np.float32)
        return np.vstack([self._bm25.get_scores(query) for query in tokens]).astype(np.float32)


def encode(model: Any, texts: Sequence[str], *, batch_size: int = 32, progress: Any = None) -> np.ndarray:
    """Normalised embeddings of ``texts`` (rows), in batches; ``progress(n)`` after each batch."""
    chunks = []
    for start in range(0, len(texts), max(batch_size * 8, 1)):
        part = list(texts[start : start + batch_size * 8])
        chunks.append(
            model.encode(
                part,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
        )
        if progress is not None:
            progress(len(part))
    dimension = model.get_embedding_dimension() or 0
    return np.vstack(chunks) if chunks else np.zeros((0, dimension), dtype=np.float32)


class DenseIndex:
    """A corpus embedded once by a sentence-transformers bi-encoder; a query's score is its cosine."""

    def __init__(self, model: Any, corpus: Corpus, *, batch_size: int = 32, progress: Any = None) -> None:
        import time

        self.model = model
        self.corpus = corpus
        started = time.perf_counter()
        self.embeddings = encode(model, corpus.texts, batch_size=batch_size, progress=progress)
        seconds = time.perf_counter() - started
        #: Documents embedded per second while indexing: the re-indexing cost a new embedding would have.
        self.documents_per_second = len(corpus.texts) / seconds if seconds > 0 else float("inf")

    @property
    def dimension(self) -> int:
        return int(self.embeddings.shape[1])

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        if not queries:
            return np.zeros((0, len(self.corpus.ids)), dtype=np.float32)
        return encode(self.model, queries) @ self.embeddings.T


def zscore(scores: np.ndarray) -> np.ndarray:
    """Each row (a query's scores over the corpus) standardised; a constant row becomes zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return np.divide(scores - mean, std, out=np.zeros_like(scores), where=std > 0)


def fuse(bm25: np.ndarray, dense: np.ndarray, *, weight: float) -> np.ndarray:
    """``weight * z(BM25) + (1 - weight) * z(dense)`` per query (weight 1: BM25 alone, 0: dense alone)."""
    if not 0 <= weight <= 1:
        raise ValueError(f"a fusion weight must be in [0, 1], got {weight}")
    if weight == 1:
        return np.asarray(bm25, dtype=np.float64)
    if weight == 0:
        return np.asarray(dense, dtype=np.float64)
    return weight * zscore(bm25) + (1 - weight) * zscore(dense)


def reciprocal_rank_fusion(*score_matrices: np.ndarray, k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion (Cormack et al. 2009): the sum of ``1 / (k + rank)`` over the rankers."""
    fused = np.zeros_like(np.asarray(score_matrices[0], dtype=np.float64))
    for scores in score_matrices:
        ranks = np.argsort(np.argsort(-np.asarray(scores), axis=1, kind="stable"), axis=1) + 1
        fused += 1.0 / (k + ranks)
    return fused


def relevance_matrix(qrels: Sequence[Mapping[str, float]], corpus: Corpus) -> np.ndarray:
    """Gains of each query's judged documents (rows) over the corpus (columns); unjudged documents are 0.
    Documents not in the corpus are ignored."""
    index = corpus.index_of()
    gains = np.zeros((len(qrels), len(corpus.ids)), dtype=np.float64)
    for row, judged in enumerate(qrels):
        for document_id, gain in judged.items():
            column = index.get(document_id)
            if column is not None:
                gains[row, column] = gain
    return gains


def ranking_metrics(scores: np.ndarray, qrels: Sequence[Mapping[str, float]], corpus: Corpus) -> dict:
    """nDCG@10 (graded gains), MRR@10, MAP and Recall@100 per query (lists, one value per query), from the
    scores of every document of ``corpus`` (columns in corpus order; ``qrels`` map document ids to gains,
    > 0 for a relevant document). A query without a relevant document in the corpus scores 0 everywhere."""
    from sklearn.metrics import average_precision_score, ndcg_score

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != (len(qrels), len(corpus.ids)):
        raise ValueError(
            f"scores of shape {scores.shape} for {len(qrels)} queries × {len(corpus.ids)} documents"
        )
    gains = relevance_matrix(qrels, corpus)
    result: dict[str, list[float]] = {name: [] for name in METRICS}
    for row in range(scores.shape[0]):
        relevant = gains[row] > 0
        if not relevant.any():
            for name in METRICS:
                result[name].append(0.0)
            continue
        order = np.argsort(-scores[row], kind="stable")
        ranked_relevant = relevant[order]
        hits = np.flatnonzero(ranked_relevant[:10])
        result["ndcg@10"].append(float(ndcg_score(gains[row][None, :], scores[row][None, :], k=10)))
        result["mrr@10"].append(float(1.0 / (hits[0] + 1)) if hits.size else 0.0)
        result["map"].append(float(average_precision_score(relevant, scores[row])))
        result["recall@100"].append(float(ranked_relevant[:100].sum() / relevant.sum()))
    return result


def mean_metrics(per_query: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The mean of each per-query metric, rounded for reports."""
    return {
        name: round(float(np.mean(values)), 4) if len(values) else 0.0 for name, values in per_query.items()
    }
