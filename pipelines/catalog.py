"""Every detector and embedder FaceFleet offers, by configuration name, and the one
function that turns configuration values into a ``FacePipeline``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Final

from pipelines.detection.base import Detector, FallbackDetector
from pipelines.detection.blazeface import BlazeFaceDetector, BlazeFaceModel
from pipelines.detection.consensus import ConsensusDetector
from pipelines.detection.dlib_detectors import HogDetector, MmodDetector
from pipelines.detection.mtcnn_detector import MtcnnDetector
from pipelines.embedding.base import DescriptorBackend, Embedder
from pipelines.embedding.deepface_models import WEIGHT_FILES, DeepFaceEmbedder
from pipelines.embedding.dlib_resnet import MODEL_ID as DLIB_RESNET_ID
from pipelines.embedding.dlib_resnet import DlibChipAligner, DlibResnetEmbedder, dlib_resnet_embedder
from pipelines.embedding.flip import MODEL_ID as DLIB_RESNET_FLIP_ID
from pipelines.embedding.flip import FlipAveragingBackend, dlib_resnet_flip_embedder, flip_embedder
from pipelines.engine import FacePipeline
from pipelines.errors import UnknownModelError
from pipelines.registry import ModelKind, Registry

DEFAULT_DETECTOR: Final = "blazeface"
DEFAULT_FALLBACK_DETECTOR: Final = "hog"
"""BlazeFace (back-camera model, ``detection.blazeface``: one resize to its input, weak large
faces dropped, crowds looked at again in tiles), with dlib HOG (upsample 1) run only on photos
where BlazeFace finds nothing. Measured on ../shared/data/faces (docs/PIPELINE.md,
"Detection"): every documented face count of _misc but the 25th face of a collage, nothing in
the no-face photos, a face in every pair photo, pair accuracy equal to the reference dlib loop's, ~8 ms per 640 px
portrait against HOG's ~45-180."""
CONSENSUS_DETECTOR: Final = "hog+blazeface"
"""dlib HOG confirmed and completed by BlazeFace (``detection.consensus``): the default before
the fast path, as accurate on _misc and several times slower; kept as a choice."""
DEFAULT_HOG_UPSAMPLE: Final = 1
"""Upsample 1 finds the documented faces that upsample 0 misses (faces of 40-80 px), at ~4x
the time."""

DEFAULT_EMBEDDER: Final = DLIB_RESNET_ID
"""The model of a worker's own pipeline: the raw dlib descriptor that the seed dialects,
``/embed`` and liveness answer with."""
DEFAULT_FACE_SET_MODEL: Final = DLIB_RESNET_FLIP_ID
"""The model of a face set created through the native API without one: flip test-time
augmentation beat the raw descriptor on every measure of the leave-one-source-out run for
twice the network time (docs/PIPELINE.md, "Model versions")."""
DLIB_FAMILY: Final = frozenset({DLIB_RESNET_ID, DLIB_RESNET_FLIP_ID})
"""Models computed by dlib's one ResNet: they share the aligner and the descriptor backend."""

DEFAULT_DETECTION_MAX_SIDE: Final = 1600
"""Photos whose longer side exceeds this are detected on a scaled-down copy (faces from
~40 px of the copy up; alignment and embedding still use every original pixel). HOG's time
grows with the pixel count, and the shared pair photos go up to 36 megapixels."""


def _deepface(model_name: str, deepface_home: Path, detector_backend: str = "skip") -> DeepFaceEmbedder:
    return DeepFaceEmbedder(model_name, deepface_home, detector_backend)


def hog_with_blazeface() -> ConsensusDetector:
    return ConsensusDetector(
        HogDetector(DEFAULT_HOG_UPSAMPLE), BlazeFaceDetector(BlazeFaceModel.BACK, fast=False)
    )


