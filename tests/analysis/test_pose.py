"""Head pose and face direction against the AFLW2000-3D labels in _misc/pose_labels.csv.

Tolerances (docs/ANALYSIS.md, "Head pose"): the 68-point predictor is trained on faces up
to about 45-50 degrees of yaw, so only labelled faces within |yaw| <= 50 and found by the
frontal HOG detector are scored. On those, every angle must be within 22 degrees of its
label and the median error within 8 degrees (the measured maxima are 19.6 / 17.2 / 8.0
for yaw / pitch / roll, medians 6 / 4 / 3)."""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from typing import Any

import pytest

from pipelines.analysis import Attribute, FaceAnalyzer
from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.analysis.pose import (
    DirectionBounds,
    FaceDirection,
    HeadPose,
    estimate_head_pose,
    face_direction,
)
from pipelines.catalog import build_pipeline
from pipelines.detection.dlib_detectors import HogDetector
from pipelines.engine import FacePipeline
from tests.analysis.conftest import FACES, largest_face, load_rgb

pytestmark = pytest.mark.model

MAX_LABELLED_YAW = 50.0
PER_IMAGE_TOLERANCE = 22.0
MEDIAN_TOLERANCE = 8.0


@dataclass(frozen=True)
class Scored:
    name: str
    label: HeadPose
    estimate: HeadPose


@pytest.fixture(scope="session")
def scored(detector: HogDetector, predictor: LandmarkPredictor) -> list[Scored]:
    rows = list(csv.DictReader((FACES / "_misc" / "pose_labels.csv").open()))
    results = []
    for row in rows:
        label = HeadPose(
            yaw=float(row["yaw_deg"]), pitch=float(row["pitch_deg"]), roll=float(row["roll_deg"])
        )
        if abs(label.yaw) > MAX_LABELLED_YAW:
            continue
        image = load_rgb(FACES / row["path"])
        face = largest_face(detector, image)
        if face is None:
            continue
        points = predictor.predict(image, face.box)
        results.append(Scored(row["path"], label, estimate_head_pose(points, image.shape[1], image.shape[0])))
    return results


def test_most_labelled_faces_in_range_are_scored(scored: list[Scored]) -> None:
    # 13 of the 16 labels have |yaw| <= 50; HOG misses one of them (image04331, yaw 45.5).
    assert len(scored) >= 12


@pytest.mark.parametrize("axis", ["yaw", "pitch", "roll"])
def test_angles_match_labels_within_tolerance(scored: list[Scored], axis: str) -> None:
    errors = {s.name: abs(getattr(s.estimate, axis) - getattr(s.label, axis)) for s in scored}
    assert max(errors.values()) <= PER_IMAGE_TOLERANCE, errors
    assert statistics.median(errors.values()) <= MEDIAN_TOLERANCE, errors


def test_yaw_sign_follows_the_labels(scored: list[Scored]) -> None:
    clearly_turned = [s for s in scored if abs(s.label.yaw) >= 15.0]
    assert len(clearly_turned) >= 4
    assert all((s.estimate.yaw > 0) == (s.label.yaw > 0) for s in clearly_turned)


def test_direction_agrees_with_the_labels_direction(scored: list[Scored]) -> None:
    # The labels' own direction, under the same bounds. Two disagreements are allowed for
    # faces whose estimate crosses a bound the label sits near (image02283: label yaw -14,
    # estimate -28; image01322: label yaw -5, estimate -25).
    bounds = DirectionBounds()
    disagreements = [
        s.name for s in scored if face_direction(s.estimate, bounds) != face_direction(s.label, bounds)
    ]
    assert len(disagreements) <= 2, disagreements


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("inspireface__left_face.jpeg", FaceDirection.LEFT),
        ("inspireface__lower_face.jpeg", FaceDirection.DOWN),
    ],
)
def test_named_direction_photos(
    detector: HogDetector, predictor: LandmarkPredictor, file_name: str, expected: FaceDirection
) -> None:
    # right_face.png is a near-profile (~70 degrees) that the 68-point predictor mirrors;
    # it is listed as a known failure in docs/ANALYSIS.md rather than tested here.
    image = load_rgb(FACES / "_misc" / "pose" / file_name)
    face = largest_face(detector, image)
    assert face is not None
    pose = estimate_head_pose(predictor.predict(image, face.box), image.shape[1], image.shape[0])
    assert face_direction(pose) == expected


