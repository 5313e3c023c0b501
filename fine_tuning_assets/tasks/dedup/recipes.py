"""Train several candidate recipes on the same split, pick one by validation, calibrate it.

The fine-tuned recipes (bi-encoder, then cross-encoder) train on the train split, early-stopped on the
validation split, inside a wall-clock budget (``max_train_minutes``, shared by the recipes still to
train). Each recipe's head -- a calibration of its score, or the stacker's logistic regression -- is then
fitted on the validation split by k-fold cross-fitting: every validation pair gets an *out-of-fold*
probability from a head that did not see it. Those probabilities choose the recipe (highest average
precision, ranked on Platt or the stacker's regression), choose the calibration method (``auto``: lower
Brier score), and later learn the decision bands, so neither the choice nor the bands rest on pairs the
head was fitted to. The fine-tunes did see the validation split (for early stopping), so their scores there
are somewhat optimistic; the test split, which nothing here touches, is where the gate judges. The saved
heads are fitted on the whole validation split.

Example (the stacker alone needs no fine-tuning; slow only because it loads the base model):
    >>> config = RecipeSearchConfig(recipes=("stacker",), max_train_minutes=10)
    >>> config.recipes, config.calibration
    (('stacker',), 'auto')
    >>> result = search_recipes(train, validation, base_model=None, config=config,  # doctest: +SKIP
    ...                         output_dir="model")
    >>> result.selected_recipe  # doctest: +SKIP
    'stacker'
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss
from sklearn.model_selection import StratifiedKFold

from fine_tuning_assets.core.base_model import BUNDLED_BASE_MODEL
from fine_tuning_assets.core.calibration import CALIBRATION_METHODS, fit_calibration
from fine_tuning_assets.core.fine_tuning import FineTuningConfig, ProgressFn, TrainingResult
from fine_tuning_assets.core.task import TaskDataError
from fine_tuning_assets.tasks.dedup.examples import PairExample
from fine_tuning_assets.tasks.dedup.features import TfidfCosine
from fine_tuning_assets.tasks.dedup.fine_tunes import train_bi_encoder, train_cross_encoder
from fine_tuning_assets.tasks.dedup.model import (
    BASE_COSINE,
    BASE_FEATURES,
    BASE_TOKEN_F1,
    BI_ENCODER,
    BI_ENCODER_COSINE,
    CROSS_ENCODER,
    FINE_TUNED_COMPONENTS,
    PAIR_MODEL_FILE,
    PAIR_MODEL_FORMAT,
    RECIPE_SCORE,
    RECIPES,
    STACKER,
    CalibratedScore,
    PairFeatures,
    RecipeHead,
    StackedLogisticRegression,
    load_cross_encoder,
)
from fine_tuning_assets.tasks.dedup.scoring import BaseCosineScorer

#: Defaults measured on STS-B and the demo on a 2-core CPU (see bench/quality.py).
DEFAULT_BI_ENCODER = FineTuningConfig(epochs=2, batch_size=32, learning_rate=2e-5)
DEFAULT_CROSS_ENCODER = FineTuningConfig(epochs=2, batch_size=16, learning_rate=1e-4)
#: The bi-encoder recipe in the cross-validation regime, SetFit's defaults: one epoch, batch 16, 2e-5.
DEFAULT_SETFIT = FineTuningConfig(epochs=1, batch_size=16, learning_rate=2e-5)
#: The TF-IDF behind the ``tfidf_cosine`` feature: character 3-5-grams, robust with few decisions.
TFIDF_ANALYZER = "char_wb"


FIXED_SPLIT, CROSS_VALIDATION = "fixed_split", "cross_validation"


class RecipeSearchError(TaskDataError):
    """The recipe search cannot run on this training set (e.g. too few validation pairs)."""


@dataclass(frozen=True)
class RecipeSearchConfig:
    """What the recipe search tries.

    Attributes:
        recipes: recipes to train and compare (all of ``bi-encoder``, ``cross-encoder``, ``stacker``).
        bi_encoder: hyperparameters of the contrastive bi-encoder fine-tune.
        cross_encoder: hyperparameters of the cross-encoder fine-tune.
        max_train_minutes: wall-clock budget of all fine-tuning together (30); a recipe still training
            when its share runs out stops there and keeps its best weights so far.
        calibration: ``auto`` (lower cross-validated Brier score), ``platt`` or ``isotonic``.
        cross_validation_folds: folds of the cross-fitting on the validation split (5).
        stacker_regularization: inverse L2 strength ``C`` of the stacker's logistic regression (1.0).
        seed: seed of the folds (42).
        setfit: hyperparameters of the bi-encoder in the cross-validation regime (SetFit-style: one epoch,
            no validation split, a logistic head on its cosine fitted on the same pairs).
        cross_validation_repeats: repeats of the group-wise k-fold cross-validation in the cross-validation
            regime (3); the stacker's out-of-fold probabilities are averaged over them, fine-tuned recipes
            are cross-validated once (each fold is a fine-tune).
        fixed_split_min_test_pairs: the rule that switches regimes (300): while the fixed split's test split
            holds fewer human-labelled pairs than this, recipes are chosen and evaluated by cross-validation
            over every decided pair (:func:`cross_validate_recipes`); from then on on the fixed
            train/validation/test split (:func:`search_recipes`). At 300 test pairs a paired bootstrap of the
            average-precision gain has a standard error of about 0.02-0.03, enough to trust a gain of a few
            points; below it a test split cannot show a real gain, and all decisions together can.
    """

    recipes: tuple[str, ...] = RECIPES
    bi_encoder: FineTuningConfig = DEFAULT_BI_ENCODER
    cross_encoder: FineTuningConfig = DEFAULT_CROSS_ENCODER
    max_train_minutes: float = 30.0
    calibration: str = "auto"
    cross_validation_folds: int = 5
    stacker_regularization: float = 1.0
    seed: int = 42
    setfit: FineTuningConfig = DEFAULT_SETFIT
    cross_validation_repeats: int = 3
    fixed_split_min_test_pairs: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipes", tuple(self.recipes))
        unknown = [r for r in self.recipes if r not in RECIPES]
        if unknown or not self.recipes or len(set(self.recipes)) != len(self.recipes):
            raise ValueError(
                f"recipes must be distinct names among {', '.join(RECIPES)}, got {', '.join(self.recipes) or 'none'}"
            )
        if not self.max_train_minutes > 0:
            raise ValueError(f"max_train_minutes must be positive, got {self.max_train_minutes}")
        if self.calibration not in ("auto", *CALIBRATION_METHODS):
            raise ValueError(f"calibration must be auto, platt or isotonic, got {self.calibration!r}")
        if self.cross_validation_folds < 2:
            raise ValueError("cross_validation_folds must be at least 2")
        if not self.stacker_regularization > 0:
            raise ValueError("stacker_regularization must be positive")
        if self.cross_validation_repeats < 1:
            raise ValueError("cross_validation_repeats must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecipeResult:
    recipe: str
    features: tuple[str, ...]
    head: RecipeHead
    calibration_method: str | None
    validation_average_precision: float
    validation_brier_score: float
    out_of_fold_probabilities: np.ndarray

    def summary(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "calibration": self.calibration_method,
            "validation_average_precision": round(self.validation_average_precision, 6),
            "validation_brier_score": round(self.validation_brier_score, 6),
        }


@dataclass(frozen=True)
class RecipeSearchResult:
    selected_recipe: str
    recipes: dict[str, RecipeResult]
    training: dict[str, TrainingResult]
    skipped: dict[str, str]
    validation_labels: np.ndarray
    seconds: float

    @property
    def history(self) -> dict[str, list[dict[str, Any]]]:
        """Each fine-tune's logged training history."""
        return {name: result.history for name, result in self.training.items()}

    def metrics(self) -> dict[str, Any]:
        """JSON-serialisable summary for the registry and the Dagster UI."""
        return {
            "selected_recipe": self.selected_recipe,
            "recipes": {name: result.summary() for name, result in self.recipes.items()},
            "training": {name: result.metrics() for name, result in self.training.items()},
            "skipped": dict(self.skipped),
            "validation_pairs": int(self.validation_labels.size),
            "search_seconds": round(self.seconds, 2),
        }


