"""Comparing embeddings: Euclidean distance and a calibrated similarity.

Similarity is a logistic function of the distance, rescaled so that identical vectors
score exactly 1:

    p(d) = 1 / (1 + exp(steepness * (d - midpoint)))
    similarity(d) = p(d) / p(0)

``p`` is fitted (logistic regression of same/different on distance) to the shared pairs
set, so the similarity reads as an estimate of P(same person | distance) for
``dlib-resnet-v1`` (p(0) differs from 1 by ~1e-14, so the rescaling changes nothing in
practice). The fit is steep because the pairs separate well: similarity is above 0.99 below
distance 0.5 and under 0.01 above 0.68. It is
strictly decreasing, maps [0, inf) onto (0, 1], and is inverted exactly by
``similarity_to_distance``, so a similarity threshold given by a client is applied as the
equivalent distance threshold in the vector index. The numbers and the data behind them are
in docs/PIPELINE.md ("Comparison").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class SimilarityCalibration:
    midpoint: float
    steepness: float


DLIB_RESNET_CALIBRATION: Final = SimilarityCalibration(midpoint=0.591, steepness=53.9)
"""Logistic fit on all 775 pairs of ../shared/data/faces/pairs.csv, default pipeline
(``python -m bench.accuracy``: midpoint 0.5906, steepness 53.908)."""

DEFAULT_MATCH_DISTANCE: Final = 0.58
"""Same person when the distance is at most this (``dlib-resnet-v1``): the accuracy-maximising
threshold on ../shared/data/faces/pairs.csv (0.581, rounded); dlib documents 0.6 from LFW.
Its false-accept and false-reject rates on those pairs are in docs/PIPELINE.md."""


def euclidean_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"vectors of different shapes cannot be compared: {first.shape} vs {second.shape}")
    return float(np.linalg.norm(first - second))


def distance_to_similarity(
    distance: float, calibration: SimilarityCalibration = DLIB_RESNET_CALIBRATION
) -> float:
    if distance < 0 or math.isnan(distance):
        raise ValueError(f"a distance must be a non-negative number, not {distance}")
    return _logistic(distance, calibration) / _logistic(0.0, calibration)


def similarity_to_distance(
    similarity: float, calibration: SimilarityCalibration = DLIB_RESNET_CALIBRATION
) -> float:
    """The largest distance whose similarity is at least ``similarity``: 0 for 1 or more
    (identical vectors only), infinity for 0 or less (everything)."""
    if math.isnan(similarity):
        raise ValueError("a similarity must be a number")
    if similarity <= 0.0:
        return math.inf
    if similarity >= 1.0:
        return 0.0
    probability = similarity * _logistic(0.0, calibration)
    distance = calibration.midpoint + math.log(1.0 / probability - 1.0) / calibration.steepness
    return max(distance, 0.0)


def _logistic(distance: float, calibration: SimilarityCalibration) -> float:
    exponent = calibration.steepness * (distance - calibration.midpoint)
    if exponent > 700:  # exp would overflow; the value is 0 to double precision
        return 0.0
    return 1.0 / (1.0 + math.exp(exponent))
