"""Comparing embeddings: Euclidean distance and a calibrated similarity.

Similarity is a logistic function of the distance, rescaled so that identical vectors
score exactly 1:

    p(d) = 1 / (1 + exp(steepness * (d - midpoint)))
    similarity(d) = p(d) / p(0)

``p`` is fitted per model (logistic regression of same/different on distance, chosen with
leave-one-source-out validation: ``MODEL_SCORES``), so the similarity reads as an estimate of
P(same person | distance) (p(0) differs from 1 by ~1e-9, so the rescaling changes nothing in
practice). It is strictly decreasing, maps [0, inf) onto (0, 1], and is inverted exactly by
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


@dataclass(frozen=True, slots=True)
class ModelScoring:
    """How one model's distances read: the similarity calibration and the match threshold."""

    calibration: SimilarityCalibration | None
    """None: no fitted curve; the similarity is then the cosine similarity of unit vectors."""
    match_distance: float | None
    """None: not measured, no threshold to offer (a registered model without ``--threshold``)."""


DLIB_RESNET_CALIBRATION: Final = SimilarityCalibration(midpoint=0.591, steepness=53.0)
DEFAULT_MATCH_DISTANCE: Final = 0.614
"""Same person at most this far apart for the raw dlib descriptor (``dlib-resnet-v1``: the
seed dialects, liveness, and face sets created before the flip model)."""


MODEL_SCORES: Final[dict[str, ModelScoring]] = {
    "dlib-resnet-v1": ModelScoring(DLIB_RESNET_CALIBRATION, match_distance=DEFAULT_MATCH_DISTANCE),
    "dlib-resnet-flip-v1": ModelScoring(
        SimilarityCalibration(midpoint=0.569, steepness=37.2), match_distance=0.558
    ),
}
"""The one place each model's threshold and calibration are stated. Both are chosen with
leave-one-source-out validation on ../shared/data/faces/pairs.csv (``python -m bench.accuracy``,
docs/PIPELINE.md "Comparison"): the logistic fit over every pair with its steepness scaled by
the factor that minimised the held-out log loss of the folds (1.0 for dlib-resnet-v1, 0.55 for
the flip model: a fit on some sources is steeper than the next source bears out), and the
threshold that maximises accuracy over every pair (the middle of the best plateau; the rule
won the folds' mean held-out accuracy), to three decimals (dlib-resnet-v1 0.6139,
dlib-resnet-flip-v1 0.5584; 0.56 would accept an impostor pair at 0.559)."""


BYO_ARCFACE_SCORING: Final = ModelScoring(calibration=None, match_distance=None)
"""Registered ArcFace-family models (``arcface-<name>``; unit vectors, so a distance d is a
cosine similarity of 1 - d^2 / 2): FaceFleet ships no such weights and measured none, so it
states no threshold and no probability curve. The similarity is the cosine similarity; the
threshold is the operator's (``facefleet models add --threshold``, read by the worker from
the registry) or a face set's own calibration (``far=``)."""


def scoring_for(model_id: str) -> ModelScoring:
    """The scoring of ``model_id``; a model without its own fit (the deepface models) reads
    with dlib-resnet-v1's, as it always has: its similarities are then not probabilities."""
    if model_id.startswith("arcface-"):
        return BYO_ARCFACE_SCORING
    return MODEL_SCORES.get(model_id, MODEL_SCORES["dlib-resnet-v1"])


def euclidean_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"vectors of different shapes cannot be compared: {first.shape} vs {second.shape}")
    return float(np.linalg.norm(first - second))


def distance_to_similarity(
    distance: float, calibration: SimilarityCalibration | None = DLIB_RESNET_CALIBRATION
) -> float:
    """``calibration`` None: the cosine similarity of unit vectors, floored at 0."""
    if distance < 0 or math.isnan(distance):
        raise ValueError(f"a distance must be a non-negative number, not {distance}")
    if calibration is None:
        return max(0.0, 1.0 - distance * distance / 2.0)
    return _logistic(distance, calibration) / _logistic(0.0, calibration)


def similarity_to_distance(
    similarity: float, calibration: SimilarityCalibration | None = DLIB_RESNET_CALIBRATION
) -> float:
    """The largest distance whose similarity is at least ``similarity``: 0 for 1 or more
    (identical vectors only), infinity for 0 or less (everything)."""
    if math.isnan(similarity):
        raise ValueError("a similarity must be a number")
    if similarity <= 0.0:
        return math.inf
    if similarity >= 1.0:
        return 0.0
    if calibration is None:
        return math.sqrt(2.0 - 2.0 * similarity)
    probability = similarity * _logistic(0.0, calibration)
    distance = calibration.midpoint + math.log(1.0 / probability - 1.0) / calibration.steepness
    return max(distance, 0.0)


def _logistic(distance: float, calibration: SimilarityCalibration) -> float:
    exponent = calibration.steepness * (distance - calibration.midpoint)
    if exponent > 700:  # exp would overflow; the value is 0 to double precision
        return 0.0
    return 1.0 / (1.0 + math.exp(exponent))
