"""The detector protocol and detector-independent helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pipelines.types import BoundingBox, DetectedFace, RGBImage


@runtime_checkable
class Detector(Protocol):
    """Finds faces. Boxes are in the pixels of the image passed in, clipped to it.
    Landmarks, where the detector finds them itself (MTCNN), follow
    ``types.LandmarkScheme.FIVE_POINT``; the others leave them empty and ``FacePipeline``
    places them when a caller asks for them."""

    name: str

    def detect(self, image: RGBImage) -> list[DetectedFace]: ...


def clipped_box(left: float, top: float, right: float, bottom: float, width: int, height: int) -> BoundingBox:
    """Box from (exclusive) corner coordinates, clipped to a ``width`` x ``height`` image."""
    x0 = min(max(int(round(left)), 0), width)
    y0 = min(max(int(round(top)), 0), height)
    x1 = min(max(int(round(right)), 0), width)
    y1 = min(max(int(round(bottom)), 0), height)
    return BoundingBox(x=x0, y=y0, width=max(x1 - x0, 0), height=max(y1 - y0, 0))


def drop_small_faces(faces: Sequence[DetectedFace], min_face_size: int) -> list[DetectedFace]:
    """Faces whose box is at least ``min_face_size`` pixels on its shorter side.

    Boxes cut by the image border are measured after clipping: a face mostly outside the
    photo has too few pixels to embed reliably, whatever its true size."""
    return [f for f in faces if min(f.box.width, f.box.height) >= min_face_size]


class FallbackDetector:
    """Runs ``fallback`` only when ``primary`` finds nothing: the cheap detector serves the
    common case and the expensive one rescues the hard images (profiles, small faces)."""

    def __init__(self, primary: Detector, fallback: Detector) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}+{fallback.name}"

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        faces = self.primary.detect(image)
        return faces if faces else self.fallback.detect(image)
