"""deepface recognition models as embedders with ids ``deepface-<Model>``.

deepface sees our detector's crop: its detector is ``skip`` (the crop is resized to the
model input as is) or ``opencv`` (deepface re-finds and eye-aligns the face inside the
crop). Its vectors are therefore never comparable with ``dlib-resnet-v1``, even for its
``Dlib`` model, whose alignment differs from dlib's chip.

deepface finds weights only through ``$DEEPFACE_HOME/.deepface/weights`` and downloads
what is missing. Here the home is an argument: the model is built with the variable set
to it for the duration of the build (the one process-wide side effect, under a lock), and
a model whose weight file is absent is refused up front instead of downloading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import numpy as np

from pipelines.errors import UnknownModelError
from pipelines.types import DetectedFace, Embedding, RGBImage

WEIGHT_FILES: Final[dict[str, str]] = {
    # Only models whose weight file name does not depend on deepface's backend choice.
    "Dlib": "dlib_face_recognition_resnet_model_v1.dat",
    "SFace": "face_recognition_sface_2021dec.onnx",
}
DIMENSIONS: Final[dict[str, int]] = {"Dlib": 128, "SFace": 128}
DETECTOR_BACKENDS: Final = ("skip", "opencv")
_home_lock = threading.Lock()


def weights_dir(deepface_home: Path) -> Path:
    return deepface_home / ".deepface" / "weights"


def available_models(deepface_home: Path) -> list[str]:
    """deepface models whose weights are present under ``deepface_home``."""
    folder = weights_dir(deepface_home)
    return sorted(name for name, file in WEIGHT_FILES.items() if (folder / file).is_file())


@contextmanager
def _deepface_home(home: Path) -> Iterator[None]:
    with _home_lock:
        previous = os.environ.get("DEEPFACE_HOME")
        os.environ["DEEPFACE_HOME"] = str(home.resolve())
        try:
            yield
        finally:
            if previous is None:
                del os.environ["DEEPFACE_HOME"]
            else:
                os.environ["DEEPFACE_HOME"] = previous


class DeepFaceEmbedder:
    def __init__(self, model_name: str, deepface_home: Path, detector_backend: str = "skip") -> None:
        if model_name not in WEIGHT_FILES:
            raise UnknownModelError(f"deepface model {model_name!r} is not offered (offered: {sorted(WEIGHT_FILES)})")
        if detector_backend not in DETECTOR_BACKENDS:
            raise UnknownModelError(f"deepface detector {detector_backend!r} is not one of {DETECTOR_BACKENDS}")
        weight_file = weights_dir(deepface_home) / WEIGHT_FILES[model_name]
        if not weight_file.is_file():
            raise UnknownModelError(
                f"weights of deepface-{model_name} are missing at {weight_file} (run facefleet.models_setup)"
            )
        self.model_name = model_name
        self.model_id = f"deepface-{model_name}"
        self.deepface_home = deepface_home
        self.detector_backend = detector_backend
        self.dimension = DIMENSIONS[model_name]
        self._represent: Any = None

    def _load(self) -> Any:
        if self._represent is None:
            with _deepface_home(self.deepface_home):
                from deepface import DeepFace
                from deepface.modules import modeling

                modeling.build_model(task="facial_recognition", model_name=self.model_name)
            self._represent = DeepFace.represent
        return self._represent

    def embed(self, image: RGBImage, faces: Sequence[DetectedFace]) -> list[Embedding]:
        if not faces:
            return []
        represent = self._load()
        embeddings = []
        for face in faces:
            box = face.box
            crop_bgr = np.ascontiguousarray(image[box.y : box.bottom, box.x : box.right, ::-1])
            found = represent(
                img_path=crop_bgr,
                model_name=self.model_name,
                detector_backend=self.detector_backend,
                enforce_detection=False,
                align=True,
            )
            # With a detector, deepface may see several faces in one crop: the largest is ours.
            best = max(found, key=lambda r: r["facial_area"]["w"] * r["facial_area"]["h"])
            embeddings.append(Embedding(model_id=self.model_id, vector=np.asarray(best["embedding"], dtype=np.float32)))
        return embeddings
