"""Convert dlib's ``dlib_face_recognition_resnet_model_v1.dat`` to ONNX in pure Python.

See docs/ONNX.md for why the weights are read with our own reader of dlib's
serialization format rather than through a C++ program linked against libdlib.
"""

from __future__ import annotations

import hashlib

import onnx
from onnx import helper

from pipelines.embedding.dlibconv.network import DlibNetwork, face_recognition_resnet_v1, read_network
from pipelines.embedding.dlibconv.onnx_graph import INPUT_NAME, OUTPUT_NAME, build_onnx_model
from pipelines.embedding.dlibconv.stream import DlibFormatError

CONVERTER_VERSION = "2"
"""Bump when the produced graph changes, so installed models are rebuilt."""

SOURCE_SHA256_KEY = "facefleet.source_sha256"
CONVERTER_VERSION_KEY = "facefleet.converter_version"

__all__ = [
    "CONVERTER_VERSION",
    "CONVERTER_VERSION_KEY",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "SOURCE_SHA256_KEY",
    "DlibFormatError",
    "DlibNetwork",
    "convert_face_recognition_dat",
]


def convert_face_recognition_dat(dat_bytes: bytes) -> onnx.ModelProto:
    """ONNX model computing dlib's 128-d face descriptor from uint8 RGB chips (N,150,150,3).

    The model records the sha256 of its source file and the converter version in its
    metadata, which lets an installer decide whether an existing file is current.
    """
    network = read_network(dat_bytes, face_recognition_resnet_v1())
    model = build_onnx_model(
        network,
        doc_string="dlib face recognition ResNet v1 (Davis King, CC0 weights), converted by FaceFleet.",
    )
    helper.set_model_props(
        model,
        {
            SOURCE_SHA256_KEY: hashlib.sha256(dat_bytes).hexdigest(),
            CONVERTER_VERSION_KEY: CONVERTER_VERSION,
        },
    )
    return model
