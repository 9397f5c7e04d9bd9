"""What the API and the workers agree on: job kinds, task names, queues and payloads.

This is the only module of ``workers`` that ``api`` may import, so it must stay free of
ML packages and of any import of the Celery app or the tasks.
Messages carry ids and object-store keys, never image bytes or vectors.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from infra.gpu_pool import GpuPoolProbe
from infra.settings import PipelineSettings, Settings


class JobKind(StrEnum):
    DETECT = "detect"
    COMPARE = "compare"
    EMBED = "embed"
    ENROLL = "enroll"
    ENROLL_BATCH = "enroll_batch"
    ENROLL_CHUNK = "enroll_chunk"
    SEARCH = "search"
    UPDATE_FACE = "update_face"
    DELETE_FACES = "delete_faces"
    DELETE_FACE_SET = "delete_face_set"
    LIVENESS = "liveness"
    DELETE_PERSON = "delete_person"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class QueueName(StrEnum):
    """One queue per cost class, so bulk enrollment never starves interactive calls."""

    INTERACTIVE = "facefleet.interactive"
    ENROLL = "facefleet.enroll"
    BATCH = "facefleet.batch"
    LIVENESS = "facefleet.liveness"
    MAINTENANCE = "facefleet.maintenance"
    GPU = "facefleet.gpu"


def task_name(kind: JobKind) -> str:
    return f"facefleet.{kind.value}"


QUEUE_OF_KIND: dict[JobKind, QueueName] = {
    JobKind.DETECT: QueueName.INTERACTIVE,
    JobKind.COMPARE: QueueName.INTERACTIVE,
    JobKind.EMBED: QueueName.INTERACTIVE,
    JobKind.SEARCH: QueueName.INTERACTIVE,
    JobKind.UPDATE_FACE: QueueName.INTERACTIVE,
    JobKind.ENROLL: QueueName.ENROLL,
    JobKind.ENROLL_BATCH: QueueName.BATCH,
    JobKind.ENROLL_CHUNK: QueueName.BATCH,
    JobKind.LIVENESS: QueueName.LIVENESS,
    JobKind.DELETE_FACES: QueueName.MAINTENANCE,
    JobKind.DELETE_FACE_SET: QueueName.MAINTENANCE,
    JobKind.DELETE_PERSON: QueueName.MAINTENANCE,
}

# Jobs whose work is model inference: with a GPU-capable pipeline, a GPU pool serves them faster.
GPU_WORTHY_KINDS = frozenset(
    {JobKind.DETECT, JobKind.COMPARE, JobKind.EMBED, JobKind.ENROLL, JobKind.ENROLL_CHUNK, JobKind.SEARCH}
)


GPU_DETECTORS = frozenset({"mtcnn"})


def pipeline_uses_gpu(pipeline: PipelineSettings) -> bool:
    """TensorFlow models (deepface embedders, mtcnn) and onnxruntime with CUDA use a GPU;
    dlib-bin is a CPU build (docs/OPERATIONS.md, "What runs on the GPU")."""
    return (
        pipeline.detector in GPU_DETECTORS
        or pipeline.fallback_detector in GPU_DETECTORS
        or pipeline.embedding_model.startswith("deepface-")
        or pipeline.embedding_backend == "onnx"
    )


class GpuRouting:
    """Whether to send GPU-worthy jobs to the GPU queue now: only when routing is switched
    on (``pipeline.gpu_pool``), the pipeline can use a GPU, and a GPU pool consumes."""

    def __init__(self, settings: Settings) -> None:
        wanted = settings.pipeline.gpu_pool and pipeline_uses_gpu(settings.pipeline)
        self._probe = GpuPoolProbe(settings.broker.url, QueueName.GPU.value) if wanted else None

    def available(self) -> bool:
        return self._probe is not None and self._probe.available()


def queue_for(kind: JobKind, gpu_pool_available: bool = False) -> QueueName:
    if gpu_pool_available and kind in GPU_WORTHY_KINDS:
        return QueueName.GPU
    return QUEUE_OF_KIND[kind]


# Interactive calls jump ahead of queued bulk work on brokers that honour priorities.
PRIORITY_OF_QUEUE: dict[QueueName, int] = {
    QueueName.INTERACTIVE: 9,
    QueueName.ENROLL: 6,
    QueueName.LIVENESS: 6,
    QueueName.MAINTENANCE: 3,
    QueueName.BATCH: 1,
    QueueName.GPU: 6,
}


class JobErrorCode(StrEnum):
    """Stable codes stored on failed jobs; the API maps each to an HTTP status and a
    dialect-specific code. Pipeline codes (``invalid_image``, ``no_face``...) pass through."""

    INVALID_IMAGE = "invalid_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    INVALID_VIDEO = "invalid_video"
    DUPLICATE_FACE = "duplicate_face"
    FACE_SET_FULL = "face_set_full"
    FACE_SET_NOT_FOUND = "face_set_not_found"
    FACE_NOT_FOUND = "face_not_found"
    INVALID_FILTER = "invalid_filter"
    INVALID_ARGUMENT = "invalid_argument"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


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


class LivenessPayload(_Payload):
    project_id: str
    video_key: str
    actions: list[LivenessAction] = Field(default_factory=lambda: ["blink"])
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
}


ENQUEUED_AT_HEADER = "x-facefleet-enqueued-at"
# A task message's payload may carry small probe images under this field (object key ->
# base64 bytes) beside the job's own fields; the job row never holds them (api/probes.py).
INLINE_IMAGES_FIELD = "inline_images"


class TaskProducer(Protocol):
    """The part of a Celery app needed to send a task by name (no task import needed)."""

    def send_task(
        self, name: str, *, args: list[Any], task_id: str, queue: str, priority: int, headers: dict[str, Any]
    ) -> Any: ...


def dispatch(
    producer: TaskProducer, kind: JobKind, job_id: str, payload: dict[str, Any], gpu_pool_available: bool = False
) -> None:
    """Send one job's task: the job id doubles as the Celery task id, so a job is
    traceable end to end and a re-send of the same job is recognisable."""
    queue = queue_for(kind, gpu_pool_available)
    producer.send_task(
        task_name(kind),
        args=[job_id, payload],
        task_id=job_id,
        queue=queue.value,
        priority=PRIORITY_OF_QUEUE[queue],
        # Celery stamps no enqueue time; the queue monitor reads this to report message age.
        headers={ENQUEUED_AT_HEADER: time.time()},
    )
