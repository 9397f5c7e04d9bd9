"""Negative clips built from the shared videos and photos: nothing in them performs an
action, so every action must fail: a liveness challenge that passes without the action is
worse than none. A still photo looped, with and without jitter, is in
test_liveness.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.liveness import Action, LivenessChecker
from tests.analysis.conftest import VIDEOS
from tests.support.liveness_clips import NEGATIVE_FPS, cut_clip, read_frames, still_motion, write_clip

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def checker(predictor: LandmarkPredictor) -> LivenessChecker:
    return LivenessChecker(predictor=predictor)


def _fails_every_action(checker: LivenessChecker, data: bytes) -> None:
    result = checker.check(data, list(Action))
    assert not result.alive
    assert {str(v.action): v.passed for v in result.actions} == {str(a): False for a in Action}


def test_a_frozen_video_frame_repeated_fails_every_action(tmp_path: Path, checker: LivenessChecker) -> None:
    frame = read_frames(VIDEOS / "sadtalker/WDA_KatieHill_000.mp4")[0]
    frames = still_motion(frame, "frozen")
    _fails_every_action(checker, write_clip(tmp_path / "frozen.mp4", frames, fps=NEGATIVE_FPS))


@pytest.mark.parametrize("motion", ["pan", "zoom"])
def test_a_still_frame_panned_or_zoomed_fails_every_action(
    tmp_path: Path, checker: LivenessChecker, motion: str
) -> None:
    still = read_frames(VIDEOS / "sadtalker/WDA_AlexandriaOcasioCortez_000.mp4")[0]
    frames = still_motion(still, motion)
    _fails_every_action(checker, write_clip(tmp_path / f"{motion}.mp4", frames, fps=NEGATIVE_FPS))


def _talking_without_marked_events(tmp_path: Path) -> bytes:
    # videos.csv marks KatieHill's blinks at frames 32-33 and 170-171 and her mouth openings
    # at 25-31 and 167-169. FaceFleet also finds a blink at 112, which the machine marks
    # missed: her eyes are closed in frames 112-114 (checked by eye). Frames 40-105 (2.6 s
    # of speech) hold no blink and no marked mouth opening.
    return cut_clip(tmp_path / "between.mp4", VIDEOS / "sadtalker/WDA_KatieHill_000.mp4", 40, 105)


def test_a_talking_clip_cut_between_its_marked_events_fails_every_action(
    tmp_path: Path, checker: LivenessChecker
) -> None:
    # It opens with her head turned ~25 degrees to her right and she faces the camera from
    # frame ~90: coming back to frontal is no turn_left (turns start from the frontal rest).
    _fails_every_action(checker, _talking_without_marked_events(tmp_path))
