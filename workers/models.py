"""Configuration → face computation objects. The only place workers turn settings into
``pipelines`` constructors, so pipelines stay free of settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.settings import Settings
from pipelines.catalog import build_pipeline as build_face_pipeline
from pipelines.engine import FacePipeline

ONNX_MODEL_FILE = "dlib_resnet_v1.onnx"


def models_dir(settings: Settings) -> Path:
    return settings.models.home / "models"


def deepface_home(settings: Settings) -> Path:
    """Matches ``facefleet.models_setup.deepface_home``: where the weights were linked."""
    return models_dir(settings) / "deepface"


def onnx_model_path(settings: Settings) -> Path:
    return models_dir(settings) / ONNX_MODEL_FILE


def build_pipeline(settings: Settings) -> FacePipeline:
    config = settings.pipeline
    backend_options: dict[str, Any] = {}
    if config.embedding_backend == "onnx":
        backend_options = {"model_path": onnx_model_path(settings), "intra_op_threads": config.onnx_threads}
    return build_face_pipeline(
        detector=config.detector,
        fallback_detector=config.fallback_detector,
        embedding_model=config.embedding_model,
        embedding_backend=config.embedding_backend,
        backend_options=backend_options,
        deepface_home=deepface_home(settings),
        min_face_size=config.min_face_size,
    )
