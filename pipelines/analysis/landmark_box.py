"""The box the 68-point predictor needs, found again by dlib's HOG detector.

dlib's 68-point predictor was trained on HOG boxes, which sit on the eyes, nose and mouth.
Other detectors (BlazeFace, the production default) put the box around the whole head:
on a turned face it holds the cheek and the ear, and the predictor spreads a frontal
template over it, so solvePnP reads a profile as a small yaw, sometimes of the wrong sign
(docs/ANALYSIS.md, "Head pose"). HOG is run again on a crop around the detector's box, and
its box is the one the landmarks are placed in.

When HOG finds no face there, the face is turned further than the HOG detector and the
68-point predictor cover (about 60 degrees) or too degraded to place landmarks on: the
pose is then reported as not estimated rather than as a confident wrong angle.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np

from pipelines.detection.base import clipped_box
from pipelines.detection.consensus import overlap_of_smaller
from pipelines.dlib_models import frontal_face_detector
from pipelines.types import BoundingBox, RGBImage

CROP_MARGIN: Final = 0.35
"""Context added on every side of the detector's box, as a fraction of its size: the HOG
box of a turned face lies off-centre in a head-sized box."""
TARGET_FACE_PX: Final = 140
"""The detector's box is scaled to this width before HOG runs once, without upsampling:
HOG finds faces from about 80 px, and a fixed scale keeps the cost fixed (~5 ms)."""
HOG_THRESHOLD: Final = -0.2
"""The liveness tracker's threshold: slightly below dlib's, because the crop is known to
hold a face and a miss costs the pose."""
MIN_OVERLAP: Final = 0.3
"""The HOG box must overlap the detector's box by this share of the smaller of the two."""


@dataclass(frozen=True, slots=True)
class LandmarkBox:
    box: BoundingBox
    """Where the 68 landmarks are placed: HOG's box when it found the face, else the
    detector's box."""
    pose_reliable: bool
    """False when HOG found no face around the detector's box: the landmarks may be a
    frontal template spread over a profile, and no head pose is estimated from them."""


class LandmarkBoxFinder:
    """Owns one HOG detector (dlib's scanner is not safe for concurrent use)."""

    def __init__(self) -> None:
        self._scanner: Any = None
        self._lock = threading.Lock()

    def find(self, image: RGBImage, box: BoundingBox, detector: str = "") -> LandmarkBox:
        if detector.startswith("hog"):
            return LandmarkBox(box, pose_reliable=True)  # already the box the predictor knows
        height, width = image.shape[:2]
        margin_x, margin_y = int(CROP_MARGIN * box.width), int(CROP_MARGIN * box.height)
        x0, y0 = max(0, box.x - margin_x), max(0, box.y - margin_y)
        x1, y1 = min(width, box.right + margin_x), min(height, box.bottom + margin_y)
        if x1 - x0 < 2 or y1 - y0 < 2 or box.width < 1:
            return LandmarkBox(box, pose_reliable=False)
        scale = TARGET_FACE_PX / box.width
        crop = cv2.resize(
            np.ascontiguousarray(image[y0:y1, x0:x1]),
            (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        with self._lock:
            if self._scanner is None:
                self._scanner = frontal_face_detector()
            rects, _, _ = self._scanner.run(np.ascontiguousarray(crop), 0, HOG_THRESHOLD)
        best: tuple[float, BoundingBox] | None = None
        for rect in rects:
            found = clipped_box(
                x0 + rect.left() / scale,
                y0 + rect.top() / scale,
                x0 + (rect.right() + 1) / scale,
                y0 + (rect.bottom() + 1) / scale,
                width,
                height,
            )
            overlap = overlap_of_smaller(found, box)
            if overlap >= MIN_OVERLAP and (best is None or overlap > best[0]):
                best = (overlap, found)
        if best is None:
            return LandmarkBox(box, pose_reliable=False)
        return LandmarkBox(best[1], pose_reliable=True)
