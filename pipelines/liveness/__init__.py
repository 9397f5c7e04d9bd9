"""Cooperative video liveness (seed 001 ``/api/living``, Huawei live-detect).

    result = check_liveness(video_bytes, [Action.BLINK, Action.TURN_LEFT],
                            reference_embedding=vector, embedder=pipeline.embedder)
    result.alive, result.to_dict()

Errors (all ``PipelineError``): ``VideoRejected`` (``.reason``: invalid_video,
unsupported_video, video_too_large, video_too_short, video_too_long), ``NoFaceError``
(no_face), ``MultipleFacesError`` (multiple_faces). docs/ANALYSIS.md has the measurements.
"""

from pipelines.liveness.actions import SEED_ACTION_CODES, Action, ActionThresholds
from pipelines.liveness.check import (
    ActionVerdict,
    FaceEmbedder,
    LivenessChecker,
    LivenessResult,
    LivenessSettings,
    MatchResult,
    check_liveness,
)
from pipelines.liveness.track import TrackLimits
from pipelines.liveness.video import (
    DecodedVideo,
    VideoLimits,
    VideoProblem,
    VideoRejected,
    decode_video,
    frames_as_video,
)

__all__ = [
    "SEED_ACTION_CODES",
    "Action",
    "ActionThresholds",
    "ActionVerdict",
    "DecodedVideo",
    "FaceEmbedder",
    "LivenessChecker",
    "LivenessResult",
    "LivenessSettings",
    "MatchResult",
    "TrackLimits",
    "VideoLimits",
    "VideoProblem",
    "VideoRejected",
    "check_liveness",
    "decode_video",
    "frames_as_video",
]
