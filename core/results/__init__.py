"""The result of each job kind, built from shared pieces (``Box``, ``Point``, ``StoredFace``,
``Match``).

Workers return these models; the job row stores ``model_dump(mode="json")``; the API reads
them back with ``RESULT_OF_KIND[kind].model_validate(row.result)``. The native API answers
them as they are (they are its response schemas), and every other front end renders them
in its own shape from the attributes, never from dict keys.

The pieces live in ``core.results.shared``, the face jobs' results in
``core.results.faces`` and the rest (persons, liveness, calibration, reindex) in
``core.results.operations``; every name is importable from ``core.results``.
"""

from __future__ import annotations

from typing import Any

from core.jobs import JobKind
from core.results.faces import (
    BatchItemReport,
    ComparedFace,
    CompareResult,
    DeleteFaceSetResult,
    DeleteFacesResult,
    DetectResult,
    EmbedResult,
    EnrollBatchResult,
    EnrollChunkResult,
    EnrollResult,
    ItemStatus,
    SearchGroup,
    SearchResult,
    UpdateFaceResult,
)
from core.results.operations import (
    ActionVerdict,
    BestFrame,
    CalibrationResult,
    DeletePersonResult,
    DropPreviousVectorsResult,
    ErasedFromFaceSet,
    ErasureCheck,
    FarThreshold,
    FrameBox,
    LivenessMatch,
    LivenessResult,
    RateAtThreshold,
    ReindexResult,
)
from core.results.shared import (
    Box,
    DetectedFace,
    DuplicateOf,
    EmbeddedFace,
    EnrolledFace,
    FaceRecord,
    ImageSize,
    Landmarks,
    Match,
    PixelBox,
    Point,
    ResultModel,
    StoredFace,
    UnindexedFace,
    absent,
)

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

RESULT_OF_KIND: dict[JobKind, type[ResultModel]] = {
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


__all__ = [
    "RESULT_OF_KIND",
    "ActionVerdict",
    "BatchItemReport",
    "BestFrame",
    "Box",
    "CalibrationResult",
    "CompareResult",
    "ComparedFace",
    "DeleteFaceSetResult",
    "DeleteFacesResult",
    "DeletePersonResult",
    "DetectResult",
    "DetectedFace",
    "DropPreviousVectorsResult",
    "DuplicateOf",
    "EmbedResult",
    "EmbeddedFace",
    "EnrollBatchResult",
    "EnrollChunkResult",
    "EnrollResult",
    "EnrolledFace",
    "ErasedFromFaceSet",
    "ErasureCheck",
    "FaceRecord",
    "FarThreshold",
    "FrameBox",
    "ImageSize",
    "ItemStatus",
    "JobResult",
    "Landmarks",
    "LivenessMatch",
    "LivenessResult",
    "Match",
    "PixelBox",
    "Point",
    "RateAtThreshold",
    "ReindexResult",
    "ResultModel",
    "SearchGroup",
    "SearchResult",
    "StoredFace",
    "UnindexedFace",
    "UpdateFaceResult",
    "absent",
    "read_result",
]
