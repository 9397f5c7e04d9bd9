"""The fast detector configuration: BlazeFace with HOG-like boxes, HOG as its fallback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipelines.catalog import FAST_DETECTOR, FAST_FALLBACK_DETECTOR, build_pipeline, default_registry
from pipelines.detection.base import FallbackDetector
from pipelines.engine import largest_face
from pipelines.types import BoundingBox, DecodedImage, DetectedFace, RGBImage
from tests.pipelines.test_detection import assert_well_formed

pytestmark = pytest.mark.model

PORTRAITS = (
    "face_recognition-obama/obama.jpg",
    "deepface-angelina/img1.jpg",
    "lfw-Rob_Lowe/Rob_Lowe_0001.jpg",
)


def overlap(a: BoundingBox, b: BoundingBox) -> float:
    """Intersection over union."""
    width = min(a.right, b.right) - max(a.x, b.x)
    height = min(a.bottom, b.bottom) - max(a.y, b.y)
    inter = max(width, 0) * max(height, 0)
    return inter / (a.area + b.area - inter)


class Counting:
    def __init__(self, name: str, faces: list[DetectedFace]) -> None:
        self.name = name
        self.faces = faces
        self.calls = 0

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        self.calls += 1
        return self.faces


def test_fast_configuration_is_blazeface_falling_back_to_hog() -> None:
    pipeline = build_pipeline(detector=FAST_DETECTOR, fallback_detector=FAST_FALLBACK_DETECTOR)
    assert isinstance(pipeline.detector, FallbackDetector)
    assert pipeline.detector.name == "blazeface-back+hog-up1"


def test_fallback_runs_only_when_the_fast_detector_finds_nothing(
    load_photo: Callable[[str], DecodedImage],
) -> None:
    image = load_photo("_misc/multi_face/face_recognition__two_people.jpg").pixels
    found = default_registry().detector("hog").detect(image)
    empty, rescue = Counting("empty", []), Counting("rescue", found)
    assert FallbackDetector(empty, rescue).detect(image) == found and rescue.calls == 1
    primary, unused = Counting("primary", found), Counting("unused", [])
    assert FallbackDetector(primary, unused).detect(image) == found and unused.calls == 0


@pytest.mark.parametrize("relative", PORTRAITS)
def test_fast_boxes_are_hog_like_so_alignment_sees_what_it_was_trained_on(
    relative: str, load_photo: Callable[[str], DecodedImage]
) -> None:
    image = load_photo(relative)
    registry = default_registry()
    fast = largest_face(registry.detector("blazeface").detect(image.pixels))
    hog = largest_face(registry.detector("hog").detect(image.pixels))
    assert_well_formed(fast, image)
    assert overlap(fast.box, hog.box) >= 0.7, (fast.box, hog.box)
    assert 0.8 <= fast.box.width / hog.box.width <= 1.25


def test_fast_detector_finds_both_faces_of_a_couple(load_photo: Callable[[str], DecodedImage]) -> None:
    image = load_photo("_misc/multi_face/deepface__couple.jpg")
    faces = default_registry().detector(FAST_DETECTOR).detect(image.pixels)
    assert len(faces) == 2
    for face in faces:
        assert_well_formed(face, image)
