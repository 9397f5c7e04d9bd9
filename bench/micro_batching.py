"""Micro-batching across concurrent jobs (issue 10), measured in one run.

A threads-pool worker runs ``--threads`` jobs at once; each job is one photo (detect +
align + embed, like an add-face or a one-image chunk). Two configurations on the same
photos, in the same process:

- separate: every job thread has its own pipeline and its own ONNX session;
- coalesced: every job thread has its own detector and aligner, and all share one
  ``CoalescingBackend`` (one ONNX session with every core) that merges their chips into
  one call per window.

Also the embedding stage alone (one chip per job, the share micro-batching acts on).

    .venv/bin/python -m bench.micro_batching --images 48 --threads 4 --window-ms 4
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.common import machine_description, save_report  # first: sets thread counts before ML imports
from bench.distributed import REPO_ROOT, single_face_images
from bench.onnx_speed import load_rgb

RESULTS = REPO_ROOT / "bench" / "results" / "micro_batching.json"


def _settings(detector: str, fallback: str | None, window_ms: float, onnx_threads: int = 1) -> Any:
    from infra.settings import Settings

    return Settings.model_validate(
        {
            "models": {"home": REPO_ROOT / ".facefleet"},
            "pipeline": {
                "detector": detector,
                "fallback_detector": fallback,
                "micro_batch_wait_ms": window_ms,
                "onnx_threads": onnx_threads,
            },
        }
    )


# The separate sessions run side by side on every core; the one shared session gets every
# core for itself instead, or the comparison would be one core against all of them.
SHARED_SESSION_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_jobs(jobs: list[Any], threads: int, work: Callable[[int, Any], None]) -> float:
    """Jobs per second when ``threads`` threads pull from one queue, like a threads pool."""
    waiting: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for job in jobs:
        waiting.put(job)

    def worker(slot: int) -> None:
        while True:
            try:
                job = waiting.get_nowait()
            except queue.Empty:
                return
            work(slot, job)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return len(jobs) / (time.perf_counter() - started)


def measure_pipeline(images: list[Any], threads: int, detector: str, fallback: str | None, window_ms: float) -> dict[str, Any]:
    from pipelines.embedding.coalescing import CoalescingStats
    from workers.models import build_coalescing_backend, build_pipeline

    separate_settings = _settings(detector, fallback, 0)
    separate = [build_pipeline(separate_settings) for _ in range(threads)]
    coalesced_settings = _settings(detector, fallback, window_ms, SHARED_SESSION_THREADS)
    shared = build_coalescing_backend(coalesced_settings)
    coalesced = [build_pipeline(coalesced_settings, shared_backend=shared) for _ in range(threads)]
    for pipelines in (separate, coalesced):  # load every model before timing
        for pipeline in pipelines:
            pipeline.process(images[0], embed=True)
    shared.stats = CoalescingStats()  # count the timed runs only
    separate_rate = _run_jobs(images, threads, lambda slot, image: separate[slot].process(image, embed=True))
    coalesced_rate = _run_jobs(images, threads, lambda slot, image: coalesced[slot].process(image, embed=True))
    return {
        "detector": detector if fallback is None else f"{detector}>{fallback}",
        "separate_images_per_s": round(separate_rate, 2),
        "coalesced_images_per_s": round(coalesced_rate, 2),
        "ratio": round(coalesced_rate / separate_rate, 3),
        "requests_per_backend_call": round(shared.stats.requests / max(1, shared.stats.backend_calls), 2),
    }


def measure_embedding(chips: Any, threads: int, window_ms: float, repeats: int) -> dict[str, Any]:
    from pipelines.embedding.coalescing import CoalescingBackend, CoalescingStats
    from pipelines.embedding.dlib_resnet import descriptor_backend
    from workers.models import descriptor_backend_options

    own = [descriptor_backend("onnx", **descriptor_backend_options(_settings("hog", None, 0))) for _ in range(threads)]
    shared_options = descriptor_backend_options(_settings("hog", None, 0, SHARED_SESSION_THREADS))
    shared = CoalescingBackend(descriptor_backend("onnx", **shared_options), 32, window_ms / 1000)
    singles = [chips[i : i + 1] for i in range(len(chips))] * repeats
    for backend in (*own, shared):
        backend.describe(singles[0])
    shared.stats = CoalescingStats()  # count the timed runs only
    separate_rate = _run_jobs(singles, threads, lambda slot, chip: own[slot].describe(chip))
    coalesced_rate = _run_jobs(singles, threads, lambda slot, chip: shared.describe(chip))
    return {
        "separate_chips_per_s": round(separate_rate, 1),
        "coalesced_chips_per_s": round(coalesced_rate, 1),
        "ratio": round(coalesced_rate / separate_rate, 3),
        "requests_per_backend_call": round(shared.stats.requests / max(1, shared.stats.backend_calls), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--window-ms", type=float, default=4.0)
    parser.add_argument("--chip-repeats", type=int, default=8)
    args = parser.parse_args(argv)
    images = [load_rgb(path) for path in single_face_images(args.images)]  # 640 px, EXIF upright
    import numpy as np

    from workers.models import build_pipeline

    aligner = build_pipeline(_settings("hog", None, 0))
    chips = np.concatenate([aligner.embedder.aligner.chips(image, aligner.detect(image)[:1]) for image in images])
    report = {
        "machine": machine_description(),
        "command": f"python -m bench.micro_batching --images {args.images} --threads {args.threads} "
        f"--window-ms {args.window_ms}",
        "embedding_only": measure_embedding(chips, args.threads, args.window_ms, args.chip_repeats),
        "pipelines": [
            measure_pipeline(images, args.threads, "blazeface", "hog", args.window_ms),
            measure_pipeline(images, args.threads, "hog+blazeface", None, args.window_ms),
        ],
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
