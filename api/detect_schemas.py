"""Request and response models of face-detect and face-compare (see ``api.schemas``).

The response models give the FRS seed's field names for a detected face's analysis; each
says what FaceFleet does not estimate rather than leave it out.
"""

from __future__ import annotations

from typing import Any

from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, ConfigDict, Field

from api.schemas import NAME_PATTERN, ImageForm, ImageJson, Strict
from core.results import Box, Point


class _DetectOptions(BaseModel):
    attributes: str | None = Field(
        None,
        pattern=r"^\s*([0-5]\s*(,\s*[0-5]\s*)*)?$",
        description="comma-separated: 0 headpose, 1 gender, 2 age, 3 landmarks, 4 dress, 5 smile",
    )

    def attribute_list(self) -> list[int]:
        if not self.attributes or not self.attributes.strip():
            return []
        return sorted({int(part) for part in self.attributes.split(",")})


class DetectJson(ImageJson, _DetectOptions):
    model_config = ConfigDict(
        json_schema_extra={"example": {"image_url": "/facefleet/images/<sha256>", "attributes": "2,4"}}
    )


class DetectForm(ImageForm, _DetectOptions):
    pass


class CompareJson(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"image1_base64": "/9j/4AAQSkZJRg…", "image2_url": "/facefleet/images/<sha256>"}
        }
    )

    image1_base64: str | None = None
    image1_url: str | None = None
    image2_base64: str | None = None
    image2_url: str | None = None
    far: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="target false-accept rate: answers far_distance and matched from face_set_name's own calibration",
    )
    face_set_name: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="with far: the face set whose labelled faces calibrate the threshold (and whose model embeds both images)",
    )


class CompareForm(CompareJson):
    image1_file: FileStorage | None = None
    image2_file: FileStorage | None = None


class HeadPose(BaseModel):
    """Degrees; no confidence is given (accuracy: docs/ANALYSIS.md, "Head pose"). All three
    are null when the pose could not be estimated (a profile the landmarks do not cover)."""

    pitch_angle: float | None = None
    roll_angle: float | None = None
    yaw_angle: float | None = None


class Dress(BaseModel):
    """Kept for the seed's shape: glasses and hats are **not estimated**, both are always
    ``unknown`` (docs/ANALYSIS.md, "Attributes")."""

    glass: str | None = Field(None, description="not estimated: always unknown")
    hat: str | None = Field(None, description="not estimated: always unknown")


class DetectAttributes(BaseModel):
    model_config = ConfigDict(extra="allow")
    headpose: HeadPose | None = None
    gender: str | None = Field(
        None, description="male or female; no confidence is given (the model's own is >= 0.98 on every face)"
    )
    age: int | None = Field(
        None, description="years; no confidence is given (mean abs error 2.6 years on 9 annotated photos)"
    )
    smile: str | None = Field(
        None,
        description="yes or no: smile score above 1.0 (97.5% accurate on 121 labelled photos, docs/ANALYSIS.md)",
    )
    dress: Dress | None = None


class ContourPoints(BaseModel):
    point: list[Point]


class DetectFace(BaseModel):
    """A detected face with its analysis in the FRS seed's field names."""

    model_config = ConfigDict(extra="allow")
    bounding_box: Box
    confidence: float | None = None
    landmarks: list[Point] | None = Field(None, description="the detector's 5 alignment points")
    attributes: DetectAttributes | None = Field(
        None, description="as requested with `attributes`, seed field names"
    )
    landmark: dict[str, ContourPoints] | None = Field(
        None, description="attribute 3: 68-point contours by group"
    )
    attributes_detail: dict[str, Any] | None = Field(
        None, description="the full analysis: each estimate with its confidence and reliability"
    )


class DetectResponse(BaseModel):
    faces: list[DetectFace]
