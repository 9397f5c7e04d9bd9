"""``dlib-resnet-v1``: dlib's reference alignment and its 128-d ResNet descriptor.

Alignment follows dlib's documentation and face_recognition exactly: the 5-point shape
predictor runs on the detector box, ``get_face_chips(size=150, padding=0.25)`` cuts the
chips, and the network describes them. Computing the network is delegated to a
``DescriptorBackend`` ("dlib" here; "onnx" in ``dlib_onnx``) so that backends can be
swapped without changing any stored vector.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import dlib
import numpy as np

from pipelines.dlib_models import FIVE_POINT_PREDICTOR, RESNET_DESCRIPTOR, default_model_path, load_model
from pipelines.embedding.base import Chips, DescriptorBackend, Descriptors
from pipelines.errors import UnknownModelError
from pipelines.types import DetectedFace, Embedding, RGBImage

MODEL_ID: Final = "dlib-resnet-v1"
DIMENSION: Final = 128
CHIP_SIZE: Final = 150
CHIP_PADDING: Final = 0.25


class DlibChipAligner:
    """Faces of one image → aligned chips of shape (N, 150, 150, 3)."""

    def __init__(self, predictor_path: Path | None = None) -> None:
        self.predictor_path = predictor_path or default_model_path(FIVE_POINT_PREDICTOR)

    def chips(self, image: RGBImage, faces: Sequence[DetectedFace]) -> Chips:
        if not faces:
            return np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
        predictor = load_model("shape_predictor", self.predictor_path)
        shapes = dlib.full_object_detections()
        for face in faces:
            box = face.box
            shapes.append(predictor(image, dlib.rectangle(box.x, box.y, box.right - 1, box.bottom - 1)))
        chips = dlib.get_face_chips(image, shapes, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.stack([np.asarray(chip, dtype=np.uint8) for chip in chips])


class DlibDescriptorBackend:
    """dlib's own C++ network (``compute_face_descriptor`` on pre-cut chips, no jitter)."""

    name = "dlib"

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path or default_model_path(RESNET_DESCRIPTOR)

    def describe(self, chips: Chips) -> Descriptors:
        if len(chips) == 0:
            return np.empty((0, DIMENSION), dtype=np.float32)
        model = load_model("face_recognition", self.model_path)
        vectors = model.compute_face_descriptor([np.ascontiguousarray(chip) for chip in chips])
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


class DlibResnetEmbedder:
    dimension = DIMENSION

    def __init__(self, aligner: DlibChipAligner, backend: DescriptorBackend, model_id: str = MODEL_ID) -> None:
        self.aligner = aligner
        self.backend = backend
        self.model_id = model_id

    def embed(self, image: RGBImage, faces: Sequence[DetectedFace]) -> list[Embedding]:
        chips = self.aligner.chips(image, faces)
        vectors = self.backend.describe(chips)
        return [Embedding(model_id=self.model_id, vector=np.asarray(v, dtype=np.float32)) for v in vectors]

    def embed_many(
        self, images: Sequence[RGBImage], faces: Sequence[Sequence[DetectedFace]]
    ) -> list[list[Embedding]]:
        """The faces of several images in one backend call; ``faces[i]`` belong to ``images[i]``."""
        per_image = [
            self.aligner.chips(image, found) for image, found in zip(images, faces, strict=True) if found
        ]
        if not per_image:
            return [[] for _ in faces]
        vectors = iter(self.backend.describe(np.concatenate(per_image)))
        return [
            [
                Embedding(model_id=self.model_id, vector=np.asarray(next(vectors), dtype=np.float32))
                for _ in found
            ]
            for found in faces
        ]


def _onnx_backend(**options: Any) -> DescriptorBackend:
    # Imported by name so that this module works before (and without) onnxruntime.
    module = importlib.import_module("pipelines.embedding.dlib_onnx")
    backend: DescriptorBackend = module.OnnxDescriptorBackend(**options)
    return backend


DESCRIPTOR_BACKENDS: Final[dict[str, Callable[..., DescriptorBackend]]] = {
    "dlib": DlibDescriptorBackend,
    "onnx": _onnx_backend,
}


def descriptor_backend(name: str, **options: Any) -> DescriptorBackend:
    factory = DESCRIPTOR_BACKENDS.get(name)
    if factory is None:
        known = ", ".join(sorted(DESCRIPTOR_BACKENDS))
        raise UnknownModelError(f"unknown descriptor backend {name!r} for {MODEL_ID} (known: {known})")
    return factory(**options)


def dlib_resnet_embedder(
    backend: str = "dlib", predictor_path: Path | None = None, **backend_options: Any
) -> DlibResnetEmbedder:
    return DlibResnetEmbedder(DlibChipAligner(predictor_path), descriptor_backend(backend, **backend_options))