# -- heads fitted by cross-fitting -----------------------------------------------------------------------
def _folds(labels: np.ndarray, *, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    smallest = int(min(labels.sum(), labels.size - labels.sum()))
    if smallest < 2:
        raise RecipeSearchError(
            f"the validation split holds {int(labels.sum())} merge and {int(labels.size - labels.sum())} "
            "keep-separate pairs; choosing and calibrating a recipe needs at least 2 of each"
        )
    splitter = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(labels.size), labels))


def fit_stacker(
    features: Mapping[str, np.ndarray], labels: np.ndarray, *, names: Sequence[str], regularization: float
) -> StackedLogisticRegression:
    """Logistic regression over the standardised ``names`` features."""
    x = np.column_stack([np.asarray(features[n], dtype=np.float64) for n in names])
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-9] = 1.0
    model = LogisticRegression(C=regularization, max_iter=2000).fit((x - means) / scales, labels)
    return StackedLogisticRegression(
        features=tuple(names),
        means=tuple(means.tolist()),
        scales=tuple(scales.tolist()),
        coefficients=tuple(model.coef_[0].tolist()),
        intercept=float(model.intercept_[0]),
    )


def _fit_head(
    recipe: str,
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    names: Sequence[str],
    *,
    method: str,
    regularization: float,
) -> RecipeHead:
    if recipe == STACKER:
        return fit_stacker(features, labels, names=names, regularization=regularization)
    [name] = names
    return CalibratedScore(name, fit_calibration(features[name], labels, method=method))


