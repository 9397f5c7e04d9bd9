"""Cooperative video liveness (seed 001 ``/api/living``, FRS live-detect) as a job.

The video is read from the object store, checked for the requested actions by one and
the same face, and optionally matched against a stored face or a reference photo. The
best frame is a passer-by's face: it is stored (as a JPEG under ``probes/``, named in the
result) only when probes are retained (``jobs.probe_retention_seconds``), never by default.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from core.errors import ErrorCode
from core.payloads import LivenessPayload
from core.results import LivenessResult
from infra.errors import ObjectNotFound
from pipelines.liveness import Action, LivenessChecker, VideoRejected
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import largest, load_image

BEST_FRAME_PREFIX = "probes/liveness-frames"

# The job contract's action names → the pipeline's.
ACTIONS = {
    "blink": Action.BLINK,
    "mouth_open": Action.OPEN_MOUTH,
    "turn_left": Action.TURN_LEFT,
    "turn_right": Action.TURN_RIGHT,
    "nod": Action.NOD,
}
CONTRACT_NAMES = {str(action): name for name, action in ACTIONS.items()}


def liveness(ctx: JobContext, payload: LivenessPayload) -> LivenessResult:
    runtime = ctx.runtime
    try:
        video = runtime.store.get(payload.video_key)
    except ObjectNotFound as missing:
        raise JobFailure(ErrorCode.INVALID_VIDEO, "the video of this job is no longer stored") from missing
    reference = _reference_vector(ctx, payload)
    checker = runtime.liveness_checker
    if payload.match_distance is not None:  # same loaded models, the caller's threshold
        checker = LivenessChecker(
            checker.finder,
            checker.predictor,
            dataclasses.replace(checker.settings, match_distance=payload.match_distance),
        )
    try:
        result = checker.check(
            video,
            [ACTIONS[name] for name in payload.actions],
            reference_embedding=reference,
            embedder=runtime.pipeline.embedder,
        )
    except VideoRejected as rejected:
        raise JobFailure(ErrorCode.INVALID_VIDEO, rejected.message, {"reason": str(rejected.reason)}) from rejected
    body = result.to_dict(include_image=False)
    for verdict in body["actions"]:
        # Reported under the name it was requested by (mouth_open, not the pipeline's open_mouth).
        verdict["action"] = CONTRACT_NAMES.get(verdict["action"], verdict["action"])
    if runtime.settings.jobs.probe_retention_seconds > 0:
        # A face from a probe video: kept only as long as probes are, then reconciled away.
        body["best_frame"]["image_key"] = runtime.store.put(
            result.best_frame_jpeg, "image/jpeg", prefix=BEST_FRAME_PREFIX
        )
    return LivenessResult.model_validate(body)


def _reference_vector(ctx: JobContext, payload: LivenessPayload) -> np.ndarray | None:
    runtime = ctx.runtime
    if payload.reference_face_id is not None:
        rows = runtime.faces.find_by_face_id(payload.project_id, payload.reference_face_id)
        if not rows:
            raise JobFailure(ErrorCode.FACE_NOT_FOUND, f"face {payload.reference_face_id} does not exist")
        row = rows[0]
        if row.model_id != runtime.pipeline.model_id:
            # The video's faces are embedded with the worker's own model: describe the
            # reference face again from its stored photo with that model.
            return _embedded_at(ctx, row.image_key, row.box)
        vectors = runtime.index.get_vectors(row.model_id, [row.face_id])
        if row.face_id not in vectors:
            raise JobFailure(ErrorCode.FACE_NOT_FOUND, f"face {payload.reference_face_id} has no stored vector")
        return vectors[row.face_id]
    if payload.reference_image_key is not None:
        image = load_image(ctx, payload.reference_image_key)
        reference = largest(runtime.pipeline.process(image, embed=True, landmarks=False))
        assert reference.embedding is not None
        return reference.embedding.vector
    return None


def _embedded_at(ctx: JobContext, image_key: str, box: Any) -> np.ndarray:
    """The vector of the face of the stored image whose box is nearest ``box``."""
    results = ctx.runtime.pipeline.process(load_image(ctx, image_key), embed=True, landmarks=False)
    if not results:
        raise JobFailure(ErrorCode.FACE_NOT_FOUND, "the reference face is no longer found in its photo")

    def offset(result: Any) -> float:
        found = result.face.box
        return float(abs(found.x - box.x) + abs(found.y - box.y) + abs(found.width - box.width))

    nearest = min(results, key=offset)
    assert nearest.embedding is not None
    return nearest.embedding.vector
