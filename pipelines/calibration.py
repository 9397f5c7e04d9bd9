"""Fitting and judging a similarity calibration and a match threshold from labelled pairs.

Pure numpy on arrays of pair distances and same/different labels, so that the benchmark
(``bench.accuracy``, on the shared pairs with leave-one-source-out folds) and a face set's
own calibration (its enrolled ``user_id`` pairs) use one implementation.

- ``fit_logistic``: P(same | d) = 1 / (1 + exp(k (d - m))), by Newton's method on the
  (optionally weighted) log-likelihood, with a tiny ridge so that perfectly separated data
  (common on small folds) gives a finite, steep fit instead of diverging.
- ``expected_calibration_error``: the pair-weighted mean |mean(predicted) - mean(same)| over
  equal-width probability bins.
- ``roc``, ``threshold_at_far``, ``tar_at_far``, ``best_accuracy_threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pipelines.compare import SimilarityCalibration

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.bool_]

RIDGE: Final = 1e-7
"""L2 penalty on the logistic slope (per unit of summed weight): keeps separable folds finite."""


def fit_logistic(distances: Floats, same: Labels, weights: Floats | None = None) -> SimilarityCalibration:
    """Logistic regression of same/different on distance; non-finite distances (a photo
    without a face) are left out."""
    keep = np.isfinite(distances)
    x = np.asarray(distances, np.float64)[keep]
    y = np.asarray(same, np.float64)[keep]
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)[keep]
    if len(x) < 2 or y.min() == y.max():
        raise ValueError("a logistic fit needs pairs of both kinds")
    w = w / w.sum()
    centre = float(np.average(x, weights=w))
    xc = x - centre  # centred, so that the Newton steps stay well conditioned
    coef = np.zeros(2)  # logit = coef0 + coef1 * (d - centre)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(coef[0] + coef[1] * xc, -500, 500)))
        grad = np.array([np.sum(w * (y - p)), np.sum(w * (y - p) * xc) - RIDGE * coef[1]])
        h = w * p * (1 - p)
        hess = -np.array([[np.sum(h), np.sum(h * xc)], [np.sum(h * xc), np.sum(h * xc * xc) + RIDGE]])
        step = np.linalg.solve(hess - 1e-12 * np.eye(2), grad)
        coef = coef - step
        if np.max(np.abs(step)) < 1e-10:
            break
    steepness = -float(coef[1])
    if steepness <= 0:
        raise ValueError("same-person pairs are not closer than different-person pairs")
    return SimilarityCalibration(midpoint=centre + float(coef[0]) / steepness, steepness=steepness)


def probability(distances: Floats, calibration: SimilarityCalibration) -> Floats:
    """P(same | d) of the fit; 0 for non-finite distances."""
    d = np.asarray(distances, np.float64)
    exponent = np.clip(calibration.steepness * (np.where(np.isfinite(d), d, 1e9) - calibration.midpoint), -700, 700)
    return np.asarray(1.0 / (1.0 + np.exp(exponent)), np.float64)


def expected_calibration_error(predicted: Floats, same: Labels, bins: int = 10) -> float:
    predicted = np.asarray(predicted, np.float64)
    outcome = np.asarray(same, np.float64)
    index = np.minimum((predicted * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.sum() * abs(float(predicted[members].mean() - outcome[members].mean()))
    return total / len(predicted)


def log_loss(predicted: Floats, same: Labels) -> float:
    p = np.clip(np.asarray(predicted, np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(same, np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy_at(distances: Floats, same: Labels, threshold: float) -> float:
    return float(np.mean((np.asarray(distances) <= threshold) == np.asarray(same)))


def rates_at(distances: Floats, same: Labels, threshold: float) -> tuple[float, float]:
    """(FAR, FRR) when pairs at most ``threshold`` apart count as the same person."""
    accept = np.asarray(distances) <= threshold
    labels = np.asarray(same, bool)
    far = float(np.mean(accept[~labels])) if (~labels).any() else math.nan
    frr = float(np.mean(~accept[labels])) if labels.any() else math.nan
    return far, frr


def best_accuracy_threshold(distances: Floats, same: Labels, weights: Floats | None = None) -> float:
    """The threshold (midway between neighbouring distances) with the highest (weighted)
    accuracy; among equals, the middle of the widest best plateau's candidates."""
    d = np.asarray(distances, np.float64)
    labels = np.asarray(same, bool)
    w = np.ones_like(d) if weights is None else np.asarray(weights, np.float64)
    finite = np.unique(d[np.isfinite(d)])
    if len(finite) < 2:
        raise ValueError("a threshold needs at least two distinct distances")
    candidates = (finite[:-1] + finite[1:]) / 2
    order = np.argsort(d, kind="stable")
    sorted_d, sorted_same, sorted_w = d[order], labels[order], w[order]
    # accepted genuine weight and accepted impostor weight below each candidate, by prefix sums
    cut = np.searchsorted(sorted_d, candidates, side="right")
    genuine = np.concatenate([[0.0], np.cumsum(sorted_w * sorted_same)])[cut]
    impostor = np.concatenate([[0.0], np.cumsum(sorted_w * ~sorted_same)])[cut]
    correct = genuine + (np.sum(w[~labels]) - impostor)
    best = np.flatnonzero(np.isclose(correct, correct.max()))
    return float(candidates[best[len(best) // 2]])


def threshold_at_far(distances: Floats, same: Labels, far: float) -> float | None:
    """The largest threshold accepting at most ``far`` of the impostor pairs (midway below the
    first impostor it must reject), or None when there are too few impostor pairs to tell
    that rate from zero (fewer than 1 / far)."""
    impostor = np.sort(np.asarray(distances, np.float64)[~np.asarray(same, bool)])
    if len(impostor) < math.ceil(1 / far):
        return None
    allowed = int(math.floor(far * len(impostor)))
    first_rejected = impostor[allowed]
    below = impostor[allowed - 1] if allowed > 0 else max(0.0, first_rejected - 1e-3)
    return float((below + first_rejected) / 2) if below < first_rejected else float(np.nextafter(first_rejected, 0))


def tar_at_far(distances: Floats, same: Labels, far: float) -> float:
    """Genuine-accept rate strictly below the first impostor distance that a FAR of ``far``
    must reject (the empirical ROC; defined for any number of impostor pairs)."""
    d = np.asarray(distances, np.float64)
    labels = np.asarray(same, bool)
    impostor = np.sort(d[~labels])
    allowed = int(math.floor(far * len(impostor)))
    threshold = impostor[allowed] if allowed < len(impostor) else math.inf
    return float(np.mean(d[labels] < threshold))


@dataclass(frozen=True, slots=True)
class RocPoint:
    threshold: float
    far: float
    frr: float


def roc(distances: Floats, same: Labels, points: int = 101) -> list[RocPoint]:
    """FAR and FRR at ``points`` thresholds spanning the observed finite distances."""
    d = np.asarray(distances, np.float64)
    finite = d[np.isfinite(d)]
    if len(finite) == 0:
        return []
    grid = np.linspace(float(finite.min()), float(finite.max()), points)
    return [RocPoint(float(t), *rates_at(d, same, float(t))) for t in grid]


REPORTED_FARS: Final = (1e-2, 1e-3, 1e-4)


def labelled_pairs(vectors: npt.NDArray[np.float32], labels: list[str]) -> tuple[Floats, Labels]:
    """Every pair of distinct faces: its Euclidean distance and whether both carry one label
    (the same person). n faces give n (n - 1) / 2 pairs."""
    data = np.asarray(vectors, np.float64)
    if len(data) < 2:
        return np.zeros(0), np.zeros(0, bool)
    squared = np.sum(data * data, axis=1)
    gram = np.maximum(squared[:, None] + squared[None, :] - 2 * data @ data.T, 0.0)
    upper = np.triu_indices(len(data), k=1)
    names = np.asarray(labels)
    return np.sqrt(gram[upper]), names[upper[0]] == names[upper[1]]


@dataclass(frozen=True, slots=True)
class FarThreshold:
    far: float
    threshold: float | None  # None: too few impostor pairs to tell this rate from zero
    impostor_pairs: int
    genuine_pairs: int
    measured_far: float | None
    frr: float | None


def far_thresholds(distances: Floats, same: Labels, fars: tuple[float, ...] = REPORTED_FARS) -> list[FarThreshold]:
    """The threshold for each false-accept rate, with the pairs behind it and the rates it
    gives on those pairs."""
    impostors, genuine = int(np.sum(~same)), int(np.sum(same))
    results = []
    for far in fars:
        threshold = threshold_at_far(distances, same, far)
        measured, frr = (None, None) if threshold is None else rates_at(distances, same, threshold)
        results.append(FarThreshold(far, threshold, impostors, genuine, measured,
                                    None if frr is None or math.isnan(frr) else frr))
    return results
