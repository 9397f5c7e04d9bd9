"""Bring-your-own recognition models of the ArcFace family (InsightFace's ``.onnx`` files:
112x112 RGB input, a 512-d output, e.g. ``w600k_r50`` or ``glintr100``).

No weights ship with FaceFleet and nothing is downloaded: the operator registers a file,
and its SHA-256 is checked every time it is loaded (``load_arcface_session``).

- Alignment: the standard 5-point similarity transform (rotation, uniform scale,
  translation; least squares, ``cv2.estimateAffinePartial2D``) of the face's landmarks onto
  InsightFace's 112x112 template (``ARCFACE_TEMPLATE``), then ``cv2.warpAffine``.
- Input: RGB, NCHW, (pixel - 127.5) / 127.5, as InsightFace feeds these models.
- Output: L2-normalised, so the Euclidean distance d of two vectors fixes their cosine
  distance (1 - cos = d^2 / 2) and ranks pairs exactly as cosine does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from pipelines.detection.landmarks import DlibFivePointLandmarker
from pipelines.errors import UnknownModelError
from pipelines.types import DetectedFace, Embedding, Point, RGBImage

INPUT_SIZE: Final = 112
ARCFACE_TEMPLATE: Final = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
"""InsightFace's reference points in a 112x112 chip: image-left eye, image-right eye, nose
tip, image-left and image-right mouth corner (the order of ``DetectedFace.landmarks``)."""


class ChecksumMismatch(UnknownModelError):
    """The model file is not the one that was registered."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def alignment_matrix(landmarks: Sequence[Point]) -> npt.NDArray[np.float64]:
    """The 2x3 similarity transform taking the five landmarks onto ``ARCFACE_TEMPLATE``."""
    source = np.array([(p.x, p.y) for p in landmarks], dtype=np.float64)
    if source.shape != (5, 2):
        raise ValueError(f"ArcFace alignment needs 5 landmarks, got {len(landmarks)}")
    matrix, _ = cv2.estimateAffinePartial2D(source, ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("the landmarks are degenerate (no similarity transform fits them)")
    return np.asarray(matrix, np.float64)


def aligned_chip(image: RGBImage, landmarks: Sequence[Point]) -> npt.NDArray[np.uint8]:
    chip = cv2.warpAffine(image, alignment_matrix(landmarks), (INPUT_SIZE, INPUT_SIZE), borderValue=(0, 0, 0))
    return np.asarray(chip, np.uint8)


def network_input(chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """(N, 112, 112, 3) RGB uint8 → (N, 3, 112, 112) float32 in [-1, 1]."""
    return np.ascontiguousarray((chips.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2).copy()


def load_arcface_session(path: Path, sha256: str, intra_op_threads: int = 1) -> Any:
    """An onnxruntime session for the registered file, refused when its checksum differs."""
    import onnxruntime as ort

    actual = sha256_of(path)
    if actual != sha256.lower():
        raise ChecksumMismatch(f"{path.name}: sha256 {actual} is not the registered {sha256}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class ArcFaceEmbedder:
    """``Embedder`` for a registered ArcFace-family ONNX model."""

    def __init__(
        self, model_id: str, path: Path, sha256: str, landmarker: DlibFivePointLandmarker | None = None
    ) -> None:
        self.model_id = model_id
        self.path = path
        self.sha256 = sha256
        self.landmarker = landmarker or DlibFivePointLandmarker()
        self._session: Any = None
        self.dimension = 512

    def _ready(self) -> Any:
        if self._session is None:
            self._session = load_arcface_session(self.path, self.sha256)
            shape = self._session.get_outputs()[0].shape
            if isinstance(shape[-1], int):
                self.dimension = shape[-1]
        return self._session

    def embed(self, image: RGBImage, faces: Sequence[DetectedFace]) -> list[Embedding]:
        if not faces:
            return []
        session = self._ready()
        chips = np.stack([
            aligned_chip(image, face.landmarks or self.landmarker.landmarks(image, face.box)) for face in faces
        ])
        (outputs,) = session.run(None, {session.get_inputs()[0].name: network_input(chips)})
        vectors = np.asarray(outputs, np.float32).reshape(len(faces), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        return [Embedding(model_id=self.model_id, vector=vector) for vector in vectors]
