"""dlib's face-recognition ResNet, declared in Python, and the reader of its ``.dat`` file.

A dlib ``.dat`` holds weights but not the wiring: the network's C++ type (tag/skip ids,
kernel sizes) is what lets dlib deserialize it. So, like ``dnn_face_recognition_ex.cpp``,
we declare that type here and read the file against it. Every layer's serialized name,
version and hyper-parameters are checked against the declaration, and the whole file must
be consumed, so a different network fails loudly instead of converting wrongly.

Serialization layout (dlib/dnn/core.h): ``add_loss_layer`` writes its version, the loss
details, then the sub-network. Each ``add_layer`` writes its version, then its sub-network,
then its own details and trailing state, so all version numbers come first (outermost
first), then the input layer, then the layer details from the innermost layer outwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.embedding.dlibconv.stream import DlibFormatError, DlibStream, FloatArray


@dataclass(frozen=True, slots=True)
class Con:
    filters: int
    kernel: int
    stride: int
    weights: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    bias: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    @property
    def padding(self) -> int:
        # dlib's default: "same" padding only for stride 1.
        return self.kernel // 2 if self.stride == 1 else 0


@dataclass(frozen=True, slots=True)
class Affine:
    """Batch-norm folded into a per-channel scale and shift."""

    gamma: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    beta: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)


@dataclass(frozen=True, slots=True)
class Relu:
    pass


@dataclass(frozen=True, slots=True)
class MaxPool:
    size: int
    stride: int


@dataclass(frozen=True, slots=True)
class AvgPool:
    """``size == 0`` is dlib's ``avg_pool_everything`` (global average)."""

    size: int
    stride: int


@dataclass(frozen=True, slots=True)
class FcNoBias:
    outputs: int
    weights: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)


@dataclass(frozen=True, slots=True)
class AddPrev:
    """Adds the output of the layer tagged ``tag``; mismatched shapes are zero-padded."""

    tag: int


@dataclass(frozen=True, slots=True)
class Tag:
    tag: int


@dataclass(frozen=True, slots=True)
class Skip:
    tag: int


Layer = Con | Affine | Relu | MaxPool | AvgPool | FcNoBias | AddPrev | Tag | Skip
Stack = list[Layer]
"""Layers ordered from the output down to the input, as dlib's C++ type nests them."""


@dataclass(frozen=True, slots=True)
class InputSpec:
    rgb_means: tuple[float, float, float]
    rows: int
    columns: int


@dataclass(frozen=True, slots=True)
class DlibNetwork:
    input: InputSpec
    layers: Stack


# --- the declaration, mirroring dnn_face_recognition_ex.cpp ------------------------------


def _block(filters: int, stride: int, sub: Stack) -> Stack:
    return [Affine(), Con(filters, 3, 1), Relu(), Affine(), Con(filters, 3, stride), *sub]


def _ares(filters: int, sub: Stack) -> Stack:
    return [Relu(), AddPrev(1), *_block(filters, 1, [Tag(1), *sub])]


def _ares_down(filters: int, sub: Stack) -> Stack:
    return [Relu(), AddPrev(2), AvgPool(2, 2), Skip(1), Tag(2), *_block(filters, 2, [Tag(1), *sub])]


def face_recognition_resnet_v1() -> Stack:
    """``anet_type`` of dnn_face_recognition_ex.cpp, without weights."""
    stem: Stack = [MaxPool(3, 2), Relu(), Affine(), Con(32, 7, 2)]
    level4 = _ares(32, _ares(32, _ares(32, stem)))
    level3 = _ares(64, _ares(64, _ares(64, _ares_down(64, level4))))
    level2 = _ares(128, _ares(128, _ares_down(128, level3)))
    level1 = _ares(256, _ares(256, _ares_down(256, level2)))
    level0 = _ares_down(256, level1)
    return [FcNoBias(128), AvgPool(0, 1), *level0]


# --- reading ---------------------------------------------------------------------------


def _read_con(stream: DlibStream, declared: Con) -> Con:
    version = stream.expect_string("con_4", "con_5", "con_6")
    params = stream.read_tensor().reshape(-1)
    filters, rows, columns, stride_y, stride_x, pad_y, pad_x = (stream.read_int() for _ in range(7))
    expected = (declared.filters, declared.kernel, declared.kernel, declared.stride, declared.stride)
    if (filters, rows, columns, stride_y, stride_x) != expected or (pad_y, pad_x) != (declared.padding,) * 2:
        raise DlibFormatError(
            f"con_ hyper-parameters {filters, rows, columns, stride_y, pad_y} != {declared}"
        )
    filter_shape = stream.read_alias_tensor()
    bias_shape = stream.read_alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        stream.read_float()
    has_bias = stream.read_bool() if version in ("con_5", "con_6") else True
    if version == "con_6" and stream.read_bool():
        raise DlibFormatError("con_ with a fused relu is not part of this network")
    filter_count = int(np.prod(filter_shape))
    weights = params[:filter_count].reshape(filter_shape)  # (out, in, rows, cols): ONNX's OIHW
    bias = params[filter_count:] if has_bias else np.zeros(filters, np.float32)
    if filter_shape[0] != filters or bias.size != filters or (has_bias and bias_shape[1] != filters):
        raise DlibFormatError(f"con_ parameter sizes do not match {declared}")
    return Con(filters, rows, stride_y, weights, bias.copy())


