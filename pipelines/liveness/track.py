"""Per-frame face signals of a sampled video: the landmark time series liveness reads.

Each analysed frame gets the number of faces, the main face's box, its eye and mouth
aspect ratios, head pose and a frame-quality score. A frame without a face carries NaN
signals so that every series stays aligned with the frame list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from pipelines.analysis.landmarks import LandmarkPredictor, eye_aspect_ratio, mouth_aspect_ratio
from pipelines.analysis.pose import estimate_head_pose, face_direction
from pipelines.analysis.quality import FaceQuality, brightness, embedding_quality_score, sharpness
from pipelines.detection.base import clipped_box
from pipelines.errors import MultipleFacesError, NoFaceError
from pipelines.liveness.video import DecodedVideo
from pipelines.types import BoundingBox, DetectedFace, RGBImage

Series = npt.NDArray[np.float64]


class FaceFinder(Protocol):
    def detect(self, image: RGBImage) -> list[DetectedFace]: ...


@dataclass(frozen=True, slots=True)
class TrackLimits:
    min_face_size: int = 60
    """Shorter box side, in pixels of the analysed (downscaled) frame."""
    companion_face_ratio: float = 0.4
    """A second face counts when its box side is at least this fraction of the main
    face's: a small face far in the background is not a second participant."""
    max_multi_face_ratio: float = 0.2
    """Reject with ``multiple_faces`` when more than this share of face frames shows two."""
    min_face_ratio: float = 0.5
    """Reject with ``no_face`` when fewer than this share of analysed frames shows a face."""
    detect_every: int = 2
    """Run the detector on every n-th analysed frame and reuse its boxes in between (the
    detector costs ~10x the landmarks; at 15 analysed fps a box is then at most ~130 ms
    old, which the landmark predictor tolerates)."""
    detect_max_side: int = 360
    """Faces are found on a copy scaled to this longer side (landmarks still use the full
    analysed frame): HOG costs ~17 ms at 320 px against ~40 ms at 512 px, and a
    cooperative selfie face is large. The smallest face found is then about 80 px at
    this scale (a quarter of the frame's longer side)."""


@dataclass(frozen=True, slots=True)
class FrameSignals:
    sample: int
    frame_index: int
    face_count: int
    box: BoundingBox | None
    ear: float
    mar: float
    yaw: float
    pitch: float
    roll: float
    quality: float
    """``embedding_quality_score`` of the face (0 without one): picks the best frame."""


@dataclass(frozen=True, slots=True)
class FaceTrack:
    video: DecodedVideo
    signals: list[FrameSignals]

    def series(self, name: str) -> Series:
        return np.array([getattr(s, name) for s in self.signals], dtype=np.float64)

    @property
    def face_samples(self) -> list[FrameSignals]:
        return [s for s in self.signals if s.box is not None]


_NO_FACE: Final = math.nan


def track_faces(
    video: DecodedVideo,
    finder: FaceFinder,
    predictor: LandmarkPredictor,
    limits: TrackLimits | None = None,
) -> FaceTrack:
    """Signals for every sampled frame; raises ``NoFaceError`` / ``MultipleFacesError``."""
    limits = limits or TrackLimits()
    signals = []
    faces: list[DetectedFace] = []
    for sample, (frame_index, frame) in enumerate(zip(video.frame_indices, video.frames, strict=True)):
        if sample % max(1, limits.detect_every) == 0:
            faces = [
                f
                for f in _detect(finder, frame, limits)
                if min(f.box.width, f.box.height) >= limits.min_face_size
            ]
        signals.append(_measure(sample, frame_index, frame, faces, predictor, limits))
    with_face = [s for s in signals if s.box is not None]
    if len(with_face) < max(3, limits.min_face_ratio * len(signals)):
        raise NoFaceError(
            f"a face large enough for landmarks ({limits.min_face_size} px) is visible in "
            f"{len(with_face)} of {len(signals)} analysed frames"
        )
    crowded = sum(1 for s in with_face if s.face_count > 1)
    if crowded > limits.max_multi_face_ratio * len(with_face):
        raise MultipleFacesError(f"{crowded} of {len(with_face)} analysed frames show more than one face")
    return FaceTrack(video, signals)


def _measure(
    sample: int,
    frame_index: int,
    frame: RGBImage,
    faces: list[DetectedFace],
    predictor: LandmarkPredictor,
    limits: TrackLimits,
) -> FrameSignals:
    if not faces:
        return FrameSignals(
            sample, frame_index, 0, None, _NO_FACE, _NO_FACE, _NO_FACE, _NO_FACE, _NO_FACE, 0.0
        )
    main = max(faces, key=lambda f: f.box.area)
    main_side = min(main.box.width, main.box.height)
    count = sum(1 for f in faces if min(f.box.width, f.box.height) >= limits.companion_face_ratio * main_side)
    points = predictor.predict(frame, main.box)
    height, width = frame.shape[:2]
    pose = estimate_head_pose(points, width, height)
    quality = FaceQuality(
        sharpness=sharpness(frame, main.box),
        brightness=brightness(frame, main.box),
        face_size=main_side,
        pose=pose,
        direction=face_direction(pose),
    )
    return FrameSignals(
        sample=sample,
        frame_index=frame_index,
        face_count=count,
        box=main.box,
        ear=eye_aspect_ratio(points),
        mar=mouth_aspect_ratio(points),
        yaw=pose.yaw,
        pitch=pose.pitch,
        roll=pose.roll,
        quality=embedding_quality_score(quality),
    )


def _detect(finder: FaceFinder, frame: RGBImage, limits: TrackLimits) -> list[DetectedFace]:
    height, width = frame.shape[:2]
    scale = limits.detect_max_side / max(height, width)
    if scale >= 1.0:
        return finder.detect(frame)
    small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return [
        DetectedFace(
            box=clipped_box(
                f.box.x / scale, f.box.y / scale, f.box.right / scale, f.box.bottom / scale, width, height
            ),
            confidence=f.confidence,
            detector=f.detector,
        )
        for f in finder.detect(np.ascontiguousarray(small))
    ]


def best_sample(track: FaceTrack, exclude: Sequence[range] = ()) -> FrameSignals:
    """The face frame with the highest quality score, outside the given sample ranges
    (an action's frames show closed eyes or a turned head: a poor enrollment photo)."""
    candidates = [s for s in track.face_samples if not any(s.sample in r for r in exclude)]
    return max(candidates or track.face_samples, key=lambda s: s.quality)
