"""Five landmarks from dlib's 68-point predictor, for detectors that give none (or
fewer than five: dlib HOG/MMOD give none, BlazeFace gives the mouth centre only).

``FacePipeline`` places them only for the faces a response shows: at ~1-2 ms per face they
were the largest cost of detection after the network itself, and neither alignment (dlib's
own 5-point predictor) nor search uses them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlib
import numpy as np

from pipelines.dlib_models import SIXTY_EIGHT_POINT_PREDICTOR, default_model_path, load_model
from pipelines.types import BoundingBox, Point, RGBImage

# 68-point indices (iBUG 300-W). Eyes are averaged over their six contour points.
_IMAGE_LEFT_EYE = slice(36, 42)
_IMAGE_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_IMAGE_LEFT_MOUTH = 48
_IMAGE_RIGHT_MOUTH = 54


class DlibFivePointLandmarker:
    def __init__(self, predictor_path: Path | None = None) -> None:
        self.predictor_path = predictor_path or default_model_path(SIXTY_EIGHT_POINT_PREDICTOR)
        self._predictor: Any = None

    def landmarks(self, image: RGBImage, box: BoundingBox) -> tuple[Point, ...]:
        if self._predictor is None:
            self._predictor = load_model("shape_predictor", self.predictor_path)
        rect = dlib.rectangle(box.x, box.y, box.right - 1, box.bottom - 1)
        shape = self._predictor(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        left_eye = points[_IMAGE_LEFT_EYE].mean(axis=0)
        right_eye = points[_IMAGE_RIGHT_EYE].mean(axis=0)
        chosen = [left_eye, right_eye, points[_NOSE_TIP], points[_IMAGE_LEFT_MOUTH], points[_IMAGE_RIGHT_MOUTH]]
        return tuple(Point(float(x), float(y)) for x, y in chosen)