def _read_affine(stream: DlibStream) -> Affine:
    version = stream.expect_string("affine_", "affine_2")
    params = stream.read_tensor().reshape(-1)
    gamma_shape = stream.read_alias_tensor()
    stream.read_alias_tensor()
    mode = stream.read_int()
    if version == "affine_2" and stream.read_bool():
        raise DlibFormatError("disabled affine_ layers are not part of this network")
    conv_mode = 0  # dlib's layer_mode enum: CONV_MODE = 0, FC_MODE = 1
    if mode != conv_mode or gamma_shape[2:] != (1, 1):
        raise DlibFormatError(f"affine_ in mode {mode} shaped {gamma_shape}, expected per-channel CONV_MODE")
    channels = int(np.prod(gamma_shape))
    return Affine(params[:channels].copy(), params[channels : 2 * channels].copy())


def _read_pool(stream: DlibStream, declared: MaxPool | AvgPool) -> None:
    stream.expect_string("max_pool_2" if isinstance(declared, MaxPool) else "avg_pool_2")
    rows, columns, stride_y, stride_x, pad_y, pad_x = (stream.read_int() for _ in range(6))
    if (rows, columns, stride_y, stride_x, pad_y, pad_x) != (
        declared.size,
        declared.size,
        declared.stride,
        declared.stride,
        0,
        0,
    ):
        raise DlibFormatError(f"pooling hyper-parameters {rows, columns, stride_y, pad_y} != {declared}")


def _read_fc(stream: DlibStream, declared: FcNoBias) -> FcNoBias:
    version = stream.expect_string("fc_2", "fc_3")
    outputs, inputs = stream.read_int(), stream.read_int()
    params = stream.read_tensor().reshape(-1)
    weight_shape = stream.read_alias_tensor()
    stream.read_alias_tensor()
    fc_no_bias_mode = 1
    if stream.read_int() != fc_no_bias_mode or outputs != declared.outputs:
        raise DlibFormatError(f"expected fc_no_bias with {declared.outputs} outputs")
    for _ in range(4):
        stream.read_float()
    if version == "fc_3":
        stream.read_bool()
    if weight_shape[:2] != (inputs, outputs):
        raise DlibFormatError(f"fc_ weights shaped {weight_shape}, expected ({inputs}, {outputs})")
    # dlib computes output = input (N x inputs) times weights (inputs x outputs).
    return FcNoBias(outputs, params[: inputs * outputs].reshape(inputs, outputs).copy())


def _read_details(stream: DlibStream, declared: Layer) -> Layer:
    if isinstance(declared, Con):
        return _read_con(stream, declared)
    if isinstance(declared, Affine):
        return _read_affine(stream)
    if isinstance(declared, Relu):
        stream.expect_string("relu_", "relu_2")
        return declared
    if isinstance(declared, (MaxPool, AvgPool)):
        _read_pool(stream, declared)
        return declared
    if isinstance(declared, FcNoBias):
        return _read_fc(stream, declared)
    if isinstance(declared, AddPrev):
        stream.expect_string("add_prev_")
        return declared
    raise DlibFormatError(f"{declared} carries no details")


def _skip_layer_state(stream: DlibStream, version: int, over_input: bool) -> None:
    """Training-time state each add_layer stores after its details (empty in released models)."""
    for _ in range(3):
        stream.read_bool()
    stream.read_tensor()  # x_grad
    stream.read_tensor()  # cached_output
    if over_input:
        stream.read_tensor()  # grad_final
        if version >= 3:
            stream.read_int()  # sample_expansion_factor
    elif version >= 2:
        stream.read_tensor()  # params_grad


def _read_input(stream: DlibStream) -> InputSpec:
    stream.expect_string("input_rgb_image_sized")
    means = (stream.read_float(), stream.read_float(), stream.read_float())
    rows, columns = stream.read_int(), stream.read_int()
    return InputSpec(means, rows, columns)


def read_network(data: bytes, declared: Stack) -> DlibNetwork:
    """Read a ``loss_metric`` network serialized by dlib, against its declared layer stack."""
    stream = DlibStream(data)
    stream.expect_version("add_loss_layer", (1,))
    stream.expect_string("loss_metric_", "loss_metric_2")
    stream.read_float()  # margin: training only
    stream.read_float()  # distance threshold: training only

    versions: list[int] = []
    for position, layer in enumerate(declared):
        if isinstance(layer, (Tag, Skip)):
            versions.append(stream.expect_version(f"layer {position} ({layer})", (1,)))
        elif position == len(declared) - 1:
            versions.append(stream.expect_version("add_layer over the input", (2, 3)))
        else:
            versions.append(stream.expect_version(f"layer {position} ({layer})", (1, 2)))

    input_spec = _read_input(stream)

    read: list[Layer] = list(declared)
    for position in reversed(range(len(declared))):
        layer = declared[position]
        if isinstance(layer, (Tag, Skip)):
            continue
        read[position] = _read_details(stream, layer)
        _skip_layer_state(stream, versions[position], over_input=position == len(declared) - 1)

    if not stream.at_end:
        raise DlibFormatError(f"{stream.position} bytes read but the file has more: not this network")
    return DlibNetwork(input_spec, read)
