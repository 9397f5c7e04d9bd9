"""Sustained API load: sync detect and search at a fixed rate, idle and during a batch burst.

Everything runs as separate processes on the real engines, as docker-compose.yml runs them
(bench/distributed.py): gunicorn API, Celery workers, RabbitMQ, PostgreSQL, a Milvus
server, an S3 server. A fixed open-loop load (requests start on schedule whether or not
earlier ones have answered, so a slow server cannot slow the load down) alternates sync
``face-detect`` and ``search`` calls on real photos for ``--seconds``:

1. idle: only the load;
2. burst: a batch enrollment of ``--batch`` photos is submitted as the load starts.

Two worker layouts, one after the other on the same stack:

- shared: ``--workers`` processes consume every queue (docker-compose's worker-cpu);
- split: one process serves ``facefleet.interactive`` only, the others consume the bulk
  queues at ``--nice 10``, so bulk work yields the cores to interactive work.

The target (issue 8) is burst p99 ≤ 2 × idle p99 for the interactive calls.

    .venv/bin/python -m bench.api_load --rate 2 --seconds 45 --batch 96
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.common import machine_description, save_report
from bench.distributed import (
    CPU_QUEUES,
    REPO_ROOT,
    Client,
    Processes,
    distributed_service,
    enroll_all,
    single_face_images,
)
from core.queues import QueueName

RESULTS = REPO_ROOT / "bench" / "results" / "api_load.json"
BULK_QUEUES = ",".join(q.value for q in QueueName if q not in (QueueName.INTERACTIVE, QueueName.GPU))
GALLERY = "gallery"


@dataclass(frozen=True)
class Sample:
    operation: str
    seconds: float
    status: int


def operation_path(operation: str) -> str:
    """The project-relative endpoint of a sync ``detect`` or a ``search`` of ``GALLERY``."""
    return "face-detect" if operation == "detect" else f"face-sets/{GALLERY}/search"


class Load:
    """Open-loop requests at ``rate`` per second, alternating detect and search."""

    def __init__(self, client: Client, probes: list[Path], rate: float) -> None:
        self.client = client
        self.probes = [(path.name, path.read_bytes()) for path in probes]
        self.rate = rate
        self._sessions = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _call(self, index: int) -> Sample:
        name, data = self.probes[index % len(self.probes)]
        operation = "detect" if index % 2 == 0 else "search"
        path = operation_path(operation)
        started = time.perf_counter()
        try:
            response = self._session().post(
                self.client._url(path),
                files={"image_file": (name, data, "image/jpeg")},
                headers={"X-Auth-Token": self.client.api_key},
                timeout=60,
            )
            status = response.status_code
        except requests.RequestException:
            status = 0
        return Sample(operation, time.perf_counter() - started, status)

    def run(self, seconds: float) -> list[Sample]:
        count = int(seconds * self.rate)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=32) as pool:
            futures = []
            for index in range(count):
                delay = start + index / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self._call, index))
            return [future.result() for future in futures]


def summarize(samples: list[Sample]) -> dict[str, Any]:
    def stats(chosen: list[Sample]) -> dict[str, Any]:
        latencies = np.array([s.seconds for s in chosen if s.status == 200]) * 1000
        errors = sum(s.status != 200 for s in chosen)
        return {
            "requests": len(chosen),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if len(latencies) else None,
            "error_rate": round(errors / max(1, len(chosen)), 4),
            "statuses": sorted({s.status for s in chosen}),
        }

    return {
        "all": stats(samples),
        "detect": stats([s for s in samples if s.operation == "detect"]),
        "search": stats([s for s in samples if s.operation == "search"]),
    }


def submit_batch(client: Client, face_set: str, images: list[Path]) -> str:
    files = [("image_file", (f"{i:04d}_{p.name}", p.read_bytes(), "image/jpeg")) for i, p in enumerate(images)]
    response = requests.post(
        client._url(f"face-sets/{face_set}/faces/batch"),
        files=files,
        headers={"X-Auth-Token": client.api_key},
        timeout=120,
    )
    if response.status_code != 202:
        raise RuntimeError(f"batch answered {response.status_code}: {response.text[:300]}")
    return str(response.json()["job_id"])


def batch_progress(client: Client, job_id: str) -> dict[str, Any]:
    response = requests.get(client._url(f"jobs/{job_id}"), headers={"X-Auth-Token": client.api_key}, timeout=30)
    response.raise_for_status()
    body = response.json()
    return {"status": body["status"], **(body.get("progress") or {})}


def start_layout(processes: Processes, layout: str, workers: int) -> None:
    for name in list(processes.running):
        if name != "api":
            processes.stop(name)
    if layout == "shared":
        for index in range(workers):
            processes.start(f"{layout}{index}", "worker", "--queues", CPU_QUEUES, "--name", f"{layout}{index}@%h")
        return
    processes.start("interactive", "worker", "--queues", QueueName.INTERACTIVE.value, "--name", "interactive@%h")
    for index in range(workers - 1):
        processes.start(
            f"bulk{index}", "worker", "--queues", BULK_QUEUES, "--nice", "10", "--name", f"bulk{index}@%h"
        )


def wait_for_batch(
    client: Client, job_id: str, timeout: float = 1800, poll_seconds: float = 2.0
) -> dict[str, Any]:
    """The batch's final state. ``poll_seconds`` bounds how late its end is seen: a bench
    that times the batch polls often (a 2 s poll made a 5 s batch read as 5 to 7 s)."""
    deadline = time.monotonic() + timeout
    while (progress := batch_progress(client, job_id))["status"] not in {"succeeded", "failed"}:
        if time.monotonic() > deadline:
            break
        time.sleep(poll_seconds)
    return progress


def measure_layout(
    client: Client, processes: Processes, layout: str, args: argparse.Namespace, load: Load, batch: list[Path]
) -> dict[str, Any]:
    start_layout(processes, layout, args.workers)
    load.run(max(10.0, 8 / args.rate))  # warm-up: every process loads its models
    idle = load.run(args.seconds)
    face_set = f"burst-{layout}"
    client.create_face_set(face_set)
    job_id = submit_batch(client, face_set, batch)
    burst = load.run(args.seconds)
    during = batch_progress(client, job_id)
    finished = wait_for_batch(client, job_id)  # the next layout starts with empty queues
    idle_summary, burst_summary = summarize(idle), summarize(burst)
    idle_p99, burst_p99 = idle_summary["all"]["p99_ms"], burst_summary["all"]["p99_ms"]
    return {
        "layout": layout,
        "idle": idle_summary,
        "burst": burst_summary,
        "burst_over_idle_p99": round(burst_p99 / idle_p99, 2) if idle_p99 and burst_p99 else None,
        "batch_done_during_burst": during,
        "batch_final": finished,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=2.0, help="interactive requests per second")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each measured phase")
    parser.add_argument("--batch", type=int, default=96, help="photos in the burst's batch enrollment")
    parser.add_argument("--workers", type=int, default=2, help="worker processes in each layout")
    parser.add_argument("--layouts", default="shared,split")
    args = parser.parse_args(argv)
    photos = single_face_images(min(120, args.batch + 24))
    gallery, probes = photos[:16], photos[16:24]
    batch = (photos * (args.batch // len(photos) + 1))[: args.batch]

    with distributed_service() as (client, processes):
        start_layout(processes, "shared", args.workers)
        client.create_face_set(GALLERY)
        enroll_all(client, GALLERY, gallery)
        load = Load(client, probes, args.rate)
        runs = [measure_layout(client, processes, layout, args, load, batch) for layout in args.layouts.split(",")]
        # A failed request is worth its logs (bench/results/logs/): one run in four once
        # answered every search with 500, and the logs had gone with the temporary folder.
        processes.keep_logs = any(run[phase]["all"]["error_rate"] > 0 for run in runs for phase in ("idle", "burst"))

    report = {
        "machine": machine_description(),
        "command": f"python -m bench.api_load --rate {args.rate} --seconds {args.seconds} "
        f"--batch {args.batch} --workers {args.workers}",
        "runs": runs,
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
