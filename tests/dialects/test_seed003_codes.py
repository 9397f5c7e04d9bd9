"""Seed 003's check_result logic on the worker's per-face quality measures (pure logic, no
stack): what the enrollment gate refuses, and with which status code."""

from __future__ import annotations

from api.dialects.face_gateway import _quality_of, check_result_of
from api.dialects.face_gateway_codes import CODE_OF_CHECK
from core.results import Box, DetectedFace


def face(quality: dict[str, int] | None = None) -> DetectedFace:
    box = Box(top_left_x=0, top_left_y=0, width=10, height=10)
    return DetectedFace(bounding_box=box, confidence=1.0, landmarks=[], quality=quality)


def test_quality_measures_map_to_check_result_and_status() -> None:
    """The worker's per-face quality (``quality.check_result`` / ``direction_code``) is read
    as the document's check_result and its status code."""
    assert _quality_of(face({"check_result": 20, "direction_code": 0})) == (20, 0)
    assert _quality_of(face()) == (0, None)
    assert CODE_OF_CHECK == {10: 40304, 20: 40302, 30: 40303, 31: 40301, 40: 40305, 50: 40314}


def test_requested_direction_is_checked_against_the_measured_one() -> None:
    left = face({"check_result": 0, "direction_code": 1})
    assert check_result_of(left, None) == 0
    assert check_result_of(left, 1) == 0
    assert check_result_of(left, 0) == 40
    # the worker's own direction verdict counts only when the client asked for a direction
    assert check_result_of(face({"check_result": 40, "direction_code": 2}), None) == 0
    assert check_result_of(face({"check_result": 31, "direction_code": 0}), 2) == 31
    assert check_result_of(face(), 3) == 0  # nothing measured: nothing refused
