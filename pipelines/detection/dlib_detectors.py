"""dlib's HOG+SVM frontal detector and its MMOD CNN detector."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pipelines.detection.base import clipped_box
from pipelines.dlib_models import (
    MMOD_DETECTOR,
    default_model_path,
    frontal_face_detector,
    load_model,
    squash_margin,
)
from pipelines.types import DetectedFace, RGBImage

_MMOD_TURN = threading.Lock()


class HogDetector:
    """dlib's HOG detector. It finds faces of about 80 px and up at ``upsample=0``; each
    upsampling step halves that minimum and roughly quadruples the time. ``threshold``
    moves dlib's decision threshold: below 0 keeps weaker detections (video frames, where
    a missed frame costs more than a false one that tracking drops)."""

    def __init__(self, upsample: int = 1, threshold: float = 0.0) -> None:
        self.upsample = upsample
        self.threshold = threshold
        self.name = f"hog-up{upsample}"
        self._scanner: Any = None
        self._lock = threading.Lock()

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        # dlib's scanner keeps working buffers: one call at a time per detector object.
        with self._lock:
            if self._scanner is None:  # built on first use: constructing a pipeline loads no model
                self._scanner = frontal_face_detector()
            rects, margins, _ = self._scanner.run(image, self.upsample, self.threshold)
        return _faces(image, rects, margins, self.name)


class MmodDetector:
    """dlib's CNN (MMOD) detector: robust to pose, but seconds per photo on CPU."""

    def __init__(
        self,
        upsample: int = 1,
        model_path: Path | None = None,
    ) -> None:
        self.upsample = upsample
        self.model_path = model_path or default_model_path(MMOD_DETECTOR)
        self.name = f"mmod-up{upsample}"

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        detector = load_model("cnn_detector", self.model_path)
        # The ~700 KB network is shared by the process, and a dlib net keeps its activations
        # in itself: calls from several threads take turns.
        with _MMOD_TURN:
            found = detector(image, self.upsample)
        return _faces(image, [d.rect for d in found], [d.confidence for d in found], self.name)


def _faces(image: RGBImage, rects: Any, margins: Any, name: str) -> list[DetectedFace]:
    height, width = image.shape[:2]
    faces = []
    for rect, margin in zip(rects, margins, strict=True):
        box = clipped_box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1, width, height)
        if box.area == 0:
            continue
        faces.append(
            DetectedFace(
                box=box,
                confidence=squash_margin(float(margin)),
                detector=name,
            )
        )
    return faces
