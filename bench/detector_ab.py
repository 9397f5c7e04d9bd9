"""The default detector against its own code at another git revision, on the same photos
in the same process: network passes per photo and the whole-image time (detect + align +
embed, ONNX engine, one pinned core), the two taking turns photo by photo so that the
machine's drift hits both alike; medians over ``--repeats`` rounds.

    .venv/bin/python -m bench.detector_ab [--rev HEAD] [--photos 60] [--side 640] [--repeats 5]

Photos: the first ``--photos`` identity photos (one face each), scaled to ``--side`` px
(0: as they are), then every _misc photo with a documented face count.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

from bench.common import FACES, REPO, machine_description, pin_to_one_core, progress

MODELS = REPO / ".facefleet" / "models"
MODULE = "pipelines/detection/blazeface.py"


def module_at(rev: str, folder: Path) -> types.ModuleType:
    """``pipelines.detection.blazeface`` as it was at ``rev`` (its imports are today's)."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{MODULE}"], cwd=REPO, check=True, capture_output=True, text=True
    )
    path = folder / "blazeface_at_rev.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("blazeface_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def photos(count: int, side: int) -> list[tuple[str, Any]]:
    from pipelines.image import ImageLimits, decode_image
    from tests.support.photos import identity_photos, single_face_identities

    chosen: list[tuple[str, Any]] = []
    for identity in single_face_identities():
        for path in identity_photos(identity)[:2]:
            if len(chosen) < count:
                image = Image.fromarray(decode_image(path.read_bytes(), ImageLimits()).pixels)
                if side:
                    image.thumbnail((side, side))
                chosen.append((f"{path.parent.name}/{path.name}", np.asarray(image)))
    for name in ("face_counts.csv", "face_counts_more.csv"):
        with (FACES / "_misc" / name).open() as handle:
            for row in csv.DictReader(handle):
                if row["n_faces_documented"]:
                    chosen.append(
                        (row["path"], decode_image((FACES / row["path"]).read_bytes(), ImageLimits()).pixels)
                    )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--side", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pin_to_one_core()
    from pipelines.catalog import build_pipeline, default_registry
    from pipelines.detection import blazeface
    from pipelines.registry import ModelKind

    systems = {}
    for label, module in (("before", module_at(args.rev, Path(tempfile.mkdtemp()))), ("after", blazeface)):
        registry = default_registry()
        registry.register(
            ModelKind.DETECTOR,
            "blazeface-ab",
            lambda module=module: module.BlazeFaceDetector(
                module.BlazeFaceModel.BACK, onnx_model=MODELS / "blazeface_back.onnx"
            ),
        )
        systems[label] = build_pipeline(
            detector="blazeface-ab",
            registry=registry,
            embedding_backend="onnx",
            backend_options={"model_path": MODELS / "dlib_resnet_v1.onnx"},
        )
    chosen = photos(args.photos, args.side)
    progress(f"{len(chosen)} photos; {machine_description()}")
    times: dict[str, dict[str, list[float]]] = {label: {name: [] for name, _ in chosen} for label in systems}
    passes: dict[str, dict[str, int]] = {label: {} for label in systems}
    faces: dict[str, dict[str, int]] = {label: {} for label in systems}
    for label, pipeline in systems.items():  # warm-up, and the passes and faces per photo
        detector = cast(Any, pipeline.detector).primary  # the FallbackDetector's BlazeFace
        pipeline.process(chosen[0][1])
        network, calls = detector._network, [0]
        detector._network = _Counting(network, calls)
        for name, pixels in chosen:
            calls[0] = 0
            faces[label][name] = len(pipeline.process(pixels))
            passes[label][name] = calls[0]
        detector._network = network
    for _ in range(args.repeats):
        for name, pixels in chosen:
            for label, pipeline in systems.items():
                started = time.perf_counter()
                pipeline.process(pixels)
                times[label][name].append((time.perf_counter() - started) * 1000)
    single = [name for name, _ in chosen[: args.photos]]
    print(f"rev {args.rev} against the working tree; {args.repeats} rounds; ms = median per photo")
    print("| photos | before ms (sum of medians) | after ms | after/before | before passes | after passes |")
    print("|---|---:|---:|---:|---:|---:|")
    for title, names in ((f"{len(single)} one-face identity photos", single),):
        before = sum(statistics.median(times["before"][n]) for n in names)
        after = sum(statistics.median(times["after"][n]) for n in names)
        print(
            f"| {title} | {before:.1f} | {after:.1f} | {after / before:.3f} | "
            f"{sum(passes['before'][n] for n in names)} | {sum(passes['after'][n] for n in names)} |"
        )
    print("\n| photo | faces before | after | passes before | after | ms before | after |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _ in chosen:
        if name in single and passes["before"][name] == passes["after"][name] == 1:
            continue
        print(
            f"| {name} | {faces['before'][name]} | {faces['after'][name]} | {passes['before'][name]} | "
            f"{passes['after'][name]} | {statistics.median(times['before'][name]):.1f} | "
            f"{statistics.median(times['after'][name]):.1f} |"
        )


class _Counting:
    """A network that counts its passes."""

    def __init__(self, network: Any, calls: list[int]) -> None:
        self.network = network
        self.size = network.size
        self.calls = calls

    def __call__(self, square: Any) -> Any:
        self.calls[0] += 1
        return self.network(square)


if __name__ == "__main__":
    main()
