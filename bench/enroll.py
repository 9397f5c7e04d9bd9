"""Enrollment through the queue versus the raw pipeline, measured in one run.

1. raw: this process decodes, detects and embeds every image in a loop (one core), before
   and after the queued runs (their mean is the baseline);
2. queued: the same images go through the HTTP API → RabbitMQ → worker processes →
   S3, Milvus and PostgreSQL, with 1 and then 2 worker processes, as one job per photo
   and as one call to the batch endpoint (its time includes the upload).

The queue path's cost is ``1 - queued_1_worker / raw``: the share of the per-core rate
lost to the API, the broker and three stores. The targets: one job per photo at most 10 %
below raw; the batch endpoint with 1 worker at least 0.90x raw, and 2 workers 1.6x one.

The raw loop is one Python thread, but OpenCV and ONNX Runtime add threads of their own: on
two cores it keeps ~1.1-1.2 of them busy. So the report also runs it in a fresh process,
unpinned and pinned to one core (``raw_in_a_fresh_process``: its rate, the cores it used, its
rate on one core), and gives the batch's ratio to that one-core rate
(``batch_one_worker_over_raw_one_core``); the targets' ratios stay against the unpinned loop,
the higher bar.

    .venv/bin/python -m bench.enroll --images 48
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from bench.api_load import submit_batch, wait_for_batch
from bench.common import machine_description, pin_to_one_core, save_report
from bench.cpu_share import CpuShare
from bench.distributed import (
    REPO_ROOT,
    Client,
    Processes,
    Run,
    distributed_service,
    face_set_pipeline,
    measure,
    single_face_images,
)

RESULTS = REPO_ROOT / "bench" / "results" / "enroll.json"


def raw_rate(images: list[Path], warmup: list[Path]) -> float:
    """Images per second of decode + detect + align + embed in this process, with the
    model the bench's face sets embed with."""
    return _raw_loop(images, warmup)[0]


def _raw_loop(images: list[Path], warmup: list[Path]) -> tuple[float, float]:
    """(images per second, cores the process kept busy meanwhile) of the raw loop."""
    from pipelines.image import ImageLimits, decode_image

    pipeline = face_set_pipeline()
    for image in warmup:
        pipeline.process(decode_image(image.read_bytes(), ImageLimits()), embed=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    for image in images:
        pipeline.process(decode_image(image.read_bytes(), ImageLimits()), embed=True)
    seconds = time.perf_counter() - started
    return len(images) / seconds, (time.process_time() - cpu_started) / seconds


def raw_loop_elsewhere(images: list[Path], warmup: list[Path], one_core: bool) -> tuple[float, float]:
    """``_raw_loop`` in a fresh process (its own models, so this one's warm caches do not
    count), pinned to one core when asked. The pin comes before the pipeline loads: OpenCV's
    and ONNX Runtime's threads start then and inherit it (bench.common keeps numpy's BLAS at
    one thread, so none runs outside it)."""
    context = multiprocessing.get_context("spawn")
    pin = pin_to_one_core if one_core else None
    with ProcessPoolExecutor(1, mp_context=context, initializer=pin) as pool:
        return pool.submit(_raw_loop, images, warmup).result()


def measure_batch(client: Client, processes: Processes, images: list[Path], workers: int) -> Run:
    """One batch-endpoint call for every image, timed from the upload to the batch's end.
    Runs after ``measure`` with as many workers, so they are started and warm."""
    face_set = f"batch-{workers}w"
    client.create_face_set(face_set)
    with CpuShare() as cpu:
        started = time.perf_counter()
        job_id = submit_batch(client, face_set, images)
        uploaded = time.perf_counter() - started
        final = wait_for_batch(client, job_id, poll_seconds=0.05)
        seconds = time.perf_counter() - started
    return Run(
        workers=workers,
        images=len(images),
        seconds=seconds,
        failed_jobs=int(final["status"] != "succeeded"),
        upload_seconds=round(uploaded, 3),
        cpu=cpu.report(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    chosen = single_face_images(args.images + args.warmup)
    warmup, images = chosen[: args.warmup], chosen[args.warmup :]

    # The raw loop runs before and after the stack, and the ratios use the mean: a shared
    # VM's speed drifts within a run (the raw rate of one commit ranged 13-18 images/s).
    raw_before = raw_rate(images, warmup)
    raw_unpinned, raw_cores = raw_loop_elsewhere(images, warmup, one_core=False)
    raw_one_core, _ = raw_loop_elsewhere(images, warmup, one_core=True)
    with distributed_service() as (client, processes):
        runs, batches = [], []
        for workers in (1, 2):
            runs.append(measure(client, processes, images, warmup, workers))
            batches.append(measure_batch(client, processes, images, workers))
    raw_after = raw_rate(images, warmup)
    raw = (raw_before + raw_after) / 2

    one, two = runs
    batch_one, batch_two = batches
    report = {
        "machine": machine_description(),
        "command": "python -m bench.enroll " + " ".join(argv if argv is not None else sys.argv[1:]),
        "images": len(images),
        "raw_images_per_second": round(raw, 3),
        "raw_images_per_second_before_and_after": [round(raw_before, 3), round(raw_after, 3)],
        # The same loop in a fresh process, unpinned and then pinned to one core, back to back.
        "raw_in_a_fresh_process": {
            "images_per_second": round(raw_unpinned, 3),
            "cores_used": round(raw_cores, 2),
            "one_core_images_per_second": round(raw_one_core, 3),
        },
        "runs": [{**asdict(run), "images_per_second": round(run.images_per_second, 3)} for run in runs],
        "queue_cost_one_worker": round(1 - one.images_per_second / raw, 3),
        "ratio_2_over_1": round(two.images_per_second / one.images_per_second, 3),
        "batch_runs": [{**asdict(run), "images_per_second": round(run.images_per_second, 3)} for run in batches],
        "batch_one_worker_over_raw": round(batch_one.images_per_second / raw, 3),
        "batch_one_worker_over_raw_one_core": round(batch_one.images_per_second / raw_one_core, 3),
        "batch_ratio_2_over_1": round(batch_two.images_per_second / batch_one.images_per_second, 3),
        "cpu_count": os.cpu_count(),
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
