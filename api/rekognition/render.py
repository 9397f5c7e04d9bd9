"""Rekognition's shapes for what FaceFleet's jobs return: ratio bounding boxes, the 0-100
similarity, face records and face details (only what FaceFleet really estimates)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

from core.results import Box, Point

# Faces indexed without an ExternalImageId keep a native id starting with this character,
# which Rekognition's ExternalImageId pattern ([a-zA-Z0-9_.\-:]+) cannot contain.
UNNAMED_PREFIX = "~"
REKOGNITION_MATCH_SIMILARITY = 80.0
# How quickly similarity falls past the model's match distance (see docs/REKOGNITION.md).
SIMILARITY_STEEPNESS = 4.0
LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
MAX_SHARPNESS_VARIANCE = 1000.0


def similarity(distance: float, match_distance: float) -> float:
    """Rekognition's 0-100 similarity: 100 at distance 0, exactly 80 at the model's match
    distance, strictly decreasing, so FaceMatchThreshold 80 decides as FaceFleet does."""
    ratio = max(distance, 0.0) / match_distance
    return round(float(100.0 * (REKOGNITION_MATCH_SIMILARITY / 100.0) ** (ratio**SIMILARITY_STEEPNESS)), 6)


def image_id(image_key: str) -> str:
    """A stable UUID per stored image (the key is the image's content hash)."""
    return str(uuid.UUID(bytes=hashlib.sha256(image_key.encode()).digest()[:16]))


def face_model_version(model_id: str) -> str:
    return f"facefleet-{model_id}"


def external_image_id(native: str) -> str | None:
    return None if native.startswith(UNNAMED_PREFIX) else native


class BoxedFace(Protocol):
    """A face as far as Rekognition's box-only shapes show it (``UnindexedFace`` too)."""

    @property
    def bounding_box(self) -> Box: ...
    @property
    def confidence(self) -> float | None: ...


class AnalysedFace(BoxedFace, Protocol):
    """A face with whatever analysis its job ran (``DetectedFace``, ``EnrolledFace``)."""

    @property
    def landmarks(self) -> list[Point] | None: ...
    @property
    def attributes(self) -> dict[str, Any] | None: ...
    @property
    def quality(self) -> dict[str, Any] | None: ...


def ratio_box(box: Box, width: int, height: int) -> dict[str, float]:
    return {
        "Width": box.width / width,
        "Height": box.height / height,
        "Left": box.top_left_x / width,
        "Top": box.top_left_y / height,
    }


def confidence(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100.0, 4)


def stored_face(row: Any, size: tuple[int, int] | None, model_version: str) -> dict[str, Any]:
    """A face of a collection (SQL row) as Rekognition's ``Face``."""
    face: dict[str, Any] = {"FaceId": row.face_id, "ImageId": image_id(row.image_key)}
    if size is not None:
        face["BoundingBox"] = ratio_box(Box.of(row.box), *size)
    external = external_image_id(row.external_image_id)
    if external is not None:
        face["ExternalImageId"] = external
    score = confidence(getattr(row, "confidence", None))
    if score is not None:
        face["Confidence"] = score
    face["IndexFacesModelVersion"] = model_version
    if row.user_id:
        face["UserId"] = row.user_id
    return face


def landmarks(points: list[Point], width: int, height: int) -> list[dict[str, Any]]:
    if len(points) != len(LANDMARK_TYPES):
        return []
    return [
        {"Type": kind, "X": point.x / width, "Y": point.y / height}
        for kind, point in zip(LANDMARK_TYPES, points, strict=True)
    ]


def box_detail(face: BoxedFace, width: int, height: int) -> dict[str, Any]:
    """A face as the ``BoundingBox`` and ``Confidence`` of a ``FaceDetail``."""
    detail: dict[str, Any] = {"BoundingBox": ratio_box(face.bounding_box, width, height)}
    if face.confidence is not None:
        detail["Confidence"] = confidence(face.confidence)
    return detail


def face_detail(face: AnalysedFace, width: int, height: int, *, full: bool = False) -> dict[str, Any]:
    """A face of a job's result, with any analysis it ran, as ``FaceDetail``."""
    detail = box_detail(face, width, height)
    marks = landmarks(face.landmarks or [], width, height)
    if marks:
        detail["Landmarks"] = marks
    # The analysis estimates stay open mappings in the result model (one per seed code).
    attributes = face.attributes or {}
    pose = attributes.get("headpose")
    if pose and pose.get("yaw") is not None:  # a profile's pose is reported as not estimated
        detail["Pose"] = {"Roll": pose["roll"], "Yaw": pose["yaw"], "Pitch": pose["pitch"]}
    quality = face.quality
    if quality:
        detail["Quality"] = {
            "Brightness": round(min(100.0, quality["brightness"] / 255.0 * 100.0), 4),
            "Sharpness": round(min(100.0, quality["sharpness"] / MAX_SHARPNESS_VARIANCE * 100.0), 4),
        }
    if full:
        age = attributes.get("age")
        if age:
            detail["AgeRange"] = {"Low": int(age["value"]), "High": int(age["value"])}
        gender = attributes.get("gender")
        if gender:
            # No Confidence: the gender model's own read is >= 0.98 on every face, so it
            # tells nothing (docs/ANALYSIS.md, "Attributes").
            detail["Gender"] = {"Value": "Male" if gender["value"] == "male" else "Female"}
        smile = attributes.get("smile")
        if smile:
            detail["Smile"] = {"Value": smile["value"] == "yes"}
    return detail
