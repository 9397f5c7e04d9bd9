"""Configuration → face computation objects. The only place workers turn settings into
``pipelines`` constructors, so pipelines stay free of settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.settings import Settings
from pipelines.analysis import SEED_ATTRIBUTE_CODES, Attribute, FaceAnalyzer, QualityGate, QualityThresholds
from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.catalog import build_pipeline as build_face_pipeline
from pipelines.catalog import default_registry
from pipelines.embedding.base import DescriptorBackend
from pipelines.embedding.coalescing import CoalescingBackend
from pipelines.embedding.dlib_resnet import MODEL_ID as DLIB_RESNET_ID
from pipelines.embedding.dlib_resnet import descriptor_backend
from pipelines.engine import FacePipeline
from pipelines.liveness import LivenessChecker
from pipelines.liveness.check import LIVENESS_DETECTOR, LIVENESS_HOG_THRESHOLD, LivenessSettings
from pipelines.model_files import ModelFiles
from pipelines.types import DecodedImage, DetectedFace


def deepface_home(settings: Settings) -> Path:
    return ModelFiles(settings.models.home).deepface_home


def onnx_model_path(settings: Settings) -> Path:
    return ModelFiles(settings.models.home).dlib_resnet_onnx


def blazeface_onnx_path(settings: Settings) -> Path:
    return ModelFiles(settings.models.home).blazeface_onnx


def descriptor_backend_options(settings: Settings) -> dict[str, Any]:
    config = settings.pipeline
    if config.embedding_backend == "onnx":
        return {"model_path": onnx_model_path(settings), "intra_op_threads": config.onnx_threads}
    return {}


def micro_batching_enabled(settings: Settings) -> bool:
    config = settings.pipeline
    return config.micro_batch_wait_ms > 0 and config.embedding_model == DLIB_RESNET_ID


def build_coalescing_backend(settings: Settings) -> CoalescingBackend:
    """The one descriptor backend every job thread of a worker shares (micro-batching)."""
    config = settings.pipeline
    inner = descriptor_backend(config.embedding_backend, **descriptor_backend_options(settings))
    return CoalescingBackend(inner, config.micro_batch_max_faces, config.micro_batch_wait_ms / 1000)


def build_pipeline(settings: Settings, shared_backend: DescriptorBackend | None = None) -> FacePipeline:
    config = settings.pipeline
    return build_face_pipeline(
        detector=config.detector,
        fallback_detector=config.fallback_detector,
        embedding_model=config.embedding_model,
        embedding_backend=config.embedding_backend,
        backend_options=descriptor_backend_options(settings),
        deepface_home=deepface_home(settings),
        min_face_size=config.min_face_size,
        descriptor_backend=shared_backend,
        blazeface_onnx=blazeface_onnx_path(settings),
    )


def registered_model_pipeline(
    settings: Settings, store: Any, base: FacePipeline, model_id: str
) -> FacePipeline | None:
    """``base`` embedding with a registered bring-your-own model (``arcface-<name>``), its file
    fetched from the object store into the models folder on first use and its checksum
    verified when loaded; None for a built-in model id."""
    from infra.model_registry import lookup, name_of
    from pipelines.embedding.arcface import ArcFaceEmbedder
    from pipelines.errors import UnknownModelError

    name = name_of(model_id)
    if name is None:
        return None
    record = lookup(store, name)
    if record is None:
        raise UnknownModelError(f"model {model_id!r} is not registered")
    path = ModelFiles(settings.models.home).registered_onnx(record.sha256)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(store.get(record.file_key))
        partial.replace(path)
    embedder = ArcFaceEmbedder(model_id, path, record.sha256, base.landmarker)
    return FacePipeline(base.detector, embedder, base.min_face_size, base.detection_max_side, base.landmarker)


# --- analysis ---------------------------------------------------------------------------

Analyzer = Callable[[DecodedImage, DetectedFace, Sequence[int], bool], dict[str, Any]]
QualityCheck = Callable[[DecodedImage, DetectedFace], list[str]]


def quality_thresholds(settings: Settings) -> QualityThresholds:
    gate = settings.quality
    return QualityThresholds(
        min_sharpness=gate.min_sharpness,
        min_brightness=gate.min_brightness,
        max_brightness=gate.max_brightness,
        min_face_size=gate.min_face_size,
        max_abs_yaw=gate.max_abs_yaw,
        max_abs_pitch=gate.max_abs_pitch,
        max_abs_roll=gate.max_abs_roll,
    )


def build_analyzer(settings: Settings) -> Analyzer:
    """Seed attribute codes (0-5) and/or quality → the face's analysis as JSON."""
    analyzer = FaceAnalyzer(thresholds=quality_thresholds(settings))

    def analyze(
        image: DecodedImage, face: DetectedFace, codes: Sequence[int], quality: bool
    ) -> dict[str, Any]:
        wanted = {SEED_ATTRIBUTE_CODES[code] for code in codes if code in SEED_ATTRIBUTE_CODES}
        if quality:
            wanted.add(Attribute.QUALITY)
        analysis = analyzer.analyze(image.pixels, [face], wanted)[0].to_dict()
        analysis.pop("box", None)  # the face JSON already carries its bounding box
        # Quality (sharpness, brightness, direction, check_result) sits beside the seed
        # attributes, not among them: gates read it without knowing attribute codes.
        quality = analysis.pop("quality", None)
        rendered: dict[str, Any] = {"attributes": analysis} if analysis else {}
        if quality is not None:
            rendered["quality"] = quality
        return rendered

    return analyze


def build_quality_gate(settings: Settings) -> QualityCheck:
    gate = QualityGate(quality_thresholds(settings))

    def check(image: DecodedImage, face: DetectedFace) -> list[str]:
        return [str(issue) for issue in gate.check(image.pixels, face)]

    return check


def build_liveness_checker(settings: Settings) -> LivenessChecker:
    """Liveness keeps its own detector (the one its thresholds were tuned with), taken from
    the same registry as the pipeline's, and the match distance of the worker's model (the
    one its frames are embedded with) unless the deployment sets one."""
    from pipelines.compare import scoring_for

    finder = default_registry().detector(LIVENESS_DETECTOR, threshold=LIVENESS_HOG_THRESHOLD)
    configured = settings.pipeline.match_distance
    match_distance = (
        scoring_for(settings.pipeline.embedding_model).match_distance if configured is None else configured
    )
    if match_distance is None:
        raise ValueError(f"{settings.pipeline.embedding_model} has no threshold: set pipeline.match_distance")
    return LivenessChecker(finder, LandmarkPredictor(), LivenessSettings(match_distance=match_distance))
