"""Sync latency and throughput through the API against the computation alone, in one run.

For each stack (``--stacks distributed,embedded``):

1. computation: this process decodes and runs the detect and search pipelines on the same
   probe photos, one at a time on one core, on the open loop's schedule (p50/p99 per
   operation) and back to back (reported beside them), and two processes do it in a closed
   loop on two cores (the in-process rate). The paced computation runs twice: on the quiet
   machine before any stack, and again with each stack up and idle, just before its open
   loop, a few minutes later. The API's numbers are compared with the lower of the two, per
   figure: on a shared VM the paced detect came out 15-20 ms at p50 in two runs and 36-39 ms
   in three runs an hour later, while back to back it stayed 13-21 ms (docs/BENCHMARKS.md,
   "Fifteenth pass"); a baseline measured once, in a slow moment, would flatter the path;
2. open loop: sync ``face-detect`` and ``search`` through the API at ``--rate`` per second
   (requests start on schedule), p50/p99 per operation;
3. closed loop: ``--clients`` callers issue sync requests back to back for ``--seconds``
   against 2 interactive worker processes; requests per second against the in-process rate;
4. one request's breakdown from its job row, for a detect and for a search: before the row
   (API parse, probe intake), row to start (publish, queue, worker pick-up), start to finish
   (the worker's job), finish to the answer (completion push, response);
5. searches right after an enrollment (within the read-your-writes window, when a search
   asks the index for Strong consistency) against the same searches after it. The loops
   above start after that window: they measure the steady state.

The distributed stack is bench/distributed.py's (gunicorn API, Celery workers, RabbitMQ,
PostgreSQL, a Milvus server, an S3 server); the embedded one is what `facefleet up` runs
(SQLite, SQL broker transport, milvus-lite, local objects).

    .venv/bin/python -m bench.latency --rate 4 --seconds 20 --clients 4
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.api_load import GALLERY, Load, Sample, operation_path
from bench.common import machine_description, save_report
from bench.cpu_share import CpuShare
from bench.distributed import (
    REPO_ROOT,
    Client,
    Processes,
    api_serving,
    distributed_service,
    enroll_all,
    face_set_pipeline,
    single_face_images,
    wait_until,
)

RESULTS = REPO_ROOT / "bench" / "results" / "latency.json"
INTERACTIVE = "facefleet.interactive"
ENROLL_QUEUES = "facefleet.interactive,facefleet.enroll"


def percentiles(values_ms: list[float]) -> dict[str, float | None]:
    if not values_ms:
        return {"p50_ms": None, "p99_ms": None}
    array = np.array(values_ms)
    return {"p50_ms": round(float(np.percentile(array, 50)), 1), "p99_ms": round(float(np.percentile(array, 99)), 1)}


# --- computation alone ----------------------------------------------------------------------


def _pipeline() -> Any:
    # A search embeds with the gallery's model; detect embeds nothing, so any model does.
    return face_set_pipeline()


def _compute(pipeline: Any, operation: str, data: bytes) -> None:
    """What the detect and search jobs compute (workers/services/analyze.py, search.py)."""
    from pipelines.image import ImageLimits, decode_image

    image = decode_image(data, ImageLimits())
    if operation == "detect":
        found = pipeline.detect(image, landmarks=False)
        pipeline.with_landmarks(image, found)
    else:
        pipeline.process(image, embed=True, landmarks=False)


def computation(probes: list[bytes], rounds: int, rate: float | None = None) -> dict[str, Any]:
    """p50/p99 of each operation over ``rounds`` passes of the probes, in the open loop's order
    (``bench.api_load.Load``: detect and search alternate). With ``rate``, each computation
    starts on the open loop's schedule, ``1 / rate`` s after the one before (later only when
    the one before ran over), as the API's requests do; without it they run back to back.

    The schedule matters: a computation that starts on a core that sat idle since the last one
    runs slower than one on warm caches (the first probe repeated 0.15 s apart: ~2.8 ms slower
    than back to back, docs/BENCHMARKS.md, twelfth pass), and the API's jobs start that way."""
    pipeline = _pipeline()
    for data in probes:  # warm-up
        _compute(pipeline, "detect", data)
        _compute(pipeline, "search", data)
    timings: dict[str, list[float]] = {"detect": [], "search": []}
    start = time.perf_counter()
    for index in range(rounds * len(probes)):
        if rate is not None:
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        operation = "detect" if index % 2 == 0 else "search"
        started = time.perf_counter()
        _compute(pipeline, operation, probes[index % len(probes)])
        timings[operation].append((time.perf_counter() - started) * 1000)
    return {operation: percentiles(values) for operation, values in timings.items()}


