"""The face-analysis facade the worker calls: one pass of landmarks per face, then only
the attributes that were asked for (seed 004 computes each attribute on request).

    analyzer = FaceAnalyzer()                      # one per worker process
    results = analyzer.analyze(image, faces, {Attribute.HEADPOSE, Attribute.AGE})
    payload = [result.to_dict() for result in results]

    gate = QualityGate(QualityThresholds(min_sharpness=30.0))
    issues = gate.check(image, face, expected_direction=FaceDirection.LEFT)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pipelines.analysis.attributes import (
    AgeEstimate,
    AgeGenderModel,
    DressEstimate,
    GenderEstimate,
    SmileEstimate,
    estimate_dress,
    estimate_smile,
)
from pipelines.analysis.landmark_box import LandmarkBoxFinder
from pipelines.analysis.landmarks import LandmarkPredictor, contour_groups
from pipelines.analysis.pose import DirectionBounds, FaceDirection, HeadPose
from pipelines.analysis.quality import (
    FaceQuality,
    QualityIssue,
    QualityThresholds,
    check_result,
    measure_quality,
    quality_issues,
)
from pipelines.types import BoundingBox, DetectedFace, Point, RGBImage

DEFAULT_THRESHOLDS: Final = QualityThresholds()
DEFAULT_BOUNDS: Final = DirectionBounds()


class Attribute(StrEnum):
    HEADPOSE = "headpose"
    GENDER = "gender"
    AGE = "age"
    LANDMARKS = "landmarks"
    DRESS = "dress"
    SMILE = "smile"
    QUALITY = "quality"


SEED_ATTRIBUTE_CODES: Final[dict[int, Attribute]] = {
    0: Attribute.HEADPOSE,
    1: Attribute.GENDER,
    2: Attribute.AGE,
    3: Attribute.LANDMARKS,
    4: Attribute.DRESS,
    5: Attribute.SMILE,
}
"""Seed 004's ``attributes`` numbers."""


def parse_seed_attributes(text: str) -> set[Attribute]:
    """``"0,1,5"`` -> {HEADPOSE, GENDER, SMILE}; raises ``ValueError`` on an unknown code."""
    codes = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return {SEED_ATTRIBUTE_CODES[int(code)] for code in codes}
    except (KeyError, ValueError) as bad:
        raise ValueError(f"attributes must be comma-separated codes 0-5, got {text!r}") from bad


POSE_NOT_ESTIMATED: Final[dict[str, Any]] = {"yaw": None, "pitch": None, "roll": None, "estimated": False}
"""The head pose of a face whose landmarks cannot be trusted (a profile): said, not guessed."""


def _pose_dict(pose: HeadPose) -> dict[str, Any]:
    return {
        "yaw": round(pose.yaw, 2),
        "pitch": round(pose.pitch, 2),
        "roll": round(pose.roll, 2),
        "estimated": True,
    }