def default_registry(blazeface_onnx: Path | None = None) -> Registry:
    """Every offered model; ``blazeface_onnx`` (the install-time ONNX form of BlazeFace's
    back-camera model) makes ``blazeface`` run its network on onnxruntime."""
    registry = Registry()
    detectors: dict[str, Callable[..., Detector]] = {
        "hog": partial(HogDetector, DEFAULT_HOG_UPSAMPLE),
        "hog-up0": partial(HogDetector, 0),
        "hog-up1": partial(HogDetector, 1),
        "hog-up2": partial(HogDetector, 2),
        "mmod": MmodDetector,
        "blazeface": partial(BlazeFaceDetector, BlazeFaceModel.BACK, onnx_model=blazeface_onnx),
        "blazeface-full": partial(BlazeFaceDetector, BlazeFaceModel.FULL),
        "mtcnn": MtcnnDetector,
        CONSENSUS_DETECTOR: hog_with_blazeface,
    }
    for name, factory in detectors.items():
        registry.register(ModelKind.DETECTOR, name, factory)
    registry.register(ModelKind.EMBEDDER, DLIB_RESNET_ID, dlib_resnet_embedder)
    registry.register(ModelKind.EMBEDDER, DLIB_RESNET_FLIP_ID, dlib_resnet_flip_embedder)
    for model_name in WEIGHT_FILES:
        registry.register(ModelKind.EMBEDDER, f"deepface-{model_name}", partial(_deepface, model_name))
    return registry


def build_detector(registry: Registry, name: str, fallback: str | None = None) -> Detector:
    """``name``, and ``fallback`` on the photos where it finds nothing (none when they are the
    same detector: a second run would find nothing either)."""
    primary = registry.detector(name)
    return (
        FallbackDetector(primary, registry.detector(fallback)) if fallback and fallback != name else primary
    )


def build_pipeline(
    *,
    detector: str = DEFAULT_DETECTOR,
    fallback_detector: str | None = DEFAULT_FALLBACK_DETECTOR,
    embedding_model: str = DEFAULT_EMBEDDER,
    embedding_backend: str = "dlib",
    backend_options: Mapping[str, Any] | None = None,
    deepface_home: Path | None = None,
    min_face_size: int = 20,
    detection_max_side: int | None = DEFAULT_DETECTION_MAX_SIDE,
    registry: Registry | None = None,
    descriptor_backend: DescriptorBackend | None = None,
    blazeface_onnx: Path | None = None,
) -> FacePipeline:
    """Validates every name at once (``UnknownModelError``) and loads no model.

    ``descriptor_backend``, for ``dlib-resnet-v1``, is an already built backend that several
    pipelines share (one per worker thread around one micro-batching backend).
    ``blazeface_onnx``: see ``default_registry``."""
    registry = registry or default_registry(blazeface_onnx)
    if embedding_model in DLIB_FAMILY and descriptor_backend is not None:
        registry.require(ModelKind.EMBEDDER, embedding_model)
        embedder: Embedder = DlibResnetEmbedder(DlibChipAligner(), descriptor_backend)
        if embedding_model == DLIB_RESNET_FLIP_ID:
            embedder = flip_embedder(DlibChipAligner(), descriptor_backend)
    elif embedding_model in DLIB_FAMILY:
        embedder = registry.embedder(embedding_model, backend=embedding_backend, **(backend_options or {}))
    else:
        registry.require(ModelKind.EMBEDDER, embedding_model)
        if deepface_home is None:
            raise ValueError(f"{embedding_model} needs deepface_home (the folder holding .deepface/weights)")
        embedder = registry.embedder(embedding_model, deepface_home=deepface_home)
    return FacePipeline(
        build_detector(registry, detector, fallback_detector), embedder, min_face_size, detection_max_side
    )


def with_model(pipeline: FacePipeline, model_id: str) -> FacePipeline:
    """``pipeline`` embedding with ``model_id`` instead: the same detector, landmarker and (for
    dlib's family) the same aligner and network backend, so a worker holds each model once.
    Other models cannot be derived this way (``UnknownModelError``)."""
    if model_id == pipeline.model_id:
        return pipeline
    embedder = pipeline.embedder
    if model_id not in DLIB_FAMILY or not isinstance(embedder, DlibResnetEmbedder):
        raise UnknownModelError(f"model {model_id!r} is not available beside {pipeline.model_id!r}")
    backend = embedder.backend
    raw = backend.inner if isinstance(backend, FlipAveragingBackend) else backend
    derived: Embedder = (
        flip_embedder(embedder.aligner, raw)
        if model_id == DLIB_RESNET_FLIP_ID
        else DlibResnetEmbedder(embedder.aligner, raw, model_id=DLIB_RESNET_ID)
    )
    return FacePipeline(
        pipeline.detector, derived, pipeline.min_face_size, pipeline.detection_max_side, pipeline.landmarker
    )
