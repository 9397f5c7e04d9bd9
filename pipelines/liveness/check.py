"""Cooperative liveness: did the one face in the clip perform the requested actions, is it
the same person throughout, and (optionally) does it match a reference face?"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.compare import DEFAULT_MATCH_DISTANCE, euclidean_distance
from pipelines.detection.dlib_detectors import HogDetector
from pipelines.liveness.actions import Action, ActionEvent, ActionThresholds, find_events, match_sequence
from pipelines.liveness.track import (
    FaceFinder,
    FaceTrack,
    FrameSignals,
    TrackLimits,
    best_sample,
    track_faces,
)
from pipelines.liveness.video import DecodedVideo, VideoLimits, decode_video
from pipelines.types import BoundingBox, DetectedFace, Embedding, RGBImage, Vector


class FaceEmbedder(Protocol):
    """What ``pipelines.embedding.base.Embedder`` offers; only ``embed`` is used."""

    def embed(self, image: RGBImage, faces: Sequence[DetectedFace]) -> list[Embedding]: ...


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    video: VideoLimits = field(default_factory=VideoLimits)
    track: TrackLimits = field(default_factory=TrackLimits)
    actions: ActionThresholds = field(default_factory=ActionThresholds)
    identity_samples: int = 8
    """Face frames embedded (evenly spaced) for the same-person and reference checks."""
    same_person_distance: float = DEFAULT_MATCH_DISTANCE
    match_distance: float = DEFAULT_MATCH_DISTANCE
    """Seed 001's ``Threshold``: Euclidean distance, lower is stricter."""
    min_match_frames: int = 36
    """Seed 001: the face must match the reference over at least this many video frames."""


@dataclass(frozen=True, slots=True)
class ActionVerdict:
    action: Action
    passed: bool
    confidence: float
    first_frame: int | None
    """Original video frame index where the action starts (``None`` when not seen)."""
    last_frame: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": str(self.action),
            "passed": self.passed,
            "confidence": round(self.confidence, 3),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: bool
    matched_frames: int
    """Video frames whose face matches the reference, estimated from the embedded samples
    (each stands for its share of the face frames)."""
    min_frames: int
    best_distance: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "matched_frames": self.matched_frames,
            "min_frames": self.min_frames,
            "best_distance": round(self.best_distance, 4),
            "threshold": self.threshold,
        }


@dataclass(frozen=True, slots=True)
class LivenessResult:
    alive: bool
    """Every requested action was performed, in order, by one and the same face."""
    actions: list[ActionVerdict]
    same_person: bool | None
    """``None`` when no embedder was given (identity was not checked)."""
    max_identity_distance: float | None
    match: MatchResult | None
    best_frame_index: int
    best_frame_box: BoundingBox
    best_frame_jpeg: bytes = field(repr=False)
    frames_analysed: int = 0
    fps: float = 0.0
    duration_s: float = 0.0

    def to_dict(self, include_image: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "alive": self.alive,
            "actions": [verdict.to_dict() for verdict in self.actions],
            "same_person": self.same_person,
            "max_identity_distance": (
                None if self.max_identity_distance is None else round(self.max_identity_distance, 4)
            ),
            "match": None if self.match is None else self.match.to_dict(),
            "best_frame": {
                "index": self.best_frame_index,
                "box": {
                    "x": self.best_frame_box.x,
                    "y": self.best_frame_box.y,
                    "width": self.best_frame_box.width,
                    "height": self.best_frame_box.height,
                },
            },
            "frames_analysed": self.frames_analysed,
            "fps": round(self.fps, 3),
            "duration_s": round(self.duration_s, 3),
        }
        if include_image:
            out["best_frame"]["jpeg_base64"] = base64.b64encode(self.best_frame_jpeg).decode("ascii")
        return out


# The detector the liveness thresholds were tuned with: HOG at upsample 0 (faces of ~80 px
# and up), with dlib's threshold lowered so that fewer frames lose their face. Another
# detector would change the answers.
LIVENESS_DETECTOR = "hog-up0"
LIVENESS_HOG_UPSAMPLE = 0
LIVENESS_HOG_THRESHOLD = -0.2