def _quality_dict(quality: FaceQuality) -> dict[str, Any]:
    return {
        "sharpness": round(quality.sharpness, 2),
        "brightness": round(quality.brightness, 2),
        "face_size": quality.face_size,
        "direction": quality.direction.name.lower() if quality.direction is not None else "unknown",
        "direction_code": int(quality.direction) if quality.direction is not None else None,
    }


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """What was computed for one face; an attribute that was not asked for is ``None``."""

    box: BoundingBox
    headpose: HeadPose | None = None
    headpose_estimated: bool = True
    """False when head pose was asked for but could not be estimated (``headpose`` is None)."""
    gender: GenderEstimate | None = None
    age: AgeEstimate | None = None
    landmarks: dict[str, list[Point]] | None = None
    dress: DressEstimate | None = None
    smile: SmileEstimate | None = None
    quality: FaceQuality | None = None
    quality_issues: tuple[QualityIssue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; keys are present only for the attributes that were computed."""
        out: dict[str, Any] = {
            "box": {"x": self.box.x, "y": self.box.y, "width": self.box.width, "height": self.box.height}
        }
        if self.headpose is not None:
            out["headpose"] = _pose_dict(self.headpose)
        elif not self.headpose_estimated:
            out["headpose"] = dict(POSE_NOT_ESTIMATED)
        if self.gender is not None:
            out["gender"] = self.gender.to_dict()
        if self.age is not None:
            out["age"] = self.age.to_dict()
        if self.landmarks is not None:
            out["landmarks"] = {
                name: [{"x": round(p.x, 2), "y": round(p.y, 2)} for p in points]
                for name, points in self.landmarks.items()
            }
        if self.dress is not None:
            out["dress"] = self.dress.to_dict()
        if self.smile is not None:
            out["smile"] = self.smile.to_dict()
        if self.quality is not None:
            out["quality"] = _quality_dict(self.quality) | {
                "issues": [str(issue) for issue in self.quality_issues],
                "check_result": check_result(list(self.quality_issues)),
            }
        return out


class FaceAnalyzer:
    """Holds the 68-point predictor and the age/gender networks (both loaded lazily, once);
    build one per worker process and reuse it."""

    def __init__(
        self,
        predictor: LandmarkPredictor | None = None,
        age_gender: AgeGenderModel | None = None,
        thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
        direction_bounds: DirectionBounds = DEFAULT_BOUNDS,
    ) -> None:
        self.predictor = predictor or LandmarkPredictor()
        self.landmark_boxes = LandmarkBoxFinder()
        self.age_gender = age_gender or AgeGenderModel()
        self.thresholds = thresholds
        self.direction_bounds = direction_bounds

    def analyze(
        self, image: RGBImage, faces: Sequence[DetectedFace], attributes: Collection[Attribute]
    ) -> list[FaceAnalysis]:
        wanted = set(attributes)
        return [self._analyze_one(image, face, wanted) for face in faces]

    def _analyze_one(self, image: RGBImage, face: DetectedFace, wanted: set[Attribute]) -> FaceAnalysis:
        if not wanted:
            return FaceAnalysis(box=face.box)
        fitted = self.landmark_boxes.find(image, face.box, face.detector)
        points = self.predictor.predict(image, fitted.box)
        quality = measure_quality(image, face.box, points, self.direction_bounds, fitted.pose_reliable)
        gender: GenderEstimate | None = None
        age: AgeEstimate | None = None
        if wanted & {Attribute.GENDER, Attribute.AGE}:
            gender, age = self.age_gender.estimate(image, face.box)
        return FaceAnalysis(
            box=face.box,
            headpose=quality.pose if Attribute.HEADPOSE in wanted else None,
            headpose_estimated=quality.pose is not None or Attribute.HEADPOSE not in wanted,
            gender=gender if Attribute.GENDER in wanted else None,
            age=age if Attribute.AGE in wanted else None,
            landmarks=contour_groups(points) if Attribute.LANDMARKS in wanted else None,
            dress=estimate_dress(image, points) if Attribute.DRESS in wanted else None,
            smile=estimate_smile(points) if Attribute.SMILE in wanted else None,
            quality=quality if Attribute.QUALITY in wanted else None,
            quality_issues=tuple(quality_issues(quality, self.thresholds))
            if Attribute.QUALITY in wanted
            else (),
        )


_default_analyzer: FaceAnalyzer | None = None


def analyze_faces(
    image: RGBImage,
    faces: Sequence[DetectedFace],
    attributes: Collection[Attribute],
    analyzer: FaceAnalyzer | None = None,
) -> list[FaceAnalysis]:
    """One ``FaceAnalysis`` per face, in order. Without ``analyzer`` a process-wide default
    (default thresholds) is used."""
    global _default_analyzer
    if analyzer is None:
        if _default_analyzer is None:
            _default_analyzer = FaceAnalyzer()
        analyzer = _default_analyzer
    return analyzer.analyze(image, faces, attributes)


class QualityGate:
    """The enrollment gate of seed 003: every reason a face is rejected, as stable codes."""

    def __init__(
        self,
        thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
        direction_bounds: DirectionBounds = DEFAULT_BOUNDS,
        predictor: LandmarkPredictor | None = None,
    ) -> None:
        self.thresholds = thresholds
        self.direction_bounds = direction_bounds
        self.predictor = predictor or LandmarkPredictor()
        self.landmark_boxes = LandmarkBoxFinder()

    def measure(self, image: RGBImage, face: DetectedFace) -> FaceQuality:
        fitted = self.landmark_boxes.find(image, face.box, face.detector)
        points = self.predictor.predict(image, fitted.box)
        return measure_quality(image, face.box, points, self.direction_bounds, fitted.pose_reliable)

    def check(
        self, image: RGBImage, face: DetectedFace, expected_direction: FaceDirection | None = None
    ) -> list[QualityIssue]:
        """Empty when the face is accepted; ``check_result(issues)`` gives seed 003's code."""
        return quality_issues(self.measure(image, face), self.thresholds, expected_direction)
