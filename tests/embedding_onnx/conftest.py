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
SAME_PAIRS = 12
DIFFERENT_PAIRS = 12
MAX_SIDE = 640


@dataclass(frozen=True)
class ChipPair:
    first: int
    second: int
    same: bool


@dataclass(frozen=True)
class RealChips:
    chips: npt.NDArray[np.uint8]
    paths: list[str]
    identities: list[str]
    pairs: list[ChipPair]
    """Rows of pairs.csv whose two images both gave a face, as indexes into ``chips``."""


def load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    # Pillow rather than dlib's loader: some photos are WebP inside a .jpg name.
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
        # Detection cost grows with pixels; chips from 640 px images are as real as any.
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        return np.asarray(upright)


def _evenly_spaced(rows: list[dict[str, str]], count: int) -> list[dict[str, str]]:
    """A deterministic spread over the file, so every source group is represented."""
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def _pairs_subset() -> list[dict[str, str]]:
    with (FACES / "pairs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    same = [row for row in rows if row["same"] == "1"]
    different = [row for row in rows if row["same"] == "0"]
    return _evenly_spaced(same, SAME_PAIRS) + _evenly_spaced(different, DIFFERENT_PAIRS)


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
    """dlib 5-point chips (150 px, padding 0.25) of the largest face of every image in a
    spread of pairs.csv rows, made exactly as the dlib pipeline makes them."""
    import dlib

    if not FACES.is_dir():
        pytest.fail(f"test data missing: {FACES}")
    detector, predictor, _ = dlib_models
    with (FACES / "identities.csv").open() as handle:
        identity_of = {row["path"]: row["identity"] for row in csv.DictReader(handle)}
    rows = _pairs_subset()
    index_of: dict[str, int] = {}
    chips: list[npt.NDArray[np.uint8]] = []
    for relative in sorted({row["path_a"] for row in rows} | {row["path_b"] for row in rows}):
        image = load_rgb(FACES / relative)
        faces = detector(image, 1)  # type: ignore[operator]
        if not faces:
            continue  # a detection miss is the detector's business, not the descriptor's
        largest = max(faces, key=lambda rect: rect.area())
        shape = predictor(image, largest)  # type: ignore[operator]
        index_of[relative] = len(chips)
        chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)))
    pairs = [
        ChipPair(index_of[row["path_a"]], index_of[row["path_b"]], row["same"] == "1")
        for row in rows
        if row["path_a"] in index_of and row["path_b"] in index_of
    ]
    assert len(pairs) >= (SAME_PAIRS + DIFFERENT_PAIRS) * 2 // 3, "too few faces found to compare engines"
    paths = sorted(index_of, key=index_of.__getitem__)
    return RealChips(np.stack(chips), paths, [identity_of.get(path, path) for path in paths], pairs)


@pytest.fixture(scope="session")
def dlib_descriptors(
    real_chips: RealChips, dlib_models: tuple[object, object, object]
) -> npt.NDArray[np.float32]:
    recognizer = dlib_models[2]
    return np.array(
        [recognizer.compute_face_descriptor(chip) for chip in real_chips.chips],  # type: ignore[attr-defined]
        dtype=np.float32,
    )
