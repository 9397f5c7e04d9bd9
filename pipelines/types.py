"""Value types shared by every pipeline stage.

Coordinates are always in the pixels of the decoded (EXIF-rotated) original image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

RGBImage = npt.NDArray[np.uint8]
"""An H x W x 3 uint8 array in RGB order."""

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Axis-aligned face box, clipped to the image."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


class LandmarkScheme(StrEnum):
    """Five points, in this order: left eye, right eye, nose tip, left mouth corner,
    right mouth corner ("left" is the subject's left as seen in the image's left half)."""

    FIVE_POINT = "five_point"


@dataclass(frozen=True, slots=True)
class DetectedFace:
    box: BoundingBox
    confidence: float
    landmarks: tuple[Point, ...] = ()
    detector: str = ""


@dataclass(frozen=True, slots=True)
class Embedding:
    """A face descriptor. Vectors of different ``model_id`` are never comparable."""

    model_id: str
    vector: Vector = field(repr=False)

    @property
    def dimension(self) -> int:
        return int(self.vector.shape[0])


@dataclass(frozen=True, slots=True)
class DecodedImage:
    pixels: RGBImage = field(repr=False)
    format: str
    width: int
    height: int
    detection_copy: RGBImage | None = field(default=None, repr=False, compare=False)
    """The photo already scaled down for detection (``FacePipeline.prepared``), made by a
    thread that reads ahead of the one that detects; None: detection scales it itself."""
