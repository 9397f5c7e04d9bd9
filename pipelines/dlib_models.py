"""Process-wide cache of dlib model objects, keyed by file path.

dlib models are immutable after loading, and the 68-point predictor alone is ~100 MB, so
every detector, landmarker and embedder of a process shares one instance per file.
The default paths come from the ``face_recognition_models`` package (a PyPI wheel), which
is the only place these files are read from unless a caller passes another path.
"""

from __future__ import annotations

import math
import threading
from functools import cache
from pathlib import Path
from typing import Any

import dlib

_lock = threading.Lock()


def _package_models_dir() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location()).parent


def default_model_path(file_name: str) -> Path:
    """Path of a model file shipped in the ``face_recognition_models`` wheel."""
    return _package_models_dir() / file_name


FIVE_POINT_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
SIXTY_EIGHT_POINT_PREDICTOR = "shape_predictor_68_face_landmarks.dat"
RESNET_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
MMOD_DETECTOR = "mmod_human_face_detector.dat"


@cache
def _load(kind: str, path: str) -> Any:
    constructors = {
        "shape_predictor": dlib.shape_predictor,
        "face_recognition": dlib.face_recognition_model_v1,
        "cnn_detector": dlib.cnn_face_detection_model_v1,
    }
    if not Path(path).is_file():
        raise FileNotFoundError(f"dlib model file not found: {path}")
    return constructors[kind](path)


def load_model(kind: str, path: Path) -> Any:
    with _lock:
        return _load(kind, str(path))


def frontal_face_detector() -> Any:
    """A new HOG detector. Not cached like the models above: dlib's object_detector is not
    safe for concurrent use (its scanner keeps working buffers), so each detector object
    owns one, and pipelines running in several threads never share it."""
    return dlib.get_frontal_face_detector()


def squash_margin(margin: float) -> float:
    """Map a dlib detector margin (unbounded, 0 at the decision threshold) to (0, 1).

    A monotone logistic, not a calibrated probability: it only makes dlib scores share the
    0..1 range of the learned detectors, with 0.5 at dlib's own threshold."""
    return 1.0 / (1.0 + math.exp(-margin))
