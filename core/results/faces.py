"""The results of the face jobs: detect, compare, embed, enroll (one image or a batch),
search, and the face edits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from core.results.shared import (
    DetectedFace,
    EmbeddedFace,
    EnrolledFace,
    ImageSize,
    Match,
    ResultModel,
    UnindexedFace,
    absent,
)


class DetectResult(ResultModel):
    faces: list[DetectedFace]
    image: ImageSize | None = Field(None, exclude_if=absent)


class ComparedFace(DetectedFace):
    distance: float
    similarity: float


class CompareResult(ResultModel):
    """image1's largest face against image2's largest face, or (``all_targets``) against
    every face of image2 in ``image2_faces``."""

    similarity: float | None = Field(None, exclude_if=absent, description="0..1, larger is more similar")
    distance: float | None = Field(None, exclude_if=absent)
    model_id: str
    match_distance: float | None = Field(
        None, exclude_if=absent, description="the model's same-person distance threshold"
    )
    image1_face: DetectedFace
    image2_face: DetectedFace | None = Field(None, exclude_if=absent)
    image2_faces: list[ComparedFace] | None = Field(None, exclude_if=absent)
    far_distance: float | None = Field(
        None, exclude_if=absent, description="with far=: the distance the face set's calibration gives"
    )
    matched: bool | None = Field(None, exclude_if=absent, description="with far=: distance is at most far_distance")

    @property
    def pair(self) -> tuple[float, float]:
        """(distance, similarity) of image1's face and image2's largest face."""
        if self.distance is None or self.similarity is None:
            raise ValueError("this comparison scored every face of image2: read image2_faces")
        return self.distance, self.similarity


class EmbedResult(ResultModel):
    model_id: str
    faces: list[EmbeddedFace]


class EnrollResult(ResultModel):
    face_set_id: str
    face_set_name: str
    faces: list[EnrolledFace]
    unindexed: list[UnindexedFace] | None = Field(None, exclude_if=absent)


class SearchGroup(ResultModel):
    face: DetectedFace | None = Field(description="the probe face; null when searching by a stored face")
    label: str = Field(description="best match's user_id or external_image_id, or 'unknown'")
    faces: list[Match]


class SearchResult(ResultModel):
    faces: list[Match] | None = Field(None, exclude_if=absent, description="the largest face's matches")
    results: list[SearchGroup] | None = Field(None, exclude_if=absent, description="only with all_faces=true")
    # With show_probe_faces: the probe face and the image's other faces.
    searched_face: DetectedFace | None = Field(None, exclude_if=absent)
    unsearched_faces: list[DetectedFace] | None = Field(None, exclude_if=absent)
    model_id: str | None = Field(None, exclude_if=absent, description="the face set's embedding model")
    match_distance: float | None = Field(
        None, exclude_if=absent, description="that model's same-person distance threshold"
    )
    far_distance: float | None = Field(
        None, exclude_if=absent, description="with far=: the distance the face set's calibration gives"
    )

    def matches(self) -> list[Match]:
        """The matches of the probe face (the first one of an all-faces search)."""
        if self.faces is not None:
            return list(self.faces)
        return list(self.results[0].faces) if self.results else []

    def probe_faces(self) -> list[DetectedFace]:
        """The probe faces an all-faces search shows (none for a largest-face search)."""
        return [group.face for group in self.results or [] if group.face is not None]


class UpdateFaceResult(ResultModel):
    face_id: str
    external_image_id: str
    external_fields: dict[str, Any]
    user_id: str | None


class DeleteFacesResult(ResultModel):
    deleted: int
    face_ids: list[str]


class DeleteFaceSetResult(ResultModel):
    face_set_id: str
    deleted_faces: int


ItemStatus = Literal["added", "duplicate", "rejected"]


class BatchItemReport(ResultModel):
    """One input of a batch: what became of it, in manifest order."""

    index: int
    source: str | None
    external_image_id: str | None
    status: ItemStatus
    reason: str | None = Field(None, exclude_if=absent, description="an error code, when rejected")
    message: str | None = Field(None, exclude_if=absent)
    details: dict[str, Any] | None = Field(None, exclude_if=absent)
    faces: list[EnrolledFace] | None = Field(None, exclude_if=absent)


class EnrollChunkResult(ResultModel):
    items: list[BatchItemReport]


class EnrollBatchResult(ResultModel):
    total: int
    added: int
    duplicates: int
    rejected: int
    faces_added: int
    rejected_by_reason: dict[str, int]
    items: list[BatchItemReport]
