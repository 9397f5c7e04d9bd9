"""Cooperative liveness on the shared videos (../shared/data/videos, see its MANIFEST.md).

The blink and mouth marks in videos.csv were machine-estimated (MediaPipe), so a marked
blink counts as found when a detected blink overlaps it within BLINK_TOLERANCE frames, and
unmarked detections are not counted against us here (bench/analysis.py reports them)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.catalog import build_pipeline
from pipelines.detection.dlib_detectors import HogDetector
from pipelines.embedding.base import Embedder
from pipelines.errors import ErrorCode, MultipleFacesError, NoFaceError
from pipelines.liveness import Action, DecodedVideo, LivenessChecker, VideoLimits, decode_video
from pipelines.liveness.actions import find_events
from pipelines.liveness.track import FaceTrack
from pipelines.types import RGBImage
from tests.analysis.conftest import FACES, VIDEOS, largest_face, load_rgb
from tests.support.liveness_clips import fit, looped_photo, write_clip

pytestmark = pytest.mark.model

BLINK_TOLERANCE = 3
BLINK_CLIPS = [
    "liveportrait/d0.mp4",
    "sadtalker/WDA_KatieHill_000.mp4",
    "sadtalker/WDA_AlexandriaOcasioCortez_000.mp4",
    "liveportrait/d12.mp4",
]
MOUTH_CLIPS = [
    "sadtalker/WDA_KatieHill_000.mp4",
    "sadtalker/WDA_AlexandriaOcasioCortez_000.mp4",
    "liveportrait/d3.mp4",
    "liveportrait/d10.mp4",
    "liveportrait/d12.mp4",
]


def marks(name: str, column: str) -> list[tuple[int, int]]:
    with (VIDEOS / "videos.csv").open() as table:
        row = next(r for r in csv.DictReader(table) if r["path"] == name)
    return [(int(a), int(b)) for a, b in json.loads(row[column] or "[]")]


TrackOf = Callable[[str], FaceTrack]


@pytest.fixture(scope="session")
def checker(predictor: LandmarkPredictor) -> LivenessChecker:
    return LivenessChecker(predictor=predictor)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return build_pipeline().embedder


@pytest.fixture(scope="session")
def track_of(checker: LivenessChecker) -> TrackOf:
    @cache
    def track(name: str) -> FaceTrack:
        return checker.track(decode_video((VIDEOS / name).read_bytes(), checker.settings.video))

    return track


def frame_ranges(track: FaceTrack, action: Action, checker: LivenessChecker) -> list[tuple[int, int]]:
    indices = track.video.frame_indices
    events = find_events(track, action, checker.settings.actions)
    return [(indices[e.first_sample], indices[e.last_sample] + track.video.stride - 1) for e in events]


def test_blinks_are_found_where_marked(track_of: TrackOf, checker: LivenessChecker) -> None:
    found, missed = 0, []
    for name in BLINK_CLIPS:
        detected = frame_ranges(track_of(name), Action.BLINK, checker)
        for first, last in marks(name, "auto_blink_events"):
            if any(a <= last + BLINK_TOLERANCE and b >= first - BLINK_TOLERANCE for a, b in detected):
                found += 1
            else:
                missed.append((name, first, last))
    total = found + len(missed)
    # Measured: 12 of 13 marked blinks (the miss is a one-frame mark in d12, frame 93).
    assert total == 13 and found >= 12, missed


@pytest.mark.parametrize("name", MOUTH_CLIPS)
def test_mouth_open_clips_pass_the_mouth_action(
    track_of: TrackOf, checker: LivenessChecker, name: str
) -> None:
    result = checker.evaluate(track_of(name), [Action.OPEN_MOUTH])
    assert result.alive
    (verdict,) = result.actions
    assert verdict.passed and verdict.confidence > 0.5
    assert verdict.first_frame is not None and verdict.last_frame is not None
    # One of the detected openings overlaps one of the marked ones.
    detected = frame_ranges(track_of(name), Action.OPEN_MOUTH, checker)
    marked = marks(name, "auto_mouth_open_events")
    assert any(a <= d + 3 and b >= c - 3 for a, b in detected for c, d in marked), (detected, marked)


def test_smiling_without_opening_the_mouth_fails_it(track_of: TrackOf, checker: LivenessChecker) -> None:
    # d0: a smile (teeth apart a little), no marked mouth opening.
    result = checker.evaluate(track_of("liveportrait/d0.mp4"), [Action.OPEN_MOUTH, Action.TURN_LEFT])
    assert not result.alive
    assert [v.passed for v in result.actions] == [False, False]


def test_head_turns_and_order(track_of: TrackOf, checker: LivenessChecker) -> None:
    d3 = track_of("liveportrait/d3.mp4")
    # The woman of d3 turns to her own left (frames ~258-280, 21 degrees from her frontal rest)
    # and opens her mouth at the end (300-353).
    in_order = checker.evaluate(d3, [Action.TURN_LEFT, Action.OPEN_MOUTH])
    assert in_order.alive
    first, second = in_order.actions
    assert first.last_frame is not None and second.first_frame is not None
    assert first.last_frame < second.first_frame
    reversed_order = checker.evaluate(d3, [Action.OPEN_MOUTH, Action.TURN_LEFT])
    assert (
        not reversed_order.alive and reversed_order.actions[0].passed and not reversed_order.actions[1].passed
    )
    katie_track = track_of("sadtalker/WDA_KatieHill_000.mp4")
    katie = checker.evaluate(katie_track, [Action.TURN_RIGHT])
    assert katie.alive
    # A mirrored recording swaps the turns: d3's turn to her own left reads as a right turn.
    mirrored = LivenessChecker(
        checker.finder,
        checker.predictor,
        replace(checker.settings, actions=replace(checker.settings.actions, mirrored_video=True)),
    )
    assert mirrored.evaluate(d3, [Action.TURN_RIGHT]).actions[0].first_frame == first.first_frame


def test_result_is_json_ready_with_a_decodable_best_frame(
    track_of: TrackOf, checker: LivenessChecker
) -> None:
    track = track_of("liveportrait/d0.mp4")
    result = checker.evaluate(track, [Action.BLINK])
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["alive"] is True and payload["actions"][0]["action"] == "blink"
    assert payload["same_person"] is None and payload["match"] is None
    image = cv2.imdecode(np.frombuffer(result.best_frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == track.video.frames[0].shape[:2]
    blink = result.actions[0]
    assert blink.first_frame is not None and blink.last_frame is not None
    # The best frame is never one of the blink's (closed-eye) frames.
    assert not blink.first_frame <= result.best_frame_index <= blink.last_frame


def test_same_person_and_reference_match(
    track_of: TrackOf, checker: LivenessChecker, embedder: Embedder
) -> None:
    katie = track_of("sadtalker/WDA_KatieHill_000.mp4")
    other = track_of("sadtalker/WDA_AlexandriaOcasioCortez_000.mp4")
    own_reference = _embedding_of(katie, 0, embedder)
    result = checker.evaluate(katie, [Action.BLINK], own_reference, embedder)
    assert result.alive and result.same_person is True
    assert result.match is not None and result.match.matched and result.match.matched_frames >= 36
    stranger = checker.evaluate(katie, [Action.BLINK], _embedding_of(other, 0, embedder), embedder)
    assert stranger.match is not None and not stranger.match.matched and stranger.match.matched_frames == 0


def test_face_swap_mid_clip_is_not_alive(
    track_of: TrackOf, checker: LivenessChecker, embedder: Embedder
) -> None:
    katie = track_of("sadtalker/WDA_KatieHill_000.mp4").video
    other = track_of("sadtalker/WDA_AlexandriaOcasioCortez_000.mp4").video
    half = len(katie.frames) // 2
    frames = katie.frames[:half] + other.frames[half:]
    spliced = DecodedVideo(frames, katie.frame_indices, katie.fps, katie.total_frames, "frames")
    result = checker.evaluate(checker.track(spliced), [Action.BLINK], embedder=embedder)
    assert result.actions[0].passed  # both halves blink...
    assert result.same_person is False and not result.alive  # ...but not the same person


def _embedding_of(track: FaceTrack, sample: int, embedder: Embedder) -> np.ndarray:
    from pipelines.types import DetectedFace

    signals = track.face_samples[sample]
    assert signals.box is not None
    (embedding,) = embedder.embed(track.video.frames[signals.sample], [DetectedFace(signals.box, 1.0)])
    return embedding.vector


@pytest.fixture(scope="session")
def portrait_frame(detector: HogDetector) -> RGBImage:
    image = load_rgb(FACES / "compreface-B" / "007_B.jpg")
    face = largest_face(detector, image)
    assert face is not None
    return _around(image, face.box.x, face.box.y, face.box.width, face.box.height, 480, 480)


def _around(image: RGBImage, x: int, y: int, w: int, h: int, width: int, height: int) -> RGBImage:
    """A crop centred on the face, about 2.2 face widths wide, scaled to width x height."""
    side = int(2.2 * max(w, h))
    cx, cy = x + w // 2, y + h // 2
    top, left = max(0, cy - side // 2), max(0, cx - side // 2)
    return fit(image[top : top + side, left : left + side], width, height)


@pytest.mark.parametrize("jitter_px", [0, 3])
def test_still_photo_looped_fails_every_action(
    tmp_path: Path, checker: LivenessChecker, portrait_frame: RGBImage, jitter_px: int
) -> None:
    data = write_clip(tmp_path / "still.mp4", looped_photo(portrait_frame, 3.0, 25.0, jitter_px), fps=25.0)
    result = checker.check(data, list(Action))
    assert not result.alive
    assert [v.passed for v in result.actions] == [False] * len(Action)


def test_clip_without_a_large_face_is_no_face(checker: LivenessChecker) -> None:
    # The crowd clip: many small faces, none large enough for landmarks.
    with pytest.raises(NoFaceError) as caught:
        checker.check((VIDEOS / "facenet_pytorch" / "video.mp4").read_bytes(), [Action.BLINK])
    assert caught.value.code == ErrorCode.NO_FACE


def test_clip_with_two_faces_is_multiple_faces(
    tmp_path: Path, checker: LivenessChecker, detector: HogDetector, portrait_frame: RGBImage
) -> None:
    image = load_rgb(FACES / "compreface-C" / "009_C.jpg")
    face = largest_face(detector, image)
    assert face is not None
    second = _around(image, face.box.x, face.box.y, face.box.width, face.box.height, 480, 480)
    pair = np.ascontiguousarray(np.concatenate([portrait_frame, second], axis=1))
    data = write_clip(tmp_path / "pair.mp4", looped_photo(pair, 2.0, 10.0, jitter_px=2), fps=10.0)
    with pytest.raises(MultipleFacesError) as caught:
        checker.check(data, [Action.BLINK])
    assert caught.value.code == ErrorCode.MULTIPLE_FACES


def test_out_of_limit_video_is_rejected_before_tracking(checker: LivenessChecker) -> None:
    from pipelines.liveness import VideoProblem, VideoRejected

    with pytest.raises(VideoRejected) as caught:
        checker.check((VIDEOS / "liveportrait" / "d9.mp4").read_bytes(), [Action.BLINK])
    assert caught.value.reason == VideoProblem.TOO_LONG
    with pytest.raises(ValueError):
        checker.check(b"", [])
    assert VideoLimits().max_seconds == 15.0
