"""The recipe search of a classification task: per field, every recipe (and its regularisation) is trained on
the train split and scored on validation; the best is calibrated (a temperature) and given a confidence
threshold for a target accuracy, on the same validation examples.

| recipe | features | |
|---|---|---|
| ``tfidf-lr`` | lexical | hashed word and character n-grams (and tags), TF-IDF, logistic regression |
| ``embedding-lr`` | embedding | the frozen base model's embedding, logistic regression |
| ``setfit`` | tuned | SetFit-style: the base model contrastively fine-tuned on pairs of the task's examples (same label pulled together, different labels pushed apart), then logistic regression on its embedding |
| ``stack`` | lexical+embedding | the lexical features beside the frozen embedding, one logistic regression |
| ``stack-setfit`` | lexical+tuned | the lexical features beside the fine-tuned embedding |
| ``finetune-lr`` | finetuned | the base model fine-tuned end to end as a classifier of the primary field (a linear layer on its embedding, class-weighted cross-entropy), then logistic regression on its embedding |
| ``stack-finetune`` | lexical+finetuned | the lexical features beside the classification-fine-tuned embedding |

Example:
    >>> ClassifierSearchConfig(recipes=("tfidf-lr",)).recipes
    ('tfidf-lr',)
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fine_tuning_assets.classifiers.examples import TextExample
from fine_tuning_assets.classifiers.model import (
    FINETUNED_EMBEDDING,
    SAVED_ENCODERS,
    TUNED_EMBEDDING,
    FieldModel,
    Head,
    LexicalFeatures,
    TextClassifier,
    combine,
    encode,
    fit_temperature,
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
}
DEFAULT_RECIPES: tuple[str, ...] = tuple(RECIPES)
DEFAULT_SETFIT = FineTuningConfig(epochs=1, batch_size=16, learning_rate=2e-5, max_seq_length=128)
DEFAULT_CLASSIFIER_FINETUNE = FineTuningConfig(
    epochs=4, batch_size=16, learning_rate=5e-5, max_seq_length=128
)

#: Metric names a task can select recipes by.
SELECTION_METRICS: tuple[str, ...] = ("macro_f1", "average_precision")


@dataclass(frozen=True)
class ClassifierSearchConfig:
    """What the classifier recipe search tries.

    Attributes:
        recipes: recipes to compare (all seven by default: ``tfidf-lr``, ``embedding-lr``, ``setfit``,
            ``stack``, ``stack-setfit``, ``finetune-lr``, ``stack-finetune``).
        c_values: inverse regularisation strengths of the logistic regression tried for each recipe.
        embedding_weights: scales of the embedding beside the lexical features tried by the stacks.
        balanced_classes: weight classes inversely to their frequency (helps the rare ones' recall).
        setfit: hyperparameters of the contrastive fine-tune (1 epoch, batch 16, 2e-5).
        setfit_pairs_per_example: same-label and different-label pairs drawn per training example (2).
        setfit_max_pairs: at most this many pairs (4000; ~1 minute on 2 cores).
        classifier_finetune: hyperparameters of the end-to-end classification fine-tune (4 epochs, batch 16,
            5e-5).
        target_accuracy: the accuracy a field's confidence band must reach to be applied without a human
            (0.95).
        band_confidence: the one-sided Clopper–Pearson level at which the band's accuracy is proven on
            validation (0.9); with too few validation examples no band qualifies and every prediction
            goes to a human.
        max_train_minutes: wall-clock budget of the fine-tune (30).
        seed: seed of the pair sampling and the fine-tune (42).
    """

    recipes: tuple[str, ...] = DEFAULT_RECIPES
    c_values: tuple[float, ...] = (4.0, 16.0, 64.0)
    embedding_weights: tuple[float, ...] = (0.5, 1.0)
    balanced_classes: bool = True
    setfit: FineTuningConfig = DEFAULT_SETFIT
    setfit_pairs_per_example: int = 2
    setfit_max_pairs: int = 4000
    classifier_finetune: FineTuningConfig = DEFAULT_CLASSIFIER_FINETUNE
    target_accuracy: float = 0.95
    band_confidence: float = 0.9
    max_train_minutes: float = 30.0
    seed: int = 42

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipes", tuple(self.recipes))
        object.__setattr__(self, "c_values", tuple(float(c) for c in self.c_values))
        object.__setattr__(self, "embedding_weights", tuple(float(w) for w in self.embedding_weights))
        unknown = [r for r in self.recipes if r not in RECIPES]
        if unknown or not self.recipes:
            raise ValueError(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}")
        if not self.c_values or min(self.c_values) <= 0:
            raise ValueError("c_values must be positive numbers")
        if not self.embedding_weights or min(self.embedding_weights) <= 0:
            raise ValueError("embedding_weights must be positive numbers")
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
            self.classifier = torch.nn.Linear(model.get_sentence_embedding_dimension(), n_classes)
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


def _logistic_regression(c: float, *, balanced: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # newton-cg: a handful of iterations here where lbfgs takes dozens (measured 0.3 s against 0.7-1.1 s).
    return LogisticRegression(
        C=c,
        solver="newton-cg",
        max_iter=1000,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )


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
    sets = {RECIPES[r][0] for r in recipes}
    blocks: dict[str, dict[str, Any]] = {"train": {}, "validation": {}}
    texts = {"train": [e.text for e in train], "validation": [e.text for e in validation]}
    tags = {"train": [e.tags for e in train], "validation": [e.tags for e in validation]}
    lexical = None
    if any("lexical" in s for s in sets):
        lexical = LexicalFeatures.fit(texts["train"], tags["train"])
        for split in blocks:
            blocks[split]["lexical"] = lexical.transform(texts[split], tags[split])
        progress(f"lexical features: {lexical.dimension} hashed n-grams, idf from {len(train)} texts")
    base = None
    if any(s.endswith("embedding") for s in sets):
        base = load_sentence_transformer(resolve_base_model(base_model))
        for split in blocks:
            blocks[split]["embedding"] = encode(base, texts[split])
        progress(f"frozen embeddings of {len(train) + len(validation)} texts")
    tuned = None
    if any(s.endswith("tuned") for s in sets):
        pairs = setfit_pairs(
            train,
            field=tune_field,
            per_example=config.setfit_pairs_per_example,
            max_pairs=config.setfit_max_pairs,
            seed=config.seed,
        )
        if not pairs:
            reason = f"the train split has fewer than two {tune_field} labels"
        elif time.monotonic() >= deadline:
            reason = "no time left in max_train_minutes"
        else:
            reason = ""
        if reason:
            for r in recipes:
                if RECIPES[r][0].endswith("tuned"):
                    skipped[r] = reason
            recipes = [r for r in recipes if r not in skipped]
        else:
            progress(f"SetFit-style fine-tune on {len(pairs)} {tune_field} pairs")
            tuned_dir = output_dir / TUNED_EMBEDDING
            training["setfit"] = _fine_tune_setfit(
                pairs,
                base_model=base_model,
                config=config,
                output_dir=tuned_dir,
                deadline=deadline,
                progress=progress,
            )
            tuned = load_sentence_transformer(str(tuned_dir))
            for split in blocks:
                blocks[split]["tuned"] = encode(tuned, texts[split])
    finetuned = None
    if any(s.endswith("finetuned") for s in sets):
        labelled = [e for e in train if e.labels.get(tune_field) is not None]
        classes = sorted({e.labels[tune_field] for e in labelled})
        reason = (
            f"the train split has fewer than two {tune_field} labels"
            if len(classes) < 2
            else "no time left in max_train_minutes"
            if time.monotonic() >= deadline
            else ""
        )
        if reason:
            for r in recipes:
                if RECIPES[r][0].endswith("finetuned"):
                    skipped[r] = reason
            recipes = [r for r in recipes if r not in skipped]
        else:
            progress(
                f"classification fine-tune on {len(labelled)} {tune_field} labels ({len(classes)} classes)"
            )
            finetuned_dir = output_dir / FINETUNED_EMBEDDING
            training["classifier-finetune"] = _fine_tune_classifier(
                labelled,
                field=tune_field,
                classes=classes,
                base_model=base_model,
                config=config,
                output_dir=finetuned_dir,
                deadline=deadline,
                progress=progress,
            )
            finetuned = load_sentence_transformer(str(finetuned_dir))
            for split in blocks:
                blocks[split]["finetuned"] = encode(finetuned, texts[split])
    if not recipes:
        raise TaskDataError(f"no recipe could be trained: {skipped}")

    chosen: dict[str, FieldModel] = {}
    validation_table: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in fields:
        rows = {
            split: [i for i, e in enumerate(data) if e.labels.get(spec.name) is not None]
            for split, data in (("train", train), ("validation", validation))
        }
        y_train = [train[i].labels[spec.name] for i in rows["train"]]
        y_validation = [validation[i].labels[spec.name] for i in rows["validation"]]
        if len(set(y_train)) < 2:
            raise TaskDataError(
                f"the train split has fewer than two {spec.name} labels ({sorted(set(y_train))})"
            )
        if not y_validation:
            raise TaskDataError(f"the validation split has no {spec.name} labels")
        best: tuple[float, str, Head, float, float] | None = None
        validation_table[spec.name] = {}
        for recipe in recipes:
            features = RECIPES[recipe][0]
            weights = config.embedding_weights if "+" in features else (1.0,)
            recipe_best: dict[str, Any] | None = None
            for weight in weights:
                x_train = combine(blocks["train"], features, weight)[rows["train"]]
                x_validation = combine(blocks["validation"], features, weight)[rows["validation"]]
                for c in config.c_values:
                    model = _logistic_regression(c, balanced=config.balanced_classes, seed=config.seed)
                    model.fit(x_train, y_train)
                    head = Head.from_logistic_regression(model)
                    probabilities = head.probabilities(x_validation)
                    value = score(
                        spec.selection_metric,
                        y_validation,
                        probabilities,
                        head.labels,
                        positive=spec.positive_label,
                    )
                    if recipe_best is None or value > recipe_best[spec.selection_metric]:
                        recipe_best = {
                            spec.selection_metric: round(value, 4),
                            "C": c,
                            "embedding_weight": weight if "+" in features else None,
                        }
                    if best is None or value > best[0]:
                        best = (value, recipe, head, weight, c)
            validation_table[spec.name][recipe] = recipe_best or {}
            progress(
                f"{spec.name} · {recipe}: validation {spec.selection_metric} {recipe_best[spec.selection_metric]:.4f}"
            )
        assert best is not None
        value, recipe, head, weight, c = best
        features = RECIPES[recipe][0]
        x_validation = combine(blocks["validation"], features, weight)[rows["validation"]]
        index = {label: i for i, label in enumerate(head.labels)}
        known = [i for i, y in enumerate(y_validation) if y in index]
        head.temperature = fit_temperature(
            head.logits(x_validation)[known], [index[y_validation[i]] for i in known]
        )
        calibrated = head.probabilities(x_validation)
        predicted = [head.labels[i] for i in np.argmax(calibrated, axis=1)]
        correct = [int(p == y) for p, y in zip(predicted, y_validation, strict=True)]
        threshold = learn_auto_merge_threshold(
            correct,
            calibrated.max(axis=1),
            target_precision=config.target_accuracy,
            confidence=config.band_confidence,
        )
        chosen[spec.name] = FieldModel(
            recipe=recipe,
            features=features,
            head=head,
            embedding_weight=weight,
            confidence_threshold=threshold,
            description=f"{RECIPES[recipe][1]} (C={c:g}"
            + (f", embedding weight {weight:g})" if "+" in features else ")"),
        )
        progress(
            f"{spec.name}: chose {recipe} (validation {spec.selection_metric} {value:.4f}), temperature "
            f"{head.temperature:.2f}, confidence threshold "
            + (f"{threshold:.3f}" if threshold is not None else "none (every prediction goes to a human)")
        )
    classifier = TextClassifier(
        fields=chosen,
        lexical=lexical if any("lexical" in m.features for m in chosen.values()) else None,
        base_model=base_model,
    )
    if base is not None:
        classifier.encoders["embedding"] = base
    if tuned is not None:
        classifier.encoders["tuned"] = tuned
    if finetuned is not None:
        classifier.encoders["finetuned"] = finetuned
    used = classifier.needed_encoders()
    classifier.encoders = {k: v for k, v in classifier.encoders.items() if k in used}
    for name, folder in SAVED_ENCODERS.items():
        if name not in used and (output_dir / folder).exists():
            shutil.rmtree(output_dir / folder)  # no field uses it: the version does not carry it
    classifier.save(output_dir)
    return SearchResult(classifier, validation_table, training, skipped, time.monotonic() - started)


__all__ = [
    "RECIPES",
    "ClassifierSearchConfig",
    "FieldSpec",
    "SearchResult",
    "search_classifier",
    "score",
    "setfit_pairs",
]
