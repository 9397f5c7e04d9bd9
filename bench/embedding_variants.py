"""Candidate embeddings from dlib's one ResNet, all from the same detector box and 5-point
shape: the reference chip (150 px, padding 0.25), its mirror image averaged in (flip
test-time augmentation), shifted chips averaged in (jitter), and tighter or looser chips.

Each candidate turns one face into one 128-d vector through ``describe`` (the ONNX backend
that workers use), so their cost per face is the network passes they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dlib
import numpy as np

from pipelines.dlib_models import FIVE_POINT_PREDICTOR, default_model_path, load_model
from pipelines.embedding.base import Chips, DescriptorBackend, Descriptors

CHIP = 150
JITTER_SHIFT = 4  # pixels of the 150-px chip, each way
# A chip JITTER_SHIFT px wider on every side at the same face scale: the face spans
# CHIP / (1 + 2 * 0.25) px in the reference chip.
_WIDE = CHIP + 2 * JITTER_SHIFT
_WIDE_PADDING = (_WIDE / (CHIP / 1.5) - 1) / 2


@dataclass(frozen=True)
class FaceChips:
    """The chips one face needs for every candidate."""

    reference: Chips  # (1, 150, 150, 3), padding 0.25
    wide: Chips  # (1, 158, 158, 3), same scale, for shifted crops
    tight: Chips  # padding 0.20
    loose: Chips  # padding 0.30


def face_chips(image: np.ndarray[Any, Any], box: tuple[int, int, int, int]) -> FaceChips:
    """``box``: x, y, right, bottom in ``image`` pixels, as the pipeline's aligner uses it."""
    predictor = load_model("shape_predictor", default_model_path(FIVE_POINT_PREDICTOR))
    shape = predictor(image, dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1))

    def chip(size: int, padding: float) -> Chips:
        return np.asarray(dlib.get_face_chip(image, shape, size=size, padding=padding), np.uint8)[None]

    return FaceChips(chip(CHIP, 0.25), chip(_WIDE, _WIDE_PADDING), chip(CHIP, 0.20), chip(CHIP, 0.30))


def _mirror(chips: Chips) -> Chips:
    return np.ascontiguousarray(chips[:, :, ::-1])


def _shifts(wide: Chips) -> Chips:
    s = JITTER_SHIFT
    offsets = [(s, s), (0, s), (2 * s, s), (s, 0), (s, 2 * s)]  # centre, left, right, up, down
    return np.concatenate([wide[:, y : y + CHIP, x : x + CHIP] for x, y in offsets])


Variant = Callable[[DescriptorBackend, FaceChips], Descriptors]


def _mean(backend: DescriptorBackend, chips: Chips) -> Descriptors:
    return np.asarray(backend.describe(np.ascontiguousarray(chips)).mean(axis=0, keepdims=True), np.float32)


VARIANTS: dict[str, tuple[int, Variant]] = {
    # name: (network passes per face, how)
    "reference chip (dlib-resnet-v1)": (1, lambda b, c: b.describe(c.reference)),
    "flip TTA (chip + mirror)": (2, lambda b, c: _mean(b, np.concatenate([c.reference, _mirror(c.reference)]))),
    "jitter 5 (centre + 4 shifts of 4 px)": (5, lambda b, c: _mean(b, _shifts(c.wide))),
    "flip + jitter 5 (10 chips)": (10, lambda b, c: _mean(b, np.concatenate([_shifts(c.wide),
                                                                            _mirror(_shifts(c.wide))]))),
    "tighter chip (padding 0.20)": (1, lambda b, c: b.describe(c.tight)),
    "looser chip (padding 0.30)": (1, lambda b, c: b.describe(c.loose)),
}
