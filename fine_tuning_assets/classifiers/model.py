"""The classifier a model version holds: features, and one calibrated linear head per field.

Features of a text are any of
* ``lexical``: hashed word 1–2-grams, character 2–5-grams (within words) and the example's tags, TF-IDF
  weighted (sublinear term frequency, the idf learned on the training texts), L2-normalised;
* ``embedding``: the base sentence-transformers model's normalised embedding (frozen);
* ``tuned``: the embedding of the SetFit-style contrastively fine-tuned copy of it, saved in the version;
* ``finetuned``: the embedding of a copy fine-tuned as a classifier of the primary field (cross-entropy);
* or the lexical features next to one or more of the embeddings (a stack or a blend), each embedding scaled
  by a weight.

A head is a multinomial logistic regression's weights and biases with a temperature learned on validation;
a field's probabilities are ``softmax((X W + b) / T)``. Everything is saved as ``classifier.json`` and
``.npy`` arrays (loaded with ``allow_pickle=False``) and a sentence-transformers folder: nothing is pickled.

Example:
    >>> lexical = LexicalFeatures.fit(["the app crashes", "love it", "crash on start"], [(), (), ()])
    >>> lexical.transform(["crashes again"], [()]).shape[1] == lexical.dimension
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

#: What a head's features are made of.
FEATURE_SETS: tuple[str, ...] = (
    "lexical",
    "embedding",
    "tuned",
    "finetuned",
    "lexical+embedding",
    "lexical+tuned",
    "lexical+finetuned",
    "lexical+tuned+finetuned",
)
CLASSIFIER_FILE = "classifier.json"
TUNED_EMBEDDING = "tuned_embedding"  # the folder of the contrastively fine-tuned sentence-transformers model
FINETUNED_EMBEDDING = "finetuned_embedding"  # the folder of the classification-fine-tuned one
#: Encoders a version carries in its own folder, by feature name.
SAVED_ENCODERS: dict[str, str] = {"tuned": TUNED_EMBEDDING, "finetuned": FINETUNED_EMBEDDING}
ENCODERS: tuple[str, ...] = ("embedding", "tuned", "finetuned")


@dataclass
class LexicalFeatures:
    """Hashed word and character n-grams and tags, TF-IDF weighted (see the module docstring). Only the
    hashed columns seen in the training texts are kept (``columns``), so heads stay small."""

    word_features: int = 2**18
    char_features: int = 2**18
    tag_features: int = 2**10
    columns: np.ndarray | None = None
    idf: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        if self.columns is None:
            raise ValueError("LexicalFeatures must be fitted (LexicalFeatures.fit) first")
        return len(self.columns)

    def _counts(self, texts: Sequence[str], tags: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import HashingVectorizer

        options = {"alternate_sign": False, "norm": None, "lowercase": True, "dtype": np.float32}
        word = HashingVectorizer(n_features=self.word_features, ngram_range=(1, 2), **options)
        char = HashingVectorizer(
            n_features=self.char_features, analyzer="char_wb", ngram_range=(2, 5), **options
        )
        tag = HashingVectorizer(n_features=self.tag_features, analyzer=_tokens_as_given, **options)
        return sparse.hstack(
            [word.transform(texts), char.transform(texts), tag.transform([list(t) for t in tags])],
            format="csr",
        )

    @classmethod
    def fit(cls, texts: Sequence[str], tags: Sequence[Sequence[str]], **sizes: int) -> LexicalFeatures:
        """Keep the hashed columns the training texts use and learn their idf (smooth idf)."""
        features = cls(**sizes)
        counts = features._counts(texts, tags)
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        features.columns = np.flatnonzero(document_frequency).astype(np.int64)
        n = counts.shape[0]
        features.idf = (np.log((1 + n) / (1 + document_frequency[features.columns])) + 1).astype(np.float32)
        return features

    def transform(self, texts: Sequence[str], tags: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        from sklearn.preprocessing import normalize

        if self.columns is None or self.idf is None:
            raise ValueError("LexicalFeatures must be fitted (LexicalFeatures.fit) before transform")
        counts = self._counts(texts, tags)[:, self.columns]
        counts.data = 1.0 + np.log(counts.data)  # sublinear term frequency
        return normalize(counts @ sparse.diags(self.idf), norm="l2", copy=False).tocsr()

    def config(self) -> dict[str, int]:
        return {
            "word_features": self.word_features,
            "char_features": self.char_features,
            "tag_features": self.tag_features,
        }


def _tokens_as_given(values: Sequence[str]) -> list[str]:
    return list(values)


@dataclass
class Head:
    """A field's linear head: ``labels``, weights ``W`` (features × labels), biases ``b``, ``temperature``."""

    labels: list[str]
    weights: np.ndarray
    bias: np.ndarray
    temperature: float = 1.0

    @classmethod
    def from_logistic_regression(cls, model: Any) -> Head:
        """The weights of a fitted scikit-learn ``LogisticRegression`` (two classes become two columns)."""
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # binary: P(class 1) = sigmoid(x w + b) = softmax([0, x w + b])[1]
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([np.zeros(1, dtype=np.float32), intercept])
        return cls([str(c) for c in model.classes_], coef.T.copy(), intercept)

    @classmethod
    def pool(cls, heads: Sequence[Head], shares: Sequence[float]) -> Head:
        """The log-linear pool of calibrated heads, as one head on their features side by side:
        ``softmax(Σ share_i · log p_i)``. Each head's log-probabilities are its logits over its temperature
        less a per-row constant, which softmax ignores, so the pooled weights are the heads' weights scaled
        and stacked (in the order of ``heads``)."""
        if len(heads) < 2 or len(shares) != len(heads):
            raise ValueError(
                f"pool needs two or more heads and a share for each ({len(heads)} and {len(shares)})"
            )
        if any(h.labels != heads[0].labels for h in heads):
            raise ValueError(f"pooled heads must share their labels: {[h.labels for h in heads]}")
        scales = [share / head.temperature for share, head in zip(shares, heads, strict=True)]
        return cls(
            labels=list(heads[0].labels),
            weights=np.vstack([h.weights * a for h, a in zip(heads, scales, strict=True)]).astype(np.float32),
            bias=sum(h.bias * a for h, a in zip(heads, scales, strict=True)).astype(np.float32),
        )

    def logits(self, features: Any) -> np.ndarray:
        return np.asarray(features @ self.weights, dtype=np.float64) + self.bias

    def probabilities(self, features: Any) -> np.ndarray:
        return softmax(self.logits(features) / self.temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` (indices) on held-out logits."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(labels)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        p = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x))


@dataclass
class FieldModel:
    """What the classifier predicts for one field: the recipe that won, its features, head and confidence
    threshold (``None``: no automatic decisions for this field)."""

    recipe: str
    features: str
    head: Head
    embedding_weight: float = 1.0
    confidence_threshold: float | None = None
    description: str = ""


@dataclass
class Prediction:
    """One field's prediction for one text: the label, its probability, every label's probability, and
    whether it is confident enough to apply without a human."""

    field: str
    label: str
    probability: float
    probabilities: dict[str, float]
    automatic: bool
    threshold: float | None


@dataclass
class TextClassifier:
    """Features and one head per field; :meth:`predict_proba` and :meth:`predict` score texts.

    ``encoders`` maps ``"embedding"`` / ``"tuned"`` / ``"finetuned"`` to loaded sentence-transformers models (only those a
    head uses are needed).
    """

    fields: dict[str, FieldModel]
    lexical: LexicalFeatures | None = None
    encoders: dict[str, Any] = field(default_factory=dict)
    base_model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def needed_encoders(self) -> set[str]:
        return {name for f in self.fields.values() for name in ENCODERS if name in f.features.split("+")}

    def features(self, texts: Sequence[str], tags: Sequence[Sequence[str]]) -> dict[str, Any]:
        """Every feature block a head needs, computed once for all fields."""
        blocks: dict[str, Any] = {}
        if any("lexical" in f.features.split("+") for f in self.fields.values()):
            if self.lexical is None:
                raise ValueError("a head needs lexical features but the classifier has none")
            blocks["lexical"] = self.lexical.transform(texts, tags)
        for name in self.needed_encoders():
            blocks[name] = encode(self.encoders[name], texts)
        return blocks

    def predict_proba(
        self, texts: Sequence[str], tags: Sequence[Sequence[str]] | None = None
    ) -> dict[str, np.ndarray]:
        """Field → (texts × labels) calibrated probabilities, columns in ``fields[field].head.labels`` order."""
        tags = tags if tags is not None else [()] * len(texts)
        blocks = self.features(texts, tags)
        return {
            name: model.head.probabilities(combine(blocks, model.features, model.embedding_weight))
            for name, model in self.fields.items()
        }

    def predict(
        self, texts: Sequence[str], tags: Sequence[Sequence[str]] | None = None
    ) -> list[dict[str, Prediction]]:
        """Per text, field → :class:`Prediction`."""
        probabilities = self.predict_proba(texts, tags)
        out: list[dict[str, Prediction]] = [{} for _ in texts]
        for name, matrix in probabilities.items():
            model = self.fields[name]
            for row, values in enumerate(matrix):
                best = int(np.argmax(values))
                p = float(values[best])
                out[row][name] = Prediction(
                    field=name,
                    label=model.head.labels[best],
                    probability=p,
                    probabilities={lab: float(v) for lab, v in zip(model.head.labels, values, strict=True)},
                    automatic=model.confidence_threshold is not None and p > model.confidence_threshold,
                    threshold=model.confidence_threshold,
                )
        return out

    # -- storage ------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``classifier.json``, the lexical idf and every head's arrays into ``directory`` (the tuned
        encoder's folder is written by the recipe search beside them)."""
        directory.mkdir(parents=True, exist_ok=True)
        spec: dict[str, Any] = {
            "format": 1,
            "base_model": self.base_model,
            "lexical": self.lexical.config() if self.lexical is not None else None,
            "fields": {},
            "metadata": self.metadata,
        }
        if self.lexical is not None:
            np.save(directory / "lexical_idf.npy", self.lexical.idf, allow_pickle=False)
            np.save(directory / "lexical_columns.npy", self.lexical.columns, allow_pickle=False)
        for name, model in self.fields.items():
            stem = f"head_{_safe(name)}"
            np.save(
                directory / f"{stem}_weights.npy", model.head.weights.astype(np.float32), allow_pickle=False
            )
            np.save(directory / f"{stem}_bias.npy", model.head.bias.astype(np.float32), allow_pickle=False)
            spec["fields"][name] = {
                "recipe": model.recipe,
                "features": model.features,
                "labels": model.head.labels,
                "temperature": model.head.temperature,
                "embedding_weight": model.embedding_weight,
                "confidence_threshold": model.confidence_threshold,
                "description": model.description,
                "arrays": stem,
            }
        (directory / CLASSIFIER_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        base_model: str | None = None,
        encoders: Mapping[str, Any] | None = None,
    ) -> TextClassifier:
        """Load a saved classifier and the encoders its heads need (``encoders`` passes ones already loaded)."""
        from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

        directory = Path(directory)
        spec = json.loads((directory / CLASSIFIER_FILE).read_text(encoding="utf-8"))
        lexical = None
        if spec.get("lexical"):
            lexical = LexicalFeatures(**spec["lexical"])
            lexical.idf = np.load(directory / "lexical_idf.npy", allow_pickle=False)
            lexical.columns = np.load(directory / "lexical_columns.npy", allow_pickle=False)
        fields = {}
        for name, f in spec["fields"].items():
            if f["features"] not in FEATURE_SETS:
                raise ValueError(
                    f"{directory}: field {name!r} uses features {f['features']!r}, which this version of "
                    f"fine_tuning_assets cannot compute ({', '.join(FEATURE_SETS)})"
                )
            head = Head(
                labels=list(f["labels"]),
                weights=np.load(directory / f"{f['arrays']}_weights.npy", allow_pickle=False),
                bias=np.load(directory / f"{f['arrays']}_bias.npy", allow_pickle=False),
                temperature=float(f["temperature"]),
            )
            fields[name] = FieldModel(
                recipe=f["recipe"],
                features=f["features"],
                head=head,
                embedding_weight=float(f["embedding_weight"]),
                confidence_threshold=f["confidence_threshold"],
                description=f.get("description", ""),
            )
        classifier = cls(
            fields=fields,
            lexical=lexical,
            base_model=spec.get("base_model") or base_model,
            metadata=spec.get("metadata", {}),
        )
        given = dict(encoders or {})
        for name in classifier.needed_encoders():
            if name in given:
                classifier.encoders[name] = given[name]
            elif name in SAVED_ENCODERS:
                classifier.encoders[name] = load_sentence_transformer(str(directory / SAVED_ENCODERS[name]))
            else:
                classifier.encoders[name] = load_sentence_transformer(
                    resolve_base_model(classifier.base_model)
                )
        return classifier


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def encode(model: Any, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Normalised embeddings of ``texts`` (float32, texts × dimension)."""
    if not len(texts):
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    return model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)


def combine(blocks: Mapping[str, Any], features: str, embedding_weight: float) -> Any:
    """The feature matrix of a feature set (``FEATURE_SETS``) from the computed blocks: the lexical block, then
    each embedding scaled by ``embedding_weight``, side by side."""
    parts = features.split("+")
    if features not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {features!r}; use one of {', '.join(FEATURE_SETS)}")
    if len(parts) == 1:
        return blocks[parts[0]]
    return sparse.hstack(
        [blocks["lexical"], *(sparse.csr_matrix(blocks[p] * embedding_weight) for p in parts[1:])],
        format="csr",
    )
