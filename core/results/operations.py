"""The results of the jobs on persons and face sets as a whole: erasure, video liveness,
calibration and reindexing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.results.shared import ResultModel, absent


class ErasedFromFaceSet(ResultModel):
    face_set_id: str
    deleted_faces: int


class ErasureCheck(ResultModel):
    """What was read back from each store after an erasure (all zero when it succeeded)."""

    faces_remaining: int
    vectors_remaining: int
    objects_remaining: int
    objects_kept_shared: int = Field(description="images another face still uses, kept on purpose")


class DeletePersonResult(ResultModel):
    user_id: str
    deleted_faces: int
    face_sets: list[ErasedFromFaceSet]
    face_ids: list[str]
    verified: ErasureCheck


class ActionVerdict(ResultModel):
    action: str
    passed: bool
    confidence: float
    first_frame: int | None
    last_frame: int | None


class LivenessMatch(ResultModel):
    matched: bool
    matched_frames: int
    min_frames: int
    best_distance: float
    threshold: float


class FrameBox(ResultModel):
    x: int
    y: int
    width: int
    height: int


class BestFrame(ResultModel):
    index: int
    box: FrameBox
    image_key: str | None = Field(
        None, exclude_if=absent, description="the frame as a JPEG in the object store"
    )


class LivenessResult(ResultModel):
    alive: bool = Field(description="every requested action was performed, in order, by one face")
    actions: list[ActionVerdict]
    same_person: bool | None
    max_identity_distance: float | None
    match: LivenessMatch | None
    best_frame: BestFrame
    frames_analysed: int
    fps: float
    duration_s: float


class RateAtThreshold(ResultModel):
    distance: float
    far: float | None = Field(description="false-accept rate of the labelled pairs; null without pairs")
    frr: float | None = Field(description="false-reject rate of the labelled pairs; null without pairs")


class FarThreshold(ResultModel):
    far: float = Field(description="the target false-accept rate")
    distance: float | None = Field(description="null when the pairs are too few for this rate")
    similarity: float | None
    impostor_pairs: int
    genuine_pairs: int
    measured_far: float | None
    frr: float | None
    status: Literal["ok", "not enough data"]


class CalibrationResult(ResultModel):
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


class ReindexResult(ResultModel):
    face_set_id: str
    face_set_name: str
    model: str
    previous_model: str | None
    reembedded_faces: int
    already_reembedded: int


class DropPreviousVectorsResult(ResultModel):
    face_set_name: str
    model: str
    dropped_model: str | None
