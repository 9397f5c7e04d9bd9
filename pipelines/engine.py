"""One pass over one image: detect → drop small faces → align + embed (batched), and
landmarks for the faces a caller shows.

Detection runs on a copy scaled down to ``detection_max_side`` when the photo is larger:
camera photos of 12-36 megapixels would otherwise cost HOG tens of seconds, and the faces
that matter at that resolution are hundreds of pixels wide. Boxes and landmarks are mapped
back to the original pixels, and alignment and embedding use the full-resolution image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import cv2
import numpy as np

from pipelines.detection.base import Detector, drop_small_faces
from pipelines.detection.landmarks import DlibFivePointLandmarker
from pipelines.embedding.base import BatchEmbedder, Embedder
from pipelines.errors import NoFaceError
from pipelines.types import BoundingBox, DecodedImage, DetectedFace, Embedding, Point, RGBImage


@dataclass(frozen=True, slots=True)
class FaceResult:
    face: DetectedFace
    embedding: Embedding | None = None


class FacePipeline:
    """Multi-face semantics follow the seeds: ``process`` returns every face (add-face
    enrolls them all); compare and search use ``largest_face`` of the result."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        min_face_size: int = 20,
        detection_max_side: int | None = None,
        landmarker: DlibFivePointLandmarker | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.min_face_size = min_face_size
        self.detection_max_side = detection_max_side
        self.landmarker = landmarker or DlibFivePointLandmarker()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def detect(self, image: RGBImage | DecodedImage, landmarks: bool = True) -> list[DetectedFace]:
        """Faces at least ``min_face_size`` pixels (in the original image) on their shorter
        side; with five landmarks each unless ``landmarks`` is false (``with_landmarks``
        adds them later to the faces that need them)."""
        pixels = _pixels(image)
        copy = image.detection_copy if isinstance(image, DecodedImage) else None
        faces = drop_small_faces(self._detect_scaled(pixels, copy), self.min_face_size)
        return self.with_landmarks(pixels, faces) if landmarks else faces

    def prepared(self, image: DecodedImage) -> DecodedImage:
        """``image`` with its scaled-down copy for detection made now, so that a thread
        reading images ahead of the detecting one pays for it (on a camera photo, scaling
        costs more than detecting). ``detect`` gives the same faces either way."""
        size = self._detection_size(image.width, image.height)
        if size is None or image.detection_copy is not None:
            return image
        return replace(image, detection_copy=_scaled(image.pixels, size))

    def with_landmarks(self, image: RGBImage | DecodedImage, faces: Sequence[DetectedFace]) -> list[DetectedFace]:
        """``faces`` with five landmarks each, placed in ``image`` where the detector gave none."""
        pixels = _pixels(image)
        return [
            face if face.landmarks else replace(face, landmarks=self.landmarker.landmarks(pixels, face.box))
            for face in faces
        ]

    def process(
        self, image: RGBImage | DecodedImage, embed: bool = True, landmarks: bool = True
    ) -> list[FaceResult]:
        """Every face, embedded unless ``embed`` is false, with landmarks unless ``landmarks``
        is false (enrollment and search show none, and skip their cost)."""
        pixels = _pixels(image)
        faces = self.detect(image, landmarks)  # the image, not its pixels: it may carry its copy
        if not embed or not faces:
            return [FaceResult(face) for face in faces]
        embeddings = self.embedder.embed(pixels, faces)
        return [FaceResult(face, embedding) for face, embedding in zip(faces, embeddings, strict=True)]

    def process_many(
        self, images: Sequence[RGBImage | DecodedImage], embed: bool = True, landmarks: bool = True
    ) -> list[list[FaceResult]]:
        """``process`` for several images, with every face of every image embedded in one
        backend call when the embedder offers ``embed_many`` (batched inference is several
        times cheaper per face than one call per image). Same vectors as ``process``."""
        faces = [self.detect(image, landmarks) for image in images]
        if not embed:
            return [[FaceResult(face) for face in found] for found in faces]
        return self.embed_detected(images, faces)

    def embed_detected(
        self, images: Sequence[RGBImage | DecodedImage], faces: Sequence[Sequence[DetectedFace]]
    ) -> list[list[FaceResult]]:
        """The faces ``detect`` found in each image, embedded in one backend call when the
        embedder offers ``embed_many``: the second half of ``process_many``, for a caller
        that detects each image as soon as it has it."""
        if not any(faces):
            return [[FaceResult(face) for face in found] for found in faces]
        pixels = [_pixels(image) for image in images]
        if isinstance(self.embedder, BatchEmbedder):
            embeddings = self.embedder.embed_many(pixels, faces)
        else:
            embeddings = [
                self.embedder.embed(image, found) if found else []
                for image, found in zip(pixels, faces, strict=True)
            ]
        return [
            [FaceResult(face, embedding) for face, embedding in zip(found, vectors, strict=True)]
            for found, vectors in zip(faces, embeddings, strict=True)
        ]

    def _detection_size(self, width: int, height: int) -> tuple[int, int] | None:
        """(width, height) of the copy detection runs on; None: the photo itself."""
        longest = max(height, width)
        if self.detection_max_side is None or longest <= self.detection_max_side:
            return None
        scale = self.detection_max_side / longest
        return max(1, round(width * scale)), max(1, round(height * scale))

    def _detect_scaled(self, pixels: RGBImage, copy: RGBImage | None = None) -> list[DetectedFace]:
        height, width = pixels.shape[:2]
        size = self._detection_size(width, height)
        if size is None:
            return self.detector.detect(pixels)
        # A copy made for another size (another pipeline's limit) is not used.
        small = copy if copy is not None and copy.shape[1::-1] == size else _scaled(pixels, size)
        return [
            _rescaled(face, width / size[0], height / size[1], width, height)
            for face in self.detector.detect(small)
        ]


def _scaled(pixels: RGBImage, size: tuple[int, int]) -> RGBImage:
    # OpenCV's area filter, as the detectors' own scaling: on the 37 shared photos over the
    # limit it found the same faces as Pillow's bilinear (box IoU >= 0.98) at 61 against
    # 71-80 ms on one thread, without Pillow's copy of the photo (42 ms at 25 megapixels).
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _rescaled(face: DetectedFace, sx: float, sy: float, width: int, height: int) -> DetectedFace:
    box = face.box
    x0, y0 = round(box.x * sx), round(box.y * sy)
    x1, y1 = min(round(box.right * sx), width), min(round(box.bottom * sy), height)
    return replace(
        face,
        box=BoundingBox(x=x0, y=y0, width=max(x1 - x0, 0), height=max(y1 - y0, 0)),
        landmarks=tuple(Point(p.x * sx, p.y * sy) for p in face.landmarks),
    )


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
