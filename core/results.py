"""The result of each job kind, built from shared pieces (``Box``, ``Point``, ``StoredFace``,
``Match``).

Workers return these models; the job row stores ``model_dump(mode="json")``; the API reads
them back with ``RESULT_OF_KIND[kind].model_validate(row.result)``. The native API answers
them as they are (they are its response schemas), and every other front end renders them
in its own shape from the attributes, never from dict keys.

Optional fields that a result leaves out (rather than sending as ``null``) are declared
with ``Field(exclude_if=absent)``, so the stored JSON is the same as before these models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.jobs import JobKind


def absent(value: object) -> bool:
    return value is None


class _Result(BaseModel):
    # Reading ignores unknown keys (a row written by a newer worker still reads), while the
    # schema forbids them, so a response check catches a key the model does not declare.
    model_config = ConfigDict(frozen=True, json_schema_extra={"additionalProperties": False})

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ------------------------------------------------------------------ shared pieces


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


class Box(_Result):
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


class Point(_Result):
    x: float
    y: float


Landmarks = list[Point]


class DetectedFace(_Result):
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


class StoredFace(_Result):
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


class DuplicateOf(_Result):
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


class UnindexedFace(_Result):
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


class ImageSize(_Result):
    width: int
    height: int


# ------------------------------------------------------------------ one result per kind


class DetectResult(_Result):
    faces: list[DetectedFace]
    image: ImageSize | None = Field(None, exclude_if=absent)


class ComparedFace(DetectedFace):
    distance: float
    similarity: float


class CompareResult(_Result):
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
    matched: bool | None = Field(
        None, exclude_if=absent, description="with far=: distance is at most far_distance"
    )

    @property
    def pair(self) -> tuple[float, float]:
        """(distance, similarity) of image1's face and image2's largest face."""
        if self.distance is None or self.similarity is None:
            raise ValueError("this comparison scored every face of image2: read image2_faces")
        return self.distance, self.similarity


class EmbedResult(_Result):
    model_id: str
    faces: list[EmbeddedFace]


class EnrollResult(_Result):
    face_set_id: str
    face_set_name: str
    faces: list[EnrolledFace]
    unindexed: list[UnindexedFace] | None = Field(None, exclude_if=absent)


class SearchGroup(_Result):
    face: DetectedFace | None = Field(description="the probe face; null when searching by a stored face")
    label: str = Field(description="best match's user_id or external_image_id, or 'unknown'")
    faces: list[Match]


class SearchResult(_Result):
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


class UpdateFaceResult(_Result):
    face_id: str
    external_image_id: str
    external_fields: dict[str, Any]
    user_id: str | None


class DeleteFacesResult(_Result):
    deleted: int
    face_ids: list[str]


class DeleteFaceSetResult(_Result):
    face_set_id: str
    deleted_faces: int


class ErasedFromFaceSet(_Result):
    face_set_id: str
    deleted_faces: int


class ErasureCheck(_Result):
    """What was read back from each store after an erasure (all zero when it succeeded)."""

    faces_remaining: int
    vectors_remaining: int
    objects_remaining: int
    objects_kept_shared: int = Field(description="images another face still uses, kept on purpose")


class DeletePersonResult(_Result):
    user_id: str
    deleted_faces: int
    face_sets: list[ErasedFromFaceSet]
    face_ids: list[str]
    verified: ErasureCheck


ItemStatus = Literal["added", "duplicate", "rejected"]


class BatchItemReport(_Result):
    """One input of a batch: what became of it, in manifest order."""

    index: int
    source: str | None
    external_image_id: str | None
    status: ItemStatus
    reason: str | None = Field(None, exclude_if=absent, description="an error code, when rejected")
    message: str | None = Field(None, exclude_if=absent)
    details: dict[str, Any] | None = Field(None, exclude_if=absent)
    faces: list[EnrolledFace] | None = Field(None, exclude_if=absent)


class EnrollChunkResult(_Result):
    items: list[BatchItemReport]


class EnrollBatchResult(_Result):
    total: int
    added: int
    duplicates: int
    rejected: int
    faces_added: int
    rejected_by_reason: dict[str, int]
    items: list[BatchItemReport]


class ActionVerdict(_Result):
    action: str
    passed: bool
    confidence: float
    first_frame: int | None
    last_frame: int | None


class LivenessMatch(_Result):
    matched: bool
    matched_frames: int
    min_frames: int
    best_distance: float
    threshold: float


class FrameBox(_Result):
    x: int
    y: int
    width: int
    height: int


class BestFrame(_Result):
    index: int
    box: FrameBox
    image_key: str | None = Field(
        None, exclude_if=absent, description="the frame as a JPEG in the object store"
    )


class LivenessResult(_Result):
    alive: bool = Field(description="every requested action was performed, in order, by one face")
    actions: list[ActionVerdict]
    same_person: bool | None
    max_identity_distance: float | None
    match: LivenessMatch | None
    best_frame: BestFrame
    frames_analysed: int
    fps: float
    duration_s: float


class RateAtThreshold(_Result):
    distance: float
    far: float | None = Field(description="false-accept rate of the labelled pairs; null without pairs")
    frr: float | None = Field(description="false-reject rate of the labelled pairs; null without pairs")


class FarThreshold(_Result):
    far: float = Field(description="the target false-accept rate")
    distance: float | None = Field(description="null when the pairs are too few for this rate")
    similarity: float | None
    impostor_pairs: int
    genuine_pairs: int
    measured_far: float | None
    frr: float | None
    status: Literal["ok", "not enough data"]


class CalibrationResult(_Result):
    """A face set's ROC over the pairs of its faces that carry a user id."""

    model_id: str
    labelled_faces: int
    persons: int
    genuine_pairs: int
    impostor_pairs: int
    default_threshold: RateAtThreshold | None = Field(
        description="the model's threshold and its rates here; null for a registered model without one"
    )
    thresholds: list[FarThreshold]
    roc: list[RateAtThreshold]


