"""The recipe search of a classification task: per field, every recipe (and its regularisation) is trained on
the train split and scored on validation; the best is calibrated (a temperature) and given a confidence
threshold for a target accuracy, on the same validation examples.

The best is the one with the lowest calibrated log-loss on validation by default (``choose_by``): a proper
scoring rule over every probability, far steadier on a few hundred examples than macro-F1, whose rare
classes swing with one example each (the field's metric, macro-F1 or average precision, is reported beside
it, and ``choose_by="metric"`` chooses by it instead).

| recipe | features | |
|---|---|---|
| ``tfidf-lr`` | lexical | hashed word and character n-grams (and tags), TF-IDF, logistic regression |
| ``embedding-lr`` | embedding | the frozen base model's embedding, logistic regression |
| ``setfit`` | tuned | SetFit-style: the base model contrastively fine-tuned on pairs of the task's examples (same label pulled together, different labels pushed apart), then logistic regression on its embedding |
| ``stack`` | lexical+embedding | the lexical features beside the frozen embedding, one logistic regression |
| ``stack-setfit`` | lexical+tuned | the lexical features beside the fine-tuned embedding |
| ``finetune-lr`` | finetuned | the base model fine-tuned end to end as a classifier of the primary field (a linear layer on its embedding, class-weighted cross-entropy), then logistic regression on its embedding |
| ``stack-finetune`` | lexical+finetuned | the lexical features beside the classification-fine-tuned embedding |
| ``blend-finetune`` | lexical+finetuned | ``tfidf-lr`` and ``finetune-lr`` trained apart, each calibrated, their probabilities pooled (log-linear: a weighted mean of log-probabilities, the shares chosen on validation) |
| ``blend-setfit-finetune`` | lexical+tuned+finetuned | ``tfidf-lr``, ``setfit`` and ``finetune-lr`` trained apart, each calibrated, their probabilities pooled |

A blend is still one linear head on the stacked features: the weighted sum of calibrated heads' logits is
the head whose weights are the heads' weights, scaled and stacked (the log-normalisers only shift a row,
which softmax ignores).

Every logistic regression is tried with each of ``class_weights``: ``balanced`` (classes weighted inversely
to their frequency, which lifts the rare ones' recall) and ``none`` (which lifts accuracy and usually
calibration); like C, the choice is made on validation.

Example:
    >>> ClassifierSearchConfig(recipes=("tfidf-lr",)).recipes
    ('tfidf-lr',)
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.classifiers.examples import TextExample
from fine_tuning_assets.classifiers.model import (
    SAVED_ENCODERS,
    FieldModel,
    Head,
    LexicalFeatures,
    TextClassifier,
    combine,
    encode,
    fit_temperature,
    softmax,
)
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, TrainingResult
from fine_tuning_assets.core.metrics import learn_auto_merge_threshold
from fine_tuning_assets.core.task import ProgressFn, TaskDataError

#: Recipe → (feature set, what it is).
RECIPES: dict[str, tuple[str, str]] = {
    "tfidf-lr": ("lexical", "TF-IDF of word and character n-grams + logistic regression"),
    "embedding-lr": ("embedding", "frozen base embedding + logistic regression"),
    "setfit": ("tuned", "SetFit-style contrastive fine-tune of the base + logistic regression"),
    "stack": ("lexical+embedding", "TF-IDF beside the frozen embedding + logistic regression"),
    "stack-setfit": ("lexical+tuned", "TF-IDF beside the SetFit-tuned embedding + logistic regression"),
    "finetune-lr": ("finetuned", "the base fine-tuned as a classifier (cross-entropy) + logistic regression"),
    "stack-finetune": (
        "lexical+finetuned",
        "TF-IDF beside the classifier-fine-tuned embedding + logistic regression",
    ),
    "blend-finetune": (
        "lexical+finetuned",
        "TF-IDF + logistic regression and the classifier-fine-tuned embedding + logistic regression, "
        "probabilities pooled",
    ),
    "blend-setfit-finetune": (
        "lexical+tuned+finetuned",
        "TF-IDF + logistic regression, the SetFit-tuned and the classifier-fine-tuned embedding + logistic "
        "regression, probabilities pooled",
    ),
}
#: Blends: recipe → the recipes whose calibrated heads it pools (in the order of its feature set).
BLENDS: dict[str, tuple[str, ...]] = {
    "blend-finetune": ("tfidf-lr", "finetune-lr"),
    "blend-setfit-finetune": ("tfidf-lr", "setfit", "finetune-lr"),
}
DEFAULT_RECIPES: tuple[str, ...] = tuple(RECIPES)
DEFAULT_SETFIT = FineTuningConfig(epochs=1, batch_size=16, learning_rate=2e-5, max_seq_length=128)
DEFAULT_CLASSIFIER_FINETUNE = FineTuningConfig(
    epochs=5, batch_size=16, learning_rate=5e-5, max_seq_length=128
)

#: Metric names a task can select recipes by.
SELECTION_METRICS: tuple[str, ...] = ("macro_f1", "average_precision")
#: How the search picks the best candidate: calibrated validation log-loss, or the field's metric.
CHOOSE_BY: tuple[str, ...] = ("log_loss", "metric")
#: The finest blend grid (three heads at 0.05: 171 pools, each a product of the stacked validation features).
MIN_BLEND_STEP = 0.05
#: Class weightings of the logistic regressions: name → (scikit-learn's ``class_weight``, how it reads).
CLASS_WEIGHTS: dict[str, tuple[str | None, str]] = {
    "balanced": ("balanced", "balanced classes"),
    "none": (None, "unweighted classes"),
}


@dataclass(frozen=True)
class ClassifierSearchConfig:
    """What the classifier recipe search tries.

    Attributes:
        recipes: recipes to compare (all of :data:`RECIPES` by default: ``tfidf-lr``, ``embedding-lr``,
            ``setfit``, ``stack``, ``stack-setfit``, ``finetune-lr``, ``stack-finetune``, ``blend-finetune``,
            ``blend-setfit-finetune``).
        c_values: inverse regularisation strengths of the logistic regression tried for each recipe.
        class_weights: class weightings tried for each recipe (``balanced`` and ``none``).
        embedding_weights: scales of the embedding beside the lexical features tried by the stacks.
        blend_step: the blends try every split of the pooled heads' shares in steps of this size (0.1:
            0.1 … 0.9 for two heads, 36 splits of three), each head at least one step.
        choose_by: ``log_loss`` (the calibrated log-loss on validation, lowest wins) or ``metric`` (the
            field's selection metric, highest wins).
        setfit: hyperparameters of the contrastive fine-tune (1 epoch, batch 16, 2e-5).
        setfit_pairs_per_example: same-label and different-label pairs drawn per training example (2).
        setfit_max_pairs: at most this many pairs (4000: 6 to 17 minutes of app reviews on 2 cores).
        classifier_finetune: hyperparameters of the end-to-end classification fine-tune (5 epochs, batch 16,
            5e-5).
        target_accuracy: the accuracy a field's confidence band must reach to be applied without a human
            (0.95).
        band_confidence: the one-sided Clopper–Pearson level at which the band's accuracy is proven on
            validation (0.9); with too few validation examples no band qualifies and every prediction
            goes to a human.
        max_train_minutes: wall-clock budget of both fine-tunes (45: on 2 cores, the SetFit-style and the
            classification fine-tune of 2,000 app reviews take 17 and 21 minutes).
        seed: seed of the pair sampling and the fine-tune (42).
    """

    recipes: tuple[str, ...] = DEFAULT_RECIPES
    c_values: tuple[float, ...] = (4.0, 16.0, 64.0)
    class_weights: tuple[str, ...] = ("balanced", "none")
    embedding_weights: tuple[float, ...] = (0.5, 1.0)
    blend_step: float = 0.1
    choose_by: str = "log_loss"
    setfit: FineTuningConfig = DEFAULT_SETFIT
    setfit_pairs_per_example: int = 2
    setfit_max_pairs: int = 4000
    classifier_finetune: FineTuningConfig = DEFAULT_CLASSIFIER_FINETUNE
    target_accuracy: float = 0.95
    band_confidence: float = 0.9
    max_train_minutes: float = 45.0
    seed: int = 42

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipes", tuple(self.recipes))
        object.__setattr__(self, "c_values", tuple(float(c) for c in self.c_values))
        object.__setattr__(self, "embedding_weights", tuple(float(w) for w in self.embedding_weights))
        for name in ("recipes", "class_weights"):
            if isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a list of names, not the string {getattr(self, name)!r}")
        object.__setattr__(self, "class_weights", tuple(dict.fromkeys(self.class_weights)))
        object.__setattr__(self, "blend_step", float(self.blend_step))
        unknown = [r for r in self.recipes if r not in RECIPES]
        if unknown or not self.recipes:
            raise ValueError(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}")
        if not self.c_values or min(self.c_values) <= 0:
            raise ValueError("c_values must be positive numbers")
        if not self.embedding_weights or min(self.embedding_weights) <= 0:
            raise ValueError("embedding_weights must be positive numbers")
        if not self.class_weights or any(w not in CLASS_WEIGHTS for w in self.class_weights):
            raise ValueError(
                f"class_weights must be some of {', '.join(CLASS_WEIGHTS)}, not {self.class_weights}"
            )
        heads = max((len(BLENDS[r]) for r in self.recipes if r in BLENDS), default=2)
        steps = 1 / self.blend_step if self.blend_step > 0 else 0
        if not (MIN_BLEND_STEP <= self.blend_step <= 1 / heads and abs(steps - round(steps)) < 1e-6):
            raise ValueError(
                f"blend_step must divide 1 into whole steps, between {MIN_BLEND_STEP} and 1/{heads} (every "
                f"pooled head takes at least one step of the shares), not {self.blend_step}"
            )
        if self.choose_by not in CHOOSE_BY:
            raise ValueError(f"choose_by must be one of {', '.join(CHOOSE_BY)}, not {self.choose_by!r}")
        if not 0 < self.target_accuracy <= 1 or not 0.5 <= self.band_confidence < 1:
            raise ValueError("target_accuracy must be in (0, 1] and band_confidence in [0.5, 1)")
        if self.setfit_pairs_per_example < 1 or self.setfit_max_pairs < 2 or self.max_train_minutes <= 0:
            raise ValueError(
                "setfit_pairs_per_example, setfit_max_pairs and max_train_minutes must be positive"
            )


@dataclass(frozen=True)
class FieldSpec:
    """A field the task predicts: its name, how recipes are chosen, and its positive label (binary fields)."""

    name: str
    selection_metric: str = "macro_f1"
    positive_label: str | None = None


@dataclass
class SearchResult:
    classifier: TextClassifier
    #: field → recipe → validation metrics of its best regularisation.
    validation: dict[str, dict[str, dict[str, Any]]]
    training: dict[str, TrainingResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: field → recipe → that recipe's best head, calibrated on validation (the chosen one among them); with
    #: ``encoders`` (every encoder the search loaded or tuned), what a benchmark needs to score each recipe.
    recipe_models: dict[str, dict[str, FieldModel]] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)
    lexical: LexicalFeatures | None = None

    def recipe_classifier(self, field_name: str) -> TextClassifier:
        """Every recipe's best model of ``field_name`` as the fields of one classifier (keyed by recipe):
        ``predict_proba`` then scores each recipe on the same texts."""
        return TextClassifier(
            fields=dict(self.recipe_models[field_name]),
            lexical=self.lexical,
            encoders=self.encoders,
        )

    def metrics(self) -> dict[str, Any]:
        return {
            "fields": {
                name: {
                    "selected_recipe": model.recipe,
                    "description": model.description,
                    "temperature": model.head.temperature,
                    "confidence_threshold": model.confidence_threshold,
                    "labels": model.head.labels,
                    "recipes": self.validation[name],
                }
                for name, model in self.classifier.fields.items()
            },
            "training": {name: result.metrics() for name, result in self.training.items()},
            "skipped": self.skipped,
            "search_seconds": round(self.seconds, 1),
        }


def score(
    metric: str,
    truth: Sequence[str],
    probabilities: np.ndarray,
    labels: Sequence[str],
    *,
    positive: str | None,
) -> float:
    """A field's selection metric: macro-F1 of the most probable label, or the average precision of ``positive``."""
    from sklearn.metrics import average_precision_score, f1_score

    if metric == "macro_f1":
        predicted = [labels[i] for i in np.argmax(probabilities, axis=1)]
        return float(f1_score(list(truth), predicted, average="macro", zero_division=0))
    if metric == "average_precision":
        column = list(labels).index(positive)
        return float(average_precision_score([t == positive for t in truth], probabilities[:, column]))
    raise ValueError(f"unknown selection metric {metric!r}; use one of {', '.join(SELECTION_METRICS)}")


def setfit_pairs(
    examples: Sequence[TextExample], *, field: str, per_example: int, max_pairs: int, seed: int
) -> list[tuple[str, str, float]]:
    """SetFit's pairs: for each example, ``per_example`` partners with its label (1.0) and as many with
    another (0.0), drawn at random (classes drawn uniformly, so rare classes are not drowned)."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for e in examples:
        if e.labels.get(field) is not None:
            by_label.setdefault(e.labels[field], []).append(e.text)
    labels = sorted(by_label)
    if len(labels) < 2:
        return []
    pairs: list[tuple[str, str, float]] = []
    for label in labels:
        for text in by_label[label]:
            for _ in range(per_example):
                pairs.append((text, rng.choice(by_label[label]), 1.0))
                other = rng.choice([lab for lab in labels if lab != label])
                pairs.append((text, rng.choice(by_label[other]), 0.0))
    rng.shuffle(pairs)
    return pairs[:max_pairs]


def _fine_tune_setfit(
    pairs: Sequence[tuple[str, str, float]],
    *,
    base_model: str | None,
    config: ClassifierSearchConfig,
    output_dir: Path,
    deadline: float,
    progress: ProgressFn,
) -> TrainingResult:
    from datasets import Dataset
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    from fine_tuning_assets.core.bi_encoder_training import train_bi_encoder

    dataset = Dataset.from_dict(
        {
            "sentence_a": [a for a, _, _ in pairs],
            "sentence_b": [b for _, b, _ in pairs],
            "label": [y for *_, y in pairs],
        }
    )
    setfit = FineTuningConfig(**{**config.setfit.__dict__, "seed": config.seed})
    return train_bi_encoder(
        dataset,
        None,
        loss=CosineSimilarityLoss,
        base_model=base_model,
        config=setfit,
        output_dir=output_dir,
        progress=progress,
        deadline=deadline,
    )


def classification_loss(model: Any, *, n_classes: int, class_weights: Sequence[float]) -> Any:
    """Cross-entropy of a linear layer on the model's sentence embedding, class-weighted: fine-tunes the encoder
    end to end as a classifier, for the sentence-transformers trainer (the ``text`` column is the features,
    ``label`` the class index). The layer is discarded after training: the recipes fit logistic regression
    on the tuned embedding."""
    import torch

    class _Loss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.classifier = torch.nn.Linear(model.get_embedding_dimension(), n_classes)
            self.scale = 20.0  # the embedding is unit-length: logits need room to grow
            self.register_buffer("weights", torch.tensor(list(class_weights), dtype=torch.float32))

        def forward(self, sentence_features: Any, labels: Any) -> Any:
            embedding = self.model(sentence_features[0])["sentence_embedding"]
            logits = self.classifier(embedding * self.scale)
            return torch.nn.functional.cross_entropy(logits, labels.long(), weight=self.weights)

    return _Loss()


def _fine_tune_classifier(
    examples: Sequence[TextExample],
    *,
    field: str,
    classes: Sequence[str],
    base_model: str | None,
    config: ClassifierSearchConfig,
    output_dir: Path,
    deadline: float,
    progress: ProgressFn,
) -> TrainingResult:
    from datasets import Dataset

    from fine_tuning_assets.core.bi_encoder_training import train_bi_encoder

    index = {label: i for i, label in enumerate(classes)}
    counts = np.bincount([index[e.labels[field]] for e in examples], minlength=len(classes))
    weights = np.sqrt(counts.max() / np.maximum(counts, 1))  # rare classes count more, not overwhelmingly
    dataset = Dataset.from_dict(
        {"text": [e.text for e in examples], "label": [index[e.labels[field]] for e in examples]}
    )
    tuned = FineTuningConfig(**{**config.classifier_finetune.__dict__, "seed": config.seed})
    return train_bi_encoder(
        dataset,
        None,
        loss=lambda model: classification_loss(model, n_classes=len(classes), class_weights=weights.tolist()),
        base_model=base_model,
        config=tuned,
        output_dir=output_dir,
        progress=progress,
        deadline=deadline,
    )


def _logistic_regression(c: float, *, class_weight: str, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # newton-cg: a handful of iterations here where lbfgs takes dozens (measured 0.3 s against 0.7-1.1 s).
    return LogisticRegression(
        C=c,
        solver="newton-cg",
        max_iter=1000,
        class_weight=CLASS_WEIGHTS[class_weight][0],
        random_state=seed,
    )


def _linear_candidates(recipe: str, y_train: list[str], matrices: Any, config: ClassifierSearchConfig) -> Any:
    """One logistic regression per C and class weighting (and embedding weight, for a stack): (head,
    embedding weight, details, validation features)."""
    features = RECIPES[recipe][0]
    stacked = "+" in features
    for weight in config.embedding_weights if stacked else (1.0,):
        x_train, x_validation = matrices(features, weight)
        for class_weight in config.class_weights:
            for c in config.c_values:
                model = _logistic_regression(c, class_weight=class_weight, seed=config.seed)
                model.fit(x_train, y_train)
                details = {
                    "C": c,
                    "class_weight": class_weight,
                    "embedding_weight": weight if stacked else None,
                }
                yield Head.from_logistic_regression(model), weight, details, x_validation


def blend_shares(heads: int, step: float) -> list[tuple[float, ...]]:
    """Every split of the shares of ``heads`` pooled heads in steps of ``step``, each at least one step.

    Example:
        >>> blend_shares(2, 0.25)
        [(0.25, 0.75), (0.5, 0.5), (0.75, 0.25)]
    """
    steps = round(1 / step)

    def splits(n: int, total: int) -> list[tuple[int, ...]]:
        if n == 1:
            return [(total,)]
        return [(k, *rest) for k in range(1, total - n + 2) for rest in splits(n - 1, total - k)]

    return [tuple(round(k / steps, 10) for k in split) for split in splits(heads, steps)]


def _blend_candidates(
    recipe: str,
    parts: Sequence[tuple[FieldModel, dict[str, Any]]],
    matrices: Any,
    config: ClassifierSearchConfig,
) -> Any:
    """A blend's pooled heads, one per split of the shares (:func:`blend_shares`): the pooled recipes' best
    heads on validation (``parts``: each calibrated, with its hyperparameters), their logits summed with the
    shares as one head on the stacked features. The pooled head is calibrated again, like every candidate.
    (A blend fits more on validation than a single head — a C and a weighting per part, the shares — which
    favours it a little there; the held-out evaluation is where that shows or not.)"""
    details = {
        part: {"C": values["C"], "class_weight": values["class_weight"]}
        for part, (_, values) in zip(BLENDS[recipe], parts, strict=True)
    }
    x_validation = matrices(RECIPES[recipe][0], 1.0)[1]
    for shares in blend_shares(len(parts), config.blend_step):
        pooled = Head.pool([model.head for model, _ in parts], shares)
        yield (
            pooled,
            1.0,
            {"parts": details, "shares": dict(zip(BLENDS[recipe], shares, strict=True))},
            x_validation,
        )


def _log_loss(probabilities: np.ndarray, labels: Sequence[str], truth: Sequence[str]) -> float:
    """Mean negative log-likelihood of the true labels the head knows (probabilities clipped at 1e-12)."""
    index = {label: i for i, label in enumerate(labels)}
    rows = [i for i, y in enumerate(truth) if y in index]
    if not rows:
        return float("inf")
    chosen = probabilities[rows, [index[truth[i]] for i in rows]]
    return float(-np.mean(np.log(np.clip(chosen, 1e-12, None))))


def _temperature(head: Head, x_validation: Any, y_validation: Sequence[str]) -> float:
    """The temperature of ``head`` fitted on the validation examples whose label it knows."""
    index = {label: i for i, label in enumerate(head.labels)}
    known = [i for i, y in enumerate(y_validation) if y in index]
    return fit_temperature(head.logits(x_validation)[known], [index[y_validation[i]] for i in known])


def describe_hyperparameters(details: dict[str, Any]) -> str:
    """The hyperparameters of a candidate in words: ``C=16, balanced classes`` or, for a blend, each pooled
    recipe's share and its own.

    Example:
        >>> describe_hyperparameters({"C": 16.0, "class_weight": "none", "embedding_weight": 0.5})
        'C=16, unweighted classes, embedding weight 0.5'
    """
    if "shares" in details:
        return "; ".join(
            f"{part} {details['shares'][part]:g} ({describe_hyperparameters(details['parts'][part])})"
            for part in details["parts"]
        )
    text = f"C={details['C']:g}, {CLASS_WEIGHTS[details['class_weight']][1]}"
    if details.get("embedding_weight"):
        text += f", embedding weight {details['embedding_weight']:g}"
    return text


class _FieldSearch:
    """The recipes of one field on the computed feature blocks: each recipe's best candidate on validation,
    calibrated (once per recipe: a blend reuses its parts'), and the chosen one's confidence band."""

    def __init__(
        self,
        spec: FieldSpec,
        train: Sequence[TextExample],
        validation: Sequence[TextExample],
        blocks: dict[str, dict[str, Any]],
        *,
        config: ClassifierSearchConfig,
        progress: ProgressFn,
    ) -> None:
        self.spec, self.blocks, self.config, self.progress = spec, blocks, config, progress
        self.rows = {
            split: [i for i, e in enumerate(data) if e.labels.get(spec.name) is not None]
            for split, data in (("train", train), ("validation", validation))
        }
        self.y_train = [train[i].labels[spec.name] for i in self.rows["train"]]
        self.y_validation = [validation[i].labels[spec.name] for i in self.rows["validation"]]
        if len(set(self.y_train)) < 2:
            raise TaskDataError(
                f"the train split has fewer than two {spec.name} labels ({sorted(set(self.y_train))})"
            )
        if not self.y_validation:
            raise TaskDataError(f"the validation split has no {spec.name} labels")
        #: recipe → (its best candidate, calibrated; its validation values and hyperparameters)
        self.evaluated: dict[str, tuple[FieldModel, dict[str, Any]]] = {}

    def matrices(self, features: str, weight: float) -> tuple[Any, Any]:
        """The train and validation feature matrices of the field's labelled rows."""
        return tuple(
            combine(self.blocks[split], features, weight)[self.rows[split]]
            for split in ("train", "validation")
        )

    def measure(self, head: Head, x_validation: Any) -> dict[str, float]:
        """The field's metric and the log-loss of ``head`` on validation, calibrated there, and the value the
        search ranks by (``rank``, higher is better)."""
        spec, truth = self.spec, self.y_validation
        temperature = _temperature(head, x_validation, truth)
        probabilities = softmax(head.logits(x_validation) / temperature)
        metric = score(spec.selection_metric, truth, probabilities, head.labels, positive=spec.positive_label)
        loss = _log_loss(probabilities, head.labels, truth)
        return {
            spec.selection_metric: round(metric, 4),
            "log_loss": round(loss, 4),
            "rank": -loss if self.config.choose_by == "log_loss" else metric,
            "temperature": temperature,
        }

    def evaluate(self, recipe: str) -> tuple[FieldModel, dict[str, Any]]:
        """The recipe's best candidate on validation, calibrated, and its validation values."""
        if recipe in self.evaluated:
            return self.evaluated[recipe]
        candidates = (
            _blend_candidates(recipe, [self.evaluate(p) for p in BLENDS[recipe]], self.matrices, self.config)
            if recipe in BLENDS
            else _linear_candidates(recipe, self.y_train, self.matrices, self.config)
        )
        found: tuple[FieldModel, dict[str, Any]] | None = None
        for head, weight, details, x_validation in candidates:
            values = self.measure(head, x_validation)
            if found is None or values["rank"] > found[1]["rank"]:
                model = FieldModel(
                    recipe=recipe,
                    features=RECIPES[recipe][0],
                    head=replace(head, temperature=values["temperature"]),
                    embedding_weight=weight,
                    description=f"{RECIPES[recipe][1]} ({describe_hyperparameters(details)})",
                )
                found = (model, {**values, **details})
        assert found is not None
        self.evaluated[recipe] = found
        metric = self.spec.selection_metric
        self.progress(
            f"{self.spec.name} · {recipe}: validation {metric} {found[1][metric]:.4f}, "
            f"log-loss {found[1]['log_loss']:.4f}"
        )
        return found

    def with_band(self, model: FieldModel) -> FieldModel:
        """``model`` with the confidence threshold its calibrated probabilities reach the target accuracy above
        on validation (``None``: no band qualifies)."""
        calibrated = model.head.probabilities(self.matrices(model.features, model.embedding_weight)[1])
        predicted = [model.head.labels[i] for i in np.argmax(calibrated, axis=1)]
        correct = [int(p == y) for p, y in zip(predicted, self.y_validation, strict=True)]
        threshold = learn_auto_merge_threshold(
            correct,
            calibrated.max(axis=1),
            target_precision=self.config.target_accuracy,
            confidence=self.config.band_confidence,
        )
        return replace(model, head=replace(model.head), confidence_threshold=threshold)


def search_classifier(
    train: Sequence[TextExample],
    validation: Sequence[TextExample],
    *,
    fields: Sequence[FieldSpec],
    tune_field: str,
    base_model: str | None,
    config: ClassifierSearchConfig,
    output_dir: Path,
    progress: ProgressFn,
) -> SearchResult:
    """Train every recipe for every field on ``train``, choose per field on ``validation``, calibrate and
    set the confidence threshold; save the chosen classifier into ``output_dir``. The SetFit fine-tune learns
    ``tune_field``'s classes (its embedding then serves every field)."""
    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

    started = time.monotonic()
    deadline = started + config.max_train_minutes * 60
    recipes = list(config.recipes)
    skipped: dict[str, str] = {}
    training: dict[str, TrainingResult] = {}
    parts = {part for r in recipes for part in RECIPES[r][0].split("+")}  # the feature blocks needed
    blocks: dict[str, dict[str, Any]] = {"train": {}, "validation": {}}
    texts = {"train": [e.text for e in train], "validation": [e.text for e in validation]}
    tags = {"train": [e.tags for e in train], "validation": [e.tags for e in validation]}
    lexical = None
    if "lexical" in parts:
        lexical = LexicalFeatures.fit(texts["train"], tags["train"])
        for split in blocks:
            blocks[split]["lexical"] = lexical.transform(texts[split], tags[split])
        progress(f"lexical features: {lexical.dimension} hashed n-grams, idf from {len(train)} texts")
    base = None
    if "embedding" in parts:
        base = load_sentence_transformer(resolve_base_model(base_model))
        for split in blocks:
            blocks[split]["embedding"] = encode(base, texts[split])
        progress(f"frozen embeddings of {len(train) + len(validation)} texts")

    def fine_tune(feature: str, key: str, reason: str, message: str, run: Any) -> Any:
        """Fine-tune the encoder of ``feature`` into its folder with ``run(folder)`` and add its embeddings
        to the blocks; or, given a ``reason`` not to (or out of time), skip the recipes that need it."""
        nonlocal recipes
        if not reason and time.monotonic() >= deadline:
            reason = "no time left in max_train_minutes"
        if reason:
            skipped.update({r: reason for r in recipes if feature in RECIPES[r][0].split("+")})
            recipes = [r for r in recipes if r not in skipped]
            return None
        progress(message)
        folder = output_dir / SAVED_ENCODERS[feature]
        training[key] = run(folder)
        model = load_sentence_transformer(str(folder))
        for split in blocks:
            blocks[split][feature] = encode(model, texts[split])
        return model

    tuned = finetuned = None
    if "tuned" in parts:
        pairs = setfit_pairs(
            train,
            field=tune_field,
            per_example=config.setfit_pairs_per_example,
            max_pairs=config.setfit_max_pairs,
            seed=config.seed,
        )
        tuned = fine_tune(
            "tuned",
            "setfit",
            "" if pairs else f"the train split has fewer than two {tune_field} labels",
            f"SetFit-style fine-tune on {len(pairs)} {tune_field} pairs",
            lambda folder: _fine_tune_setfit(
                pairs,
                base_model=base_model,
                config=config,
                output_dir=folder,
                deadline=deadline,
                progress=progress,
            ),
        )
    if "finetuned" in parts:
        labelled = [e for e in train if e.labels.get(tune_field) is not None]
        classes = sorted({e.labels[tune_field] for e in labelled})
        finetuned = fine_tune(
            "finetuned",
            "classifier-finetune",
            "" if len(classes) >= 2 else f"the train split has fewer than two {tune_field} labels",
            f"classification fine-tune on {len(labelled)} {tune_field} labels ({len(classes)} classes)",
            lambda folder: _fine_tune_classifier(
                labelled,
                field=tune_field,
                classes=classes,
                base_model=base_model,
                config=config,
                output_dir=folder,
                deadline=deadline,
                progress=progress,
            ),
        )
    if not recipes:
        raise TaskDataError(f"no recipe could be trained: {skipped}")

    chosen: dict[str, FieldModel] = {}
    recipe_models: dict[str, dict[str, FieldModel]] = {}  # field → recipe → its best head, calibrated
    validation_table: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in fields:
        search = _FieldSearch(spec, train, validation, blocks, config=config, progress=progress)
        for recipe in recipes:
            search.evaluate(recipe)
        recipe_models[spec.name] = {recipe: search.evaluated[recipe][0] for recipe in recipes}
        validation_table[spec.name] = {
            recipe: {k: v for k, v in search.evaluated[recipe][1].items() if k not in ("rank", "temperature")}
            for recipe in recipes
        }
        recipe = max(recipes, key=lambda r: search.evaluated[r][1]["rank"])
        chosen[spec.name] = search.with_band(search.evaluated[recipe][0])
        progress(
            f"{spec.name}: chose {recipe} (validation {spec.selection_metric} "
            f"{validation_table[spec.name][recipe][spec.selection_metric]:.4f}, by {config.choose_by}), "
            f"temperature {chosen[spec.name].head.temperature:.2f}, confidence threshold "
            + (
                f"{chosen[spec.name].confidence_threshold:.3f}"
                if chosen[spec.name].confidence_threshold is not None
                else "none (every prediction goes to a human)"
            )
        )
    classifier = TextClassifier(
        fields=chosen,
        lexical=lexical if any("lexical" in m.features for m in chosen.values()) else None,
        base_model=base_model,
        metadata={"target_accuracy": config.target_accuracy},
    )
    loaded = {
        name: model
        for name, model in (("embedding", base), ("tuned", tuned), ("finetuned", finetuned))
        if model is not None
    }
    used = classifier.needed_encoders()
    classifier.encoders = {k: v for k, v in loaded.items() if k in used}
    for name, folder in SAVED_ENCODERS.items():
        if name not in used and (output_dir / folder).exists():
            shutil.rmtree(output_dir / folder)  # no field uses it: the version does not carry it
    classifier.save(output_dir)
    return SearchResult(
        classifier,
        validation_table,
        training,
        skipped,
        time.monotonic() - started,
        recipe_models=recipe_models,
        encoders=loaded,
        lexical=lexical,
    )


__all__ = [
    "BLENDS",
    "CLASS_WEIGHTS",
    "RECIPES",
    "ClassifierSearchConfig",
    "FieldSpec",
    "SearchResult",
    "blend_shares",
    "describe_hyperparameters",
    "search_classifier",
    "score",
    "setfit_pairs",
]
