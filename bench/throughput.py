"""Faces per second per core for detect + align + embed, against the raw dlib loop.

Runs on every photo of ../shared/data/faces/_misc/multi_face (25 photos, 2-24 faces each,
up to 2280 px) in one process pinned to one CPU, with every thread pool at 1. Each system
sees the same decoded pixels (decoding is timed once, separately). Models are loaded and
warmed on one photo before timing.

    .venv/bin/python -m bench.throughput [--detectors hog,blazeface] [--backends dlib,onnx] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import FACES, REPO, ReferenceDlibLoop, machine_description, pin_to_one_core, progress
from bench.common import quiet_stderr

import numpy as np  # noqa: E402  (after bench.common pins thread counts)

PHOTOS = FACES / "_misc" / "multi_face"


@dataclass
class StageTimes:
    system: str
    photos: int
    faces: int
    detect_ms_per_photo: float
    detect_ms_per_face: float
    align_ms_per_face: float
    embed_ms_per_face: float
    total_ms_per_face: float
    faces_per_second: float


def summarise(system: str, photos: int, faces: int, detect: float, align: float, embed: float) -> StageTimes:
    total = detect + align + embed
    return StageTimes(
        system=system,
        photos=photos,
        faces=faces,
        detect_ms_per_photo=detect / photos * 1000,
        detect_ms_per_face=detect / faces * 1000,
        align_ms_per_face=align / faces * 1000,
        embed_ms_per_face=embed / faces * 1000,
        total_ms_per_face=total / faces * 1000,
        faces_per_second=faces / total,
    )


ONNX_MODEL = REPO / ".facefleet" / "models" / "dlib_resnet_v1.onnx"


def time_facefleet(detector: str, images: list[np.ndarray[Any, Any]], repeat: int, backend: str = "dlib") -> StageTimes:
    from pipelines.catalog import build_pipeline
    from pipelines.embedding.dlib_resnet import DlibResnetEmbedder

    options = {"model_path": ONNX_MODEL, "intra_op_threads": 1} if backend == "onnx" else {}
    pipeline = build_pipeline(detector=detector, embedding_backend=backend, backend_options=options)
    embedder = pipeline.embedder
    assert isinstance(embedder, DlibResnetEmbedder)
    with quiet_stderr():
        pipeline.process(images[0])  # load every model outside the timed loop
    detect = align = embed = 0.0
    faces = 0
    for _ in range(repeat):
        for pixels in images:
            started = time.perf_counter()
            found = pipeline.detect(pixels)
            detected = time.perf_counter()
            chips = embedder.aligner.chips(pixels, found)
            aligned = time.perf_counter()
            embedder.backend.describe(chips)
            embedded = time.perf_counter()
            detect += detected - started
            align += aligned - detected
            embed += embedded - aligned
            faces += len(found)
    label = f"FaceFleet ({detector}, {backend})"
    return summarise(label, len(images) * repeat, faces, detect, align, embed)


def time_reference(images: list[np.ndarray[Any, Any]], repeat: int) -> StageTimes:
    """The documented dlib loop: ``detector(img, 1)``, then per face ``shape_predictor`` and
    ``compute_face_descriptor(img, shape)`` (which aligns and embeds in one call)."""
    reference = ReferenceDlibLoop()
    reference.encodings(images[0])
    detect = align_and_embed = 0.0
    faces = 0
    for _ in range(repeat):
        for pixels in images:
            started = time.perf_counter()
            rects = reference.detector(pixels, 1)
            detected = time.perf_counter()
            for rect in rects:
                reference.encoder.compute_face_descriptor(pixels, reference.predictor(pixels, rect), 1)
            detect += detected - started
            align_and_embed += time.perf_counter() - detected
            faces += len(rects)
    # The reference aligns inside compute_face_descriptor: its align column is folded into embed.
    return summarise(reference.name, len(images) * repeat, faces, detect, 0.0, align_and_embed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", default="", help="extra FaceFleet detectors, comma-separated")
    parser.add_argument("--backends", default="dlib,onnx", help="descriptor backends to time each detector with")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "throughput.json")
    args = parser.parse_args()
    cpu = pin_to_one_core()

    from pipelines.catalog import DEFAULT_DETECTOR
    from pipelines.image import ImageLimits, decode_image

    paths = sorted(PHOTOS.iterdir())
    started = time.perf_counter()
    images = [decode_image(path.read_bytes(), ImageLimits()).pixels for path in paths]
    decode_ms = (time.perf_counter() - started) / len(paths) * 1000

    results = []
    for detector in [DEFAULT_DETECTOR] + [d for d in args.detectors.split(",") if d and d != DEFAULT_DETECTOR]:
        for backend in [b for b in args.backends.split(",") if b]:
            results.append(time_facefleet(detector, images, args.repeat, backend))
            progress(f"done: {results[-1].system}")
    results.append(time_reference(images, args.repeat))

    print(f"machine: {machine_description()}; pinned to CPU {cpu}, thread pools at 1")
    print(f"photos: {len(paths)} from _misc/multi_face, repeat {args.repeat}, decode {decode_ms:.0f} ms/photo\n")
    print("| system | faces | detect ms/photo | detect ms/face | align ms/face | embed ms/face "
          "| total ms/face | faces/s/core |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.system} | {r.faces} | {r.detect_ms_per_photo:.0f} | {r.detect_ms_per_face:.1f} "
              f"| {r.align_ms_per_face:.1f} | {r.embed_ms_per_face:.1f} | {r.total_ms_per_face:.1f} "
              f"| {r.faces_per_second:.2f} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine_description(), "decode_ms_per_photo": decode_ms,
                                     "results": [asdict(r) for r in results]}, indent=2))


if __name__ == "__main__":
    main()
