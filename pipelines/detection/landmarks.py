"""Five landmarks from dlib's 68-point predictor, for detectors that give none (or
fewer than five: dlib HOG/MMOD give none, BlazeFace gives the mouth centre only).

``FacePipeline`` places them only for the faces a response shows: at ~1-2 ms per face they
were the largest cost of detection after the network itself, and neither alignment (dlib's
own 5-point predictor) nor search uses them."""

from __future__ import annotations

from pathlib import Path

from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.types import BoundingBox, Point, RGBImage

# 68-point indices (iBUG 300-W). Eyes are averaged over their six contour points.
_IMAGE_LEFT_EYE = slice(36, 42)
_IMAGE_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_IMAGE_LEFT_MOUTH = 48
_IMAGE_RIGHT_MOUTH = 54


class DlibFivePointLandmarker:
    """Five points out of the one 68-point predictor wrapper (``LandmarkPredictor``)."""

    def __init__(self, predictor_path: Path | None = None) -> None:
        self.predictor = LandmarkPredictor(predictor_path)

    def landmarks(self, image: RGBImage, box: BoundingBox) -> tuple[Point, ...]:
        points = self.predictor.predict(image, box)
        left_eye = points[_IMAGE_LEFT_EYE].mean(axis=0)
        right_eye = points[_IMAGE_RIGHT_EYE].mean(axis=0)
        chosen = [left_eye, right_eye, points[_NOSE_TIP], points[_IMAGE_LEFT_MOUTH], points[_IMAGE_RIGHT_MOUTH]]
        return tuple(Point(float(x), float(y)) for x, y in chosen)
