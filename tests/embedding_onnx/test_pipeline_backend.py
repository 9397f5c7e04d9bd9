"""The ``onnx`` backend selected through the catalog, as workers select it from settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.catalog import build_pipeline
from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend
from tests.embedding_onnx.conftest import FACES, load_rgb

pytestmark = pytest.mark.model

GROUP_PHOTO = FACES / "_misc" / "multi_face" / "face_recognition__obama_and_biden.jpg"


def test_every_face_of_a_group_photo_gets_dlibs_vector_from_one_onnx_batch(onnx_model_path: Path) -> None:
    image = load_rgb(GROUP_PHOTO)
    reference = build_pipeline(embedding_backend="dlib").process(image)
    fast = build_pipeline(
        embedding_backend="onnx", backend_options={"model_path": onnx_model_path, "intra_op_threads": 1}
    )
    assert isinstance(fast.embedder.backend, OnnxDescriptorBackend)  # type: ignore[attr-defined]
    results = fast.process(image)

    assert len(results) == len(reference) >= 2
    assert fast.model_id == "dlib-resnet-v1"  # same id: stored galleries stay valid
    for mine, theirs in zip(results, reference, strict=True):
        assert mine.face == theirs.face
        assert mine.embedding is not None and theirs.embedding is not None
        assert mine.embedding.model_id == theirs.embedding.model_id
        assert np.abs(mine.embedding.vector - theirs.embedding.vector).max() <= 1e-4
