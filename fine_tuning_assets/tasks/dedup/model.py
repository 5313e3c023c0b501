"""A saved dedup pair model: fine-tuned components, the recipes built on them, and the chosen recipe.

A model version's directory holds ``pair_model.json`` and the fine-tuned components it needs
(``bi_encoder/``, ``cross_encoder/``, sentence-transformers folders in safetensors). Each *recipe* turns
*features* of a pair into a calibrated P(merge):

* ``bi-encoder`` -- cosine of the contrastively fine-tuned bi-encoder, calibrated,
* ``cross-encoder`` -- logit of the fine-tuned cross-encoder, calibrated,
* ``stacker`` -- a logistic regression over the base model's cosine and BERTScore F1 (token alignment),
  the lexical features of :mod:`fine_tuning_assets.tasks.dedup.features` and the fine-tuned scores.

:class:`PairModel` loads only the components the asked-for recipes need, computes each feature once per
call, and embeds each distinct text once.

Example (slow: it loads models):
    >>> model = PairModel.load("fta_home/artifacts/models/dedup/v1-id1")  # doctest: +SKIP
    >>> model.selected_recipe, model.predict_proba([("Coffee raises alertness.", "Caffeine alerts.")])  # doctest: +SKIP
    ('stacker', array([0.93]))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from scipy.special import expit

from fine_tuning_assets.core.artifacts import verify
from fine_tuning_assets.core.base_model import (
    BUNDLED_BASE_MODEL,
    ModelLoadError,
    cosine_similarities,
    load_sentence_transformer,
    quiet_transformers,
)
from fine_tuning_assets.core.calibration import Calibration, calibration_from_dict
from fine_tuning_assets.core.metrics import DecisionBands
from fine_tuning_assets.core.registry import ModelVersion
from fine_tuning_assets.tasks.dedup.features import LEXICAL_FEATURES, TfidfCosine, lexical_features
from fine_tuning_assets.tasks.dedup.scoring import EMBEDDING_CACHE_SIZE, BaseCosineScorer, Pairs

PAIR_MODEL_FILE = "pair_model.json"
PAIR_MODEL_FORMAT = "fta-pair-model/1"
BI_ENCODER_DIR = "bi_encoder"
CROSS_ENCODER_DIR = "cross_encoder"

BI_ENCODER, CROSS_ENCODER, STACKER = "bi-encoder", "cross-encoder", "stacker"
#: Every recipe, in the order they are trained and preferred on a tie.
RECIPES: tuple[str, ...] = (BI_ENCODER, CROSS_ENCODER, STACKER)
#: The fine-tuned recipes and the component folder each trains.
FINE_TUNED_COMPONENTS: Mapping[str, str] = {BI_ENCODER: BI_ENCODER_DIR, CROSS_ENCODER: CROSS_ENCODER_DIR}

BASE_COSINE, BASE_TOKEN_F1, BI_ENCODER_COSINE, CROSS_ENCODER_LOGIT = (
    "base_cosine",
    "bertscore_f1",
    "bi_encoder_cosine",
    "cross_encoder_logit",
)
#: The feature each fine-tuned recipe scores with.
RECIPE_SCORE: Mapping[str, str] = {BI_ENCODER: BI_ENCODER_COSINE, CROSS_ENCODER: CROSS_ENCODER_LOGIT}
#: What the base model and the lexical features give without any fine-tuning (the small-data stacker's inputs).
BASE_FEATURES: tuple[str, ...] = (BASE_COSINE, BASE_TOKEN_F1, *LEXICAL_FEATURES)
FEATURES: tuple[str, ...] = (*BASE_FEATURES, BI_ENCODER_COSINE, CROSS_ENCODER_LOGIT)


@dataclass(frozen=True)
class CalibratedScore:
    """A recipe head: one feature mapped to P(merge) by a calibration."""

    feature: str
    calibration: Calibration

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def predict_proba(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.calibration.predict_proba(features[self.feature]), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "calibrated_score",
            "feature": self.feature,
            "calibration": self.calibration.to_dict(),
        }


@dataclass(frozen=True)
class StackedLogisticRegression:
    """A recipe head: logistic regression over standardised features.

    Example:
        >>> head = StackedLogisticRegression(("x",), means=(0.0,), scales=(1.0,), coefficients=(2.0,), intercept=0.0)
        >>> head.predict_proba({"x": np.array([0.0])}).tolist()
        [0.5]
    """

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.features)
        if not n or not len(self.means) == len(self.scales) == len(self.coefficients) == n:
            raise ValueError("a stacker needs one mean, scale and coefficient per feature")
        if any(s <= 0 for s in self.scales):
            raise ValueError("stacker feature scales must be positive")

    def predict_proba(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        x = np.column_stack([np.asarray(features[name], dtype=np.float64) for name in self.features])
        z = (x - np.asarray(self.means)) / np.asarray(self.scales)
        return expit(z @ np.asarray(self.coefficients) + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "stacked_logistic_regression",
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
        }


RecipeHead = CalibratedScore | StackedLogisticRegression


def head_from_dict(data: Mapping[str, Any]) -> RecipeHead:
    kind = data.get("type")
    if kind == "calibrated_score":
        return CalibratedScore(str(data["feature"]), calibration_from_dict(data["calibration"]))
    if kind == "stacked_logistic_regression":
        return StackedLogisticRegression(
            features=tuple(data["features"]),
            means=tuple(float(v) for v in data["means"]),
            scales=tuple(float(v) for v in data["scales"]),
            coefficients=tuple(float(v) for v in data["coefficients"]),
            intercept=float(data["intercept"]),
        )
    raise ValueError(f"unknown recipe head type {kind!r} in a saved model")


class PairFeatures:
    """Computes :data:`FEATURES` for pairs from loaded components, each distinct text embedded once."""

    def __init__(
        self,
        *,
        base: BaseCosineScorer | None,
        tfidf: TfidfCosine | None,
        bi_encoder: Any | None = None,
        cross_encoder: Any | None = None,
        batch_size: int = 64,
    ) -> None:
        self.base, self.tfidf = base, tfidf
        self.bi_encoder, self.cross_encoder = bi_encoder, cross_encoder
        self.batch_size = batch_size
        self._bi_encoder_embeddings: MutableMapping[str, np.ndarray] = LRUCache(maxsize=EMBEDDING_CACHE_SIZE)

    def compute(self, pairs: Pairs, names: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = set(names)
        unknown = wanted - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown pair features: {', '.join(sorted(unknown))}")
        pairs = [(a, b) for a, b in pairs]
        out: dict[str, np.ndarray] = {}
        if BASE_TOKEN_F1 in wanted:  # first: its pass also embeds the sentences for the cosine
            out[BASE_TOKEN_F1] = self._need(self.base, BASE_TOKEN_F1).token_f1(pairs)
        if BASE_COSINE in wanted:
            out[BASE_COSINE] = self._need(self.base, BASE_COSINE).similarities(pairs).astype(np.float64)
        if wanted & set(LEXICAL_FEATURES):
            lexical = lexical_features(pairs, tfidf=self._need(self.tfidf, "lexical features"))
            out.update({k: v for k, v in lexical.items() if k in wanted})
        if BI_ENCODER_COSINE in wanted:
            out[BI_ENCODER_COSINE] = cosine_similarities(
                self._need(self.bi_encoder, BI_ENCODER_COSINE),
                [a for a, _ in pairs],
                [b for _, b in pairs],
                batch_size=self.batch_size,
                cache=self._bi_encoder_embeddings,
            ).astype(np.float64)
        if CROSS_ENCODER_LOGIT in wanted:
            out[CROSS_ENCODER_LOGIT] = cross_encoder_logits(
                self._need(self.cross_encoder, CROSS_ENCODER_LOGIT), pairs, batch_size=self.batch_size
            )
        return out

    @staticmethod
    def _need(component: Any | None, feature: str) -> Any:
        if component is None:
            raise ValueError(f"{feature} needs a component this model does not have")
        return component


def cross_encoder_logits(model: Any, pairs: Pairs, *, batch_size: int = 64) -> np.ndarray:
    """The cross-encoder's raw one-logit output for each pair (no sigmoid)."""
    import torch

    if not pairs:
        return np.zeros(0, dtype=np.float64)
    scores = model.predict(
        [list(p) for p in pairs],
        batch_size=batch_size,
        activation_fn=torch.nn.Identity(),
        show_progress_bar=False,
        convert_to_numpy=True,
    )
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def load_cross_encoder(directory: str | Path, *, max_length: int | None = None):  # -> CrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoder

    quiet_transformers()
    try:
        return CrossEncoder(str(directory), device="cpu", max_length=max_length)
    except Exception as error:  # missing or corrupt files raise many kinds; all mean "cannot load"
        raise ModelLoadError(f"cannot load the cross-encoder in {directory}: {error}") from error


