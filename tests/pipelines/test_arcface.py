"""Bring-your-own ArcFace models: the 5-point alignment against InsightFace's template
(golden), the input normalisation, checksum checks, and an embedder run on a tiny ONNX model
generated here with the same input and output signature (1x3x112x112 → 512)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pipelines.embedding.arcface import (
    ARCFACE_TEMPLATE,
    INPUT_SIZE,
    ArcFaceEmbedder,
    ChecksumMismatch,
    aligned_chip,
    alignment_matrix,
    network_input,
)
from pipelines.engine import FacePipeline
from pipelines.types import DecodedImage, Point


def tiny_arcface_onnx(path: Path) -> str:
    """8x8 average pooling, flatten, a fixed random 588x512 projection; returns its sha256."""
    weights = np.random.default_rng(19).standard_normal((3 * 14 * 14, 512)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "projection"], ["683"]),
        ],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])],
        [numpy_helper.from_array(weights, "projection")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _similar(points: np.ndarray, scale: float, degrees: float, shift: tuple[float, float]) -> list[Point]:
    angle = math.radians(degrees)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = points @ rotation.T + np.array(shift)
    return [Point(float(x), float(y)) for x, y in moved]


def test_alignment_maps_the_landmarks_onto_the_template_golden() -> None:
    landmarks = _similar(ARCFACE_TEMPLATE, 2.7, 23.0, (310.0, 145.0))
    matrix = alignment_matrix(landmarks)
    source = np.array([(p.x, p.y, 1.0) for p in landmarks])
    np.testing.assert_allclose(source @ matrix.T, ARCFACE_TEMPLATE, atol=1e-6)
    # the inverse of the transform that made the landmarks: scale 1/2.7, rotation -23 degrees
    assert math.hypot(matrix[0, 0], matrix[1, 0]) == pytest.approx(1 / 2.7, rel=1e-6)
    assert math.degrees(math.atan2(matrix[1, 0], matrix[0, 0])) == pytest.approx(-23.0, abs=1e-5)


def test_the_warped_chip_puts_marked_points_on_the_template() -> None:
    landmarks = _similar(ARCFACE_TEMPLATE, 3.0, -12.0, (200.0, 260.0))
    image = np.zeros((700, 700, 3), np.uint8)
    for point in landmarks:
        cv2.circle(image, (round(point.x), round(point.y)), 4, (255, 255, 255), -1)
    chip = aligned_chip(image, landmarks)
    assert chip.shape == (INPUT_SIZE, INPUT_SIZE, 3)
    for x, y in ARCFACE_TEMPLATE:
        assert chip[round(y), round(x)].min() > 200  # each mark lands on its template point


def test_input_is_rgb_nchw_scaled_to_minus_one_one() -> None:
    red = np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    red[..., 0] = 255
    tensor = network_input(red)
    assert tensor.shape == (1, 3, INPUT_SIZE, INPUT_SIZE) and tensor.dtype == np.float32
    assert tensor[0, 0].min() == 1.0 and tensor[0, 1].max() == tensor[0, 2].max() == -1.0


def test_a_registered_model_embeds_faces_and_a_changed_file_is_refused(
    tmp_path: Path, default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    path = tmp_path / "tiny_arcface.onnx"
    checksum = tiny_arcface_onnx(path)
    embedder = ArcFaceEmbedder("byo-tiny", path, checksum)
    image = load_photo("_misc/multi_face/deepface__couple.jpg")
    faces = default_pipeline.detect(image, landmarks=False)
    assert len(faces) == 2

    vectors = embedder.embed(image.pixels, faces)
    again = embedder.embed(image.pixels, faces[:1])

    assert [v.model_id for v in vectors] == ["byo-tiny", "byo-tiny"] and embedder.dimension == 512
    assert all(v.vector.shape == (512,) and abs(np.linalg.norm(v.vector) - 1) < 1e-5 for v in vectors)
    np.testing.assert_allclose(again[0].vector, vectors[0].vector, atol=1e-6)
    assert np.linalg.norm(vectors[0].vector - vectors[1].vector) > 0.05  # two people, two vectors

    with pytest.raises(ChecksumMismatch):
        ArcFaceEmbedder("byo-tiny", path, "0" * 64).embed(image.pixels, faces)
