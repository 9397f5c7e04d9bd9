"""One pass over one image: detect → drop small faces → align + embed (batched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from pipelines.detection.base import Detector, drop_small_faces
from pipelines.embedding.base import Embedder
from pipelines.errors import NoFaceError
from pipelines.types import DecodedImage, DetectedFace, Embedding, RGBImage


@dataclass(frozen=True, slots=True)
class FaceResult:
    face: DetectedFace
    embedding: Embedding | None = None


class FacePipeline:
    """Multi-face semantics follow the seeds: ``process`` returns every face (add-face
    enrolls them all); compare and search use ``largest_face`` of the result."""

    def __init__(self, detector: Detector, embedder: Embedder, min_face_size: int = 20) -> None:
        self.detector = detector
        self.embedder = embedder
        self.min_face_size = min_face_size

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def detect(self, image: RGBImage | DecodedImage) -> list[DetectedFace]:
        return drop_small_faces(self.detector.detect(_pixels(image)), self.min_face_size)

    def process(self, image: RGBImage | DecodedImage, embed: bool = True) -> list[FaceResult]:
        pixels = _pixels(image)
        faces = drop_small_faces(self.detector.detect(pixels), self.min_face_size)
        if not embed or not faces:
            return [FaceResult(face) for face in faces]
        embeddings = self.embedder.embed(pixels, faces)
        return [FaceResult(face, embedding) for face, embedding in zip(faces, embeddings, strict=True)]


FaceLike = TypeVar("FaceLike", DetectedFace, FaceResult)


def largest_face(faces: Sequence[FaceLike]) -> FaceLike:
    """The face with the largest box; ties go to the more confident, then the earlier one.

    Raises ``NoFaceError`` for an empty sequence, the seeds' "no face" case."""
    if not faces:
        raise NoFaceError("no face was detected in the image")

    def rank(item: FaceLike) -> tuple[int, float]:
        face = item.face if isinstance(item, FaceResult) else item
        return face.box.area, face.confidence

    return max(faces, key=rank)


def _pixels(image: RGBImage | DecodedImage) -> RGBImage:
    return image.pixels if isinstance(image, DecodedImage) else image