class PairModel:
    """A loaded pair model version; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        spec: Mapping[str, Any],
        features: PairFeatures,
        *,
        name: str,
        recipes: Sequence[str],
    ) -> None:
        self.directory, self.spec, self.features, self.name = directory, spec, features, name
        self.selected_recipe: str = spec["selected_recipe"]
        #: The heads of the loaded recipes (the ones whose components were loaded).
        self.heads: dict[str, RecipeHead] = {
            recipe: head_from_dict(spec["recipes"][recipe]["head"]) for recipe in recipes
        }

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        name: str | None = None,
        recipes: Sequence[str] | None = None,
        all_recipes: bool = False,
        base: BaseCosineScorer | None = None,
    ) -> PairModel:
        """Check the directory against its manifest and load the components ``recipes`` need (default: the
        selected recipe only; ``all_recipes``: every saved one). ``base`` reuses a loaded base model."""
        directory = Path(directory)
        label = name or directory.name
        try:
            verify(directory)
            spec = json.loads((directory / PAIR_MODEL_FILE).read_text(encoding="utf-8"))
            if spec.get("format") != PAIR_MODEL_FORMAT:
                raise ValueError(
                    f"{PAIR_MODEL_FILE} has format {spec.get('format')!r}, not {PAIR_MODEL_FORMAT!r}"
                )
            if all_recipes:
                wanted = list(spec["recipes"])
            else:
                wanted = list(recipes) if recipes is not None else [spec["selected_recipe"]]
            missing = [r for r in wanted if r not in spec["recipes"]]
            if missing:
                raise ValueError(
                    f"it has no recipe {', '.join(missing)} (it has {', '.join(spec['recipes'])})"
                )
            needed = {f for r in wanted for f in head_from_dict(spec["recipes"][r]["head"]).features}
            base_model = spec.get("base_model") or BUNDLED_BASE_MODEL
            if needed & {BASE_COSINE, BASE_TOKEN_F1} and base is None:
                base = BaseCosineScorer(None if base_model == BUNDLED_BASE_MODEL else base_model)
            tfidf = TfidfCosine.from_dict(spec["tfidf"]) if needed & set(LEXICAL_FEATURES) else None
            bi_encoder = (
                load_sentence_transformer(str(directory / BI_ENCODER_DIR))
                if BI_ENCODER_COSINE in needed
                else None
            )
            cross_encoder = (
                load_cross_encoder(directory / CROSS_ENCODER_DIR) if CROSS_ENCODER_LOGIT in needed else None
            )
        except ModelLoadError:
            raise
        except Exception as error:  # a missing file, bad JSON, a bad head: all mean "cannot load"
            raise ModelLoadError(f"cannot load {label} from {directory}: {error}") from error
        features = PairFeatures(base=base, tfidf=tfidf, bi_encoder=bi_encoder, cross_encoder=cross_encoder)
        return cls(directory, spec, features, name=label, recipes=wanted)

    @property
    def recipes(self) -> tuple[str, ...]:
        return tuple(self.heads)

    def predict_all(self, pairs: Pairs, recipes: Sequence[str]) -> dict[str, np.ndarray]:
        """P(merge) of each pair under each recipe, computing every feature once."""
        heads = {recipe: self.heads[recipe] for recipe in recipes}
        features = self.features.compute(pairs, {f for head in heads.values() for f in head.features})
        return {recipe: np.clip(head.predict_proba(features), 0.0, 1.0) for recipe, head in heads.items()}

    def predict_proba(self, pairs: Pairs, *, recipe: str | None = None) -> np.ndarray:
        recipe = recipe or self.selected_recipe
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        return self.predict_all(pairs, [recipe])[recipe]

    def scorer(self, recipe: str, *, name: str) -> RecipeScorer:
        return RecipeScorer(self, recipe, name=name)

    def validation_out_of_fold(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The validation labels and each recipe's out-of-fold probabilities saved by the recipe search."""
        validation = self.spec["validation"]
        return (
            np.asarray(validation["labels"], dtype=int),
            {r: np.asarray(p, dtype=np.float64) for r, p in validation["out_of_fold_probabilities"].items()},
        )


