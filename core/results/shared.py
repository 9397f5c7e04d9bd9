"""The pieces every result is built from: boxes, points, detected, stored and matched faces.

Optional fields that a result leaves out (rather than sending as ``null``) are declared
with ``Field(exclude_if=absent)``, so the stored JSON is the same as before these models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


def absent(value: object) -> bool:
    return value is None


class ResultModel(BaseModel):
    # Reading ignores unknown keys (a row written by a newer worker still reads), while the
    # schema forbids them, so a response check catches a key the model does not declare.
    model_config = ConfigDict(frozen=True, json_schema_extra={"additionalProperties": False})

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PixelBox(Protocol):
    """Any box with a top-left corner and a size (the pipelines' and the rows' boxes)."""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


class FaceRecord(Protocol):
    """A stored face as a repository hands it out."""

    @property
    def face_id(self) -> str: ...
    @property
    def external_image_id(self) -> str: ...
    @property
    def external_fields(self) -> Mapping[str, Any] | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def box(self) -> PixelBox: ...


class Box(ResultModel):
    """A face's box in image pixels, in the FRS seed's field names."""

    top_left_x: int
    top_left_y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.top_left_x + self.width

    @property
    def bottom(self) -> int:
        return self.top_left_y + self.height

    @classmethod
    def of(cls, box: PixelBox) -> Box:
        return cls(top_left_x=box.x, top_left_y=box.y, width=box.width, height=box.height)

    def xywh(self) -> tuple[int, int, int, int]:
        """(left, top, width, height): the shape ``EnrollOptions.box`` takes."""
        return self.top_left_x, self.top_left_y, self.width, self.height

    def corners(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom)."""
        return self.top_left_x, self.top_left_y, self.right, self.bottom


class Point(ResultModel):
    x: float
    y: float


Landmarks = list[Point]


class DetectedFace(ResultModel):
    """A face found in an image (not stored)."""

    bounding_box: Box
    confidence: float
    landmarks: Landmarks = Field(description="the detector's 5 alignment points")
    attributes: dict[str, Any] | None = Field(
        None, exclude_if=absent, description="the requested analysis: each estimate with its reliability"
    )
    quality: dict[str, Any] | None = Field(
        None, exclude_if=absent, description="sharpness, brightness, direction"
    )


class EmbeddedFace(DetectedFace):
    embedding: list[float]


class StoredFace(ResultModel):
    """A face of a face set, as every listing and result shows it."""

    face_id: str
    external_image_id: str
    external_fields: dict[str, Any] = Field(default_factory=dict)
    bounding_box: Box
    user_id: str | None = Field(None, exclude_if=absent)

    @classmethod
    def fields_of(cls, row: FaceRecord) -> dict[str, Any]:
        """The constructor arguments every stored-face model takes from a row."""
        return {
            "face_id": row.face_id,
            "external_image_id": row.external_image_id,
            "external_fields": dict(row.external_fields or {}),
            "bounding_box": Box.of(row.box),
            "user_id": row.user_id,
        }

    @classmethod
    def of(cls, row: FaceRecord) -> StoredFace:
        return cls(**cls.fields_of(row))


class DuplicateOf(ResultModel):
    face_id: str
    external_image_id: str
    user_id: str | None
    similarity: float


class EnrolledFace(StoredFace):
    duplicate_of: DuplicateOf | None = Field(None, exclude_if=absent)
    # With EnrollOptions.report_unindexed / detail_attributes (Rekognition's IndexFaces):
    confidence: float | None = Field(None, exclude_if=absent)
    landmarks: Landmarks | None = Field(None, exclude_if=absent)
    attributes: dict[str, Any] | None = Field(None, exclude_if=absent)
    quality: dict[str, Any] | None = Field(None, exclude_if=absent)


class UnindexedFace(ResultModel):
    """A face an enrollment left out, and why (quality issues, ``exceeds_max_faces``)."""

    bounding_box: Box
    confidence: float
    reasons: list[str]


class Match(StoredFace):
    similarity: float = Field(description="0..1, larger is more similar")
    distance: float
    # Searches grouped by person (workers.services.person_score, docs/API.md "Persons").
    person_score: float | None = Field(
        None, exclude_if=absent, description="mean similarity to the person's 3 most similar faces"
    )
    person_faces: int | None = Field(None, exclude_if=absent, description="faces the person score compared")


class ImageSize(ResultModel):
    width: int
    height: int
