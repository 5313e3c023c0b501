"""Turn a model's raw scores into calibrated probabilities: Platt scaling and isotonic regression.

A calibration is fitted on held-out human decisions (the validation split) and saved as JSON beside the
model, so the decision bands' thresholds mean what they say: of the pairs scored 0.9, about 90% merge.
The recipe search (:func:`~fine_tuning_assets.tasks.dedup.recipes.fit_recipe_heads`, ``calibration="auto"``)
keeps whichever of the two has the lower cross-validated Brier score.

Example:
    >>> scores, labels = [0.2, 0.3, 0.7, 0.8, 0.4, 0.6, 0.9, 0.1], [0, 0, 1, 1, 1, 0, 1, 0]
    >>> platt = PlattScaling.fit(scores, labels)
    >>> bool(platt.predict_proba([0.1])[0] < platt.predict_proba([0.9])[0])
    True
    >>> isotonic = IsotonicCalibration.fit(scores, labels)
    >>> isotonic.predict_proba([0.05, 0.95]).tolist()
    [0.0, 1.0]
    >>> calibration_from_dict(isotonic.to_dict()) == isotonic
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from fine_tuning_assets.core.metrics import _as_scores, _validate_pairs

CALIBRATION_METHODS: tuple[str, ...] = ("platt", "isotonic")


class Calibration(Protocol):
    def predict_proba(self, scores: Sequence[float] | float) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


def _both_classes(y: np.ndarray, what: str) -> None:
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"{what} needs both merge (1) and keep-separate (0) labels, got only label {int(y[0])}"
        )


@dataclass(frozen=True)
class PlattScaling:
    """Platt scaling: ``P(merge) = 1 / (1 + exp(-(slope * score + intercept)))``.

    Fitted as a (nearly unregularised) logistic regression on the 1-D score. A negative slope means
    higher scores were *less* likely to merge on the fitting data -- a sign something is wrong upstream.

    Example:
        >>> PlattScaling(slope=2.0, intercept=-1.0).predict_proba([0.5]).tolist()
        [0.5]
        >>> PlattScaling.from_dict(PlattScaling(slope=2.0, intercept=-1.0).to_dict())
        PlattScaling(slope=2.0, intercept=-1.0)
    """

    slope: float
    intercept: float

    def __post_init__(self) -> None:
        for name in ("slope", "intercept"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"PlattScaling.{name} must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"PlattScaling.{name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))

    @classmethod
    def fit(cls, scores: Sequence[float], labels: Sequence[int], *, c: float = 1e4) -> PlattScaling:
        """Fit on raw scores and 0/1 labels; ``c`` is sklearn's inverse regularisation strength."""
        y, s = _validate_pairs(labels, scores, name="scores", unit_interval=False)
        _both_classes(y, "PlattScaling.fit")
        if not c > 0:
            raise ValueError(f"c must be positive, got {c!r}")
        model = LogisticRegression(C=float(c), max_iter=1000).fit(s.reshape(-1, 1), y)
        return cls(slope=float(model.coef_[0][0]), intercept=float(model.intercept_[0]))

    def predict_proba(self, scores: Sequence[float] | float) -> np.ndarray:
        """Calibrated P(merge) for each score (a 1-D float array; a scalar gives a length-1 array)."""
        s = _as_scores(
            np.atleast_1d(np.asarray(scores, dtype=np.float64)), name="scores", unit_interval=False
        )
        return expit(self.slope * s + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, read back by :meth:`from_dict`."""
        return {"method": "platt", "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlattScaling:
        """Inverse of :meth:`to_dict`; raises ValueError on a missing key or another method."""
        method = data.get("method", "platt")
        if method != "platt":
            raise ValueError(f"not a Platt scaling calibration: method={method!r}")
        missing = [key for key in ("slope", "intercept") if key not in data]
        if missing:
            raise ValueError(f"Platt scaling calibration is missing {', '.join(missing)}")
        return cls(slope=data["slope"], intercept=data["intercept"])


@dataclass(frozen=True)
class IsotonicCalibration:
    """Isotonic regression: the best non-decreasing step function from score to P(merge), interpolated
    linearly between its knots and constant beyond them.

    Example:
        >>> IsotonicCalibration(knots=(0.0, 1.0), probabilities=(0.1, 0.9)).predict_proba([0.5, 2.0]).tolist()
        [0.5, 0.9]
    """

    knots: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        knots = tuple(float(k) for k in self.knots)
        probabilities = tuple(float(p) for p in self.probabilities)
        if not knots or len(knots) != len(probabilities):
            raise ValueError("an isotonic calibration needs as many probabilities as knots, at least one")
        if not all(math.isfinite(k) for k in knots) or any(
            b < a for a, b in zip(knots, knots[1:], strict=False)
        ):
            raise ValueError("isotonic calibration knots must be finite and ascending")
        if any(not 0.0 <= p <= 1.0 for p in probabilities) or any(
            b < a for a, b in zip(probabilities, probabilities[1:], strict=False)
        ):
            raise ValueError("isotonic calibration probabilities must be in [0, 1] and non-decreasing")
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "probabilities", probabilities)

    @classmethod
    def fit(cls, scores: Sequence[float], labels: Sequence[int]) -> IsotonicCalibration:
        from sklearn.isotonic import IsotonicRegression

        y, s = _validate_pairs(labels, scores, name="scores", unit_interval=False)
        _both_classes(y, "IsotonicCalibration.fit")
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
        return cls(
            knots=tuple(model.X_thresholds_.tolist()), probabilities=tuple(model.y_thresholds_.tolist())
        )

    def predict_proba(self, scores: Sequence[float] | float) -> np.ndarray:
        s = _as_scores(
            np.atleast_1d(np.asarray(scores, dtype=np.float64)), name="scores", unit_interval=False
        )
        return np.interp(s, self.knots, self.probabilities)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "knots": list(self.knots), "probabilities": list(self.probabilities)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IsotonicCalibration:
        if data.get("method") != "isotonic":
            raise ValueError(f"not an isotonic calibration: method={data.get('method')!r}")
        missing = [key for key in ("knots", "probabilities") if key not in data]
        if missing:
            raise ValueError(f"isotonic calibration is missing {', '.join(missing)}")
        return cls(knots=tuple(data["knots"]), probabilities=tuple(data["probabilities"]))


def fit_calibration(scores: Sequence[float], labels: Sequence[int], *, method: str) -> Calibration:
    """Fit ``"platt"`` or ``"isotonic"`` calibration of ``scores`` to the human ``labels``."""
    if method == "platt":
        return PlattScaling.fit(scores, labels)
    if method == "isotonic":
        return IsotonicCalibration.fit(scores, labels)
    raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}")


def calibration_from_dict(data: Mapping[str, Any]) -> Calibration:
    """Read a calibration saved by ``to_dict``."""
    method = data.get("method")
    if method == "platt":
        return PlattScaling.from_dict(data)
    if method == "isotonic":
        return IsotonicCalibration.from_dict(data)
    raise ValueError(f"unknown calibration method {method!r} in a saved model")