@dataclass
class RecipeScorer:
    """One recipe of a loaded model as a :class:`~fine_tuning_assets.tasks.dedup.scoring.PairScorer`."""

    model: PairModel
    recipe: str
    name: str

    def predict_proba(self, pairs: Pairs) -> np.ndarray:
        return self.model.predict_proba(pairs, recipe=self.recipe)


def load_version_model(
    version: ModelVersion, *, name: str, all_recipes: bool = False, base: BaseCosineScorer | None = None
) -> PairModel:
    """Load a registered version's pair model (its chosen recipe, or every recipe); ModelLoadError when its
    files are missing or damaged. ``base`` is reused only when it is the base model this version was built on."""
    if not version.artifact_path:
        raise ModelLoadError(f"{version.label} has no saved model ({version.state})")
    same_base = base is not None and base.base_model == (version.base_model or BUNDLED_BASE_MODEL)
    return PairModel.load(
        version.artifact_path, name=name, base=base if same_base else None, all_recipes=all_recipes
    )


def serving_bands(version: ModelVersion) -> DecisionBands | None:
    """The decision bands an evaluated version serves with: learned when it was evaluated, less any band that
    missed its target on the held-out decisions (``serving_bands`` of the evaluation; versions evaluated
    before band checks serve their learned bands)."""
    bands = version.evaluation.get("serving_bands") or (
        version.evaluation.get("models", {}).get("candidate", {}).get("bands")
    )
    return DecisionBands(**bands) if bands else None
