"""MTCNN (``mtcnn`` package, TensorFlow; weights ship in the wheel). Gives its own five
landmarks, so no dlib predictor runs."""

from __future__ import annotations

from typing import Any

from pipelines.detection.base import clipped_box
from pipelines.types import DetectedFace, Point, RGBImage

# mtcnn names points as they appear in the image, which matches LandmarkScheme.
_KEYPOINT_ORDER = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


class MtcnnDetector:
    def __init__(self, min_confidence: float = 0.9) -> None:
        self.min_confidence = min_confidence
        self.name = "mtcnn"
        self._model: Any = None

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        if self._model is None:
            from mtcnn import MTCNN

            self._model = MTCNN(device="CPU:0")
        height, width = image.shape[:2]
        faces = []
        for found in self._model.detect_faces(image):
            if float(found["confidence"]) < self.min_confidence:
                continue
            x, y, w, h = (float(v) for v in found["box"])
            box = clipped_box(x, y, x + w, y + h, width, height)
            if box.area == 0:
                continue
            points = found["keypoints"]
            faces.append(
                DetectedFace(
                    box=box,
                    confidence=float(found["confidence"]),
                    landmarks=tuple(Point(float(points[k][0]), float(points[k][1])) for k in _KEYPOINT_ORDER),
                    detector=self.name,
                )
            )
        return faces
