"""One sync detect (or search) at a time on a quiet stack, against the same computation.

``bench.latency`` measures under a load (an open loop at ``--rate``, a closed loop); this
bench measures what one caller alone waits: sequential sync ``face-detect`` calls of one
probe photo, ``--gap`` seconds apart on a kept-alive connection, through the distributed
stack of ``bench.latency`` (``--stack embedded``: its embedded one; 2 interactive workers
either way), and in each round the same photo's computation in this process (decode,
detect, landmarks: what the detect job computes), at the calls' cadence (``--gap`` apart)
and back to back.
Rounds alternate the two, so a drift of the shared machine shows in both. Reported per
round: the API's p50/p90, the computation's p50 and the difference; and the median split
of a call from its job row (``bench.latency.breakdown``).

``--operation search`` sends sync searches of a 16-face gallery instead (enrolled first; the
calls start after its read-your-writes window), against the search's computation (decode,
detect, embed): the difference then also holds the job's reads of the face set, the index
and the rows. The job-row split is of the same operation.

``--pool`` runs the interactive workers on another Celery pool (``solo``: the job runs in
the worker's main process, without the prefork pool's hop to a child). ``--inline-max-bytes``
restarts the API with another ``api.inline_probe_max_bytes`` (0: every probe goes through
the object store), to find where sending a photo inline stops paying.

    .venv/bin/python -m bench.idle_latency --calls 60 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.api_load import operation_path
from bench.common import machine_description, save_report
from bench.distributed import REPO_ROOT, Client, Processes, distributed_service, wait_until
from bench.latency import (
    INTERACTIVE,
    _compute,
    _pipeline,
    bench_photos,
    breakdown,
    embedded_service,
    enroll_gallery,
    restart_api_with_inline_limit,
)

RESULTS = REPO_ROOT / "bench" / "results" / "idle_latency.json"


def computation_times(
    pipeline: Any, probe: bytes, calls: int, gap: float, operation: str = "detect"
) -> list[float]:
    """Milliseconds of each of ``calls`` computations of ``probe``, ``gap`` seconds apart.

    The API's calls come ``--gap`` apart, so their jobs start on a core that sat idle; the
    same computation back to back, on warm caches, runs ~2-3 ms faster on the hosts measured
    (docs/BENCHMARKS.md, twelfth pass). The baseline keeps the calls' cadence, so the
    difference is the path and not the pause; the back-to-back figure is reported beside it."""
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        _compute(pipeline, operation, probe)
        timings.append((time.perf_counter() - started) * 1000)
        if gap:
            time.sleep(gap)
    return timings


def enroll_settled_gallery(client: Client, processes: Processes, gallery: list[Path]) -> None:
    """``bench.latency``'s gallery enrolled, then a wait past the read-your-writes window: the
    calls measure the steady state."""
    from workers.services.search import READ_YOUR_WRITES_WINDOW

    enroll_gallery(client, processes, gallery)
    time.sleep(READ_YOUR_WRITES_WINDOW.total_seconds() + 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=60, help="sequential calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between calls")
    parser.add_argument("--pool", default="prefork", help="the interactive workers' Celery pool")
    parser.add_argument("--photo", type=Path, help="the probe (default: bench.latency's first probe)")
    parser.add_argument("--inline-max-bytes", type=int, help="the API's api.inline_probe_max_bytes")
    parser.add_argument("--stack", choices=("distributed", "embedded"), default="distributed")
    parser.add_argument("--operation", choices=("detect", "search"), default="detect")
    args = parser.parse_args(argv)
    photos = bench_photos()
    photo = args.photo or photos.probes[0]
    probe = photo.read_bytes()
    pipeline = _pipeline()
    for _ in range(10):
        _compute(pipeline, args.operation, probe)
    path = operation_path(args.operation)

    rounds: list[dict[str, Any]] = []
    service = distributed_service if args.stack == "distributed" else embedded_service
    with service() as (client, processes):
        for index in range(2):
            name = f"interactive{index}"
            processes.start(
                name, "worker", "--queues", INTERACTIVE, "--name", f"i{index}@%h", "--pool", args.pool
            )
        if args.inline_max_bytes is not None:
            restart_api_with_inline_limit(client, processes, args.inline_max_bytes)
        if args.operation == "search":
            enroll_settled_gallery(client, processes, photos.gallery)
        session = requests.Session()

        def call() -> float:
            started = time.perf_counter()
            response = session.post(
                client._url(path),
                files={"image_file": (photo.name, probe, "image/jpeg")},
                headers={"X-Auth-Token": client.api_key},
                timeout=30,
            )
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        wait_until(lambda: call() > 0, "a sync detect")
        for _ in range(30):  # every process and connection warm
            call()
            time.sleep(0.1)
        for _ in range(args.rounds):
            back_to_back = computation_times(pipeline, probe, args.calls, gap=0.0, operation=args.operation)
            alone = computation_times(pipeline, probe, args.calls, gap=args.gap, operation=args.operation)
            api = []
            for _ in range(args.calls):
                api.append(call())
                time.sleep(args.gap)
            p50, computed = float(np.median(api)), float(np.median(alone))
            rounds.append(
                {
                    "api_p50_ms": round(p50, 1),
                    "api_p90_ms": round(float(np.percentile(api, 90)), 1),
                    "computation_p50_ms": round(computed, 1),
                    "computation_back_to_back_p50_ms": round(float(np.median(back_to_back)), 1),
                    "over_computation_ms": round(p50 - computed, 1),
                }
            )
            print(rounds[-1], flush=True)
        split = breakdown(
            client, processes.env["FACEFLEET_DATABASE__URL"], probe, repeats=21, operation=args.operation
        )

    report = {
        "machine": machine_description(),
        "command": "python -m bench.idle_latency " + " ".join(argv if argv is not None else sys.argv[1:]),
        "photo": photo.name,
        "photo_bytes": len(probe),
        "stack": args.stack,
        "operation": args.operation,
        "pool": args.pool,
        "inline_max_bytes": args.inline_max_bytes,
        "rounds": rounds,
        "median_over_computation_ms": round(float(np.median([r["over_computation_ms"] for r in rounds])), 1),
        "breakdown_ms": split,
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