def test_raised_head_has_positive_pitch(detector: HogDetector, predictor: LandmarkPredictor) -> None:
    # rise_face mostly raises the eyes; the head itself is up by about the FRONT bound
    # (15 degrees), so only the sign and a clear lift are asserted, not the direction.
    image = load_rgb(FACES / "_misc" / "pose" / "inspireface__rise_face.jpeg")
    face = largest_face(detector, image)
    assert face is not None
    pose = estimate_head_pose(predictor.predict(image, face.box), image.shape[1], image.shape[0])
    assert pose.pitch > 8.0


def test_direction_bounds() -> None:
    bounds = DirectionBounds(max_front_yaw=25.0, max_front_pitch=15.0)
    assert face_direction(HeadPose(24.0, 14.0, 0.0), bounds) == FaceDirection.FRONT
    assert face_direction(HeadPose(30.0, 0.0, 0.0), bounds) == FaceDirection.LEFT
    assert face_direction(HeadPose(-30.0, 0.0, 0.0), bounds) == FaceDirection.RIGHT
    assert face_direction(HeadPose(0.0, 20.0, 0.0), bounds) == FaceDirection.UP
    assert face_direction(HeadPose(0.0, -20.0, 0.0), bounds) == FaceDirection.DOWN
    # Both out of bounds: the larger relative excess wins (pitch 30/15 = 2 > yaw 40/25 = 1.6).
    assert face_direction(HeadPose(40.0, -30.0, 0.0), bounds) == FaceDirection.DOWN


# --- the production detector's boxes ---------------------------------------------------

PROFILE_YAW = 45.0


@pytest.fixture(scope="session")
def production_pipeline() -> FacePipeline:
    return build_pipeline()  # BlazeFace with the HOG fallback: what the worker detects with


def _production_pose(pipeline: FacePipeline, analyzer: FaceAnalyzer, path: str) -> dict[str, Any] | None:
    image = load_rgb(FACES / path)
    faces = pipeline.detect(image, landmarks=False)
    if not faces:
        return None
    face = max(faces, key=lambda found: found.box.area)
    (result,) = analyzer.analyze(image, [face], {Attribute.HEADPOSE})
    pose: dict[str, Any] = result.to_dict()["headpose"]
    return pose


@pytest.mark.parametrize(
    ("path", "label_yaw"),
    [
        *[
            (row["path"], float(row["yaw_deg"]))
            for row in csv.DictReader((FACES / "_misc" / "pose_labels.csv").open())
            if abs(float(row["yaw_deg"])) > PROFILE_YAW
        ],
        # Named by direction only: a near-profile turned to the image's left / right.
        ("_misc/pose/inspireface__left_face.jpeg", 60.0),
        ("_misc/pose/inspireface__right_face.png", -70.0),
    ],
)
def test_a_profile_reads_as_a_large_yaw_or_as_not_estimated(
    production_pipeline: FacePipeline, analyzer: FaceAnalyzer, path: str, label_yaw: float
) -> None:
    # BlazeFace boxes the whole head; the 68-point predictor used to spread a frontal
    # template over it and read right_face.png as yaw +40 and left_face.jpeg as -25.
    pose = _production_pose(production_pipeline, analyzer, path)
    if pose is None:
        return  # not detected at all: no answer, so no confident wrong one
    if not pose["estimated"]:
        assert pose["yaw"] is None and pose["pitch"] is None and pose["roll"] is None
        return
    assert abs(pose["yaw"]) > PROFILE_YAW, pose
    assert (pose["yaw"] > 0) == (label_yaw > 0), pose


def test_production_detector_pose_matches_labels(
    production_pipeline: FacePipeline, analyzer: FaceAnalyzer
) -> None:
    errors: dict[str, list[float]] = {"yaw": [], "pitch": [], "roll": []}
    for row in csv.DictReader((FACES / "_misc" / "pose_labels.csv").open()):
        if abs(float(row["yaw_deg"])) > MAX_LABELLED_YAW:
            continue
        pose = _production_pose(production_pipeline, analyzer, row["path"])
        if pose is None or not pose["estimated"]:
            continue
        for axis, values in errors.items():
            values.append(abs(pose[axis] - float(row[f"{axis}_deg"])))
    assert len(errors["yaw"]) >= 11, errors
    for axis, values in errors.items():
        assert max(values) <= PER_IMAGE_TOLERANCE, (axis, values)
        assert statistics.median(values) <= MEDIAN_TOLERANCE, (axis, values)


def test_left_face_reads_left_through_the_production_detector(
    production_pipeline: FacePipeline, analyzer: FaceAnalyzer
) -> None:
    pose = _production_pose(production_pipeline, analyzer, "_misc/pose/inspireface__left_face.jpeg")
    assert pose is not None and pose["estimated"]
    assert face_direction(HeadPose(pose["yaw"], pose["pitch"], pose["roll"])) == FaceDirection.LEFT
