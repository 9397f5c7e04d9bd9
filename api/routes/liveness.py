"""live-detect: cooperative video liveness as a job.

The client films a face performing the requested actions (blink, open mouth, turn left or
right, nod) in order; the worker checks that one and the same face did them, optionally
that it matches a stored face, and returns per-action verdicts and the best frame.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response
from flask_openapi3 import APIBlueprint
from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.bodies import body_doc, parse_body
from api.context import current_context
from api.images import ImageIntake
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint, wants_async
from api.schemas import AsyncQuery, JobHeaders, ProjectPath
from core.jobs import JobKind
from core.payloads import LivenessPayload
from core.results import LivenessResult

# The pipeline's own limit (pipelines.liveness.VideoLimits.max_bytes): 1-15 s of video.
MAX_VIDEO_BYTES = 20 * 1024 * 1024
Action = Literal["blink", "mouth_open", "turn_left", "turn_right", "nod"]


def _blink_only() -> list[Action]:
    return ["blink"]


class LiveDetectJson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    video_base64: str | None = Field(None, description="MP4, MOV, AVI or WebM; 1-15 s; at most 20 MB")
    video_url: str | None = Field(None, description="/bucket/key of a video in this service's store")
    actions: list[Action] = Field(default_factory=_blink_only, min_length=1, max_length=5)
    reference_face_id: str | None = Field(
        None, max_length=64, description="the video's face must match this stored face"
    )
    match_distance: float | None = Field(None, gt=0, lt=2, description="Euclidean distance for a match")

    @field_validator("actions", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # Forms send "blink,turn_left"; JSON may send that or a list.
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class LiveDetectForm(LiveDetectJson):
    model_config = ConfigDict(extra="ignore")

    video_file: FileStorage | None = None


def liveness_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_liveness", "liveness", "Cooperative video liveness")

    @bp.post(
        "/live-detect",
        responses={200: LivenessResult, **ACCEPTED},
        openapi_extensions=body_doc(bp, LiveDetectJson, LiveDetectForm),
    )
    def live_detect(path: ProjectPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Check that a live person performed the requested actions in a short video."""
        ctx = current_context()
        request_body: LiveDetectJson = parse_body(LiveDetectJson, LiveDetectForm)
        intake = ImageIntake(ctx.store, ctx.settings.object_store.bucket, MAX_VIDEO_BYTES)
        video_key = intake.probe_key_of(request_body, prefix="video")
        assert video_key is not None
        payload = LivenessPayload(
            project_id=path.project_id,
            video_key=video_key,
            actions=list(request_body.actions),
            reference_face_id=request_body.reference_face_id,
            match_distance=request_body.match_distance,
        )
        outcome = ctx.gateway.run(
            path.project_id,
            JobKind.LIVENESS,
            payload,
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(path.project_id, outcome)

    return bp