class LivenessChecker:
    """Holds the detector and landmark predictor (loaded once); one per worker process."""

    def __init__(
        self,
        finder: FaceFinder | None = None,
        predictor: LandmarkPredictor | None = None,
        settings: LivenessSettings | None = None,
    ) -> None:
        self.finder = finder or HogDetector(upsample=LIVENESS_HOG_UPSAMPLE, threshold=LIVENESS_HOG_THRESHOLD)
        self.predictor = predictor or LandmarkPredictor()
        self.settings = settings or LivenessSettings()

    def check(
        self,
        video: bytes | DecodedVideo,
        actions: Sequence[Action],
        reference_embedding: Vector | None = None,
        embedder: FaceEmbedder | None = None,
    ) -> LivenessResult:
        """Raises ``VideoRejected`` (bad or out-of-limits video), ``NoFaceError`` or
        ``MultipleFacesError``; a reference embedding needs the embedder that made it."""
        if not actions:
            raise ValueError("at least one action must be requested")
        settings = self.settings
        decoded = video if isinstance(video, DecodedVideo) else decode_video(video, settings.video)
        return self.evaluate(self.track(decoded), actions, reference_embedding, embedder)

    def track(self, video: DecodedVideo) -> FaceTrack:
        """The landmark time series of the clip (the expensive part: detection and
        landmarks on every analysed frame); ``evaluate`` can then run any actions on it."""
        return track_faces(video, self.finder, self.predictor, self.settings.track)

    def evaluate(
        self,
        track: FaceTrack,
        actions: Sequence[Action],
        reference_embedding: Vector | None = None,
        embedder: FaceEmbedder | None = None,
    ) -> LivenessResult:
        if not actions:
            raise ValueError("at least one action must be requested")
        if reference_embedding is not None and embedder is None:
            raise ValueError("a reference embedding needs the embedder that computed it")
        decoded = track.video
        events = {action: find_events(track, action, self.settings.actions) for action in set(actions)}
        chosen = match_sequence(events, actions)
        verdicts = [_verdict(action, event, track) for action, event in zip(actions, chosen, strict=True)]
        action_samples = [range(e.first_sample, e.last_sample + 1) for e in chosen if e is not None]
        best = best_sample(track, action_samples)
        same_person: bool | None = None
        max_distance: float | None = None
        match: MatchResult | None = None
        if embedder is not None:
            same_person, max_distance, match = self._identity(track, best, embedder, reference_embedding)
        return LivenessResult(
            alive=all(v.passed for v in verdicts) and same_person is not False,
            actions=verdicts,
            same_person=same_person,
            max_identity_distance=max_distance,
            match=match,
            best_frame_index=best.frame_index,
            best_frame_box=_box(best),
            best_frame_jpeg=_jpeg(decoded.frames[best.sample]),
            frames_analysed=len(track.signals),
            fps=decoded.fps,
            duration_s=decoded.duration_s,
        )

    def _identity(
        self,
        track: FaceTrack,
        best: FrameSignals,
        embedder: FaceEmbedder,
        reference: Vector | None,
    ) -> tuple[bool, float, MatchResult | None]:
        settings = self.settings
        faces = track.face_samples
        count = min(settings.identity_samples, len(faces))
        picked = [faces[i] for i in np.linspace(0, len(faces) - 1, count).round().astype(int)]
        anchor = _embed(track, best, embedder)
        vectors = [_embed(track, sample, embedder) for sample in picked]
        distances = [euclidean_distance(anchor, vector) for vector in vectors]
        max_distance = max(distances, default=0.0)
        same_person = max_distance <= settings.same_person_distance
        if reference is None:
            return same_person, max_distance, None
        to_reference = [euclidean_distance(reference, vector) for vector in [anchor, *vectors]]
        matching_share = sum(d <= settings.match_distance for d in to_reference[1:]) / max(1, len(vectors))
        face_frames = len(faces) * track.video.stride
        matched_frames = round(matching_share * face_frames)
        match = MatchResult(
            matched=matched_frames >= settings.min_match_frames,
            matched_frames=matched_frames,
            min_frames=settings.min_match_frames,
            best_distance=min(to_reference),
            threshold=settings.match_distance,
        )
        return same_person, max_distance, match


def _box(sample: FrameSignals) -> BoundingBox:
    assert sample.box is not None  # only face samples are ever picked
    return sample.box


def _embed(track: FaceTrack, sample: FrameSignals, embedder: FaceEmbedder) -> Vector:
    face = DetectedFace(box=_box(sample), confidence=1.0)
    (embedding,) = embedder.embed(track.video.frames[sample.sample], [face])
    return embedding.vector


def _verdict(action: Action, event: ActionEvent | None, track: FaceTrack) -> ActionVerdict:
    if event is None:
        return ActionVerdict(action, False, 0.0, None, None)
    indices = track.video.frame_indices
    last = min(indices[event.last_sample] + track.video.stride - 1, track.video.total_frames - 1)
    return ActionVerdict(action, True, event.confidence, indices[event.first_sample], last)


def _jpeg(frame: RGBImage) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:  # pragma: no cover - encoding a valid uint8 frame does not fail
        raise RuntimeError("JPEG encoding of the best frame failed")
    return bytes(encoded.tobytes())


_default_checker: LivenessChecker | None = None


def check_liveness(
    video: bytes | DecodedVideo,
    actions: Sequence[Action],
    reference_embedding: Vector | None = None,
    embedder: FaceEmbedder | None = None,
    checker: LivenessChecker | None = None,
) -> LivenessResult:
    """The facade the worker calls. ``video`` is the uploaded bytes (MP4/MOV/AVI/WebM) or
    frames already decoded (``decode_video`` / ``frames_as_video``)."""
    global _default_checker
    if checker is None:
        if _default_checker is None:
            _default_checker = LivenessChecker()
        checker = _default_checker
    return checker.check(video, actions, reference_embedding, embedder)
