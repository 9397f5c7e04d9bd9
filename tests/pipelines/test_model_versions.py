"""Model versions of dlib's ResNet: ``dlib-resnet-flip-v1`` (flip test-time augmentation)
beside the raw ``dlib-resnet-v1``, each with its own threshold and calibration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from pipelines.catalog import DEFAULT_FACE_SET_MODEL, build_pipeline, with_model
from pipelines.compare import MODEL_SCORES, distance_to_similarity, euclidean_distance, scoring_for
from pipelines.embedding.base import Chips, Descriptors
from pipelines.embedding.dlib_resnet import DlibResnetEmbedder
from pipelines.embedding.flip import MODEL_ID as FLIP_ID
from pipelines.embedding.flip import FlipAveragingBackend
from pipelines.engine import FacePipeline, largest_face
from pipelines.errors import UnknownModelError
from pipelines.types import DecodedImage


class RecordingBackend:
    """Describes a chip by its mean colour per channel, and records every batch."""

    name = "recording"

    def __init__(self) -> None:
        self.batches: list[Chips] = []

    def describe(self, chips: Chips) -> Descriptors:
        self.batches.append(chips.copy())
        # the left half's mean minus the right half's: a mirror image negates it
        left = chips[:, :, : chips.shape[2] // 2].astype(np.float32).mean(axis=(1, 2))
        right = chips[:, :, chips.shape[2] // 2 :].astype(np.float32).mean(axis=(1, 2))
        return np.concatenate([left - right, left + right], axis=1)


def test_flip_backend_averages_each_chip_with_its_mirror_in_one_batch() -> None:
    rng = np.random.default_rng(1)
    chips = rng.integers(0, 256, size=(3, 150, 150, 3), dtype=np.uint8)
    inner = RecordingBackend()

    vectors = FlipAveragingBackend(inner).describe(chips)

    assert len(inner.batches) == 1 and inner.batches[0].shape[0] == 6
    np.testing.assert_array_equal(inner.batches[0][3:], chips[:, :, ::-1])
    plain = inner.describe(chips)
    np.testing.assert_allclose(vectors[:, :3], 0.0, atol=1e-4)  # the asymmetric half cancels
    np.testing.assert_allclose(vectors[:, 3:], plain[:, 3:], rtol=1e-6)
    assert FlipAveragingBackend(inner).describe(chips[:0]).shape[0] == 0


def test_with_model_shares_detector_and_network_and_refuses_other_families() -> None:
    base = build_pipeline()
    flip = with_model(base, FLIP_ID)

    assert flip.model_id == FLIP_ID and base.model_id == "dlib-resnet-v1"
    assert flip.detector is base.detector and flip.landmarker is base.landmarker
    assert isinstance(flip.embedder, DlibResnetEmbedder) and isinstance(base.embedder, DlibResnetEmbedder)
    assert isinstance(flip.embedder.backend, FlipAveragingBackend)
    assert flip.embedder.backend.inner is base.embedder.backend
    back = with_model(flip, "dlib-resnet-v1")
    assert back.embedder.backend is base.embedder.backend  # type: ignore[attr-defined]
    assert with_model(base, base.model_id) is base
    with pytest.raises(UnknownModelError):
        with_model(base, "deepface-Facenet")
    assert DEFAULT_FACE_SET_MODEL == FLIP_ID


def test_every_model_threshold_sits_near_even_odds_of_its_own_calibration() -> None:
    for model_id, scoring in MODEL_SCORES.items():
        at_threshold = distance_to_similarity(scoring.match_distance, scoring.calibration)
        assert 0.2 < at_threshold < 0.8, model_id
    assert scoring_for("deepface-Facenet") is MODEL_SCORES["dlib-resnet-v1"]


PAIRS = [  # (a, b, same): small photos of three sources
    ("deepface-angelina/img1.jpg", "deepface-angelina/img2.jpg", True),
    ("deepface-jennifer/img3.jpg", "deepface-jennifer/img56.jpg", True),
    ("face_recognition-obama/obama.jpg", "face_recognition-obama/obama2.jpg", True),
    ("face_recognition-biden/biden.jpg", "face_recognition-biden/biden2.jpg", True),
    ("deepface-angelina/img1.jpg", "deepface-jennifer/img3.jpg", False),
    ("deepface-mark/img13.jpg", "deepface-jack/img16.jpg", False),
    ("face_recognition-obama/obama.jpg", "face_recognition-biden/biden.jpg", False),
    ("face_recognition-biden/biden2.jpg", "face_recognition-obama/obama2.jpg", False),
]


def test_flip_vectors_are_the_mean_of_chip_and_mirror_and_match_people(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    flip = with_model(default_pipeline, FLIP_ID)
    threshold = MODEL_SCORES[FLIP_ID].match_distance
    vectors: dict[str, np.ndarray] = {}
    for path in sorted({p for a, b, _ in PAIRS for p in (a, b)}):
        image = load_photo(path)
        face = largest_face(flip.process(image, landmarks=False))
        assert face.embedding is not None and face.embedding.model_id == FLIP_ID
        vectors[path] = face.embedding.vector
    # the definition, on one photo, with dlib's own network
    embedder = default_pipeline.embedder
    assert isinstance(embedder, DlibResnetEmbedder)
    image = load_photo(PAIRS[0][0])
    chips = embedder.aligner.chips(image.pixels, [largest_face(default_pipeline.detect(image, landmarks=False))])
    expected = (embedder.backend.describe(chips) + embedder.backend.describe(chips[:, :, ::-1].copy())) / 2
    np.testing.assert_allclose(vectors[PAIRS[0][0]], expected[0], atol=1e-5)

    for a, b, same in PAIRS:
        assert (euclidean_distance(vectors[a], vectors[b]) <= threshold) == same, (a, b)


def test_the_api_side_copy_of_the_raw_threshold_is_the_pipelines_one() -> None:
    from infra.settings import PipelineSettings
    from pipelines.compare import DEFAULT_MATCH_DISTANCE

    assert PipelineSettings().dlib_resnet_v1_match_distance == DEFAULT_MATCH_DISTANCE