class ReindexResult(_Result):
    face_set_id: str
    face_set_name: str
    model: str
    previous_model: str | None
    reembedded_faces: int
    already_reembedded: int


class DropPreviousVectorsResult(_Result):
    face_set_name: str
    model: str
    dropped_model: str | None


JobResult = (
    DetectResult
    | CompareResult
    | EmbedResult
    | EnrollResult
    | EnrollBatchResult
    | EnrollChunkResult
    | SearchResult
    | UpdateFaceResult
    | DeleteFacesResult
    | DeleteFaceSetResult
    | LivenessResult
    | DeletePersonResult
    | CalibrationResult
    | ReindexResult
    | DropPreviousVectorsResult
)

RESULT_OF_KIND: dict[JobKind, type[_Result]] = {
    JobKind.DETECT: DetectResult,
    JobKind.COMPARE: CompareResult,
    JobKind.EMBED: EmbedResult,
    JobKind.ENROLL: EnrollResult,
    JobKind.ENROLL_BATCH: EnrollBatchResult,
    JobKind.ENROLL_CHUNK: EnrollChunkResult,
    JobKind.SEARCH: SearchResult,
    JobKind.UPDATE_FACE: UpdateFaceResult,
    JobKind.DELETE_FACES: DeleteFacesResult,
    JobKind.DELETE_FACE_SET: DeleteFaceSetResult,
    JobKind.LIVENESS: LivenessResult,
    JobKind.DELETE_PERSON: DeletePersonResult,
    JobKind.CALIBRATE: CalibrationResult,
    JobKind.REINDEX: ReindexResult,
    JobKind.DROP_PREVIOUS_VECTORS: DropPreviousVectorsResult,
}


def read_result(kind: JobKind | str, stored: dict[str, Any] | None) -> JobResult:
    """A stored result as its kind's model."""
    model = RESULT_OF_KIND[JobKind(kind)]
    return model.model_validate(stored or {})  # type: ignore[return-value]
