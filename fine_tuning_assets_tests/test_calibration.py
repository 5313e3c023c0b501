from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

from fine_tuning_assets.core import calibration
from fine_tuning_assets.core.calibration import (
    IsotonicCalibration,
    PlattScaling,
    calibration_from_dict,
    fit_calibration,
)
from fine_tuning_assets.core.metrics import expected_calibration_error


def test_module_doctests_pass():
    assert doctest.testmod(calibration).failed == 0


def overconfident(n: int = 4000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Scores that rank well but claim far more certainty than they have (true P(merge) = 0.25 + 0.5·s)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 1, n)
    labels = (rng.uniform(0, 1, n) < 0.25 + 0.5 * scores).astype(int)
    return scores, labels


# ---------------------------------------------------------------------------------------------- Platt scaling


def test_platt_scaling_monotonic_and_round_trips():
    rng = np.random.default_rng(4)
    scores = rng.uniform(-1, 1, 2000)
    true_slope, true_intercept = 6.0, -1.5
    labels = (rng.uniform(0, 1, 2000) < 1 / (1 + np.exp(-(true_slope * scores + true_intercept)))).astype(int)
    platt = PlattScaling.fit(scores, labels)
    assert platt.slope == pytest.approx(true_slope, rel=0.25)
    assert platt.intercept == pytest.approx(true_intercept, abs=0.5)
    grid = np.linspace(-1, 1, 101)
    probs = platt.predict_proba(grid)
    assert isinstance(probs, np.ndarray) and probs.shape == (101,)
    assert np.all(np.diff(probs) > 0)
    assert np.all((probs > 0) & (probs < 1))
    data = json.loads(json.dumps(platt.to_dict()))
    restored = PlattScaling.from_dict(data)
    assert restored == platt
    np.testing.assert_allclose(restored.predict_proba(grid), probs)


def test_platt_scaling_separable_data_stays_finite():
    platt = PlattScaling.fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert math.isfinite(platt.slope) and platt.slope > 0
    assert platt.predict_proba(0.95)[0] > 0.5 > platt.predict_proba(0.05)[0]


def test_platt_scaling_errors():
    with pytest.raises(ValueError, match="both merge"):
        PlattScaling.fit([0.1, 0.9], [1, 1])
    with pytest.raises(ValueError, match="missing"):
        PlattScaling.from_dict({"slope": 1.0})
    with pytest.raises(ValueError, match="method"):
        PlattScaling.from_dict({"method": "isotonic", "slope": 1.0, "intercept": 0.0})
    with pytest.raises(ValueError, match="finite"):
        PlattScaling(slope=float("inf"), intercept=0.0)


# ------------------------------------------------------------------------------------------------- isotonic


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_makes_overconfident_scores_honest_on_fresh_pairs(method):
    scores, labels = overconfident()
    fresh_scores, fresh_labels = overconfident(seed=6)
    fitted = fit_calibration(scores, labels, method=method)
    before = expected_calibration_error(fresh_labels, fresh_scores)
    after = expected_calibration_error(fresh_labels, fitted.predict_proba(fresh_scores))
    assert before > 0.1 and after < 0.03
    # Calibration keeps the ranking: higher scores never get lower probabilities.
    grid = np.linspace(0, 1, 50)
    assert np.all(np.diff(fitted.predict_proba(grid)) >= 0)


def test_isotonic_calibration_round_trips_and_clips_outside_its_knots():
    scores, labels = overconfident(500)
    fitted = IsotonicCalibration.fit(scores, labels)
    restored = calibration_from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert restored == fitted
    grid = np.linspace(-1, 2, 31)
    np.testing.assert_allclose(restored.predict_proba(grid), fitted.predict_proba(grid))
    assert restored.predict_proba([-5.0])[0] == fitted.probabilities[0]
    assert restored.predict_proba([5.0])[0] == fitted.probabilities[-1]


def test_calibration_errors_name_the_problem():
    with pytest.raises(ValueError, match="both merge"):
        IsotonicCalibration.fit([0.1, 0.9], [0, 0])
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        fit_calibration([0.1, 0.9], [0, 1], method="beta")
    with pytest.raises(ValueError, match="unknown calibration method"):
        calibration_from_dict({"method": "histogram"})
    with pytest.raises(ValueError, match="non-decreasing"):
        IsotonicCalibration(knots=(0.0, 1.0), probabilities=(0.9, 0.1))
    with pytest.raises(ValueError, match="ascending"):
        IsotonicCalibration(knots=(1.0, 0.0), probabilities=(0.1, 0.9))
    assert math.isfinite(PlattScaling.fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).slope)
