"""Every job's payload: what the API (or a parent job) sends a worker.

Messages carry ids and object-store keys, never image bytes or vectors.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.jobs import JobKind


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectPayload(_Payload):
    image_key: str
    attributes: list[int] = Field(default_factory=list)
    max_faces: int | None = None
    quality: bool = False


class ComparePayload(_Payload):
    image1_key: str
    image2_key: str
    # Also compare image1's largest face with every face of image2 (Rekognition's CompareFaces).
    all_targets: bool = False
    # A target false-accept rate: the threshold comes from this face set's own labelled pairs
    # (workers.services.calibration), and both images are embedded with the set's model.
    far: float | None = None
    project_id: str | None = None
    face_set_id: str | None = None


class EmbedPayload(_Payload):
    image_key: str
    select: Literal["largest", "all"] = "largest"


OnDuplicate = Literal["reject", "flag", "allow"]
FaceSelection = Literal["all", "largest", "single"]


class EnrollOptions(_Payload):
    select: FaceSelection = "all"
    # (x, y, width, height) of a face the client saw earlier (seed 002's face_token): only
    # the detected face nearest this box is enrolled.
    box: tuple[int, int, int, int] | None = None
    on_duplicate: OnDuplicate = "allow"
    quality_gate: bool = False
    save_crop: bool = True
    # At most this many faces, the largest ones (after the quality gate).
    max_faces: int | None = None
    # Faces left out (quality gate, max_faces) are listed in the result with their reasons
    # instead of failing the job (Rekognition's UnindexedFaces).
    report_unindexed: bool = False
    # Seed attribute codes to analyse on each enrolled face, with its landmarks and quality
    # (Rekognition's IndexFaces DetectionAttributes); None analyses nothing.
    detail_attributes: list[int] | None = None


class EnrollPayload(_Payload):
    project_id: str
    face_set_id: str
    image_key: str
    external_image_id: str
    external_fields: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = None
    options: EnrollOptions = Field(default_factory=EnrollOptions)


class BatchItem(_Payload):
    image_key: str | None = None
    external_image_id: str
    user_id: str | None = None
    external_fields: dict[str, Any] = Field(default_factory=dict)
    source: str = ""
    # An input the API could already reject (bad archive member, oversize) keeps its
    # place in the report with this code instead of a key.
    rejected: str | None = None
    rejected_message: str | None = None  # why, when the code alone does not say it


class EnrollBatchPayload(_Payload):
    project_id: str
    face_set_id: str
    manifest_key: str
    total: int
    options: EnrollOptions = Field(default_factory=lambda: EnrollOptions(select="single"))


class EnrollChunkPayload(_Payload):
    parent_job_id: str
    project_id: str
    face_set_id: str
    manifest_key: str
    start: int
    stop: int
    total: int
    options: EnrollOptions


class SearchPayload(_Payload):
    project_id: str
    face_set_id: str
    image_key: str | None = None
    face_id: str | None = None
    top_n: int = 10
    threshold: float = 0.0
    filter: str | None = None
    sort: list[dict[str, Literal["asc", "desc"]]] = Field(default_factory=list)
    return_fields: list[str] | None = None
    all_faces: bool = False
    group_by: Literal["face", "person"] = "face"
    # Also return the probe face and the image's other faces (Rekognition's
    # SearchedFaceBoundingBox and UnsearchedFaces).
    show_probe_faces: bool = False
    # A target false-accept rate in place of ``threshold``: the distance comes from the face
    # set's own labelled pairs (workers.services.calibration).
    far: float | None = None


class CalibratePayload(_Payload):
    project_id: str
    face_set_id: str


class ReindexPayload(_Payload):
    project_id: str
    face_set_id: str
    model: str


class DropPreviousVectorsPayload(_Payload):
    project_id: str
    face_set_id: str


class UpdateFacePayload(_Payload):
    """New values (already validated against the face set's schema); None keeps a value."""

    project_id: str
    face_set_id: str
    face_id: str
    external_image_id: str | None = None
    external_fields: dict[str, Any] | None = None
    user_id: str | None = None


class DeleteFacesPayload(_Payload):
    project_id: str
    face_set_id: str
    face_ids: list[str]


class DeleteFaceSetPayload(_Payload):
    project_id: str
    face_set_id: str


class DeletePersonPayload(_Payload):
    """Erase one person (user id): in one face set, or in every face set of the project
    when ``face_set_id`` is None (resolved when the job runs, so none is missed)."""

    project_id: str
    user_id: str
    face_set_id: str | None = None


LivenessAction = Literal["blink", "mouth_open", "turn_left", "turn_right", "nod"]


def _blink_only() -> list[LivenessAction]:
    return ["blink"]


class LivenessPayload(_Payload):
    project_id: str
    video_key: str
    actions: list[LivenessAction] = Field(default_factory=_blink_only)
    reference_face_id: str | None = None
    reference_image_key: str | None = None
    match_distance: float | None = None


PAYLOAD_OF_KIND: dict[JobKind, type[_Payload]] = {
    JobKind.DETECT: DetectPayload,
    JobKind.COMPARE: ComparePayload,
    JobKind.EMBED: EmbedPayload,
    JobKind.ENROLL: EnrollPayload,
    JobKind.ENROLL_BATCH: EnrollBatchPayload,
    JobKind.ENROLL_CHUNK: EnrollChunkPayload,
    JobKind.SEARCH: SearchPayload,
    JobKind.UPDATE_FACE: UpdateFacePayload,
    JobKind.DELETE_FACES: DeleteFacesPayload,
    JobKind.DELETE_FACE_SET: DeleteFaceSetPayload,
    JobKind.LIVENESS: LivenessPayload,
    JobKind.DELETE_PERSON: DeletePersonPayload,
    JobKind.CALIBRATE: CalibratePayload,
    JobKind.REINDEX: ReindexPayload,
    JobKind.DROP_PREVIOUS_VECTORS: DropPreviousVectorsPayload,
}
