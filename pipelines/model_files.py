"""Where the model files live under a FaceFleet home: written by ``facefleet.models_setup``
and ``facefleet.build_onnx``, read by the workers. One layout, so the two cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DLIB_RESNET_ONNX_FILENAME = "dlib_resnet_v1.onnx"
BLAZEFACE_ONNX_FILENAME = "blazeface_back.onnx"


@dataclass(frozen=True)
class ModelFiles:
    home: Path

    @property
    def folder(self) -> Path:
        return self.home / "models"

    @property
    def deepface_home(self) -> Path:
        """The folder handed to deepface as ``DEEPFACE_HOME`` (it appends ``.deepface/weights``)."""
        return self.folder / "deepface"

    def registered_onnx(self, sha256: str) -> Path:
        """A bring-your-own model's file, named by its checksum (fetched from the object store)."""
        return self.folder / "byo" / f"{sha256}.onnx"

    @property
    def dlib_resnet_onnx(self) -> Path:
        return self.folder / DLIB_RESNET_ONNX_FILENAME

    @property
    def blazeface_onnx(self) -> Path:
        return self.folder / BLAZEFACE_ONNX_FILENAME
