"""A retrieval model version: which embedding, how much BM25, which reranker — and ranking with it.

A version's folder holds ``retrieval_model.json`` (every recipe the search tried, each with its embedding
(``base`` or the fine-tuned ``bi_encoder/`` folder), its BM25 fusion weight, and its reranker folder if any,
plus the recipe chosen on validation), the fine-tuned components as safetensors, and the manifest.
:class:`Ranker` scores a corpus for queries with any of its recipes; the embeddings of the corpus are
computed once per embedding.

Example:
    >>> spec = RecipeSpec(embedding="base", bm25_weight=0.3)
    >>> spec.describe()
    'z-mix of BM25 (0.3) and the base embedding'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model
from fine_tuning_assets.tasks.retrieval.ranking import Bm25Index, Corpus, DenseIndex, fuse

MODEL_FILE = "retrieval_model.json"
BASE_EMBEDDING = "base"
FINE_TUNED_EMBEDDING = "bi_encoder"
RERANKER = "reranker"


@dataclass(frozen=True)
class RecipeSpec:
    """How one recipe ranks: an embedding (``base`` or ``bi_encoder``), the weight of z-scored BM25 mixed with
    it (0: the embedding alone, 1: BM25 alone) and, optionally, a cross-encoder reranking the top documents."""

    embedding: str
    bm25_weight: float
    reranker: str | None = None
    rerank_top_k: int = 20
    validation: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        embedding = "the base embedding" if self.embedding == BASE_EMBEDDING else "the fine-tuned embedding"
        first = (
            "BM25"
            if self.bm25_weight == 1
            else embedding
            if self.bm25_weight == 0
            else f"z-mix of BM25 ({self.bm25_weight:g}) and {embedding}"
        )
        return first + (f", top {self.rerank_top_k} reranked by the cross-encoder" if self.reranker else "")


@dataclass(frozen=True)
class RetrievalModelSpec:
    selected_recipe: str
    recipes: dict[str, RecipeSpec]
    base_model: str | None
    embedding_dimension: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recipes": {name: asdict(spec) for name, spec in self.recipes.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrievalModelSpec:
        return cls(
            selected_recipe=data["selected_recipe"],
            recipes={name: RecipeSpec(**spec) for name, spec in data["recipes"].items()},
            base_model=data.get("base_model"),
            embedding_dimension=int(data["embedding_dimension"]),
        )

    def save(self, directory: Path) -> None:
        (directory / MODEL_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> RetrievalModelSpec:
        path = Path(directory) / MODEL_FILE
        if not path.is_file():
            from fine_tuning_assets.core.base_model import ModelLoadError

            raise ModelLoadError(f"{path} is missing: not a retrieval model folder")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


class Ranker:
    """Ranks one corpus with the components of a model folder (``directory``: its ``bi_encoder/`` and
    ``reranker/``; None: the base model only) and the recipes of ``spec``. Indexes are built on first use and
    kept: BM25 once, each embedding's corpus embeddings once."""

    def __init__(
        self,
        corpus: Corpus,
        *,
        directory: str | Path | None,
        base_model: str | None,
        spec: RetrievalModelSpec | None = None,
        progress: Any = None,
    ) -> None:
        self.corpus = corpus
        self.directory = Path(directory) if directory is not None else None
        self.base_model = base_model
        self.spec = spec
        self._progress = progress or (lambda _message: None)
        self._bm25: Bm25Index | None = None
        self._dense: dict[str, DenseIndex] = {}
        self._rerankers: dict[str, Any] = {}

    # -- components ---------------------------------------------------------------------------------------
    @property
    def bm25(self) -> Bm25Index:
        if self._bm25 is None:
            self._bm25 = Bm25Index(self.corpus)
        return self._bm25

    def dense(self, embedding: str) -> DenseIndex:
        if embedding not in self._dense:
            if embedding == BASE_EMBEDDING:
                model = load_sentence_transformer(resolve_base_model(self.base_model))
            else:
                if self.directory is None:
                    raise ValueError(f"embedding {embedding!r} needs a model folder")
                model = load_sentence_transformer(str(self.directory / embedding))
            self._progress(f"embedding {len(self.corpus.ids)} documents with the {embedding} embedding")
            self._dense[embedding] = DenseIndex(model, self.corpus)
        return self._dense[embedding]

    def reranker(self, name: str) -> Any:
        if name not in self._rerankers:
            from sentence_transformers.cross_encoder import CrossEncoder

            from fine_tuning_assets.core.base_model import quiet_transformers

            quiet_transformers()
            self._rerankers[name] = CrossEncoder(str(self.directory / name), device="cpu")
        return self._rerankers[name]

    # -- scoring ------------------------------------------------------------------------------------------
    def scores(self, queries: Sequence[str], spec: RecipeSpec) -> np.ndarray:
        """Scores of every corpus document (columns) for each query (rows) by ``spec``."""
        queries = list(queries)
        bm25 = self.bm25.scores(queries) if spec.bm25_weight > 0 else None
        dense = self.dense(spec.embedding).scores(queries) if spec.bm25_weight < 1 else None
        if bm25 is None:
            first = np.asarray(dense, dtype=np.float64)
        elif dense is None:
            first = np.asarray(bm25, dtype=np.float64)
        else:
            first = fuse(bm25, dense, weight=spec.bm25_weight)
        if spec.reranker is None:
            return first
        return self.rerank(queries, first, spec)

    def rerank(self, queries: Sequence[str], first: np.ndarray, spec: RecipeSpec) -> np.ndarray:
        """The top ``rerank_top_k`` documents of each query re-scored by the cross-encoder, kept above the rest."""
        model = self.reranker(spec.reranker)
        scores = np.array(first, dtype=np.float64)
        k = min(spec.rerank_top_k, scores.shape[1])
        for row, query in enumerate(queries):
            top = np.argsort(-scores[row], kind="stable")[:k]
            reranked = np.asarray(
                model.predict([(query, self.corpus.texts[i]) for i in top], show_progress_bar=False),
                dtype=np.float64,
            )
            # Above every other document, in the reranker's order.
            scores[row, top] = scores[row].max() + 1 + reranked - reranked.min()
        return scores

    @classmethod
    def for_model(
        cls, directory: str | Path, corpus: Corpus, *, base_model: str | None, progress: Any = None
    ) -> Ranker:
        """A ranker with a saved model folder's recipes."""
        spec = RetrievalModelSpec.load(directory)
        return cls(corpus, directory=directory, base_model=base_model, spec=spec, progress=progress)

    def recipe_scores(self, queries: Sequence[str], recipe: str | None = None) -> np.ndarray:
        if self.spec is None:
            return self.scores(queries, RecipeSpec(BASE_EMBEDDING, 0.0))
        return self.scores(queries, self.spec.recipes[recipe or self.spec.selected_recipe])