def _rate_worker(probes: list[bytes], seconds: float, done: Any) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    pipeline = _pipeline()
    for data in probes:
        _compute(pipeline, "search", data)
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        _compute(pipeline, "detect" if count % 2 == 0 else "search", probes[count % len(probes)])
        count += 1
    done.put(count)


def in_process_rate(probes: list[bytes], processes: int, seconds: float) -> float:
    """Requests per second of ``processes`` processes computing in a closed loop."""
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    workers = [context.Process(target=_rate_worker, args=(probes, seconds, done)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    counts = [done.get(timeout=seconds + 300) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


# --- through the API --------------------------------------------------------------------------


def closed_loop(load: Load, clients: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    samples: list[Sample] = []
    lock = threading.Lock()

    def caller(offset: int) -> None:
        index = offset
        while time.monotonic() < deadline:
            sample = load._call(index)
            with lock:
                samples.append(sample)
            index += clients

    # The engines share the 2 cores with the workers: where the CPU went is part of the answer.
    with CpuShare() as cpu, ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(caller, range(clients)))
    ok = [s for s in samples if s.status == 200]
    return {
        "clients": clients,
        "requests_per_second": round(len(ok) / seconds, 2),
        "errors": len(samples) - len(ok),
        **percentiles([s.seconds * 1000 for s in ok]),
        "cpu": cpu.report(),
    }


def open_loop(load: Load, seconds: float) -> dict[str, Any]:
    samples = load.run(seconds)
    by_operation: dict[str, Any] = {}
    for operation in ("detect", "search"):
        by_operation[operation] = _summary([s for s in samples if s.operation == operation])
    return by_operation


def breakdown(
    client: Client, database_url: str, probe: bytes, repeats: int = 5, operation: str = "detect"
) -> dict[str, Any]:
    """Median split of a sync detect (or search of ``GALLERY``) by its job row's timestamps
    (one clock: same machine)."""
    from datetime import UTC, datetime

    from api.jobs import JobGateway
    from infra.db import Database
    from infra.db.repositories import JobRepo

    jobs = JobRepo(Database(database_url, pool_size=1))
    parts: dict[str, list[float]] = {"before_row": [], "row_to_start": [], "job": [], "finish_to_answer": []}
    for _ in range(repeats):
        key = f"breakdown-{time.time_ns()}"
        sent = datetime.now(UTC)
        started = time.perf_counter()
        response = requests.post(
            client._url(operation_path(operation)),
            files={"image_file": ("probe.jpg", probe, "image/jpeg")},
            headers={"X-Auth-Token": client.api_key, "Idempotency-Key": key},
            timeout=60,
        )
        total = time.perf_counter() - started
        answered = sent.timestamp() + total
        row = jobs.get(JobGateway.job_id_for(client.project_id, key))
        if response.status_code != 200 or row is None or row.started_at is None or row.finished_at is None:
            continue
        parts["before_row"].append((row.created_at.timestamp() - sent.timestamp()) * 1000)
        parts["row_to_start"].append((row.started_at - row.created_at).total_seconds() * 1000)
        parts["job"].append((row.finished_at - row.started_at).total_seconds() * 1000)
        parts["finish_to_answer"].append((answered - row.finished_at.timestamp()) * 1000)
    return {name: round(float(np.median(values)), 1) if values else None for name, values in parts.items()}


def job_profile(env: dict[str, str], project_id: str, probe: bytes, repeats: int = 5) -> dict[str, Any]:
    """Where a worker's sync search spends its time: the handler run in this process against
    the stack's own stores, warm, with the probe inline (as a small sync probe travels),
    timed per step by wrapping the runtime's parts; median of ``repeats`` runs, in ms."""
    import hashlib

    from infra.settings import Settings
    from workers.contracts import JobKind, SearchPayload
    from workers.execution import JobContext
    from workers.runtime import Runtime
    from workers.services.search import search
    from workers.warmup import warm_up

    saved = {key: os.environ.get(key) for key in env if key.startswith("FACEFLEET_")}
    os.environ.update({key: value for key, value in env.items() if key.startswith("FACEFLEET_")})
    try:
        runtime = Runtime(Settings())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    warm_up(runtime, [INTERACTIVE])
    face_set = runtime.face_sets.get_by_name(project_id, GALLERY)
    key = f"images/{hashlib.sha256(probe).hexdigest()}"
    payload = SearchPayload(project_id=project_id, face_set_id=face_set.id, image_key=key)
    steps: dict[str, list[float]] = {}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                steps.setdefault(name, []).append((time.perf_counter() - started) * 1000)

        return wrapper

    pipeline = runtime.pipeline
    pipeline.detect = timed("detect", pipeline.detect)
    pipeline.embedder.embed = timed("embed", pipeline.embedder.embed)
    runtime.decode = timed("decode", runtime.decode)  # type: ignore[method-assign]
    runtime.index.search = timed("vector_search", runtime.index.search)
    runtime.faces.get_many = timed("sql_rows", runtime.faces.get_many)
    runtime.face_sets.get_with_newest_face = timed(  # type: ignore[method-assign]
        "sql_face_set_and_newest", runtime.face_sets.get_with_newest_face
    )
    for index in range(repeats + 1):
        context = JobContext(f"profile-{index}", JobKind.SEARCH, runtime, {key: probe})
        timed("handler", search)(context, payload)
        if index == 0:  # the first run's numbers go with the warm-up
            steps.clear()
    return {name: round(float(np.median(values)), 2) for name, values in steps.items()}


# --- the stacks -------------------------------------------------------------------------------


@contextmanager
def embedded_service() -> Iterator[tuple[Client, Processes]]:
    """What `facefleet up` runs: SQLite, the SQL broker transport, milvus-lite, local objects."""
    from facefleet.embedded import child_env, prepare_embedded

    with tempfile.TemporaryDirectory(prefix="facefleet-bench-embedded-") as folder:
        home = Path(folder)
        settings, stop_milvus = prepare_embedded(
            home, models={"home": REPO_ROOT / ".facefleet"}, api={"gunicorn_workers": 1, "rate_limit_per_minute": 0}
        )
        try:
            with api_serving(child_env(settings), home) as served:
                yield served
        finally:
            stop_milvus()


@dataclass(frozen=True)
class Photos:
    gallery: list[Path]
    probes: list[Path]


def bench_photos() -> Photos:
    """The latency benches' photos: 24 single-face ones, the first 16 the gallery."""
    chosen = single_face_images(24)
    return Photos(gallery=chosen[:16], probes=chosen[16:])


def enroll_gallery(client: Client, processes: Processes, gallery: list[Path]) -> None:
    """``gallery`` enrolled into the face set ``GALLERY`` by a worker of the enroll queue,
    started for it and stopped after."""
    processes.start("enroller", "worker", "--queues", ENROLL_QUEUES, "--name", "enroller@%h")
    client.create_face_set(GALLERY)
    enroll_all(client, GALLERY, gallery)
    processes.stop("enroller")


def measure_stack(
    name: str, service: Any, photos: Photos, args: argparse.Namespace, rounds: int
) -> dict[str, Any]:
    with service() as (client, processes):
        enroll_gallery(client, processes, photos.gallery)
        for index in range(2):
            processes.start(f"interactive{index}", "worker", "--queues", INTERACTIVE, "--name", f"i{index}@%h")
        load = Load(client, photos.probes, args.rate)
        load.run(max(8.0, 8 / args.rate))  # every process warm, every connection open
        # Also makes the loops below start after the read-your-writes window of the gallery.
        fresh = searches_after_a_write(client, processes, load, photos.gallery[0])
        beside = computation([data for _, data in load.probes], rounds, rate=args.rate)
        opened = open_loop(load, args.seconds)
        closed = closed_loop(load, args.clients, args.seconds)
        database_url, probe = processes.env["FACEFLEET_DATABASE__URL"], photos.probes[0].read_bytes()
        split = breakdown(client, database_url, probe)
        search_split = breakdown(client, database_url, probe, operation="search")
        profile = job_profile(processes.env, client.project_id, probe)
        result = {
            "stack": name, "computation_with_the_stack_up": beside, "open_loop": opened, "closed_loop": closed,
            "breakdown_ms": split, "search_breakdown_ms": search_split,
            "search_job_profile_ms": profile, "search_after_a_write": fresh,
        }
        if args.compare_stored_probes:
            result["open_loop_stored_probes"] = stored_probes_open_loop(client, processes, load, args.seconds)
        failed = [*opened.values(), *result.get("open_loop_stored_probes", {}).values()]
        processes.keep_logs = any(part["errors"] for part in failed) or closed["errors"] > 0
    return result


def searches_after_a_write(client: Client, processes: Processes, load: Load, photo: Path) -> dict[str, Any]:
    """Sync searches within the read-your-writes window after a new face, then after it.

    A search sent within ``READ_YOUR_WRITES_WINDOW`` of its face set's newest face asks the
    vector index for Strong consistency (workers/services/search.py), which a Milvus server
    answers at its next time tick. The open and closed loops measure the steady state, after
    every window; this phase measures the window itself: one more face enrolled (by a worker
    of the enroll queue, started for it), then the same search inside the window and after."""
    from workers.services.search import READ_YOUR_WRITES_WINDOW

    window = READ_YOUR_WRITES_WINDOW.total_seconds()
    search = 7  # an odd index is a search; the 7th probe is small enough to travel inline
    processes.start("writer", "worker", "--queues", "facefleet.enroll", "--name", "writer@%h")
    job_id = client.enroll_async(GALLERY, photo, "written-just-now")
    while (status := client.status(job_id)) not in {"succeeded", "failed"}:
        time.sleep(0.02)
    written = time.monotonic()

    def searches(until: float) -> list[Sample]:
        samples = []
        while time.monotonic() < until:
            samples.append(load._call(search))
            time.sleep(0.25)
        return samples

    inside = searches(written + window - 1.0)
    time.sleep(max(0.0, written + window + 1.0 - time.monotonic()))
    after = searches(time.monotonic() + (window - 1.0))
    processes.stop("writer")
    return {
        "window_seconds": window,
        "enrollment": status,
        "within_window": _summary(inside),
        "after_window": _summary(after),
    }


def _summary(samples: list[Sample]) -> dict[str, Any]:
    ok = [s.seconds * 1000 for s in samples if s.status == 200]
    return {"requests": len(samples), "errors": len(samples) - len(ok), **percentiles(ok)}


def restart_api_with_inline_limit(client: Client, processes: Processes, max_bytes: int) -> None:
    """The API restarted on its address with ``api.inline_probe_max_bytes`` set to ``max_bytes``."""
    processes.stop("api")
    processes.env = {**processes.env, "FACEFLEET_API__INLINE_PROBE_MAX_BYTES": str(max_bytes)}
    processes.start("api", "api", "--bind", client.base.removeprefix("http://"))
    wait_until(lambda: requests.get(f"{client.base}/healthz", timeout=2).ok, "API")


def stored_probes_open_loop(client: Client, processes: Processes, load: Load, seconds: float) -> dict[str, Any]:
    """The same open loop with every probe going through the object store (the path before
    inline probes): the API restarted with ``api.inline_probe_max_bytes=0``."""
    restart_api_with_inline_limit(client, processes, 0)
    load.run(4.0)
    return open_loop(load, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=4.0, help="open-loop sync requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured phase")
    parser.add_argument("--clients", type=int, default=4, help="closed-loop callers")
    parser.add_argument(
        "--rounds",
        type=int,
        help="passes over the probes for the computation (default: as many requests as the open loop sends)",
    )
    parser.add_argument("--stacks", default="distributed,embedded")
    parser.add_argument("--compare-stored-probes", action="store_true",
                        help="also run the open loop with probes stored in the object store (inline off)")
    args = parser.parse_args(argv)
    photos = bench_photos()
    probe_bytes = [path.read_bytes() for path in photos.probes]

    # As many computations as the open loop's requests: a p99 of 20 samples is their worst one.
    rounds = args.rounds or max(1, round(args.seconds * args.rate / len(probe_bytes)))
    computed = computation(probe_bytes, rounds, rate=args.rate)
    back_to_back = computation(probe_bytes, rounds)
    rate = in_process_rate(probe_bytes, 2, args.seconds)
    services = {"distributed": distributed_service, "embedded": embedded_service}
    stacks = [measure_stack(name, services[name], photos, args, rounds) for name in args.stacks.split(",")]
    for stack in stacks:
        stack["closed_loop"]["over_in_process_rate"] = round(stack["closed_loop"]["requests_per_second"] / rate, 3)
        for operation in ("detect", "search"):
            api = stack["open_loop"][operation]
            quiet, beside = computed[operation], stack["computation_with_the_stack_up"][operation]
            if api["p50_ms"] is not None:
                for figure in ("p50_ms", "p99_ms"):
                    baseline = min(quiet[figure], beside[figure])
                    api[figure.replace("_ms", "_over_computation_ms")] = round(api[figure] - baseline, 1)
    report = {
        "machine": machine_description(),
        "load": f"loadavg {os.getloadavg()[0]:.2f} at the end (the machine is shared)",
        "command": "python -m bench.latency " + " ".join(argv if argv is not None else sys.argv[1:]),
        "computation": computed,
        "computation_back_to_back": back_to_back,
        "computation_rounds": rounds,
        "in_process_rate_2_cores": round(rate, 2),
        "stacks": stacks,
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
