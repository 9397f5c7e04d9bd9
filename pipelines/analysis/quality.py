"""Per-face quality measures and the enrollment quality gate (seed 003 ``check_result``).

Measures are computed on the face box, resampled to a fixed size first so that sharpness
does not depend on how large the face is in the photo (a Laplacian's variance grows with
resolution); a tiny face upscaled to that size looks soft, which is the honest answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import cv2
import numpy as np

from pipelines.analysis.landmarks import Landmarks68
from pipelines.analysis.pose import (
    DirectionBounds,
    FaceDirection,
    HeadPose,
    estimate_head_pose,
    face_direction,
)
from pipelines.types import BoundingBox, RGBImage

NORMALISED_FACE_SIDE: Final = 128


@dataclass(frozen=True, slots=True)
class FaceQuality:
    sharpness: float
    """Variance of the Laplacian of the face resampled to 128 x 128 grey: sharp portraits
    measure about 100-1000, visibly blurred faces below about 30."""
    brightness: float
    """Mean grey level of the face box, 0-255."""
    face_size: int
    """The shorter side of the face box, in original image pixels."""
    pose: HeadPose | None
    """None when the pose could not be estimated (``landmark_box``: HOG found no face
    where the detector did, typically a profile beyond ~60 degrees)."""
    direction: FaceDirection | None


class QualityIssue(StrEnum):
    BLURRY = "blurry"
    DARK = "dark"
    BRIGHT = "bright"
    SMALL = "small"
    EXTREME_POSE = "extreme_pose"
    WRONG_DIRECTION = "wrong_direction"


# Seed 003 check_result: 0 ok, 10 no face, 20 blurry, 30 too bright, 31 too dark,
# 40 direction differs from the requested one, 50 any other problem.
CHECK_RESULT_OK: Final = 0
CHECK_RESULT_NO_FACE: Final = 10
CHECK_RESULT_OF_ISSUE: Final[dict[QualityIssue, int]] = {
    QualityIssue.BLURRY: 20,
    QualityIssue.BRIGHT: 30,
    QualityIssue.DARK: 31,
    QualityIssue.WRONG_DIRECTION: 40,
    QualityIssue.SMALL: 50,
    QualityIssue.EXTREME_POSE: 50,
}

EXPOSURE_ISSUES: Final = frozenset({QualityIssue.DARK, QualityIssue.BRIGHT})


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Gate limits; the worker fills them from settings. Defaults were chosen on the
    shared photos (docs/ANALYSIS.md lists the measured values)."""

    min_sharpness: float = 25.0
    min_brightness: float = 50.0
    max_brightness: float = 210.0
    min_face_size: int = 60
    max_abs_yaw: float = 45.0
    max_abs_pitch: float = 35.0
    max_abs_roll: float = 45.0


def face_crop(image: RGBImage, box: BoundingBox) -> RGBImage:
    height, width = image.shape[:2]
    left, top = max(0, box.x), max(0, box.y)
    right, bottom = min(width, box.right), min(height, box.bottom)
    return image[top:bottom, left:right]


def sharpness(image: RGBImage, box: BoundingBox) -> float:
    crop = face_crop(image, box)
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    interpolation = cv2.INTER_AREA if min(grey.shape) > NORMALISED_FACE_SIDE else cv2.INTER_LINEAR
    grey = cv2.resize(grey, (NORMALISED_FACE_SIDE, NORMALISED_FACE_SIDE), interpolation=interpolation)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def brightness(image: RGBImage, box: BoundingBox) -> float:
    crop = face_crop(image, box)
    if crop.size == 0:
        return 0.0
    return float(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).mean())


def measure_quality(
    image: RGBImage,
    box: BoundingBox,
    landmarks: Landmarks68,
    direction_bounds: DirectionBounds | None = None,
    pose_reliable: bool = True,
) -> FaceQuality:
    height, width = image.shape[:2]
    pose = estimate_head_pose(landmarks, width, height) if pose_reliable else None
    return FaceQuality(
        sharpness=sharpness(image, box),
        brightness=brightness(image, box),
        face_size=min(box.width, box.height),
        pose=pose,
        direction=face_direction(pose, direction_bounds or DirectionBounds()) if pose is not None else None,
    )


def quality_issues(
    quality: FaceQuality,
    thresholds: QualityThresholds = QualityThresholds(),
    expected_direction: FaceDirection | None = None,
) -> list[QualityIssue]:
    """Every reason the face fails the gate, most decisive first; empty means accepted."""
    issues: list[QualityIssue] = []
    if quality.face_size < thresholds.min_face_size:
        issues.append(QualityIssue.SMALL)
    if quality.sharpness < thresholds.min_sharpness:
        issues.append(QualityIssue.BLURRY)
    if quality.brightness < thresholds.min_brightness:
        issues.append(QualityIssue.DARK)
    if quality.brightness > thresholds.max_brightness:
        issues.append(QualityIssue.BRIGHT)
    if expected_direction is not None and quality.direction != expected_direction:
        issues.append(QualityIssue.WRONG_DIRECTION)
    elif expected_direction is None and (
        # A pose that could not be estimated is a head turned past what the landmarks
        # cover (or a face too degraded to place them on): not one to enroll.
        quality.pose is None
        or abs(quality.pose.yaw) > thresholds.max_abs_yaw
        or abs(quality.pose.pitch) > thresholds.max_abs_pitch
        or abs(quality.pose.roll) > thresholds.max_abs_roll
    ):
        # A caller that asks for a side view wants a turned head, so the pose limit only
        # applies when no direction was requested.
        issues.append(QualityIssue.EXTREME_POSE)
    return issues


def check_result(issues: list[QualityIssue]) -> int:
    """Seed 003 ``check_result`` for a detected face, 0 if it has no issue.

    Exposure is reported before blur: the sharpness measure (Laplacian variance) falls with
    contrast, so a dark or washed-out face also reads as blurry, and the exposure is the
    cause the user can fix."""
    if not issues:
        return CHECK_RESULT_OK
    first = min(issues, key=lambda issue: (issue not in EXPOSURE_ISSUES, issues.index(issue)))
    return CHECK_RESULT_OF_ISSUE[first]


def embedding_quality_score(quality: FaceQuality) -> float:
    """A 0-1 score to rank faces of one person (e.g. the best frame of a video):
    frontal, sharp and well exposed wins. Not comparable across people or cameras."""
    pose = quality.pose
    frontal = 0.0 if pose is None else max(0.0, 1.0 - (abs(pose.yaw) / 60.0 + abs(pose.pitch) / 45.0) / 2.0)
    sharp = min(1.0, quality.sharpness / 200.0)
    exposure = max(0.0, 1.0 - abs(quality.brightness - 128.0) / 128.0)
    return float(np.clip(0.5 * frontal + 0.3 * sharp + 0.2 * exposure, 0.0, 1.0))
