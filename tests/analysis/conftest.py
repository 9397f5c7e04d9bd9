"""Shared, session-scoped models and images for the analysis and liveness tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.analysis.faces import FaceAnalyzer
from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.detection.dlib_detectors import HogDetector
from pipelines.liveness.check import LIVENESS_HOG_THRESHOLD
from pipelines.types import DetectedFace, RGBImage

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FACES = SHARED_DATA / "faces"
VIDEOS = SHARED_DATA / "videos"


MAX_SIDE = 1000
"""Some shared photos are 20 megapixels; faces stay large at 1000 px and tests stay fast."""


@cache
def load_rgb(path: Path) -> RGBImage:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


@pytest.fixture(scope="session")
def detector() -> HogDetector:
    return HogDetector(upsample=1, threshold=LIVENESS_HOG_THRESHOLD)


@pytest.fixture(scope="session")
def predictor() -> LandmarkPredictor:
    return LandmarkPredictor()


@pytest.fixture(scope="session")
def analyzer(predictor: LandmarkPredictor) -> FaceAnalyzer:
    return FaceAnalyzer(predictor=predictor)


def largest_face(detector: HogDetector, image: RGBImage) -> DetectedFace | None:
    return max(detector.detect(image), key=lambda face: face.box.area, default=None)
