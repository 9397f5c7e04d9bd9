"""BlazeFace's back-camera model converted to ONNX at install time (issue 10): onnxruntime
must give the TFLite network's outputs and so the same faces."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from facefleet.build_onnx import build_blazeface_onnx, channel_pads_as_convolutions
from pipelines.detection import blazeface
from pipelines.image import ImageLimits, decode_image
from tests.embedding_onnx.conftest import FACES

pytestmark = pytest.mark.model

MULTI_FACE = sorted((FACES / "_misc" / "multi_face").iterdir())


@pytest.fixture(scope="module")
def blazeface_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blazeface_onnx(tmp_path_factory.mktemp("home")).path


def test_the_build_is_a_no_op_while_current_and_rebuilds_a_broken_file(blazeface_onnx: Path) -> None:
    home = blazeface_onnx.parents[1]
    assert build_blazeface_onnx(home).rebuilt is False
    blazeface_onnx.write_bytes(b"not a model")
    assert build_blazeface_onnx(home).rebuilt is True
    assert build_blazeface_onnx(home).rebuilt is False


def test_onnxruntime_gives_the_tflite_networks_outputs_on_real_photos(blazeface_onnx: Path) -> None:
    onnx_network = blazeface._Network(blazeface.BlazeFaceModel.BACK, blazeface_onnx)
    tflite_network = blazeface._Network(blazeface.BlazeFaceModel.BACK)
    assert (onnx_network.engine, tflite_network.engine) == ("onnxruntime", "tflite")
    worst_boxes = worst_scores = 0.0
    for path in MULTI_FACE:
        square, _ = blazeface._letterboxed(
            decode_image(path.read_bytes(), ImageLimits()).pixels, onnx_network.size
        )
        tensor = (square.astype(np.float32) * (2 / 255) - 1)[np.newaxis]
        ours, theirs = onnx_network.raw(tensor), tflite_network.raw(tensor)
        worst_boxes = max(worst_boxes, float(np.abs(ours[0] - theirs[0]).max()))
        worst_scores = max(worst_scores, float(np.abs(sigmoid(ours[1]) - sigmoid(theirs[1])).max()))
    # Regressors are in input pixels (0-256); scores are compared as probabilities, since
    # logits of -60 and -60.006 are the same "no face".
    assert worst_boxes < 0.01 and worst_scores < 1e-4, (worst_boxes, worst_scores)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(logits, -80, 80)))


def test_the_detector_on_onnxruntime_finds_every_documented_face_count(blazeface_onnx: Path) -> None:
    with (FACES / "_misc" / "face_counts.csv").open() as handle:
        counted = [row for row in csv.DictReader(handle) if row["n_faces_documented"]]
    onnx_detector = blazeface.BlazeFaceDetector(onnx_model=blazeface_onnx)
    tflite_detector = blazeface.BlazeFaceDetector()
    for row in counted:
        pixels = decode_image((FACES / row["path"]).read_bytes(), ImageLimits()).pixels
        ours, theirs = onnx_detector.detect(pixels), tflite_detector.detect(pixels)
        assert len(ours) == int(row["n_faces_documented"]), row["path"]
        assert [face.box for face in ours] == [face.box for face in theirs], row["path"]


def test_a_missing_model_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="models_setup"):
        blazeface._Network(blazeface.BlazeFaceModel.BACK, tmp_path / "absent.onnx")


def test_the_built_model_pads_no_channels_so_it_stays_in_onnxruntimes_blocked_layout(
    blazeface_onnx: Path,
) -> None:
    operators = [node.op_type for node in onnx.load(str(blazeface_onnx)).graph.node]
    assert "Pad" not in operators
    assert operators.count("Conv") == 69 + 2  # the network's own, and the two channel pads


def pad_model(pads: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")],
        "pad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(pads, dtype=np.int64), "pads")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def run(model: onnx.ModelProto, tensor: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs: list[np.ndarray] = session.run(None, {"x": tensor})
    return outputs[0]


def test_a_channel_pad_becomes_a_convolution_with_the_same_output() -> None:
    tensor = np.random.default_rng(7).normal(size=(1, 3, 4, 5)).astype(np.float32)
    model = pad_model([0, 0, 0, 0, 0, 2, 0, 0])
    rewritten = channel_pads_as_convolutions(model)
    assert [node.op_type for node in rewritten.graph.node] == ["Conv"]
    assert [tensor.name for tensor in rewritten.graph.initializer] == ["pad_as_conv_weights"]
    expected = run(model, tensor)
    assert expected.shape == (1, 5, 4, 5)
    np.testing.assert_array_equal(run(rewritten, tensor), expected)


@pytest.mark.parametrize(
    "pads", [[0, 0, 1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 2, 0, 1]]
)
def test_pads_of_other_axes_or_before_the_channels_are_left_alone(pads: list[int]) -> None:
    assert [node.op_type for node in channel_pads_as_convolutions(pad_model(pads)).graph.node] == ["Pad"]