def _out_of_fold(
    recipe: str,
    features: Mapping[str, np.ndarray],
    labels: np.ndarray,
    names: Sequence[str],
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    method: str,
    regularization: float,
) -> np.ndarray:
    probabilities = np.zeros(labels.size, dtype=np.float64)
    for fit_index, held_out in folds:
        head = _fit_head(
            recipe,
            {n: features[n][fit_index] for n in names},
            labels[fit_index],
            names,
            method=method,
            regularization=regularization,
        )
        probabilities[held_out] = head.predict_proba({n: features[n][held_out] for n in names})
    return np.clip(probabilities, 0.0, 1.0)


def fit_recipe_heads(
    features: Mapping[str, np.ndarray],
    labels: Sequence[int],
    *,
    recipe_features: Mapping[str, Sequence[str]],
    calibration: str = "auto",
    folds: int = 5,
    regularization: float = 1.0,
    seed: int = 42,
) -> dict[str, RecipeResult]:
    """Fit each recipe's head on these (validation) features, with out-of-fold probabilities from
    ``folds``-fold cross-fitting; ``calibration="auto"`` keeps the method with the lower out-of-fold Brier
    score.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = np.array([0, 1] * 20)
        >>> features = {"good": labels + rng.normal(0, 0.3, 40), "noise": rng.normal(0, 1, 40)}
        >>> results = fit_recipe_heads(features, labels, recipe_features={"bi-encoder": ["good"],
        ...                            "cross-encoder": ["noise"]})
        >>> select_recipe(results)
        'bi-encoder'
    """
    y = np.asarray(labels, dtype=int)
    splits = _folds(y, folds=folds, seed=seed)
    results: dict[str, RecipeResult] = {}
    for recipe, names in recipe_features.items():
        methods = (
            [None] if recipe == STACKER else (CALIBRATION_METHODS if calibration == "auto" else [calibration])
        )
        candidates: dict[str | None, tuple[float, np.ndarray]] = {}
        for method in methods:
            oof = _out_of_fold(
                recipe, features, y, names, splits, method=method or "platt", regularization=regularization
            )
            candidates[method] = (float(brier_score_loss(y, oof)), oof)
        method = min(candidates, key=lambda m: candidates[m][0])
        brier, oof = candidates[method]
        # Rank recipes on a ranking-preserving score: isotonic's steps tie pairs and lower average precision
        # without the recipe ranking any worse, so the recipe choice looks at Platt (or the stacker's
        # regression) whichever calibration is kept.
        ranking = candidates["platt"][1] if "platt" in candidates else oof
        head = _fit_head(recipe, features, y, names, method=method or "platt", regularization=regularization)
        results[recipe] = RecipeResult(
            recipe=recipe,
            features=tuple(names),
            head=head,
            calibration_method=method,
            validation_average_precision=float(average_precision_score(y, ranking)),
            validation_brier_score=brier,
            out_of_fold_probabilities=oof,
        )
    return results


