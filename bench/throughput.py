"""Embedding engines and the whole pipeline per image, before and after the ONNX engine.

One run prints two tables:

1. **Embedding**: dlib-bin against onnxruntime on the same 32 real aligned chips
   (``bench.onnx_speed``), onnxruntime at 1 and 2 intra-op threads, both at batches of
   1, 8 and 32 (dlib-bin runs one thread whatever it is given), with the largest
   per-dimension difference of the vectors.
2. **Pipeline per image**: detect + align + embed, as enrollment and search run it
   (decoding excluded: every system gets the same decoded pixels; the five landmarks that
   detect and compare responses show are timed apart) on identity photos of ../shared/data/faces scaled to 640 px,
   in one process pinned to one CPU with every thread pool at 1. "before" is HOG
   (upsample 1) + dlib-bin; "after" is the default, ``catalog.DEFAULT_DETECTOR`` (BlazeFace,
   HOG as its fallback) + onnxruntime; "before the fast default" is the consensus detector
   (``catalog.CONSENSUS_DETECTOR``) + onnxruntime; the raw dlib loop (``bench.common.ReferenceDlibLoop``) is the reference.
   Models are loaded and warmed before timing.

    .venv/bin/python -m bench.throughput [--photos 60] [--json bench/results/throughput.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.common import (
    FACES,
    REPO,
    ReferenceDlibLoop,
    machine_description,
    pin_to_one_core,
    progress,
    quiet_stderr,
)
from bench.onnx_speed import Row, in_batches, load_rgb, real_chips, timed
from pipelines.detection.blazeface import BLAZEFACE_ONNX_FILENAME

ONNX_MODEL = REPO / ".facefleet" / "models" / "dlib_resnet_v1.onnx"
BLAZEFACE_ONNX = REPO / ".facefleet" / "models" / BLAZEFACE_ONNX_FILENAME
Array = np.ndarray[Any, Any]


@dataclass
class PerImage:
    system: str
    photos: int
    faces: int
    detect_ms: float
    align_ms: float
    embed_ms: float
    total_ms: float
    # Five landmarks for the faces a response shows (detect, compare): not part of the total,
    # which is what enrollment and search pay.
    landmarks_ms: float = 0.0


def embedding_rows(chip_count: int, repeats: int) -> tuple[list[Row], float]:
    import dlib
    import face_recognition_models as frm

    from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend

    chips = real_chips(
        chip_count,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
    )
    count = len(chips)
    recognizer = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def dlib_describe(batch: Array) -> Array:
        vectors = recognizer.compute_face_descriptor(list(batch))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)

    reference = dlib_describe(chips)
    rows: list[Row] = []
    for batch in (1, 8, 32):
        progress(f"dlib-bin, batch {batch}")
        rows.append(Row("dlib-bin", 1, batch, *timed(in_batches(dlib_describe, chips, batch), count, 1)))
    worst = 0.0
    for threads in (1, 2):
        backend = OnnxDescriptorBackend(ONNX_MODEL, intra_op_threads=threads)
        worst = max(worst, float(np.abs(backend.describe(chips) - reference).max()))
        for batch in (1, 8, 32):
            progress(f"onnxruntime, {threads} thread(s), batch {batch}")
            rows.append(
                Row(
                    "onnxruntime",
                    threads,
                    batch,
                    *timed(in_batches(backend.describe, chips, batch), count, repeats),
                )
            )
    dlib_wall = min(r.wall_ms_per_face for r in rows if r.engine == "dlib-bin")
    dlib_cpu = min(r.cpu_ms_per_face for r in rows if r.engine == "dlib-bin")
    return [
        Row(
            r.engine,
            r.threads,
            r.batch,
            r.wall_ms_per_face,
            r.cpu_ms_per_face,
            dlib_wall / r.wall_ms_per_face,
            dlib_cpu / r.cpu_ms_per_face,
        )
        for r in rows
    ], worst


def time_pipeline(
    label: str, detector: str, fallback: str | None, backend: str, images: list[Array]
) -> PerImage:
    from pipelines.catalog import build_pipeline
    from pipelines.embedding.dlib_resnet import DlibResnetEmbedder

    options = {"model_path": ONNX_MODEL, "intra_op_threads": 1} if backend == "onnx" else {}
    # The ONNX rows run as a worker does: BlazeFace's network on onnxruntime too.
    pipeline = build_pipeline(
        detector=detector, fallback_detector=fallback, embedding_backend=backend, backend_options=options,
        blazeface_onnx=BLAZEFACE_ONNX if backend == "onnx" else None,
    )
    embedder = pipeline.embedder
    assert isinstance(embedder, DlibResnetEmbedder)
    with quiet_stderr():
        pipeline.process(images[0])  # load every model outside the timed loop
    detect = align = embed = landmarks = 0.0
    faces = 0
    for pixels in images:
        started = time.perf_counter()
        found = pipeline.detect(pixels, landmarks=False)
        detected = time.perf_counter()
        pipeline.with_landmarks(pixels, found)
        landmarks += time.perf_counter() - detected
        detected = time.perf_counter()
        chips = embedder.aligner.chips(pixels, found)
        aligned = time.perf_counter()
        if len(chips):
            embedder.backend.describe(chips)
        embedded = time.perf_counter()
        detect += detected - started
        align += aligned - detected
        embed += embedded - aligned
        faces += len(found)
    n = len(images) / 1000
    name = f"{label}: {detector}{' > ' + fallback if fallback else ''}, {backend}"
    return PerImage(name, len(images), faces, detect / n, align / n, embed / n, (detect + align + embed) / n,
                    landmarks / n)


ISSUE_REFERENCE_MS: Final = 90.0
ISSUE_TARGET_TOTAL_MS: Final = 15.0
ISSUE_TARGET_DETECT_MS: Final = 10.0
"""Issue 10's targets, in the milliseconds of the machine it was measured on: "HOG + 5-point
alignment + descriptor: about 90 ms per face", a full image <= 15 ms, detection <= 10 ms.
On another CPU they scale with that reference system, timed in the same run (``upsample`` 0:
the issue's HOG figure, 27 ms per 640 px image, is upsample 0's)."""


def time_reference(images: list[Array], upsample: int = 1) -> PerImage:
    """``detector(img, upsample)``, then per face ``shape_predictor`` + ``compute_face_descriptor``
    (which aligns and embeds in one call: its align time is in the embed column)."""
    reference = ReferenceDlibLoop()
    reference.encodings(images[0])
    detect = rest = 0.0
    faces = 0
    for pixels in images:
        started = time.perf_counter()
        rects = reference.detector(pixels, upsample)
        detected = time.perf_counter()
        for rect in rects:
            reference.encoder.compute_face_descriptor(pixels, reference.predictor(pixels, rect), 1)
        detect += detected - started
        rest += time.perf_counter() - detected
        faces += len(rects)
    n = len(images) / 1000
    return PerImage(
        f"reference dlib loop (hog up{upsample}, dlib-bin)",
        len(images),
        faces,
        detect / n,
        0.0,
        rest / n,
        (detect + rest) / n,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60, help="identity photos for the per-image table")
    parser.add_argument("--chips", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="passes per onnxruntime row (median)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "throughput.json")
    args = parser.parse_args()

    from pipelines.catalog import CONSENSUS_DETECTOR, DEFAULT_DETECTOR, DEFAULT_FALLBACK_DETECTOR

    load_before = os.getloadavg()
    rows, worst = embedding_rows(args.chips, args.repeats)  # before pinning: 2 threads need 2 CPUs
    cpu = pin_to_one_core()
    with (FACES / "identities.csv").open() as handle:
        paths = sorted(row["path"] for row in csv.DictReader(handle))[: args.photos]
    images = [load_rgb(FACES / p) for p in paths]
    per_image = []
    for label, detector, fallback, backend in (
        ("before", "hog", None, "dlib"),
        ("consensus", CONSENSUS_DETECTOR, None, "onnx"),
        ("after", DEFAULT_DETECTOR, DEFAULT_FALLBACK_DETECTOR, "onnx"),
    ):
        progress(f"pipeline {label}")
        per_image.append(time_pipeline(label, detector, fallback, backend, images))
    per_image.append(time_reference(images))
    issue_reference = time_reference(images, upsample=0)
    per_image.append(issue_reference)
    load_after = os.getloadavg()

    print(
        f"machine: {machine_description()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print(f"\nEmbedding: {args.chips} real chips, max |onnx - dlib| per dimension {worst:.2e}\n")
    print("| engine | threads | batch | wall ms/face | CPU ms/face | wall speed-up | CPU speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.engine} | {r.threads} | {r.batch} | {r.wall_ms_per_face:.2f} | {r.cpu_ms_per_face:.2f} "
            f"| {r.speedup_vs_dlib:.1f}x | {r.cpu_speedup_vs_dlib:.1f}x |"
        )
    print(
        f"\nPipeline per image: {len(images)} identity photos at <= 640 px, pinned to CPU {cpu}, decode excluded\n"
    )
    print("| system | photos | faces | detect ms | align ms | embed ms | total ms/image | + landmarks ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in per_image:
        print(
            f"| {p.system} | {p.photos} | {p.faces} | {p.detect_ms:.1f} | {p.align_ms:.1f} | {p.embed_ms:.1f} "
            f"| {p.total_ms:.1f} | {p.landmarks_ms:.1f} |"
        )
    scale = issue_reference.total_ms / ISSUE_REFERENCE_MS
    default = next(p for p in per_image if p.system.startswith("after"))
    print(
        f"\nIssue 10's targets on this CPU: its reference system (HOG up0 + alignment + dlib-bin) took "
        f"{issue_reference.total_ms:.1f} ms per image here against ~{ISSUE_REFERENCE_MS:.0f} ms there "
        f"(x{scale:.2f}), so a full image <= {ISSUE_TARGET_TOTAL_MS * scale:.1f} ms "
        f"(the default: {default.total_ms:.1f}) and detection <= {ISSUE_TARGET_DETECT_MS * scale:.1f} ms "
        f"(the default: {default.detect_ms:.1f})."
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine_description(),
                "load": [load_before, load_after],
                "max_abs_difference": worst,
                "embedding": [asdict(r) for r in rows],
                "per_image": [asdict(p) for p in per_image],
                "issue_reference_scale": scale,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
