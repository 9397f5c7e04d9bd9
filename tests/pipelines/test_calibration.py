"""Fitting a calibration and thresholds from labelled pairs (pure; synthetic data with known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.calibration import (
    best_accuracy_threshold,
    expected_calibration_error,
    fit_logistic,
    probability,
    rates_at,
    roc,
    tar_at_far,
    threshold_at_far,
)
from pipelines.compare import SimilarityCalibration


def test_logistic_fit_recovers_the_generating_curve() -> None:
    rng = np.random.default_rng(7)
    truth = SimilarityCalibration(midpoint=0.6, steepness=25.0)
    distances = rng.uniform(0.2, 1.0, 20000)
    same = rng.random(20000) < probability(distances, truth)

    fitted = fit_logistic(distances, same)

    assert fitted.midpoint == pytest.approx(0.6, abs=0.01)
    assert fitted.steepness == pytest.approx(25.0, rel=0.1)
    assert expected_calibration_error(probability(distances, fitted), same) < 0.02
    # a curve three times too steep is measurably worse calibrated
    steep = SimilarityCalibration(0.6, 75.0)
    assert expected_calibration_error(probability(distances, steep), same) > 0.04


def test_separable_pairs_give_a_finite_steep_fit_and_refuse_one_kind_only() -> None:
    distances = np.array([0.3, 0.35, 0.4, 0.8, 0.85, 0.9])
    same = np.array([True, True, True, False, False, False])
    fitted = fit_logistic(distances, same)
    assert np.isfinite(fitted.steepness) and fitted.steepness > 10
    assert 0.4 < fitted.midpoint < 0.8
    with pytest.raises(ValueError):
        fit_logistic(distances, np.ones(6, bool))


def test_thresholds_from_accuracy_and_from_a_false_accept_rate() -> None:
    genuine = np.linspace(0.2, 0.5, 100)
    impostor = np.linspace(0.45, 1.2, 1000)
    distances = np.concatenate([genuine, impostor, [np.inf]])  # a photo without a face: rejected
    same = np.concatenate([np.ones(100, bool), np.zeros(1000, bool), [True]])

    best = best_accuracy_threshold(distances, same)
    assert 0.44 <= best <= 0.5  # impostors outnumber genuine pairs in the overlap

    at_1e2 = threshold_at_far(distances, same, 1e-2)
    assert at_1e2 is not None
    far, _ = rates_at(distances, same, at_1e2)
    assert far <= 1e-2
    at_1e3 = threshold_at_far(distances, same, 1e-3)
    assert at_1e3 is not None and rates_at(distances, same, at_1e3)[0] <= 1e-3
    assert threshold_at_far(distances, same, 1e-4) is None  # 1000 impostor pairs cannot show 1e-4
    assert tar_at_far(distances, same, 1e-3) < tar_at_far(distances, same, 1e-2) <= 1.0

    curve = roc(distances, same, points=11)
    assert len(curve) == 11
    assert all(a.far <= b.far and a.frr >= b.frr for a, b in zip(curve, curve[1:], strict=False))