def select_recipe(results: Mapping[str, RecipeResult]) -> str:
    """The recipe with the highest out-of-fold validation average precision (the earlier one in
    :data:`RECIPES` on a tie)."""
    if not results:
        raise RecipeSearchError("no recipe could be fitted")
    order = {name: i for i, name in enumerate(RECIPES)}
    return max(results, key=lambda r: (round(results[r].validation_average_precision, 9), -order[r]))


# -- the search ------------------------------------------------------------------------------------------
def _texts(examples: Sequence[PairExample]) -> list[str]:
    return [t for e in examples for t in (e.text_a, e.text_b)]


def search_recipes(
    train: Sequence[PairExample],
    validation: Sequence[PairExample],
    *,
    base_model: str | None,
    config: RecipeSearchConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
) -> RecipeSearchResult:
    """Train, cross-fit and choose the recipes; write ``pair_model.json`` and the fine-tuned components
    into ``output_dir``."""
    say = progress or (lambda _message: None)
    output_dir = Path(output_dir)
    started = time.monotonic()
    deadline = started + config.max_train_minutes * 60
    labels = np.asarray([e.label for e in validation], dtype=int)
    _folds(labels, folds=config.cross_validation_folds, seed=config.seed)  # fail early, before training

    training: dict[str, TrainingResult] = {}
    skipped: dict[str, str] = {}
    to_train = [r for r in RECIPES if r in FINE_TUNED_COMPONENTS and r in config.recipes]
    trainers = {
        BI_ENCODER: (train_bi_encoder, config.bi_encoder),
        CROSS_ENCODER: (train_cross_encoder, config.cross_encoder),
    }
    for index, recipe in enumerate(to_train):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            skipped[recipe] = (
                f"the {config.max_train_minutes:g}-minute training budget was used up before it started"
            )
            say(f"{recipe}: skipped, {skipped[recipe]}")
            continue
        share = remaining / (len(to_train) - index)
        say(f"{recipe}: training with {share / 60:.1f} of the {remaining / 60:.1f} minutes left")
        train_fn, hyperparameters = trainers[recipe]
        training[recipe] = train_fn(
            train,
            validation,
            base_model=base_model,
            config=hyperparameters,
            output_dir=output_dir / FINE_TUNED_COMPONENTS[recipe],
            progress=lambda message, recipe=recipe: say(f"{recipe}: {message}"),
            deadline=time.monotonic() + share,
        )

    say(f"scoring {len(validation)} validation pairs with every component")
    from fine_tuning_assets.core.base_model import load_sentence_transformer

    tfidf = TfidfCosine.fit(_texts(train), analyzer=TFIDF_ANALYZER)
    feature_source = PairFeatures(
        base=BaseCosineScorer(base_model),
        tfidf=tfidf,
        bi_encoder=load_sentence_transformer(str(output_dir / FINE_TUNED_COMPONENTS[BI_ENCODER]))
        if BI_ENCODER in training
        else None,
        cross_encoder=load_cross_encoder(output_dir / FINE_TUNED_COMPONENTS[CROSS_ENCODER])
        if CROSS_ENCODER in training
        else None,
    )
    stacker_features = [*BASE_FEATURES, *(RECIPE_SCORE[r] for r in training)]
    recipe_features = {r: [RECIPE_SCORE[r]] for r in training}
    if STACKER in config.recipes:
        recipe_features[STACKER] = stacker_features
    if not recipe_features:
        raise RecipeSearchError(
            "no recipe was trained within the time budget: "
            + "; ".join(f"{r}: {why}" for r, why in skipped.items())
        )
    needed = {f for names in recipe_features.values() for f in names}
    features = feature_source.compute([(e.text_a, e.text_b) for e in validation], needed)
    results = fit_recipe_heads(
        features,
        labels,
        recipe_features=recipe_features,
        calibration=config.calibration,
        folds=config.cross_validation_folds,
        regularization=config.stacker_regularization,
        seed=config.seed,
    )
    selected = select_recipe(results)
    for name, result in results.items():
        say(
            f"{name}: validation average precision {result.validation_average_precision:.4f} "
            f"(out of fold), Brier {result.validation_brier_score:.4f}"
            + (f", {result.calibration_method} calibration" if result.calibration_method else "")
            + (" — selected" if name == selected else "")
        )
    spec = {
        "format": PAIR_MODEL_FORMAT,
        "regime": FIXED_SPLIT,
        "base_model": base_model or BUNDLED_BASE_MODEL,
        "selected_recipe": selected,
        "components": {r: FINE_TUNED_COMPONENTS[r] for r in training},
        "tfidf": tfidf.to_dict(),
        "recipes": {name: {"head": r.head.to_dict(), **r.summary()} for name, r in results.items()},
        "skipped": skipped,
        "validation": {
            "labels": labels.tolist(),
            "out_of_fold_probabilities": {
                name: [round(float(p), 6) for p in r.out_of_fold_probabilities] for name, r in results.items()
            },
        },
        "config": config.to_dict(),
    }
    (output_dir / PAIR_MODEL_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return RecipeSearchResult(
        selected_recipe=selected,
        recipes=results,
        training=training,
        skipped=skipped,
        validation_labels=labels,
        seconds=time.monotonic() - started,
    )


# -- the small-data regime: repeated group-wise cross-validation over every decided pair -------------------
def choose_regime(test_pairs: int, *, config: RecipeSearchConfig) -> str:
    """``cross_validation`` while the fixed split's test split holds fewer than
    ``config.fixed_split_min_test_pairs`` human-labelled pairs, ``fixed_split`` from then on.

    Example:
        >>> choose_regime(44, config=RecipeSearchConfig()), choose_regime(1150, config=RecipeSearchConfig())
        ('cross_validation', 'fixed_split')
    """
    return CROSS_VALIDATION if test_pairs < config.fixed_split_min_test_pairs else FIXED_SPLIT


def _group_folds(
    labels: np.ndarray, groups: np.ndarray, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    try:
        splits = list(splitter.split(np.zeros(labels.size), labels, groups))
    except ValueError as error:  # e.g. fewer groups than folds
        raise RecipeSearchError(
            f"the decisions form too few independent groups for {folds}-fold cross-validation ({error}); "
            "record more decisions"
        ) from error
    for _, held_out in splits:
        if len(set(labels[held_out].tolist())) < 2:
            raise RecipeSearchError(
                f"the decisions form too few independent groups for {folds}-fold cross-validation with both "
                "classes in every fold; record more decisions"
            )
    return splits


def stacker_out_of_fold(
    examples: Sequence[PairExample],
    groups: Sequence[int],
    *,
    base: BaseCosineScorer,
    folds: int = 5,
    seed: int = 42,
    regularization: float = 1.0,
) -> np.ndarray:
    """Out-of-fold P(merge) of each pair from the small-data stacker (base cosine, BERTScore F1, lexical
    features) fitted by group-wise k-fold cross-validation: a probability from a model that never saw the
    pair, nor any pair of its group. Used to find suspected mislabels. The TF-IDF is fitted once on every
    pair's text (no labels: unsupervised), so the lexical features are computed once, not per fold."""
    from fine_tuning_assets.tasks.dedup.features import lexical_features

    labels = np.asarray([e.label for e in examples], dtype=int)
    pairs = [(e.text_a, e.text_b) for e in examples]
    token_f1 = base.token_f1(pairs)  # first: its pass also embeds the sentences for the cosine
    tfidf = TfidfCosine.fit([t for pair in pairs for t in pair], analyzer=TFIDF_ANALYZER)
    features = {
        BASE_COSINE: base.similarities(pairs).astype(np.float64),
        BASE_TOKEN_F1: token_f1,
        **lexical_features(pairs, tfidf=tfidf),
    }
    probabilities = np.zeros(labels.size)
    for fit_index, held_out in _group_folds(labels, np.asarray(groups), folds=folds, seed=seed):
        head = fit_stacker(
            {k: v[fit_index] for k, v in features.items()},
            labels[fit_index],
            names=BASE_FEATURES,
            regularization=regularization,
        )
        probabilities[held_out] = head.predict_proba({k: v[held_out] for k, v in features.items()})
    return np.clip(probabilities, 0.0, 1.0)


def _setfit_fold(
    train: Sequence[PairExample],
    scored: Sequence[Sequence[PairExample]],
    *,
    base_model: str | None,
    config: FineTuningConfig,
    output_dir: Path,
    deadline: float,
    progress: ProgressFn,
) -> tuple[TrainingResult, CalibratedScore, list[np.ndarray]]:
    """SetFit-style: fine-tune the bi-encoder on ``train`` without validation, fit a Platt head on its cosine of
    the same pairs, and return the head's probabilities for each list of ``scored`` pairs."""
    from fine_tuning_assets.core.base_model import cosine_similarities, load_sentence_transformer

    result = train_bi_encoder(
        train,
        None,
        base_model=base_model,
        config=config,
        output_dir=output_dir,
        progress=progress,
        deadline=deadline,
    )
    model = load_sentence_transformer(str(output_dir))
    cache: dict[str, np.ndarray] = {}

    def cosine(examples: Sequence[PairExample]) -> np.ndarray:
        return cosine_similarities(
            model, [e.text_a for e in examples], [e.text_b for e in examples], cache=cache
        ).astype(np.float64)

    labels = np.asarray([e.label for e in train], dtype=int)
    head = CalibratedScore(BI_ENCODER_COSINE, fit_calibration(cosine(train), labels, method="platt"))
    return result, head, [head.predict_proba({BI_ENCODER_COSINE: cosine(rows)}) for rows in scored]


def cross_validate_recipes(
    examples: Sequence[PairExample],
    groups: Sequence[int],
    *,
    base_model: str | None,
    config: RecipeSearchConfig,
    output_dir: str | Path,
    progress: ProgressFn | None = None,
) -> RecipeSearchResult:
    """The small-data regime: choose and evaluate recipes by repeated group-wise k-fold cross-validation over
    every human-labelled pair (``groups`` as the training set's split groups, so no insight or statement is
    on both sides of a fold), then refit the recipes on all of them and write the model into ``output_dir``.

    Recipes: the ``stacker`` over :data:`~fine_tuning_assets.tasks.dedup.model.BASE_FEATURES` (no fine-tuning), and,
    when ``bi-encoder`` is among ``config.recipes``, a SetFit-style bi-encoder (``config.setfit``); the
    cross-encoder is not cross-validated (too slow to train k times, and weakest with few pairs). Every pair
    gets an out-of-fold probability per recipe (the stacker's averaged over ``cross_validation_repeats``
    repeats); those choose the recipe, learn the decision bands and are what the evaluation judges, against
    the base model's out-of-fold Platt-calibrated cosine on the same folds.
    """
    say = progress or (lambda _message: None)
    output_dir = Path(output_dir)
    started = time.monotonic()
    deadline = started + config.max_train_minutes * 60
    rows = list(examples)
    labels = np.asarray([e.label for e in rows], dtype=int)
    group_ids = np.asarray(groups)
    if group_ids.size != labels.size:
        raise ValueError(f"{labels.size} examples but {group_ids.size} group ids")
    splits_by_repeat = [
        _group_folds(labels, group_ids, folds=config.cross_validation_folds, seed=config.seed + repeat)
        for repeat in range(config.cross_validation_repeats)
    ]
    pairs = [(e.text_a, e.text_b) for e in rows]
    base = BaseCosineScorer(base_model)
    say(f"scoring {len(rows)} decided pairs with the base model")
    token_f1 = base.token_f1(pairs)  # first: its pass also embeds the sentences for the cosine
    base_features = {BASE_COSINE: base.similarities(pairs).astype(np.float64), BASE_TOKEN_F1: token_f1}

    def features_for(index: np.ndarray, tfidf: TfidfCosine) -> dict[str, np.ndarray]:
        from fine_tuning_assets.tasks.dedup.features import lexical_features

        chosen = [pairs[i] for i in index]
        return {**{k: v[index] for k, v in base_features.items()}, **lexical_features(chosen, tfidf=tfidf)}

    cross_encoder_skipped = CROSS_ENCODER in config.recipes
    recipes = [r for r in (BI_ENCODER, STACKER) if r in config.recipes]
    if not recipes:
        raise RecipeSearchError(
            "the cross-validation regime trains the stacker and a SetFit-style bi-encoder; "
            f"neither is among the configured recipes ({', '.join(config.recipes)})"
        )
    sums = {name: np.zeros(labels.size) for name in (*recipes, "base")}
    counts = {name: np.zeros(labels.size) for name in (*recipes, "base")}
    training: dict[str, TrainingResult] = {}
    skipped: dict[str, str] = {}
    if cross_encoder_skipped:
        skipped[CROSS_ENCODER] = (
            "not cross-validated in the small-data regime (k fine-tunes, weakest with few pairs)"
        )
    fine_tunes_left = config.cross_validation_folds + 1 if BI_ENCODER in recipes else 0
    import tempfile

    for repeat, splits in enumerate(splits_by_repeat):
        for fold, (fit_index, held_out) in enumerate(splits):
            tfidf = TfidfCosine.fit([t for i in fit_index for t in pairs[i]], analyzer=TFIDF_ANALYZER)
            fit_features, held_features = features_for(fit_index, tfidf), features_for(held_out, tfidf)
            if STACKER in recipes:
                head = fit_stacker(
                    fit_features,
                    labels[fit_index],
                    names=BASE_FEATURES,
                    regularization=config.stacker_regularization,
                )
                sums[STACKER][held_out] += head.predict_proba(held_features)
                counts[STACKER][held_out] += 1
            platt = fit_calibration(fit_features[BASE_COSINE], labels[fit_index], method="platt")
            sums["base"][held_out] += platt.predict_proba(held_features[BASE_COSINE])
            counts["base"][held_out] += 1
            if BI_ENCODER in recipes and repeat == 0 and BI_ENCODER not in skipped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    skipped[BI_ENCODER] = (
                        f"the {config.max_train_minutes:g}-minute budget ran out during cross-validation"
                    )
                    continue
                say(f"bi-encoder (SetFit-style): fold {fold + 1}/{len(splits)}")
                with tempfile.TemporaryDirectory(prefix="fta-setfit-") as scratch:
                    _, _, [probabilities] = _setfit_fold(
                        [rows[i] for i in fit_index],
                        [[rows[i] for i in held_out]],
                        base_model=base_model,
                        config=config.setfit,
                        output_dir=Path(scratch),
                        deadline=time.monotonic() + remaining / fine_tunes_left,
                        progress=lambda message: say(f"bi-encoder: {message}"),
                    )
                fine_tunes_left -= 1
                sums[BI_ENCODER][held_out] += probabilities
                counts[BI_ENCODER][held_out] += 1
    if BI_ENCODER in skipped:
        recipes.remove(BI_ENCODER)
    out_of_fold = {name: np.clip(sums[name] / np.maximum(counts[name], 1), 0.0, 1.0) for name in sums}

    # Refit every recipe on all decided pairs: that is the model saved and served.
    say(f"refitting {', '.join(recipes)} on all {len(rows)} decided pairs")
    tfidf = TfidfCosine.fit([t for pair in pairs for t in pair], analyzer=TFIDF_ANALYZER)
    everything = np.arange(labels.size)
    all_features = features_for(everything, tfidf)
    results: dict[str, RecipeResult] = {}
    components: dict[str, str] = {}
    for recipe in recipes:
        if recipe == STACKER:
            head: RecipeHead = fit_stacker(
                all_features, labels, names=BASE_FEATURES, regularization=config.stacker_regularization
            )
            names: tuple[str, ...] = BASE_FEATURES
            method = None
        else:
            training[BI_ENCODER], head, _ = _setfit_fold(
                rows,
                [],
                base_model=base_model,
                config=config.setfit,
                output_dir=output_dir / FINE_TUNED_COMPONENTS[BI_ENCODER],
                deadline=max(deadline, time.monotonic() + 60),
                progress=lambda message: say(f"bi-encoder: {message}"),
            )
            components[BI_ENCODER] = FINE_TUNED_COMPONENTS[BI_ENCODER]
            names, method = (BI_ENCODER_COSINE,), "platt"
        results[recipe] = RecipeResult(
            recipe=recipe,
            features=names,
            head=head,
            calibration_method=method,
            validation_average_precision=float(average_precision_score(labels, out_of_fold[recipe])),
            validation_brier_score=float(brier_score_loss(labels, out_of_fold[recipe])),
            out_of_fold_probabilities=out_of_fold[recipe],
        )
    selected = select_recipe(results)
    for name, result in results.items():
        say(
            f"{name}: cross-validated average precision {result.validation_average_precision:.4f} "
            f"over {labels.size} pairs" + (" — selected" if name == selected else "")
        )
    first_folds = np.zeros(labels.size, dtype=int)
    for fold, (_, held_out) in enumerate(splits_by_repeat[0]):
        first_folds[held_out] = fold
    spec = {
        "format": PAIR_MODEL_FORMAT,
        "regime": CROSS_VALIDATION,
        "base_model": base_model or BUNDLED_BASE_MODEL,
        "selected_recipe": selected,
        "components": components,
        "tfidf": tfidf.to_dict(),
        "recipes": {name: {"head": r.head.to_dict(), **r.summary()} for name, r in results.items()},
        "skipped": skipped,
        "validation": {
            "labels": labels.tolist(),
            "out_of_fold_probabilities": {
                name: [round(float(p), 6) for p in r.out_of_fold_probabilities] for name, r in results.items()
            },
        },
        # The base model as the fallback serves it: its cosine Platt-calibrated on every decided pair.
        "base_calibration": fit_calibration(base_features[BASE_COSINE], labels, method="platt").to_dict(),
        "cross_validation": {
            "folds": config.cross_validation_folds,
            "repeats": config.cross_validation_repeats,
            "keys": [list(e.key) for e in rows],
            "fold_of_pair": first_folds.tolist(),
            "base_out_of_fold_probabilities": [round(float(p), 6) for p in out_of_fold["base"]],
        },
        "config": config.to_dict(),
    }
    (output_dir / PAIR_MODEL_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return RecipeSearchResult(
        selected_recipe=selected,
        recipes=results,
        training=training,
        skipped=skipped,
        validation_labels=labels,
        seconds=time.monotonic() - started,
    )
