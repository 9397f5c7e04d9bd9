"""Turn a read :class:`DlibNetwork` into an ONNX model with the ``onnx`` helper API.

The graph takes what the face pipeline already has, a batch of aligned RGB chips as uint8
NHWC, and does dlib's own input conversion, ``(pixel - mean) / 256`` in float32, inside the
graph, so every execution provider (CPU or CUDA) sees the same arithmetic.

Layers are emitted one to one (Conv, Mul+Add for affine, Relu, pools, Pad+Add for
``add_prev``); onnxruntime's graph optimizer folds the affine layers into the convolutions
and fuses the ReLUs at load time, so the file stays a readable transcription of dlib's net.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipelines.embedding.dlibconv.network import (
    AddPrev,
    Affine,
    AvgPool,
    Con,
    DlibNetwork,
    FcNoBias,
    MaxPool,
    Relu,
    Skip,
    Tag,
)

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17
# onnxruntime 1.30 reads IR version 10; newer `onnx` releases default to a higher one.
IR_VERSION = 10


@dataclass(frozen=True, slots=True)
class _Value:
    name: str
    channels: int
    rows: int
    columns: int


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counter = 0

    def fresh(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}_{self._counter}"

    def constant(self, stem: str, array: npt.NDArray[Any]) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes: Any) -> str:
        output = self.fresh(stem)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _pooled(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _emit_input(builder: _GraphBuilder, network: DlibNetwork) -> _Value:
    spec = network.input
    # Transpose the uint8 chips first: per-channel arithmetic on NCHW runs over long
    # contiguous planes, where NHWC's innermost axis of 3 made the broadcast Sub cost
    # ~6% of the whole network. The arithmetic itself is unchanged.
    nchw = builder.node("Transpose", [INPUT_NAME], "nchw", perm=[0, 3, 1, 2])
    as_float = builder.node("Cast", [nchw], "as_float", to=TensorProto.FLOAT)
    means = builder.constant("rgb_means", np.asarray(spec.rgb_means, np.float32).reshape(1, 3, 1, 1))
    centered = builder.node("Sub", [as_float, means], "centered")
    # 1/256 is exact in float32, so this equals dlib's division by 256.
    scale = builder.constant("input_scale", np.asarray(1.0 / 256.0, np.float32))
    scaled = builder.node("Mul", [centered, scale], "scaled")
    return _Value(scaled, 3, spec.rows, spec.columns)


def _emit_conv(builder: _GraphBuilder, layer: Con, value: _Value) -> _Value:
    weights = builder.constant("conv_w", layer.weights)
    bias = builder.constant("conv_b", layer.bias)
    pad = layer.padding
    output = builder.node(
        "Conv",
        [value.name, weights, bias],
        "conv",
        kernel_shape=[layer.kernel, layer.kernel],
        strides=[layer.stride, layer.stride],
        pads=[pad, pad, pad, pad],
    )
    rows = _pooled(value.rows, layer.kernel, layer.stride, pad)
    columns = _pooled(value.columns, layer.kernel, layer.stride, pad)
    return _Value(output, layer.filters, rows, columns)


def _emit_affine(builder: _GraphBuilder, layer: Affine, value: _Value) -> _Value:
    gamma = builder.constant("affine_gamma", layer.gamma.reshape(1, -1, 1, 1))
    beta = builder.constant("affine_beta", layer.beta.reshape(1, -1, 1, 1))
    scaled = builder.node("Mul", [value.name, gamma], "affine_mul")
    return _Value(builder.node("Add", [scaled, beta], "affine"), value.channels, value.rows, value.columns)


def _emit_pool(builder: _GraphBuilder, layer: MaxPool | AvgPool, value: _Value) -> _Value:
    if isinstance(layer, AvgPool) and layer.size == 0:
        return _Value(builder.node("GlobalAveragePool", [value.name], "global_avg"), value.channels, 1, 1)
    op = "MaxPool" if isinstance(layer, MaxPool) else "AveragePool"
    kernel, stride = layer.size, layer.stride
    output = builder.node(
        op, [value.name], op.lower(), kernel_shape=[kernel, kernel], strides=[stride, stride]
    )
    rows, columns = _pooled(value.rows, kernel, stride), _pooled(value.columns, kernel, stride)
    return _Value(output, value.channels, rows, columns)


def _zero_pad_to(builder: _GraphBuilder, value: _Value, channels: int, rows: int, columns: int) -> str:
    missing = (channels - value.channels, rows - value.rows, columns - value.columns)
    if missing == (0, 0, 0):
        return value.name
    # dlib's tt::add treats absent elements as zero; they sit after the existing ones.
    pads = builder.constant("pads", np.asarray([0, 0, 0, 0, 0, *missing], np.int64))
    return builder.node("Pad", [value.name, pads], "zero_pad", mode="constant")


def _emit_add_prev(builder: _GraphBuilder, value: _Value, tagged: _Value) -> _Value:
    channels = max(value.channels, tagged.channels)
    rows, columns = max(value.rows, tagged.rows), max(value.columns, tagged.columns)
    left = _zero_pad_to(builder, value, channels, rows, columns)
    right = _zero_pad_to(builder, tagged, channels, rows, columns)
    return _Value(builder.node("Add", [left, right], "residual"), channels, rows, columns)


def _emit_fc(builder: _GraphBuilder, layer: FcNoBias, value: _Value) -> _Value:
    flat = builder.node("Flatten", [value.name], "flatten", axis=1)
    weights = builder.constant("fc_w", layer.weights)
    return _Value(builder.node("MatMul", [flat, weights], "fc"), layer.outputs, 1, 1)


def build_onnx_model(network: DlibNetwork, doc_string: str = "") -> onnx.ModelProto:
    builder = _GraphBuilder()
    value = _emit_input(builder, network)
    tags: dict[int, _Value] = {}
    for layer in reversed(network.layers):  # the stack is listed output first
        if isinstance(layer, Tag):
            tags[layer.tag] = value
        elif isinstance(layer, Skip):
            value = tags[layer.tag]
        elif isinstance(layer, AddPrev):
            value = _emit_add_prev(builder, value, tags[layer.tag])
        elif isinstance(layer, Con):
            value = _emit_conv(builder, layer, value)
        elif isinstance(layer, Affine):
            value = _emit_affine(builder, layer, value)
        elif isinstance(layer, Relu):
            value = _Value(
                builder.node("Relu", [value.name], "relu"), value.channels, value.rows, value.columns
            )
        elif isinstance(layer, (MaxPool, AvgPool)):
            value = _emit_pool(builder, layer, value)
        else:
            value = _emit_fc(builder, layer, value)
    builder.nodes.append(helper.make_node("Identity", [value.name], [OUTPUT_NAME], name=OUTPUT_NAME))

    spec = network.input
    graph = helper.make_graph(
        builder.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", spec.rows, spec.columns, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", value.channels])],
        builder.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facefleet-dlibconv",
        doc_string=doc_string,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model
