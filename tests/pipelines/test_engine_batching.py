"""``FacePipeline.process_many``: faces of several images embedded in one backend call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from pipelines.embedding.base import BatchEmbedder, Chips, DescriptorBackend, Descriptors
from pipelines.embedding.dlib_resnet import DlibResnetEmbedder
from pipelines.engine import FacePipeline
from pipelines.types import DecodedImage

pytestmark = pytest.mark.model

PHOTOS = (
    "_misc/multi_face/face_recognition__two_people.jpg",
    "_misc/no_face/dlib__dogs.jpg",
    "_misc/multi_face/deepface__couple.jpg",
)


class CountingBackend:
    """Wraps the real backend to count its calls (the vectors are the real ones)."""

    def __init__(self, inner: DescriptorBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.batch_sizes: list[int] = []

    def describe(self, chips: Chips) -> Descriptors:
        self.batch_sizes.append(len(chips))
        return self.inner.describe(chips)


def test_process_many_embeds_all_faces_in_one_call_with_the_vectors_of_process(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    embedder = default_pipeline.embedder
    assert isinstance(embedder, DlibResnetEmbedder) and isinstance(embedder, BatchEmbedder)
    images = [load_photo(p) for p in PHOTOS]
    singles = [default_pipeline.process(image) for image in images]
    counting = CountingBackend(embedder.backend)
    batched_pipeline = FacePipeline(
        default_pipeline.detector,
        DlibResnetEmbedder(embedder.aligner, counting),
        default_pipeline.min_face_size,
        default_pipeline.detection_max_side,
    )

    batched = batched_pipeline.process_many(images)

    face_count = sum(len(faces) for faces in singles)
    assert counting.batch_sizes == [face_count]  # one backend call for every face
    assert [len(faces) for faces in batched] == [len(faces) for faces in singles]
    assert [len(faces) for faces in batched][1] == 0  # the dogs photo keeps its (empty) place
    for one_image, many_image in zip(singles, batched, strict=True):
        for single, many in zip(one_image, many_image, strict=True):
            assert single.face == many.face
            assert single.embedding is not None and many.embedding is not None
            assert many.embedding.model_id == single.embedding.model_id
            np.testing.assert_allclose(many.embedding.vector, single.embedding.vector, atol=1e-5)


def test_process_many_without_embedding_or_faces(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    images = [load_photo(p) for p in PHOTOS]
    detected = default_pipeline.process_many(images, embed=False)
    assert [len(f) for f in detected] == [len(default_pipeline.detect(i)) for i in images]
    assert all(r.embedding is None for faces in detected for r in faces)
    assert default_pipeline.process_many([images[1]]) == [[]]
    assert default_pipeline.process_many([]) == []
